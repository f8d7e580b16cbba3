"""The RQ job that sends outside a webhook, run by a real RQ worker against the fakes."""

from __future__ import annotations

import base64
import json

from rq import SimpleWorker
from rq.job import Job, JobStatus

from bot import keys
from bot.message import Inbound
from tests.conftest import PUBLIC_URL, twiml_messages
from worker import jobs
from worker.queues import queue

PHONE = "+5215512345678"
CHAT = 700100200
REPLIES = [
    {"text": "Aviso del Albergue Juan Diego: hoy ya no hay camas."},
    {"text": "¿Qué necesitas?", "options": [["1", "Albergues"], ["2", "Emergencia"]]},
]


def run(redis_client, cid: str, replies: list[dict]):
    """Enqueue one delivery and let a burst worker run it; the finished job."""
    q = queue(redis_client, "replies")
    job = q.enqueue(jobs.deliver, cid, replies)
    SimpleWorker([q], connection=redis_client).work(burst=True)
    job.refresh()
    return job


def contact_id(app, channel: str, address: str) -> str:
    return app.extensions["faro"].store.contact_id(Inbound(channel, address))


def test_sms_goes_out_through_twilio(app, channels, redis_client, fake_twilio, worker_env):
    twiml_messages(channels.sms("Hola"))
    job = run(redis_client, contact_id(app, "sms", PHONE), REPLIES)

    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == 1
    [sent] = fake_twilio.requests
    assert sent["path"] == "/2010-04-01/Accounts/AC00000000000000000000000000000000/Messages.json"
    auth = base64.b64decode(sent["headers"]["Authorization"].split()[1]).decode()
    assert auth == "AC00000000000000000000000000000000:test-twilio-token"
    assert sent["headers"]["User-Agent"].startswith("twilio-python/")
    assert sent["params"]["To"] == PHONE
    assert sent["params"]["From"] == "+15005550006"
    assert sent["params"]["Body"] == (
        "Aviso del Albergue Juan Diego: hoy ya no hay camas.\n\n"
        "¿Qué necesitas?\n1. Albergues\n2. Emergencia")
    assert sent["params"]["StatusCallback"] == f"{PUBLIC_URL}/webhooks/twilio/status"


def test_whatsapp_goes_out_from_the_whatsapp_sender(app, channels, redis_client, fake_twilio,
                                                    worker_env):
    twiml_messages(channels.whatsapp("Hola"))
    job = run(redis_client, contact_id(app, "whatsapp", PHONE), REPLIES)

    assert job.return_value() == 1
    [params] = fake_twilio.messages()
    assert params["To"] == f"whatsapp:{PHONE}"
    assert params["From"] == "whatsapp:+14155238886"
    assert "*1.* Albergues" in params["Body"]


def test_long_sms_is_split_into_bodies_twilio_accepts(app, channels, redis_client,
                                                      fake_twilio, worker_env):
    twiml_messages(channels.sms("Hola"))
    paragraphs = [{"text": f"Punto {i}: " + "información importante. " * 30} for i in range(4)]
    job = run(redis_client, contact_id(app, "sms", PHONE), paragraphs)

    bodies = [m["Body"] for m in fake_twilio.messages()]
    assert job.return_value() == len(bodies) > 1
    assert all(len(b) <= 1600 for b in bodies)
    sent = "\n\n".join(bodies)
    assert [sent.index(f"Punto {i}:") for i in range(4)] == sorted(
        sent.index(f"Punto {i}:") for i in range(4)), "the paragraphs arrive in order"
    # Long Spanish SMS lose the accents GSM-7 lacks ("información"): half the segments.
    assert sent.count("informacion importante.") == 4 * 30, "nothing was cut off"


def test_telegram_goes_out_through_the_bot_api(app, channels, redis_client, fake_telegram,
                                               worker_env):
    assert channels.tg_text("Hola", chat=CHAT).status_code == 200
    job = run(redis_client, contact_id(app, "telegram", str(CHAT)), REPLIES)

    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == 1
    [call] = fake_telegram.calls("sendMessage")
    assert int(call["chat_id"]) == CHAT
    assert call["text"] == "Aviso del Albergue Juan Diego: hoy ya no hay camas.\n\n¿Qué necesitas?"
    keyboard = json.loads(call["reply_markup"])["inline_keyboard"]
    assert keyboard == [[{"text": "1. Albergues", "callback_data": "1"}],
                        [{"text": "2. Emergencia", "callback_data": "2"}]]
    assert fake_telegram.requests[-1]["path"].startswith("/bot123456:")


def test_deleted_contact_gets_nothing(app, channels, redis_client, fake_twilio, worker_env):
    for text in ["Hola", "borrar mis datos", "1"]:
        twiml_messages(channels.sms(text))
    cid = contact_id(app, "sms", PHONE)
    assert redis_client.exists(keys.contact(cid)) == 0, "the person erased their data"

    job = run(redis_client, cid, REPLIES)
    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == 0
    assert fake_twilio.requests == []


def test_provider_refusal_fails_the_job(app, channels, redis_client, fake_twilio, worker_env):
    twiml_messages(channels.sms("Hola"))
    fake_twilio.fail_next.append(500)
    job = run(redis_client, contact_id(app, "sms", PHONE), REPLIES)
    assert job.get_status() == JobStatus.FAILED
    assert len(fake_twilio.requests) == 1


def test_job_holds_no_address(app, channels, redis_client, worker_env):
    """What waits in the queue is a contact id and the text, never the phone number."""
    twiml_messages(channels.sms("Hola"))
    cid = contact_id(app, "sms", PHONE)
    queued = queue(redis_client, "replies").enqueue(jobs.deliver, cid, REPLIES)
    stored = Job.fetch(queued.id, connection=redis_client)
    assert stored.args == (cid, REPLIES)
    assert "5512345678" not in repr((stored.args, stored.kwargs, stored.description))
