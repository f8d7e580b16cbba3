"""Logs of whole flows, captured at DEBUG from every logger: never an address, an email or
anything a person wrote; each web record carries its request id, each job record its job id.
And gunicorn's access log, from a real `faro web` command line."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from flask import has_request_context
from rq import SimpleWorker, get_current_job

from bot import create_app, keys
from bot.broadcasts import Broadcasts
from bot.cli import gunicorn_command
from bot.logs import JsonFormatter
from bot.message import Inbound
from bot.segments import to_gsm7 as gsm
from tests.alert_helpers import NO_LIMIT
from tests.conftest import PUBLIC_URL, twiml_messages
from tests.staff_helpers import Console, add_staff, quick_hashes, signed_in
from tests.voice_helpers import Caller
from tests.web_helpers import post_twilio, running
from worker import jobs
from worker.queues import all_queues, queue
from worker.runner import FaroWorker

PHONE = "+5215512345678"
WHATSAPP = "+5216641234567"
CHAT = 700100200
EMAIL = "ana.secreta@example.org"
SAID = "Mi hermano Joaquin se quedo en Tapachula"  # what a person typed
STORY = "Me secuestraron en la central de Reynosa el 18 de enero"
NOTE = "El comandante se llamaba Ortega"
ANSWERS = ["3", "1", "20/01/2025", "7", "ABC123", "1", "18/01/2025", "Reynosa", "1",
           "CI-FGR-2025-0042"]
JPEG = b"\xff\xd8\xff\xe0" + b"JFIF-LOGGED-PHOTO-BYTES-" * 40
ALERT = "Retenes en la carretera a Tecate hoy"
SECRETS = [PHONE, PHONE[1:], "5512345678", "55 1234 5678", WHATSAPP, WHATSAPP[1:], "6641234567",
           str(CHAT), EMAIL, "Ana Secreta", SAID, "Joaquin", STORY, NOTE, "ABC123",
           "CI-FGR-2025-0042", "JFIF-LOGGED", "s3cr3t", "/Media/ME", "correct horse"]
LOGGERS = ("", "faro", "rq", "rq.worker", "rq.scheduler", "rq.job", "werkzeug")


@pytest.fixture
def config(config, tmp_path):
    return {**config, **NO_LIMIT, "FARO_MEDIA_DIR": str(tmp_path / "media")}


@pytest.fixture
def app(config, worker_env, monkeypatch):
    quick_hashes(monkeypatch)
    return create_app(config)


class InProcess(SimpleWorker, FaroWorker):
    """Faro's worker (its logging of failed jobs included), running each job in-process."""


def work(client) -> None:
    InProcess(all_queues(client), connection=client).work(burst=True, with_scheduler=True)


class Capture(logging.Handler):
    """Keeps each record as text (JSON as Faro writes it, the plain form with any traceback,
    the arguments and every attribute), with where it was emitted: a request, a job."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[dict[str, Any]] = []
        self.json, self.plain = JsonFormatter(), logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append({
            "logger": record.name, "json": json.loads(self.json.format(record)),
            "text": " ".join((self.json.format(record), self.plain.format(record),
                              repr(record.args), repr(record.__dict__))),
            "request": has_request_context(), "job": get_current_job() is not None})


@pytest.fixture
def captured():
    handler = Capture()
    saved = [(logging.getLogger(n), logging.getLogger(n).level) for n in LOGGERS]
    for logger, _level in saved:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    yield handler
    for logger, level in saved:
        logger.removeHandler(handler)
        logger.setLevel(level)


def sms(channels, text: str, sender: str = PHONE, **extra: str) -> list[str]:
    return twiml_messages(channels.sms(text, sender=sender, **extra))


def evidence_on_sms(channels, fake_twilio, redis_client) -> None:
    for text in ["hola", *ANSWERS]:
        sms(channels, text)
    url = fake_twilio.add_media(JPEG, "image/jpeg",
                                redirect_to=fake_twilio.url.replace("127.0.0.1", "localhost"))
    sms(channels, "", NumMedia="1", MediaUrl0=url, MediaContentType0="image/jpeg")
    work(redis_client)
    sms(channels, "1")
    sms(channels, STORY)


def evidence_on_telegram(channels, fake_telegram, redis_client) -> None:
    for text in ["hola", "3", "1", "20/01/2025", "1", "1", "2", "18/01/2025", "Tijuana", "4"]:
        channels.tg_text(text, chat=CHAT)
    fake_telegram.add_file("PHOTO1", JPEG + b"TG", "photos/file_1.jpg")
    photo = [{"file_id": "PHOTO1", "file_unique_id": "u1", "width": 800, "height": 600}]
    channels.tg_text("", chat=CHAT, photo=photo)
    work(redis_client)
    channels.tg_text("1", chat=CHAT)
    channels.tg_text(NOTE, chat=CHAT)
    channels.tg_button("1", chat=CHAT)


def a_broadcast(app, channels, redis_client) -> None:
    """People subscribe by talking to Faro; a coordinator signs in and sends an alert."""
    for text in ["menu", "6", "2", "2 y 5", "Baja California"]:  # alerts for a state
        sms(channels, text)
        twiml_messages(channels.whatsapp(text, sender=WHATSAPP))
        channels.tg_text(text, chat=CHAT)
    assert redis_client.scard(keys.subscribers("Baja California")) == 3
    add_staff(app, EMAIL, "coordinator", org="Red Fronteriza", name="Ana Secreta")
    failed = Console(app.test_client()).sign_in(EMAIL, "not the password")
    assert failed.status_code == 200
    cora = signed_in(app, EMAIL)
    sent = cora.post("/staff/broadcasts/new", {
        "states": "Baja California", "topic": "security", "lang": "es", "text_es": ALERT,
        "channels": ["sms", "whatsapp", "telegram"]}, page="/staff/broadcasts/new")
    assert sent.status_code == 302, sent.get_data(as_text=True)[:500]
    work(redis_client)
    cora.sign_out()


def test_whole_flows_log_no_address_no_email_and_nothing_a_person_wrote(
        app, channels, redis_client, fake_twilio, fake_telegram, captured):
    sms(channels, "hola")
    sms(channels, SAID)
    twiml_messages(channels.whatsapp("hello", sender=WHATSAPP))
    twiml_messages(channels.whatsapp(SAID, sender=WHATSAPP))
    channels.tg_text(SAID, chat=CHAT)
    evidence_on_sms(channels, fake_twilio, redis_client)
    evidence_on_telegram(channels, fake_telegram, redis_client)
    a_broadcast(app, channels, redis_client)
    # A reply queued for a worker, whose provider fails once (RQ logs the traceback).
    cid = app.extensions["faro"].store.contact_id(Inbound("sms", PHONE))
    fake_twilio.fail_next.append(500)
    job = jobs.enqueue_delivery(queue(redis_client, "replies"), cid, [{"text": SAID}])
    work(redis_client)
    queue(redis_client, "replies").scheduled_job_registry.requeue(job.id)
    work(redis_client)
    # A status callback for the alert, and a request that carries its own id.
    channels.twilio({"MessageSid": "SM" + "9" * 32, "MessageStatus": "delivered", "To": PHONE},
                    path="/webhooks/twilio/status")

    assert Broadcasts(redis_client).live() == [], "the alert went out"
    alerted = [m["To"] for m in fake_twilio.messages() if gsm(ALERT) in gsm(m["Body"])]
    assert sorted(alerted) == [PHONE, f"whatsapp:{WHATSAPP}"]
    assert any(ALERT in c["text"] for c in fake_telegram.calls("sendMessage"))
    lines = captured.lines
    assert len(lines) > 100 and any(line["logger"].startswith("rq.") for line in lines)
    for secret in SECRETS:
        found = [around(line["text"], secret) for line in lines if secret in line["text"]]
        assert not found, (secret, found[:3])
    faro = [line for line in lines if line["logger"].startswith("faro")]
    assert all("request_id" in line["json"] for line in faro if line["request"])
    assert all("job_id" in line["json"] for line in faro if line["job"] and not line["request"])
    assert sum(line["request"] for line in faro) > 20 and sum(line["job"] for line in faro) > 3


def test_a_call_with_a_recorded_account_logs_no_number_and_no_call_id(
        client, redis_client, fake_twilio, captured):
    caller = Caller(client, number=PHONE)
    caller.call()
    for key in ("1", "3", "1", "20012025", "4", "2", "18012025", "6", "2"):
        caller.press(key)
    caller.record(fake_twilio, b"\xff\xf3\x38\xc4" + b"RECORDED-ACCOUNT-BYTES " * 200)
    recording = caller.last[1]["RecordingSid"]
    caller.press("*")
    caller.retry()  # Twilio sends a turn again
    work(redis_client)
    assert any(line["logger"] == "faro.conversation" for line in captured.lines)
    for secret in [*SECRETS, caller.sid, recording, "/Recordings/", "RECORDED-ACC"]:
        found = [around(line["text"], secret) for line in captured.lines
                 if secret in line["text"]]
        assert not found, (secret, found[:3])


def around(text: str, secret: str) -> str:
    at = text.index(secret)
    return text[max(0, at - 400):at + 100]


def test_the_request_id_is_taken_or_made_and_sent_back(client):
    given = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.91_x"})
    assert given.headers["X-Request-ID"] == "lb-7f3a.91_x"
    for bad in ("", "two words", "a" * 65, "+52 155 1234 5678", "{\"x\": 1}"):
        made = client.get("/healthz", headers={"X-Request-ID": bad})
        assert made.headers["X-Request-ID"] not in ("", bad)
        assert len(made.headers["X-Request-ID"]) == 16


def test_the_access_log_has_the_request_id_and_no_query_or_client_address(config, tmp_path):
    log = tmp_path / "web.log"
    path = "/webhooks/twilio/status?bc=abc&to=%2B5215512345678"
    form = {"MessageSid": "SM" + "1" * 32, "MessageStatus": "delivered", "To": PHONE}
    with running(gunicorn_command("127.0.0.1:{port}", 1), config, log,
                 PROMETHEUS_MULTIPROC_DIR=str(tmp_path)) as base:
        assert post_twilio(base, path, form, **{"X-Request-ID": "req-from-proxy-1"}) == 204
    access = [x for x in log.read_text().splitlines() if '"GET ' in x or '"POST ' in x]
    [line] = [x for x in access if "/webhooks/twilio/status" in x]
    assert line.startswith('req-from-proxy-1 "POST /webhooks/twilio/status" 204 '), line
    for secret in ("5215512345678", "bc=abc", "127.0.0.1", PUBLIC_URL):
        assert secret not in "\n".join(access), secret
    assert PHONE not in log.read_text()
