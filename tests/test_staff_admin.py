"""Accounts in the console (admins) and shelter capacity (shelter staff, coordinators)."""

from __future__ import annotations

import datetime as dt

import pytest
from babel.dates import format_date
from click.testing import CliRunner

from bot import audit, keys
from bot.cli import main
from bot.conversation import MEXICO
from bot.segments import to_gsm7 as gsm
from bot.staff.accounts import Account, AccountError, Accounts
from tests.conftest import twiml_messages
from tests.staff_helpers import PASSWORD, Console, add_staff, quick_hashes, signed_in

HOME = "la-72-tenosique"  # in Tabasco
OTHER = "casa-del-migrante-juarez"  # in Chihuahua


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch):
    quick_hashes(monkeypatch)


@pytest.fixture
def directory(app):
    """The shelter directory, loaded from the content pack as the bot loads it."""
    return app.extensions["faro"].conversations.sources.shelters.ready()


@pytest.fixture
def admin(app) -> Console:
    add_staff(app, "admin@example.org", "admin", name="Ada")
    return signed_in(app, "admin@example.org")


@pytest.fixture
def book(app) -> Accounts:
    return Accounts(app.extensions["faro"].redis, app.extensions["faro"].settings.data_key)


def add_form(**changes: str) -> dict[str, str]:
    form = {"email": "luz@casa.org", "name": "Luz", "org": "La 72", "role": "shelter",
            "region": "", "shelter": HOME, "password": PASSWORD}
    return {**form, **changes}


def body(response) -> str:
    return response.get_data(as_text=True)


# -- accounts ----------------------------------------------------------------------------


def test_an_admin_adds_an_account_that_can_sign_in(app, admin, book, directory,
                                                   redis_client):
    added = admin.post("/staff/accounts/add", add_form(), page="/staff/accounts")
    assert added.status_code == 302 and added.location == "/staff/accounts"
    page = body(admin.client.get("/staff/accounts"))
    assert "Added Luz" in page and "La 72 · shelter · Tabasco" in page
    assert "$argon2" not in page and PASSWORD not in page and "luz@casa.org" not in page
    luz = book.get(book.sid_for("luz@casa.org"))
    assert (luz.role, luz.region, luz.shelter) == ("shelter", "Tabasco", HOME)
    [entry] = audit.read(redis_client, 5, action="account.add")
    assert entry.target == luz.sid and entry.details == {
        "role": "shelter", "region": "Tabasco", "shelter": HOME, "org": "la-72"}
    assert Console(app.test_client()).sign_in("luz@casa.org").status_code == 302


@pytest.mark.parametrize("changes,problem", [
    ({"password": "too short"}, "at least 12 characters"),
    ({"region": "Texas"}, "Not a valid choice"),
    ({"shelter": "nowhere"}, "Not a valid choice"),
    ({"email": "luz"}, "does not look like an email"),
])
def test_a_bad_new_account_is_refused_with_a_reason(admin, book, directory, changes,
                                                    problem):
    refused = admin.post("/staff/accounts/add", add_form(**changes), page="/staff/accounts")
    assert refused.status_code == 200 and problem in body(refused)
    assert book.get(book.sid_for(changes.get("email", "luz@casa.org"))) is None


def test_a_role_change_applies_at_once(app, admin, book, redis_client):
    luis = add_staff(app, "luis@example.org", "legal")
    luis_browser = signed_in(app, "luis@example.org")
    assert luis_browser.client.get("/staff/scams").status_code == 403
    changed = admin.post("/staff/accounts/change", {
        "sid": luis.sid, "role": "coordinator", "region": "Chihuahua", "shelter": ""},
        page="/staff/accounts")
    assert changed.status_code == 302
    assert luis_browser.client.get("/staff/scams").status_code == 200
    assert luis_browser.client.get("/staff/cases").status_code == 404
    assert book.get(luis.sid).region == "Chihuahua"
    [entry] = audit.read(redis_client, 5, action="account.change")
    assert entry.details == {"role": "coordinator", "region": "Chihuahua", "shelter": "",
                             "was": "legal"}


def test_a_removal_signs_the_account_out_at_once_for_good(app, admin, book, redis_client):
    luis = add_staff(app, "luis@example.org", "legal")
    phone, laptop = signed_in(app, "luis@example.org"), signed_in(app, "luis@example.org")
    copied = laptop.client.get_cookie("session").value
    unticked = admin.post("/staff/accounts/remove", {"sid": luis.sid}, page="/staff/accounts")
    assert "Tick the box first" in body(unticked) and book.get(luis.sid) is not None
    removed = admin.post("/staff/accounts/remove", {"sid": luis.sid, "confirm": "y"},
                         page="/staff/accounts")
    assert removed.status_code == 302 and book.get(luis.sid) is None
    for browser in (phone, laptop):
        assert browser.client.get("/staff/").location.startswith("/staff/login")
    assert not redis_client.exists(keys.staff_sessions(luis.sid))
    assert luis.sid.encode() not in {redis_client.get(k)
                                     for k in redis_client.keys(keys.staff_session("*"))}
    add_staff(app, "luis@example.org", "legal")  # the same email again: a new account
    stale = Console(app.test_client())
    stale.client.set_cookie("session", copied)
    assert stale.client.get("/staff/").status_code == 302
    [entry] = audit.read(redis_client, 5, action="account.remove")
    assert entry.target == luis.sid and entry.details == {"role": "legal",
                                                          "org": "al-otro-lado"}


def test_an_admin_can_neither_remove_nor_demote_themselves(admin, book):
    me = book.get(book.sid_for("admin@example.org"))
    removal = admin.post("/staff/accounts/remove", {"sid": me.sid, "confirm": "y"},
                         page="/staff/accounts")
    demotion = admin.post("/staff/accounts/change", {"sid": me.sid, "role": "legal"},
                          page="/staff/accounts")
    assert "cannot remove your own account" in body(removal)
    assert "cannot demote your own account" in body(demotion)
    assert book.get(me.sid).role == "admin"
    assert admin.client.get("/staff/accounts").status_code == 200


def test_account_forms_without_a_csrf_token_are_refused(app, admin, book, directory):
    luis = add_staff(app, "luis@example.org", "legal")
    for path, form in (("/staff/accounts/add", add_form()),
                       ("/staff/accounts/change", {"sid": luis.sid, "role": "admin"}),
                       ("/staff/accounts/remove", {"sid": luis.sid, "confirm": "y"})):
        refused = admin.client.post(path, data=form)
        assert refused.status_code == 400 and "expired" in body(refused), path
    assert book.get(luis.sid).role == "legal" and book.get(book.sid_for("luz@casa.org")) is None


def test_shelter_staff_get_their_shelters_state_and_regions_are_mexican_states(
        app, book, directory):
    assert add_staff(app, "a@example.org", "shelter", shelter=HOME).region == "Tabasco"
    assert add_staff(app, "b@example.org", "shelter", shelter=HOME,
                     region="Chiapas").region == "Chiapas"
    assert add_staff(app, "c@example.org", "legal", shelter=HOME).region == ""
    assert add_staff(app, "d@example.org", "shelter",
                     shelter="las-americas-el-paso").region == ""  # Texas is no region of ours
    for place in ({"region": "Texas"}, {"region": "chihuahua"}, {"shelter": "ids"}):
        with pytest.raises(AccountError):
            add_staff(app, "e@example.org", "shelter", **place)
    with pytest.raises(AccountError, match="no such account"):
        book.change("0" * 32, "legal")
    assert Account("s", "n", "o", "legal") == Account("s", "n", "o", "legal", "", "")


def cli(config, args, stdin=PASSWORD + "\n"):
    env = {"REDIS_URL": config["REDIS_URL"], "FARO_ENV": "development", "TESTING": ""}
    return CliRunner().invoke(main, args, input=stdin, env=env)


def test_faro_staff_add_takes_a_region_and_a_shelter(config, redis_client):
    base = ["staff", "add", "--name", "Luz", "--org", "La 72", "--role", "shelter",
            "--password-stdin"]
    ok = cli(config, [*base, "--email", "luz@example.org", "--shelter", HOME])
    assert ok.exit_code == 0, ok.output
    assert f"Region: Tabasco; shelter: {HOME}" in ok.output
    [entry] = audit.read(redis_client, 5, actor="cli", action="staff.add")
    assert entry.details == {"role": "shelter", "org": "la-72", "region": "Tabasco",
                             "shelter": HOME}
    bad = cli(config, [*base, "--email", "x@example.org", "--region", "Texas"])
    assert bad.exit_code == 1 and "must be a Mexican state" in bad.output
    listed = cli(config, ["staff", "list"]).output
    assert "Tabasco" in listed and HOME in listed


# -- capacity ----------------------------------------------------------------------------


@pytest.fixture
def shelter_staff(app, directory) -> Console:
    add_staff(app, "luz@example.org", "shelter", org="La 72", shelter=HOME)
    return signed_in(app, "luz@example.org")


def set_capacity(console: Console, status: str, beds: str = "", shelter: str = HOME):
    return console.post("/staff/capacity", {"shelter": shelter, "status": status,
                                            "beds": beds}, page="/staff/capacity")


def now_box(console: Console, path: str = "/staff/capacity") -> str:
    return body(console.client.get(path)).split('data-testid="capacity-now"')[1].split("</p>")[0]


def test_shelter_staff_set_their_capacity_and_see_it(shelter_staff, directory, redis_client):
    assert "No news" in now_box(shelter_staff) and "never updated" in now_box(shelter_staff)
    saved = set_capacity(shelter_staff, "open", "12")
    assert saved.status_code == 302 and saved.location == "/staff/capacity"
    today = dt.datetime.now(MEXICO).strftime("%Y-%m-%d %H:")
    box = now_box(shelter_staff)
    assert "Open" in box and "12 free beds" in box
    assert f"updated {today}" in box and "(today)" in box
    assert 'type="number" value="12"' in body(shelter_staff.client.get("/staff/capacity"))
    assert directory.get(HOME)["capacity_beds"] == "12"
    assert set_capacity(shelter_staff, "full").status_code == 302
    assert "Full" in now_box(shelter_staff) and "free beds" not in now_box(shelter_staff)
    assert [e.details for e in audit.read(redis_client, 5, action="capacity.set")] == [
        {"status": "full", "beds": 0}, {"status": "open", "beds": 12}]


def test_shelter_staff_cannot_set_another_shelters_capacity(shelter_staff, directory):
    assert set_capacity(shelter_staff, "closed", shelter=OTHER).status_code == 403
    assert directory.get(OTHER)["capacity_status"] == "unknown"
    page = body(shelter_staff.client.get(f"/staff/capacity?shelter={OTHER}"))
    assert "La 72" in page and 'id="pick"' not in page  # their own; no choice of others


def test_bad_capacity_news_is_refused_with_a_reason(shelter_staff, directory):
    for status, beds in (("open", "-3"), ("unknown", ""), ("open", "many")):
        refused = set_capacity(shelter_staff, status, beds)
        assert refused.status_code == 200 and 'class="alert"' in body(refused)
    assert directory.get(HOME)["capacity_status"] == "unknown"


def test_shelter_staff_without_a_shelter_are_told_to_ask(app, directory):
    add_staff(app, "new@example.org", "shelter")
    page = body(signed_in(app, "new@example.org").client.get("/staff/capacity"))
    assert "No shelter is linked to your account" in page


def test_coordinators_set_any_shelters_capacity(app, directory):
    add_staff(app, "coord@example.org", "coordinator")
    coordinator = signed_in(app, "coord@example.org")
    assert 'id="pick"' in body(coordinator.client.get("/staff/capacity"))
    saved = set_capacity(coordinator, "closed", shelter=OTHER)
    assert saved.location == f"/staff/capacity?shelter={OTHER}"
    assert "Closed" in now_box(coordinator, saved.location)
    assert set_capacity(coordinator, "open", shelter="nowhere").status_code == 404
    assert coordinator.client.get("/staff/capacity?shelter=ids").status_code == 404


def test_capacity_without_a_csrf_token_is_refused(shelter_staff, directory):
    form = {"shelter": HOME, "status": "full"}
    assert shelter_staff.client.post("/staff/capacity", data=form).status_code == 400
    assert directory.get(HOME)["capacity_status"] == "unknown"


def test_capacity_set_in_the_console_reaches_the_bots_shelter_search(shelter_staff,
                                                                      channels):
    set_capacity(shelter_staff, "full")
    replies = [gsm("\n".join(twiml_messages(channels.sms(text))))
               for text in ("hi", "4", "1", "Tenosique")]
    today = format_date(dt.datetime.now(MEXICO).date(), "medium", locale="en")
    assert gsm(f"Space: full, {today}, ") in replies[-1]


def test_the_dashboard_links_capacity_and_accounts(app, admin, shelter_staff):
    mine = body(shelter_staff.client.get("/staff/"))
    assert 'href="/staff/capacity"' in mine and "whether your shelter has room" in mine
    assert 'href="/staff/accounts"' not in mine
    assert 'href="/staff/accounts"' in body(admin.client.get("/staff/"))
