"""Alerts: the audience, the fan-out through the fake providers, retries, callbacks, cancel."""

from __future__ import annotations

import datetime as dt
import itertools
import json

from bot import create_app, keys
from bot.alerts import AlertLog
from bot.broadcasts import Area, Broadcasts, Spec, audience
from bot.segments import to_gsm7 as gsm
from tests.alert_helpers import address, enroll, unlimited_config, work, worker_app  # noqa: F401 (fixtures)
from tests.conftest import PUBLIC_URL, twilio_signature
from worker import broadcast
from worker.broadcast import launch

NOW = dt.datetime(2026, 11, 29, 18, 0, tzinfo=dt.UTC)
TEXTS = {"es": "Hoy cierran la garita de Otay de 14 a 18 h. Usen San Ysidro.",
         "en": "The Otay crossing closes today from 2 to 6 pm. Use San Ysidro."}


def spec(**changes) -> Spec:
    base = {"org": "casa-del-migrante", "org_name": "Casa del Migrante", "author": "cli",
            "areas": (Area("Baja California"),), "topic": "port", "texts": TEXTS, "lang": "es"}
    return Spec(**{**base, **changes})


def send(redis_client, what: Spec) -> str:
    found = Broadcasts(redis_client).create(what, needs_approval=False, now=NOW)
    launch(redis_client, found.id)
    work(redis_client)
    return found.id


def bodies_to(fake_twilio, to: str) -> list[str]:
    return [m["Body"] for m in fake_twilio.messages() if m["To"] == to]


def test_the_audience_is_the_area_topic_and_people_who_did_not_stop(app, redis_client):
    enroll(app, 3, lang="es")
    enroll(app, 2, channel="telegram", lang="en", first=10)
    enroll(app, 1, lang="es", opted_out=True, first=20)
    enroll(app, 1, lang="es", topics="security", first=30)  # port news not wanted
    enroll(app, 2, lang="es", state="Chiapas", first=40)
    enroll(app, 1, lang="fr", city="Mexicali", first=50)
    enroll(app, 1, lang="fr", city="Tijuana", topics="port,scams", first=60)

    reach = audience(redis_client, spec())
    assert (reach.total, reach.opted_out) == (7, 1)
    assert dict(reach.languages) == {"es": 3, "en": 2, "fr": 2}
    assert dict(reach.channels) == {"sms": 5, "telegram": 2}
    # An alert for Tijuana reaches the whole state's subscribers and Tijuana's, not Mexicali's.
    only_tijuana = audience(redis_client, spec(areas=(Area("Baja California", "Tijuana"),)))
    assert only_tijuana.total == 6 and "Mexicali, Baja California" not in only_tijuana.areas
    assert audience(redis_client, spec(languages=("en",), channels=("telegram",))).total == 2


def test_each_subscriber_gets_it_once_in_their_language_naming_the_sender(
        app, redis_client, fake_twilio, fake_telegram):
    enroll(app, 2, lang="es")
    enroll(app, 1, channel="telegram", lang="en", first=10)
    enroll(app, 1, channel="whatsapp", lang="fr", first=20)  # no French text: the sender's
    enroll(app, 1, lang="es", opted_out=True, first=30)
    fake_twilio.clear(), fake_telegram.clear()

    bid = send(redis_client, spec())

    es = bodies_to(fake_twilio, address("sms", 0))
    assert len(es) == 1 and es[0].startswith(gsm("Aviso de Casa del Migrante:"))
    assert gsm(TEXTS["es"]) in es[0] and "ALTO" in es[0]
    assert bodies_to(fake_twilio, address("sms", 30)) == [], "opted out: never sent"
    [wa] = bodies_to(fake_twilio, f"whatsapp:{address('whatsapp', 20)}")
    assert TEXTS["es"] in wa and wa.startswith("Alerte de Casa del Migrante")
    [tg] = fake_telegram.calls("sendMessage")
    assert str(tg["chat_id"]) == address("telegram", 10) and TEXTS["en"] in tg["text"]
    assert "Alert from Casa del Migrante" in tg["text"]

    done = Broadcasts(redis_client).get(bid)
    assert done.status == "done"
    progress = done.progress()
    assert (progress["total"], progress["sent"], progress["skipped"], progress["percent"]) == (
        5, 4, 1, 100)
    assert progress["delivered"] == 1  # Telegram's answer; Twilio's come by callback
    # A forwarded copy of the real alert is recognised as real.
    [match] = AlertLog(redis_client).match("Reenviado: " + es[0], dt.datetime.now(dt.UTC))
    assert match["org"] == "Casa del Migrante"


def test_whatsapp_after_24_hours_uses_the_template_else_sms_if_allowed_else_waits(
        config, worker_env, monkeypatch, redis_client, fake_twilio):
    day = 25 * 3600
    cases = [({"FARO_WHATSAPP_TEMPLATES": "port=HX1234,default=HX9"}, "template"),
             ({"FARO_ALERT_SMS_FALLBACK": "1"}, "via_sms"), ({}, "outside")]
    for n, (extra, expected) in enumerate(cases):
        app = create_app({**config, **extra})
        for name, value in extra.items():
            monkeypatch.setenv(name, value)
        broadcast._context.cache_clear()
        redis_client.delete(keys.subscribers("Baja California"))
        enroll(app, 1, channel="whatsapp", lang="es", seen_ago=day, first=100 + n)
        fake_twilio.clear()
        bid = send(redis_client, spec())
        counts = Broadcasts(redis_client).get(bid).counts
        assert counts[expected] == 1, expected
        sent = fake_twilio.messages()
        if expected == "template":
            [msg] = sent
            assert msg["ContentSid"] == "HX1234" and "Body" not in msg
            assert json.loads(msg["ContentVariables"]) == {"1": "Casa del Migrante",
                                                           "2": TEXTS["es"]}
        elif expected == "via_sms":
            [msg] = sent
            assert msg["To"] == address("whatsapp", 101) and msg["From"] == "+15005550006"
        else:
            assert sent == [] and counts["outside"] == 1
        for name in extra:
            monkeypatch.delenv(name)


def test_429_and_500_are_retried_with_backoff_and_sent_once(
        app, redis_client, fake_twilio, monkeypatch):
    monkeypatch.setattr(broadcast, "BACKOFF", (0.05, 0.1, 0.2, 0.4))
    enroll(app, 1, lang="es")
    fake_twilio.clear()
    fake_twilio.fail_next = [429, 500, 503]
    bid = send(redis_client, spec())
    posts = [r for r in fake_twilio.requests if r["method"] == "POST"]
    assert len(posts) == 4 and len(fake_twilio.accepted()) == 1
    gaps = [b["at"] - a["at"] for a, b in itertools.pairwise(posts)]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1 and gaps[2] >= 0.2, "the waits grow"
    assert Broadcasts(redis_client).get(bid).counts["sent"] == 1


def test_a_number_that_said_stop_to_twilio_is_opted_out_not_retried(
        app, redis_client, fake_twilio):
    [cid] = enroll(app, 1, lang="es")
    fake_twilio.clear()
    fake_twilio.fail_next = [(400, 21610)]
    bid = send(redis_client, spec())
    assert len(fake_twilio.messages()) == 1
    assert redis_client.hget(keys.contact(cid), "o") == b"1"
    assert Broadcasts(redis_client).get(bid).progress()["skipped"] == 1


def test_status_callbacks_count_delivered_and_failed_once_each(
        app, client, redis_client, fake_twilio):
    enroll(app, 3, lang="es")
    fake_twilio.clear()
    bid = send(redis_client, spec())
    calls = [(m["StatusCallback"], sid) for m, sid in fake_twilio.accepted()]
    assert len(calls) == 3
    assert all(url.endswith(f"/webhooks/twilio/status?bc={bid}") for url, _ in calls)
    outcomes = ["delivered", "delivered", "undelivered", "delivered"]  # Twilio may repeat one
    for (url, sid), status in zip([*calls, calls[0]], outcomes, strict=True):
        form = {"MessageSid": sid, "MessageStatus": status}
        path = url.removeprefix(PUBLIC_URL)
        response = client.post(path, data=form,
                               headers={"X-Twilio-Signature": twilio_signature(path, form)})
        assert response.status_code == 204
    progress = Broadcasts(redis_client).get(bid).progress()
    assert (progress["delivered"], progress["failed"]) == (2, 1)
    unsigned = client.post(calls[0][0].removeprefix(PUBLIC_URL),
                           data={"MessageSid": "SMx", "MessageStatus": "delivered"})
    assert unsigned.status_code == 403


def test_a_cancelled_broadcast_sends_no_more(app, redis_client, fake_twilio, config):
    enroll(app, 5, lang="es")
    fake_twilio.clear()
    book = Broadcasts(redis_client)
    found = book.create(spec(), needs_approval=False, now=NOW)
    launch(redis_client, found.id)
    assert book.cancel(found.id, NOW)
    work(redis_client)
    assert fake_twilio.messages() == [] and book.get(found.id).status == "cancelled"


def test_a_scheduled_broadcast_waits_for_its_time(app, redis_client, fake_twilio):
    enroll(app, 1, lang="es")
    fake_twilio.clear()
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)).isoformat(timespec="seconds")
    book = Broadcasts(redis_client)
    found = book.create(spec(send_at=later), needs_approval=False, now=NOW)
    launch(redis_client, found.id)
    work(redis_client)
    assert fake_twilio.messages() == [] and book.status(found.id) == "scheduled"
    assert f"faro-bc-{found.id}-start" in broadcast.queue(
        redis_client, "default").scheduled_job_registry.get_job_ids()


def test_a_conversation_reply_waiting_pauses_the_batch_and_goes_first(
        app, redis_client, fake_twilio):
    from worker.jobs import deliver
    from worker.queues import queue

    enroll(app, 40, lang="es")
    [person] = enroll(app, 1, lang="es", state="Chiapas", first=90)
    fake_twilio.clear()

    def reply_arrives(entry):  # while the first alert is on its way, a reply is queued
        if len(fake_twilio.requests) == 1:
            queue(redis_client, "replies").enqueue(deliver, person, [{"text": "Tu respuesta"}])

    fake_twilio.on_request = reply_arrives
    found = Broadcasts(redis_client).create(spec(), needs_approval=False, now=NOW)
    launch(redis_client, found.id)
    work(redis_client)
    bodies = [m["Body"] for m in fake_twilio.messages()]
    # The batch stops taking recipients; only the sends already under way finish first.
    assert len(bodies) == 41 and bodies.index("Tu respuesta") <= broadcast.SENDERS + 1
    assert Broadcasts(redis_client).status(found.id) == "done"
