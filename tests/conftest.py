"""Shared fixtures: a real throwaway Redis, the app, signed requests, fake providers."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from twilio.request_validator import RequestValidator

from bot import create_app
from bot.embedded import EmbeddedRedis
from tests.fakes import FakeTelegram, FakeTwilio

PUBLIC_URL = "https://faro.example.org"
TWILIO_TOKEN = "test-twilio-token"
TELEGRAM_SECRET = "test-telegram-secret"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    """One real server for the whole run (REDIS_URL from `make test`, else our own)."""
    if os.environ.get("FARO_TEST_REDIS_URL"):
        yield type("External", (), {"url": os.environ["FARO_TEST_REDIS_URL"]})()
        return
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def redis_client(redis_server: EmbeddedRedis) -> Iterator[redis.Redis]:
    """A client on a database that is empty when the test starts and when it ends."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    yield client
    client.flushall()
    client.close()


@pytest.fixture(scope="session")
def fake_telegram() -> Iterator[FakeTelegram]:
    server = FakeTelegram().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fake_twilio() -> Iterator[FakeTwilio]:
    server = FakeTwilio().start()
    yield server
    server.stop()


@pytest.fixture
def config(redis_server, redis_client, fake_telegram, fake_twilio) -> dict[str, Any]:
    fake_telegram.clear()
    fake_twilio.clear()
    return {
        "TESTING": True,
        "REDIS_URL": redis_server.url,
        "FARO_PUBLIC_URL": PUBLIC_URL,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_API_URL": fake_twilio.url,
        "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        "TELEGRAM_API_URL": fake_telegram.url,
    }


@pytest.fixture
def app(config):
    return create_app(config)


@pytest.fixture
def client(app):
    return app.test_client()


def twilio_signature(path: str, form: dict[str, str], token: str = TWILIO_TOKEN) -> str:
    """The X-Twilio-Signature Twilio would send for `form` posted to `path`."""
    return RequestValidator(token).compute_signature(PUBLIC_URL + path, form)


class Channels:
    """Posts real payload shapes to the webhooks, signed as the providers sign them."""

    def __init__(self, client):
        self.client = client
        self.sids = 0
        self.updates = 0

    def twilio(self, form: dict[str, str], *, sign: bool = True, path="/webhooks/twilio/messages"):
        headers = {"X-Twilio-Signature": twilio_signature(path, form)} if sign else {}
        return self.client.post(path, data=form, headers=headers)

    def sms(self, text: str, sender: str = "+5215512345678", **extra: str):
        self.sids += 1
        form = {"MessageSid": f"SM{self.sids:032d}", "AccountSid": "AC" + "0" * 32,
                "From": sender, "To": "+15005550006", "Body": text, "NumMedia": "0", **extra}
        return self.twilio(form)

    def whatsapp(self, text: str, sender: str = "+5215512345678", **extra: str):
        return self.sms(text, sender=f"whatsapp:{sender}", To="whatsapp:+14155238886",
                        ProfileName="Ana", **extra)

    def telegram(self, update: dict[str, Any], *, secret: str | None = TELEGRAM_SECRET):
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        return self.client.post("/webhooks/telegram", data=json.dumps(update),
                                headers=headers, content_type="application/json")

    def tg_text(self, text: str, chat: int = 700100200, **extra: Any):
        self.updates += 1
        update = {"update_id": 10_000 + self.updates, "message": {
            "message_id": self.updates, "date": 1764000000, "text": text,
            "chat": {"id": chat, "type": "private", "first_name": "Ana"},
            "from": {"id": chat, "is_bot": False, "first_name": "Ana"}, **extra}}
        return self.telegram(update)

    def tg_button(self, data: str, chat: int = 700100200):
        self.updates += 1
        return self.telegram({"update_id": 10_000 + self.updates, "callback_query": {
            "id": f"cb{self.updates}", "chat_instance": "42", "data": data,
            "from": {"id": chat, "is_bot": False, "first_name": "Ana"},
            "message": {"message_id": 1, "date": 1764000000, "text": "menu",
                        "chat": {"id": chat, "type": "private"}}}})


@pytest.fixture
def channels(client) -> Channels:
    return Channels(client)


def _twiml(response):
    """The <Message> elements of a TwiML answer; fails unless it is valid TwiML."""
    import xml.etree.ElementTree as ET

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype in ("application/xml", "text/xml")
    root = ET.fromstring(response.get_data())
    assert root.tag == "Response"
    assert all(child.tag == "Message" for child in root)
    return list(root)


def twiml_messages(response) -> list[str]:
    """The texts of a TwiML answer's text <Message>s (voice notes: `twiml_media`)."""
    return [child.text or "" for child in _twiml(response) if child.find("Media") is None]


def twiml_media(response) -> list[str]:
    """The <Media> URLs of a TwiML answer, in order."""
    return [media.text or "" for child in _twiml(response) for media in child.iter("Media")]


@pytest.fixture
def worker_env(config, monkeypatch) -> Iterator[None]:
    """The environment a worker process would have: the same settings as the app's."""
    from worker import jobs

    for name, value in config.items():
        monkeypatch.setenv(name, "1" if value is True else str(value))
    jobs._context.cache_clear()
    jobs.pack.cache_clear()
    yield
    jobs._context.cache_clear()
    jobs.pack.cache_clear()
