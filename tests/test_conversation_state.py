"""What Redis holds after real conversations: consistent under concurrency, expiring, private."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from werkzeug.serving import make_server

from bot import create_app, crypto, keys
from bot.engine import State
from bot.message import Inbound
from tests.conftest import twilio_signature, twiml_messages

PATH = "/webhooks/twilio/messages"
PHONE = "+5215512345678"


def sms_form(text: str, sid: str, sender: str = PHONE) -> dict[str, str]:
    return {"MessageSid": sid, "AccountSid": "AC" + "0" * 32, "From": sender,
            "To": "+15005550006", "Body": text, "NumMedia": "0"}


def conversation_state(app, msg: Inbound) -> State | None:
    """The conversation of `msg`'s sender, decrypted with the contact's own data key."""
    faro = app.extensions["faro"]
    cid = faro.store.contact_id(msg)
    sealed = faro.redis.get(keys.conversation(cid))
    if sealed is None:
        return None
    data_key = faro.store.data_key(cid)
    return State.from_dict(json.loads(crypto.decrypt(data_key, sealed, cid)))


# -- concurrency ----------------------------------------------------------------------

@pytest.fixture
def live_url(app) -> Iterator[str]:
    """The app served by a real threaded werkzeug server on 127.0.0.1."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _post(url: str, form: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url + PATH, data=urllib.parse.urlencode(form).encode(), method="POST",
        headers={"X-Twilio-Signature": twilio_signature(PATH, form),
                 "Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_twenty_concurrent_messages_from_one_contact(app, live_url, redis_client):
    texts = ["Nanga def", "1", "menu", "2", "ayuda"] * 4
    forms = [sms_form(text, f"SM{i:032d}") for i, text in enumerate(texts)]
    barrier = threading.Barrier(len(forms))

    def send(form: dict[str, str]) -> tuple[int, bytes]:
        barrier.wait(timeout=10)
        return _post(live_url, form)

    with ThreadPoolExecutor(max_workers=len(forms)) as pool:
        results = list(pool.map(send, forms))

    assert [status for status, _ in results] == [200] * 20, results
    assert all(b"<Response><Message>" in body for _, body in results)
    msg = Inbound("sms", PHONE)
    cid = app.extensions["faro"].store.contact_id(msg)
    record = redis_client.hgetall(keys.contact(cid))
    assert record[b"n"] == b"20", "every message counted exactly once"
    assert record[b"l"].decode() in app.extensions["faro"].content.languages  # order varies
    state = conversation_state(app, msg)
    assert state is not None
    assert app.extensions["faro"].content.has(state.flow, state.node)
    assert redis_client.exists(keys.lock(cid)) == 0, "the lock was released"
    assert len(list(redis_client.scan_iter("faro:c:*"))) == 1


# -- expiry ---------------------------------------------------------------------------

def test_conversation_expires_when_idle_but_the_contact_stays(app, channels, redis_client):
    twiml_messages(channels.sms("Nanga def"))
    cid = app.extensions["faro"].store.contact_id(Inbound("sms", PHONE))
    conversation_ttl = app.extensions["faro"].settings.conversation_ttl
    assert 0 < redis_client.ttl(keys.conversation(cid)) <= conversation_ttl
    assert redis_client.ttl(keys.contact(cid)) == -1, "a contact does not expire when idle"
    seen = list(redis_client.scan_iter("faro:d:*"))
    assert seen and all(redis_client.ttl(k) > 0 for k in seen), "dedupe marks expire"
    assert redis_client.exists(keys.lock(cid)) == 0


def test_known_contact_after_expiry_gets_main_menu_in_its_language(app, channels, redis_client):
    twiml_messages(channels.sms("Nanga def"))
    twiml_messages(channels.sms("2"))  # English
    cid = app.extensions["faro"].store.contact_id(Inbound("sms", PHONE))
    assert redis_client.delete(keys.conversation(cid)) == 1  # as if it expired

    [reply] = twiml_messages(channels.sms("Nanga def"))
    assert "What do you need?" in reply
    assert "1. Appointments at the border" in reply
    assert "Elige tu idioma" not in reply
    assert "Choose your language" not in reply


def test_conversation_really_expires(config, redis_client):
    client = create_app({**config, "FARO_CONVERSATION_TTL": "1"}).test_client()
    form = sms_form("Nanga def", "SM" + "1" * 32)
    client.post(PATH, data=form, headers={"X-Twilio-Signature": twilio_signature(PATH, form)})
    form = sms_form("1", "SM" + "2" * 32)
    client.post(PATH, data=form, headers={"X-Twilio-Signature": twilio_signature(PATH, form)})
    deadline = time.monotonic() + 3
    while list(redis_client.scan_iter("faro:s:*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(redis_client.scan_iter("faro:s:*")) == []
    form = sms_form("Nanga def", "SM" + "3" * 32)
    response = client.post(PATH, data=form,
                           headers={"X-Twilio-Signature": twilio_signature(PATH, form)})
    [reply] = twiml_messages(response)
    assert "¿Qué necesitas?" in reply


# -- privacy --------------------------------------------------------------------------

FREE_TEXT = "Me robaron el pasaporte en Reynosa, mi hermano Julián sigue detenido"
TG_FREE_TEXT = "Estoy en la terminal de Monterrey con mis dos hijos"
SECRETS = [
    PHONE, PHONE.lstrip("+"), "5512345678", "55 1234 5678", "+525512345678", "525512345678",
    f"whatsapp:{PHONE}", "700100200", "Ana", FREE_TEXT, "Reynosa", "Julián", TG_FREE_TEXT,
    "Monterrey", "32.5149", "-117.0382",
]


def dump(client: redis.Redis) -> dict[bytes, list[bytes]]:
    """Every key in Redis and every byte of its value, whatever the key's type."""
    out: dict[bytes, list[bytes]] = {}
    for key in client.scan_iter(count=1000):
        kind = client.type(key).decode()
        if kind == "string":
            parts = [client.get(key)]
        elif kind == "hash":
            parts = [b for pair in client.hgetall(key).items() for b in pair]
        elif kind == "list":
            parts = client.lrange(key, 0, -1)
        elif kind == "set":
            parts = list(client.smembers(key))
        elif kind == "zset":
            parts = [m for m, _ in client.zrange(key, 0, -1, withscores=True)]
        elif kind == "stream":
            parts = [b for _, fields in client.xrange(key) for pair in fields.items()
                     for b in pair]
        else:
            raise AssertionError(f"unexpected key type {kind} for {key!r}")
        out[key] = [p if isinstance(p, bytes) else str(p).encode() for p in parts]
    return out


def test_nothing_personal_is_readable_in_redis(channels, redis_client):
    # SMS: language, a free text at a menu, emergency, back to the menu.
    for text in ["Nanga def", "1", FREE_TEXT, "5", "1", "menu"]:
        twiml_messages(channels.sms(text))
    # WhatsApp from the same number, with a profile name and a shared location.
    for text in ["Nanga def", "1", FREE_TEXT]:
        twiml_messages(channels.whatsapp(text))
    twiml_messages(channels.whatsapp("", Latitude="32.5149", Longitude="-117.0382",
                                     MessageType="location"))
    # Telegram, by text and by buttons.
    assert channels.tg_text("Nanga def").status_code == 200
    assert channels.tg_button("1").status_code == 200
    assert channels.tg_text(TG_FREE_TEXT).status_code == 200
    assert channels.tg_button("6").status_code == 200
    assert channels.tg_text("idioma").status_code == 200

    # The shelter directory is public content from the content pack, not about anyone.
    values = {k: v for k, v in dump(redis_client).items() if not k.startswith(b"faro:sh:")}
    assert len([k for k in values if k.startswith(b"faro:c:")]) == 3, "three contacts kept"
    assert len([k for k in values if k.startswith(b"faro:s:")]) == 3
    for secret in SECRETS:
        needle = secret.encode()
        for key, parts in values.items():
            assert needle not in key, f"{secret!r} in key {key!r}"
            for part in parts:
                assert needle not in part, f"{secret!r} in the value of {key!r}"


# -- health and a dead Redis ----------------------------------------------------------

def test_healthz_with_redis_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["redis"] is True


@pytest.fixture
def app_without_redis(config):
    return create_app({**config, "REDIS_URL": "redis://127.0.0.1:1/0"})


def test_healthz_with_redis_down(app_without_redis):
    response = app_without_redis.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["redis"] is False


def test_webhooks_answer_quickly_when_redis_is_down(app_without_redis):
    client = app_without_redis.test_client()
    form = sms_form("Nanga def", "SM" + "9" * 32)
    started = time.monotonic()
    twilio = client.post(PATH, data=form,
                         headers={"X-Twilio-Signature": twilio_signature(PATH, form)})
    telegram = client.post("/webhooks/telegram", json={"update_id": 1, "message": {
        "message_id": 1, "date": 1764000000, "text": "Nanga def",
        "chat": {"id": 700100200, "type": "private"}}},
        headers={"X-Telegram-Bot-Api-Secret-Token": "test-telegram-secret"})
    elapsed = time.monotonic() - started
    # Twilio shows no reply sent with a 5xx: a 200 asks the person to send it again.
    assert twilio.status_code == 200 and "send your message again" in twilio.get_data(as_text=True)
    assert telegram.status_code == 503  # Telegram delivers the update again later
    assert elapsed < 5
    # Verification still comes first: a forged request is refused, not retried later.
    assert client.post(PATH, data=form).status_code == 403
