"""A person's own appointments: saved encrypted, reminded through RQ, cancelled, erased."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date
from rq import Queue

from bot import keys
from bot.message import Inbound
from tests.conftest import twiml_messages
from worker.reminders import remind

MEXICO = ZoneInfo("America/Mexico_City")
PHONE = "+5215512345678"


def reply(channels, text):
    return "\n".join(twiml_messages(channels.sms(text, sender=PHONE)))


def save_appointment(channels, day: dt.date, at="10:30", place="COMAR office, Tapachula"):
    for text in ("hi", "my appointments", "1", "1"):
        reply(channels, text)
    reply(channels, day.strftime("%d/%m/%Y"))
    reply(channels, at)
    check = reply(channels, place)
    written = format_date(day, "medium", locale="en")  # "Dec 9, 2026", not "2026-12-09"
    assert f"Save this appointment: {written} at {at}, in {place}?" in check
    return reply(channels, "1")


@pytest.fixture
def cid(app):
    return app.extensions["faro"].store.contact_id(Inbound("sms", PHONE))


def scheduled(redis_client):
    registry = Queue("replies", connection=redis_client).scheduled_job_registry
    return {job_id: registry.get_scheduled_time(job_id) for job_id in registry.get_job_ids()}


def test_saving_schedules_three_reminders_at_the_right_times(channels, redis_client, cid):
    day = dt.datetime.now(MEXICO).date() + dt.timedelta(days=10)
    out = save_appointment(channels, day)
    assert "We will remind you 3 days, 1 day and 3 hours before" in out
    starts = dt.datetime.combine(day, dt.time(10, 30), MEXICO)
    jobs = scheduled(redis_client)
    assert len(jobs) == 3
    expected = {starts - dt.timedelta(hours=h) for h in (72, 24, 3)}
    assert {t.astimezone(dt.UTC) for t in jobs.values()} == {e.astimezone(dt.UTC)
                                                               for e in expected}
    for job_id in jobs:
        assert job_id.startswith(f"faro-remind-{cid}-")


def test_appointments_and_jobs_hold_no_readable_personal_data(channels, redis_client, cid):
    save_appointment(channels, dt.datetime.now(MEXICO).date() + dt.timedelta(days=5),
                     place="Calle Hidalgo 12, Tijuana")
    for key in redis_client.scan_iter("*"):
        kind = redis_client.type(key)
        if kind == b"hash":
            blob = b" ".join(v for pair in redis_client.hgetall(key).items() for v in pair)
        elif kind == b"string":
            blob = redis_client.get(key)
        else:
            continue
        assert b"Hidalgo" not in blob and b"Tijuana" not in blob and PHONE[1:].encode() not in blob


def test_an_appointment_soon_gets_only_the_reminders_still_ahead(channels, redis_client):
    soon = dt.datetime.now(MEXICO) + dt.timedelta(hours=30)
    save_appointment(channels, soon.date(), at=soon.strftime("%H:%M"))
    hours = sorted(int(j.rsplit("-", 1)[1]) for j in scheduled(redis_client))
    assert hours == [3, 24]


def test_the_reminder_reaches_the_person_in_their_language(channels, redis_client, cid,
                                                          fake_twilio, worker_env):
    day = dt.datetime.now(MEXICO).date() + dt.timedelta(days=4)
    save_appointment(channels, day, place="Oficina COMAR")
    [appointment_id] = [k.decode() for k in redis_client.hkeys(keys.appointments(cid))]
    assert remind(cid, appointment_id, 24) == 1
    [sms] = fake_twilio.messages()
    assert sms["To"] == PHONE
    assert sms["Body"].startswith("Faro reminder. Tomorrow: your appointment at COMAR, on ")
    assert "at 10:30, in Oficina COMAR." in sms["Body"]
    assert "Bring your ID if you have one" in sms["Body"]


def test_cancelling_removes_the_appointment_and_its_reminders(channels, redis_client, cid,
                                                              fake_twilio, worker_env):
    save_appointment(channels, dt.datetime.now(MEXICO).date() + dt.timedelta(days=9))
    [appointment_id] = [k.decode() for k in redis_client.hkeys(keys.appointments(cid))]
    listing = reply(channels, "my appointments")
    assert "1. Save an appointment" in listing
    listing = reply(channels, "2")
    assert "Your appointments. Send a number to cancel one:" in listing
    assert "1. your appointment at COMAR:" in listing
    assert "Cancel this appointment" in reply(channels, "1")
    assert "were removed from Faro" in reply(channels, "yes")
    assert scheduled(redis_client) == {}
    assert redis_client.hlen(keys.appointments(cid)) == 0
    assert remind(cid, appointment_id, 24) == 0
    assert fake_twilio.messages() == []
    assert "You have no appointments saved." in reply(channels, "2")


def test_a_past_date_is_refused_with_a_hint(channels):
    for text in ("hi", "my appointments", "1", "3"):
        reply(channels, text)
    out = reply(channels, "01/01/2020")
    assert "Please write a day from today on" in out


def test_deleting_my_data_erases_appointments_and_reminders(channels, redis_client, cid):
    save_appointment(channels, dt.datetime.now(MEXICO).date() + dt.timedelta(days=9))
    reply(channels, "delete my data")
    reply(channels, "1")
    assert scheduled(redis_client) == {}
    assert not redis_client.exists(keys.appointments(cid), keys.contact(cid))
