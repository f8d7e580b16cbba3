"""Alerts in the console: compose with a live preview, approval by a second person, cancel,
who may send where and see what, and the audit trail; sending through the fake providers."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from bot import audit, create_app
from bot.broadcasts import Broadcasts
from bot.segments import to_gsm7 as gsm
from tests.alert_helpers import NO_LIMIT, address, enroll, work
from tests.staff_helpers import Console, add_staff, quick_hashes, signed_in

COMPOSE = "/staff/broadcasts/new"
TEXT = "Hoy habrá retenes en la carretera a Tecate. Eviten viajar de noche."
THRESHOLD = 3  # an audience of 4 or more needs a second person


@pytest.fixture
def config(config):
    return {**config, **NO_LIMIT, "FARO_APPROVAL_ABOVE": str(THRESHOLD)}


@pytest.fixture
def app(config, worker_env, monkeypatch):
    quick_hashes(monkeypatch)
    return create_app(config)


@pytest.fixture
def staff(app) -> dict[str, str]:
    """Console accounts by first name -> their staff id."""
    accounts = {
        "cora": ("coordinator", "Red Fronteriza", ""),
        "carlos": ("coordinator", "Red Fronteriza", ""),
        "sol": ("shelter", "Casa del Migrante", "Baja California"),
        "luz": ("shelter", "Casa del Migrante", "Baja California"),
        "ana": ("shelter", "Casa del Migrante", "Sonora"),
        "nadie": ("shelter", "Casa del Migrante", ""),
        "tomas": ("shelter", "La 72", "Tabasco"),
    }
    return {name: add_staff(app, f"{name}@example.org", role, org=org, region=region).sid
            for name, (role, org, region) in accounts.items()}


def as_(app, name: str) -> Console:
    return signed_in(app, f"{name}@example.org")


def fields(**changes: Any) -> dict[str, Any]:
    """The compose form as a coordinator fills it; a None value leaves a field out."""
    data = {"states": "Baja California", "topic": "security", "lang": "es", "text_es": TEXT,
            "channels": ["sms", "whatsapp", "telegram"], **changes}
    return {k: v for k, v in data.items() if v is not None}


def compose(console: Console, **changes: Any) -> Any:
    return console.post(COMPOSE, fields(**changes), page=COMPOSE)


def preview(console: Console, **changes: Any) -> dict[str, Any]:
    response = console.client.post("/staff/broadcasts/preview", data=fields(**changes),
                                   headers={"X-CSRFToken": console.token(COMPOSE)})
    assert response.status_code == 200
    return response.get_json()


def shown(response: Any, testid: str) -> str | None:
    """The text of the element with `testid` in a console page, or None if absent."""
    found = re.search(rf'data-testid="{testid}"[^>]*>(.*?)</', response.get_data(as_text=True),
                      re.S)
    return html.unescape(" ".join(found.group(1).split())) if found else None


def alert_page(response: Any) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"]


def alerts_sent(fake_twilio) -> dict[str, str]:
    """Number -> body of every SMS alert the fake Twilio accepted (not conversation replies)."""
    return {m["To"]: m["Body"] for m in fake_twilio.messages() if gsm(TEXT) in m["Body"]}


def audited(redis_client) -> list[tuple[str, str]]:
    """(actor, action) of the alert entries in the audit log, oldest first."""
    entries = audit.read(redis_client, 100, action="broadcast")
    return [(e.actor, e.action) for e in reversed(entries) if e.action != "broadcast.view"]


def test_a_coordinator_sends_an_alert_and_watches_it_reach_everyone(
        app, redis_client, fake_twilio, staff):
    enroll(app, 2)
    enroll(app, 1, state="Chiapas", first=10)
    fake_twilio.clear()
    cora = as_(app, "cora")

    page = alert_page(compose(cora))
    assert shown(cora.client.get(page), "status") == "scheduled"
    work(redis_client)

    sent = alerts_sent(fake_twilio)
    assert set(sent) == {address("sms", 0), address("sms", 1)}, "Chiapas is not in the area"
    assert all(body.startswith(gsm("Aviso de Red Fronteriza:")) for body in sent.values())
    progress = cora.client.get(f"{page}/progress").get_json()
    assert (progress["status"], progress["percent"], progress["sent"]) == ("done", 100, 2)
    shows = cora.client.get(page)
    assert (shown(shows, "status"), shown(shows, "percent"), shown(shows, "sent")) == (
        "done", "100%", "2")
    assert shown(shows, "cancel") is None, "nothing left to cancel"
    listed = cora.client.get("/staff/broadcasts").get_data(as_text=True)
    assert all(f"<td>{cell}</td>" in listed for cell in ("Baja California", "Red Fronteriza",
                                                          "Safety", "done"))
    assert audited(redis_client) == [(staff["cora"], "broadcast.create")]


def test_the_preview_counts_who_gets_it_and_the_sms_segments_per_language(
        app, staff):
    enroll(app, 2)
    enroll(app, 1, channel="telegram", lang="en", city="Tijuana", first=10)
    enroll(app, 1, opted_out=True, first=20)
    enroll(app, 1, topics="port", first=30)  # no safety alerts wanted
    enroll(app, 1, state="Chiapas", first=40)
    cora = as_(app, "cora")
    english = ("The Otay crossing is closed today. " * 9).strip()

    seen = preview(cora, text_en=english, text_fr="Le foyer est plein : allez chez les sœurs.")
    assert seen["audience"] == {
        "total": 3, "opted_out": 1,
        "areas": {"Baja California": 2, "Tijuana, Baja California": 1},
        "languages": {"es": 2, "en": 1}, "channels": {"sms": 2, "telegram": 1}}
    assert seen["needs_approval"] is False and "error" not in seen
    segments = seen["segments"]
    assert (segments["es"]["segments"], segments["es"]["encoding"]) == (1, "GSM-7")
    assert (segments["en"]["segments"], segments["en"]["encoding"]) == (3, "GSM-7")
    assert segments["fr"]["encoding"] == "UCS-2" and segments["fr"]["segments"] == 2
    assert set(segments) == {"es", "en", "fr"}, "no count for an empty text box"

    both = preview(cora, states=["Baja California", "Chiapas"])
    assert both["audience"]["total"] == 4 and both["needs_approval"] is True
    # Before any text, it already says who would get it, and what is missing.
    draft = preview(cora, text_es="")
    assert draft["audience"]["total"] == 3 and "Write the text" in draft["error"]
    assert preview(cora, states=None)["error"] == "Choose at least one state."

    refused = cora.client.post("/staff/broadcasts/preview", data=fields())
    assert refused.status_code == 400


def test_shelter_staff_send_only_to_their_region(app, redis_client, fake_twilio, staff):
    enroll(app, 2)
    enroll(app, 2, state="Sonora", first=10)
    sol = as_(app, "sol")
    assert "Area: <strong>Baja California</strong>" in sol.client.get(COMPOSE).get_data(
        as_text=True)

    elsewhere = compose(sol, states="Sonora")
    assert elsewhere.status_code == 200
    assert shown(elsewhere, "error") == "You can send alerts only to Baja California."
    assert Broadcasts(redis_client).recent() == []

    no_region = compose(as_(app, "nadie"), states=None)
    assert shown(no_region, "error") == "Your account has no region yet. Ask an admin to set it."
    assert Broadcasts(redis_client).recent() == []

    fake_twilio.clear()
    alert_page(compose(sol, states=None))  # the form sends their region
    work(redis_client)
    sent = alerts_sent(fake_twilio)
    assert set(sent) == {address("sms", 0), address("sms", 1)}
    assert all(body.startswith(gsm("Aviso de Casa del Migrante:")) for body in sent.values())


def test_a_large_alert_waits_for_a_second_coordinator(app, redis_client, fake_twilio, staff):
    enroll(app, THRESHOLD + 1)
    fake_twilio.clear()
    cora, carlos = as_(app, "cora"), as_(app, "carlos")

    page = alert_page(compose(cora))
    mine = cora.client.get(page)
    assert shown(mine, "status") == "awaiting approval"
    assert "must approve" in shown(mine, "waiting") and shown(mine, "approve") is None
    assert f"<span data-count=\"total\">{THRESHOLD + 1}<" in mine.get_data(as_text=True)
    assert cora.post(f"{page}/approve", page=page).status_code == 403
    work(redis_client)
    assert alerts_sent(fake_twilio) == {}, "nothing goes before a second person agrees"

    theirs = carlos.client.get(page)
    assert shown(theirs, "approve") == "Approve and send"
    assert alert_page(carlos.post(f"{page}/approve", page=page)) == page
    work(redis_client)

    assert len(alerts_sent(fake_twilio)) == THRESHOLD + 1
    done = cora.client.get(page)
    assert shown(done, "status") == "done" and "by a second person" in done.get_data(
        as_text=True)
    assert audited(redis_client) == [(staff["cora"], "broadcast.create"),
                                     (staff["carlos"], "broadcast.approve")]


def test_shelter_staff_approve_their_colleagues_alert_only_in_their_region(
        app, redis_client, fake_twilio, staff):
    enroll(app, THRESHOLD + 1)
    page = alert_page(compose(as_(app, "sol"), states=None))
    ana, luz = as_(app, "ana"), as_(app, "luz")

    assert shown(ana.client.get(page), "approve") is None, "Sonora is not her region"
    assert ana.post(f"{page}/approve", page=page).status_code == 403
    alert_page(luz.post(f"{page}/approve", page=page))
    fake_twilio.clear()
    work(redis_client)
    assert len(alerts_sent(fake_twilio)) == THRESHOLD + 1


@pytest.mark.parametrize("people", [THRESHOLD + 1, 1], ids=["awaiting", "scheduled"])
def test_a_cancelled_alert_never_goes(app, redis_client, fake_twilio, staff, people):
    enroll(app, people)
    fake_twilio.clear()
    cora = as_(app, "cora")
    page = alert_page(compose(cora))
    before = shown(cora.client.get(page), "status")
    assert before == ("awaiting approval" if people > THRESHOLD else "scheduled")

    alert_page(cora.post(f"{page}/cancel", page=page))
    work(redis_client)  # the start job, queued already for the scheduled one, finds it cancelled

    after = cora.client.get(page)
    assert shown(after, "status") == "cancelled" and shown(after, "cancel") is None
    assert alerts_sent(fake_twilio) == {}
    carlos = as_(app, "carlos")
    assert carlos.post(f"{page}/approve", page=page).status_code == 403
    assert audited(redis_client) == [(staff["cora"], "broadcast.create"),
                                     (staff["cora"], "broadcast.cancel")]


def test_shelter_staff_of_another_organization_cannot_see_or_touch_an_alert(app, staff):
    enroll(app, 1)
    page = alert_page(compose(as_(app, "sol"), states=None))
    tomas = as_(app, "tomas")

    assert tomas.client.get(page).status_code == 404
    assert tomas.client.get(f"{page}/progress").status_code == 404
    for action in ("approve", "cancel"):
        assert tomas.post(f"{page}/{action}", page=COMPOSE).status_code == 404
    assert "No alerts yet." in tomas.client.get("/staff/broadcasts").get_data(as_text=True)
    assert as_(app, "luz").client.get(page).status_code == 200, "her organization's alert"
    assert as_(app, "cora").client.get(page).status_code == 200, "coordinators see all"


@pytest.mark.parametrize(("changes", "problem"), [
    ({"states": "Chiapas"}, "Nobody subscribed to this area and topic yet"),
    ({"topic": "port", "channels": "telegram"}, "Nobody subscribed"),
    ({"send_at": "2020-01-05T10:00"}, "The send time is in the past."),
    ({"text_es": "  "}, "Write the text in your own language"),
    ({"city": "Tapachula"}, "Tapachula is not a city of Baja California that Faro knows."),
    ({"states": "Atlantis"}, "not a valid choice"),
    ({"channels": None}, "Choose at least one channel."),
], ids=["nobody", "nobody-on-telegram", "past", "no-text", "city", "state", "no-channel"])
def test_a_compose_that_cannot_go_says_why_and_stores_nothing(
        app, redis_client, staff, changes, problem):
    enroll(app, 2)
    response = compose(as_(app, "cora"), **changes)
    assert response.status_code == 200
    assert problem in shown(response, "error")
    assert Broadcasts(redis_client).recent() == []
    assert audited(redis_client) == []


def test_an_alert_for_later_waits_for_its_time(app, redis_client, fake_twilio, staff):
    enroll(app, 1)
    fake_twilio.clear()
    cora = as_(app, "cora")
    page = alert_page(compose(cora, send_at="2099-12-31T18:30"))
    work(redis_client)
    shows = cora.client.get(page)
    assert shown(shows, "status") == "scheduled"
    assert "2099-12-31 18:30 (Mexico City time)" in shows.get_data(as_text=True)
    assert alerts_sent(fake_twilio) == {}
