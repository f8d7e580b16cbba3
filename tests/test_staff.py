"""The staff console: routes closed by default, CSRF, sign-in, lockout, accounts, audit."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner

from bot import audit, create_app, keys
from bot.cli import main
from bot.scams import Reports, recent_weeks
from bot.staff import orgs, sessions
from bot.staff.accounts import ROLES, AccountError, Accounts
from bot.staff.throttle import LIMITS, LOCKOUT
from tests.staff_helpers import PASSWORD, Console, add_staff, quick_hashes

# Every console endpoint and the roles that may use it; a new route must be added here.
ACCESS = {
    "staff.pages.dashboard": ROLES,
    "staff.auth.logout": ROLES,
    "staff.pages.audit_log": ("admin",),
    "staff.pages.scams": ("coordinator", "admin"),
    "staff.cases.find": ("legal",),
    "staff.cases.view": ("legal",),
    "staff.cases.media": ("legal",),
    "staff.cases.export": ("legal",),
    "staff.accounts.index": ("admin",),
    "staff.accounts.add": ("admin",),
    "staff.accounts.change": ("admin",),
    "staff.accounts.remove": ("admin",),
    "staff.capacity.show": ("shelter", "coordinator", "admin"),
    "staff.capacity.update": ("shelter", "coordinator", "admin"),
    "staff.broadcasts.index": ("coordinator", "shelter"),
    "staff.broadcasts.compose": ("coordinator", "shelter"),
    "staff.broadcasts.preview": ("coordinator", "shelter"),
    "staff.broadcasts.show": ("coordinator", "shelter"),
    "staff.broadcasts.progress": ("coordinator", "shelter"),
    "staff.broadcasts.approve": ("coordinator", "shelter"),
    "staff.broadcasts.cancel": ("coordinator", "shelter"),
}
OPEN = {"staff.auth.login", "staff.static"}  # the sign-in form and its stylesheet
HIDDEN = {"staff.cases.find", "staff.cases.view", "staff.cases.media", "staff.cases.export"}
FAILED = "Sign-in failed"


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch):
    quick_hashes(monkeypatch)


@pytest.fixture
def console(client) -> Console:
    return Console(client)


@pytest.fixture
def people(app) -> dict[str, str]:
    """One account per role, all of one organization: role -> email."""
    emails = {role: f"{role}@example.org" for role in ROLES}
    for role, email in emails.items():
        add_staff(app, email, role)
    return emails


def console_routes(app) -> list[tuple[str, str, str]]:
    """(endpoint, method, path) of every console route, with sample values filled in."""
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/staff") or rule.endpoint in OPEN:
            continue
        path = rule.rule.replace("<code>", "K7QM-3XPA").replace("<int:seq>", "1")
        out += [(rule.endpoint, m, path) for m in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return out


def call(console: Console, method: str, path: str):
    if method == "GET":
        return console.client.get(path)
    return console.client.post(path, data={"csrf_token": console.token()})


def test_the_route_table_names_every_console_route(app):
    assert {endpoint for endpoint, _m, _p in console_routes(app)} == set(ACCESS)


def test_every_console_route_is_closed_when_signed_out(app, console):
    for endpoint, method, path in console_routes(app):
        response = call(console, method, path)
        assert response.status_code in (302, 401, 404), (endpoint, method)
        if response.status_code == 302:
            assert response.location.startswith("/staff/login"), (endpoint, method)
        assert "Sign out" not in response.get_data(as_text=True), (endpoint, method)


def test_every_console_route_refuses_a_wrong_role(app, client, people):
    for role, email in people.items():
        console = Console(app.test_client())
        assert console.sign_in(email).status_code == 302
        for endpoint, method, path in console_routes(app):
            if role in ACCESS[endpoint]:
                continue
            status = call(console, method, path).status_code
            assert status == (404 if endpoint in HIDDEN else 403), (role, endpoint, method)


def test_a_post_without_or_with_a_bad_csrf_token_is_refused(console, people):
    form = {"email": people["admin"], "password": PASSWORD}
    assert console.client.post("/staff/login", data=form).status_code == 400
    bad = console.client.post("/staff/login", data={**form, "csrf_token": "forged"})
    assert bad.status_code == 400 and "expired" in bad.get_data(as_text=True)
    assert console.client.get("/staff/").status_code == 302  # not signed in by either
    console.sign_in(people["admin"])
    assert console.client.post("/staff/logout").status_code == 400
    assert console.client.post("/staff/scams", data={"weeks": 2}).status_code == 400
    assert console.client.get("/staff/").status_code == 200  # still signed in


def test_signing_in_rotates_the_session_and_sets_safe_cookie_flags(console, people):
    console.client.get("/staff/login")
    before = console.client.get_cookie("session").value
    response = console.sign_in(people["legal"])
    assert response.status_code == 302 and response.location == "/staff/"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Lax" in cookie
    assert console.client.get_cookie("session").value != before
    page = console.client.get("/staff/").get_data(as_text=True)
    assert "Hello, Legal" in page and "Al Otro Lado" in page and "Open a case" in page


def test_signing_out_ends_the_session_even_for_a_copied_cookie(console, people):
    console.sign_in(people["admin"])
    copied = console.client.get_cookie("session").value
    assert console.sign_out().location == "/staff/login"
    assert console.client.get("/staff/").status_code == 302
    console.client.set_cookie("session", copied)
    assert console.client.get("/staff/").status_code == 302


def test_an_idle_session_ends(app, console, people, redis_client):
    console.sign_in(people["admin"])
    [key] = redis_client.keys(keys.staff_session("*"))
    assert sessions.IDLE - 5 < redis_client.ttl(key) <= sessions.IDLE
    redis_client.delete(key)  # what the idle timeout does
    assert console.client.get("/staff/").status_code == 302


def test_a_wrong_password_and_an_unknown_email_fail_alike(console, people, redis_client):
    wrong = console.sign_in(people["admin"], "not the password at all")
    unknown = console.sign_in("nobody@example.org", "not the password at all")
    for response in (wrong, unknown):
        assert response.status_code == 200 and FAILED in response.get_data(as_text=True)
    assert console.client.get("/staff/").status_code == 302
    failed = audit.read(redis_client, 10, action="signin.failed")
    assert len(failed) == 2 and all(e.details["reason"] == "password" for e in failed)


def test_five_failures_lock_an_account_out_for_fifteen_minutes(console, people, redis_client):
    for _ in range(LIMITS["a"]):
        console.sign_in(people["legal"], "wrong password here")
    locked = console.sign_in(people["legal"])  # the right password, too late
    assert locked.status_code == 200 and FAILED in locked.get_data(as_text=True)
    [lock] = redis_client.keys(keys.signin_lock("a", "*"))
    assert LOCKOUT - 5 < redis_client.ttl(lock) <= LOCKOUT
    assert audit.read(redis_client, 1, action="signin.failed")[0].details["reason"] == "locked"
    assert console.sign_in(people["admin"]).status_code == 302  # other accounts still work
    redis_client.delete(lock)  # fifteen minutes later
    assert Console(console.client.application.test_client()).sign_in(
        people["legal"]).status_code == 302


def test_an_unknown_email_locks_like_a_real_one(console):
    for _ in range(LIMITS["a"] + 1):
        response = console.sign_in("ghost@example.org", "wrong password here")
        assert FAILED in response.get_data(as_text=True)


def test_many_failures_from_one_address_lock_that_address(app, people):
    here = Console(app.test_client())
    elsewhere = Console(app.test_client())
    for n in range(LIMITS["ip"]):
        here.sign_in(f"guess{n % 4}-{n // 4}@example.org", "wrong password here")
    assert here.sign_in(people["admin"]).status_code == 200
    away = elsewhere.sign_in(people["admin"], environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert away.status_code == 302


def test_passwords_are_kept_as_argon2_hashes_and_emails_never_in_clear(app, redis_client):
    add_staff(app, "Ana.Lopez@Example.org", "legal", name="Ana López")
    dump = b""
    for key in redis_client.scan_iter(keys.pattern_all()):
        dump += key + b"\n"
        if redis_client.type(key) == b"hash":
            dump += b"\n".join(v for kv in redis_client.hgetall(key).items() for v in kv)
    assert PASSWORD.encode() not in dump
    assert b"ana.lopez@example.org" not in dump.lower()
    book = Accounts(redis_client, app.extensions["faro"].settings.data_key)
    sid = book.sid_for(" ana.lopez@EXAMPLE.org ")
    assert redis_client.hget(keys.staff(sid), "pw").startswith(b"$argon2id$")
    assert book.email(sid) == "ana.lopez@example.org"
    assert book.verify("ana.lopez@example.org", PASSWORD).name == "Ana López"
    assert book.verify("ana.lopez@example.org", PASSWORD + "x") is None


def test_real_hashes_use_argon2id_with_the_recommended_cost(monkeypatch, app, redis_client):
    monkeypatch.undo()
    add_staff(app, "real@example.org", "admin")
    stored = redis_client.hget(keys.staff(Accounts(redis_client, app.extensions[
        "faro"].settings.data_key).sid_for("real@example.org")), "pw")
    assert stored.startswith(b"$argon2id$v=19$m=65536,t=3,p=4$")


def test_a_hash_made_with_old_parameters_is_renewed_at_sign_in(monkeypatch, app, redis_client):
    monkeypatch.undo()
    add_staff(app, "old@example.org", "admin")  # hashed with the real (here: "old") cost
    quick_hashes(monkeypatch)
    book = Accounts(redis_client, app.extensions["faro"].settings.data_key)
    assert book.verify("old@example.org", PASSWORD) is not None
    renewed = redis_client.hget(keys.staff(book.sid_for("old@example.org")), "pw")
    assert renewed.startswith(b"$argon2id$v=19$m=1024,t=1,p=1$")


@pytest.mark.parametrize("email,role,password,problem", [
    ("not-an-email", "legal", PASSWORD, "email"),
    ("a@example.org", "janitor", PASSWORD, "role"),
    ("a@example.org", "legal", "short pw 11", "12 characters"),
])
def test_bad_accounts_are_refused(app, email, role, password, problem):
    faro = app.extensions["faro"]
    with pytest.raises(AccountError, match=problem):
        Accounts(faro.redis, faro.settings.data_key).add(email, "A", "Org", role, password)


def test_an_email_has_one_account(app):
    add_staff(app, "one@example.org", "legal")
    with pytest.raises(AccountError, match="exists"):
        add_staff(app, "ONE@example.org", "admin")


def cli(config, args, stdin=""):
    env = {"REDIS_URL": config["REDIS_URL"], "FARO_ENV": "development", "TESTING": ""}
    return CliRunner().invoke(main, args, input=stdin, env=env)


def test_faro_staff_add_creates_an_account_that_can_sign_in(config, redis_client):
    args = ["staff", "add", "--email", "maria@alotrolado.org", "--name", "María",
            "--org", "Al Otro Lado", "--role", "legal"]
    result = cli(config, args, stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "Organization id: al-otro-lado" in result.output
    assert PASSWORD not in result.output
    assert redis_client.hget(keys.org("al-otro-lado"), "name") == b"Al Otro Lado"
    [entry] = audit.read(redis_client, 5, actor="cli", action="staff.add")
    assert entry.details == {"role": "legal", "org": "al-otro-lado"}
    console = Console(create_app(config).test_client())
    assert console.sign_in("maria@alotrolado.org").status_code == 302


def test_faro_staff_add_reads_stdin_and_refuses_bad_input(config, redis_client):
    base = ["staff", "add", "--name", "Luis", "--org", "Casa del Migrante", "--role", "shelter",
            "--password-stdin"]
    ok = cli(config, [*base, "--email", "luis@example.org"], stdin=PASSWORD + "\n")
    assert ok.exit_code == 0 and "casa-del-migrante" in ok.output
    again = cli(config, [*base, "--email", "luis@example.org"], stdin=PASSWORD + "\n")
    assert again.exit_code == 1 and "exists" in again.output
    short = cli(config, [*base, "--email", "x@example.org"], stdin="short\n")
    assert short.exit_code == 1 and "12 characters" in short.output
    mismatch = cli(config, [*base[:-1], "--email", "y@example.org"],
                   stdin=f"{PASSWORD}\n{PASSWORD}!\n{PASSWORD}\n{PASSWORD}\n")
    assert mismatch.exit_code == 0 and "do not match" in mismatch.output
    assert redis_client.scard(keys.orgs()) == 1
    listed = cli(config, ["staff", "list"])
    assert "luis@example.org" in listed.output and "y@example.org" in listed.output


def test_the_cli_offers_exactly_the_roles_the_console_knows():
    role = next(p for p in main.commands["staff"].commands["add"].params if p.name == "role")
    assert tuple(role.type.choices) == ROLES


def test_orgs_lists_only_organizations_with_legal_staff(app, redis_client):
    add_staff(app, "a@example.org", "legal", org="Al Otro Lado")
    add_staff(app, "b@example.org", "legal", org="Al Otro Lado")
    add_staff(app, "c@example.org", "shelter", org="Casa del Migrante")
    add_staff(app, "d@example.org", "legal", org="Asylum Access México")
    assert orgs(redis_client) == [("al-otro-lado", "Al Otro Lado"),
                                  ("asylum-access-mexico", "Asylum Access México")]


def test_audit_entries_are_written_read_newest_first_and_filtered(redis_client):
    audit.record(redis_client, "s1", "case.view", "K7QM-3XPA", items=3)
    audit.record(redis_client, "s2", "case.export", "K7QM-3XPA")
    audit.record(redis_client, "s1", "signin.ok", ip="127.0.0.1")
    assert [e.action for e in audit.read(redis_client, 10)] == [
        "signin.ok", "case.export", "case.view"]
    assert [e.action for e in audit.read(redis_client, 10, actor="s1")] == [
        "signin.ok", "case.view"]
    assert [e.actor for e in audit.read(redis_client, 10, action="case")] == ["s2", "s1"]
    [view] = audit.read(redis_client, 10, actor="s1", action="case.view")
    assert view.target == "K7QM-3XPA" and view.details == {"items": 3}
    assert abs(view.at - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)
    assert len(audit.read(redis_client, 2)) == 2


def test_filters_reach_past_the_first_page_of_the_stream(redis_client):
    audit.record(redis_client, "old", "case.view", "A")
    for n in range(audit.PAGE + 10):
        audit.record(redis_client, "busy", "signin.ok", str(n))
    assert [e.target for e in audit.read(redis_client, 5, actor="old")] == ["A"]


def test_the_audit_log_refuses_message_bodies_and_numbers(redis_client):
    for name in ("text", "body", "phone", "email", "password"):
        with pytest.raises(ValueError):
            audit.record(redis_client, "s1", "case.view", **{name: "x"})


def test_admins_read_and_filter_the_audit_log_in_the_console(console, people, redis_client):
    console.sign_in("ghost@example.org", "wrong password here")
    console.sign_in(people["admin"])
    page = table(console.client.get("/staff/audit"))
    assert "signin.failed" in page and "signin.ok" in page and "Admin" in page
    admin = audit.read(redis_client, 1, action="signin.ok")[0].actor
    mine = table(console.client.get(f"/staff/audit?actor={admin}&action=signin"))
    assert "signin.ok" in mine and "signin.failed" not in mine
    assert audit.read(redis_client, 1)[0].action == "audit.view"


def table(response) -> str:
    return response.get_data(as_text=True).split('data-testid="audit"')[1]


def test_every_console_page_sends_the_security_headers(console, people):
    console.sign_in(people["admin"])
    for path in ("/staff/login", "/staff/", "/staff/audit", "/staff/scams", "/staff/nowhere"):
        headers = console.client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["Strict-Transport-Security"].startswith("max-age=")
        assert headers["Cache-Control"] == "no-store"
    assert "Content-Security-Policy" not in console.client.get("/healthz").headers


def test_no_hsts_without_https(config):
    client = create_app({**config, "FARO_PUBLIC_URL": "http://localhost:5000"}).test_client()
    response = client.get("/staff/login")
    assert "Strict-Transport-Security" not in response.headers
    assert "Secure" not in response.headers["Set-Cookie"]


def test_sign_in_goes_back_only_to_a_console_page(console, people):
    token = console.token()
    form = {"email": people["admin"], "password": PASSWORD, "csrf_token": token}
    evil = console.client.post("/staff/login?next=https://evil.example/x", data=form)
    assert evil.location == "/staff/"
    console.sign_out()
    form["csrf_token"] = console.token()
    back = console.client.post("/staff/login?next=/staff/audit", data=form)
    assert back.location == "/staff/audit"


def test_the_scam_page_shows_weekly_counts_and_texts_on_request(app, console, people,
                                                                redis_client):
    faro = app.extensions["faro"]
    reports = Reports(redis_client, faro.settings.data_key, faro.content.data["scams"])
    now = dt.datetime.now(dt.UTC)
    this_week, last_week = recent_weeks(2, now)
    for text in ("Paga 500 dólares y te damos la cita", "Deposita para tu cita garantizada"):
        reports.add(text, now)
    reports.add("Manda tu código de verificación", now - dt.timedelta(weeks=1))
    console.sign_in(people["coordinator"])
    page = console.client.get("/staff/scams").get_data(as_text=True)
    assert f'data-week="{this_week}"' in page and f'data-week="{last_week}"' in page
    row = page.split(f'data-week="{this_week}"')[1].split("</tr>")[0]
    assert '<td class="num">2</td>' in row and "money" in row
    assert "Paga 500" not in page
    shown = console.post("/staff/scams", {"weeks": 2}, page="/staff/scams")
    body = shown.get_data(as_text=True)
    assert "Paga 500" in body and "código de verificación" in body
    [entry] = audit.read(redis_client, 5, action="scams.texts")
    assert entry.details == {"weeks": 2}
