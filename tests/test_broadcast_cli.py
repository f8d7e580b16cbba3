"""`faro broadcast` in a terminal: preview, send, progress, list, cancel."""

from __future__ import annotations

from click.testing import CliRunner

from bot import keys
from bot.broadcasts import Broadcasts
from bot.cli import main
from bot.segments import to_gsm7 as gsm
from tests.alert_helpers import enroll, unlimited_config, work, worker_app  # noqa: F401 (fixtures)


def faro(*args: str, stdin: str = ""):
    return CliRunner().invoke(main, ["broadcast", *args], input=stdin)


def test_send_previews_the_audience_then_sends_and_shows_progress(app, redis_client,
                                                                  fake_twilio):
    enroll(app, 3, lang="es")
    enroll(app, 1, lang="es", opted_out=True, first=10)
    fake_twilio.clear()
    out = faro("send", "--org", "Casa del Migrante", "--state", "Baja California",
               "--topic", "security", "--text", "es=Hay retenes en la carretera a Tecate.",
               "--no-watch", stdin="y\n")
    assert out.exit_code == 0, out.output
    assert "3 people (1 more stopped alerts" in out.output and "by language: es 3" in out.output
    [bid] = [b.id for b in Broadcasts(redis_client).recent()]
    work(redis_client)
    bodies = [m["Body"] for m in fake_twilio.messages()]
    assert len(bodies) == 3 and all(b.startswith(gsm("Aviso de Casa del Migrante:"))
                                    for b in bodies)
    watched = faro("watch", bid)
    assert "100%" in watched.output and "sent 3" in watched.output and "(done)" in watched.output
    listed = faro("list")
    assert bid in listed.output and "Baja California" in listed.output
    assert faro("cancel", bid).exit_code != 0, "a finished alert cannot be cancelled"
    entries = redis_client.xrange(keys.audit())
    assert any(b"broadcast.create" in v[b"action"] for _id, v in entries)


def test_answering_no_sends_nothing_and_a_bad_place_is_refused(app, redis_client):
    enroll(app, 1, lang="es")
    args = ["send", "--org", "Casa del Migrante", "--state", "Baja California", "--topic",
            "security", "--text", "es=Aviso.", "--no-watch"]
    assert faro(*args, stdin="n\n").exit_code != 0
    assert Broadcasts(redis_client).recent() == []
    bad = faro(*args[:4], "Chiapas", *args[5:], "--city", "Tijuana")
    assert bad.exit_code != 0 and "not a city of Chiapas" in bad.output
    nobody = faro("send", "--org", "X", "--state", "Sonora", "--topic", "port",
                  "--text", "es=Hola.", "--yes")
    assert nobody.exit_code != 0 and "Nobody subscribed" in nobody.output


def test_a_scheduled_alert_can_be_cancelled_before_its_time(app, redis_client, fake_twilio):
    enroll(app, 1, lang="es")
    fake_twilio.clear()
    out = faro("send", "--org", "Casa del Migrante", "--state", "Baja California", "--topic",
               "port", "--text", "es=Mañana abre la garita.", "--at", "2099-01-01T09:00",
               "--yes")
    assert "scheduled for 2099-01-01T09:00" in out.output
    [bid] = [b.id for b in Broadcasts(redis_client).recent()]
    assert faro("cancel", bid).exit_code == 0
    work(redis_client)
    assert fake_twilio.messages() == [] and Broadcasts(redis_client).status(bid) == "cancelled"
