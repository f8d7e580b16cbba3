"""Fuzzing every webhook and console form: random fields, unicode, huge values, wrong types.

Whatever arrives, the answer is a 4xx at worst: never a 500, never an exception logged.
A body over FARO_MAX_BODY_BYTES is a 413 everywhere. About 3,700 examples in all, in
well under a minute.
With CI set the examples are derandomized (the same on every run); FARO_FUZZ_SCALE=10
multiplies the counts for a deeper run on a developer's machine.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from click.testing import CliRunner
from flask import got_request_exception
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import create_app
from bot.broadcasts import Area, Broadcasts, Spec
from bot.cli import main
from bot.staff.accounts import ROLES
from tests.alert_helpers import enroll
from tests.conftest import TELEGRAM_SECRET, twilio_signature
from tests.staff_helpers import PASSWORD, Console, add_staff, make_case, quick_hashes, signed_in

SCALE = float(os.environ.get("FARO_FUZZ_SCALE", "1"))


def fuzz(examples: int) -> settings:
    """Hypothesis settings for `examples` requests against one app (fixtures shared)."""
    return settings(max_examples=max(1, int(examples * SCALE)), deadline=None, database=None,
                    derandomize=bool(os.environ.get("CI")),
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow, HealthCheck.data_too_large])


# -- values -----------------------------------------------------------------------------

HUGE = st.builds(lambda part, n: part * n, st.text(min_size=1, max_size=3),
                 st.integers(1_000, 12_000))
ODD = st.sampled_from(["", " ", "\x00", "\r\n", "null", "[]", "{}", "%00", "\u202e", "\ufeff",
                       "é" * 3, "🙂", "0", "-1", "1e308", "nan", "inf", "9" * 40, "true",
                       "<script>", "{vars.x}", "%s%s", "../../etc/passwd", "\\", "'; --"])
NUMBERISH = st.integers(-(10**20), 10**20).map(str) | st.floats().map(str)
VALUE = st.one_of(st.text(max_size=30), ODD, NUMBERISH, HUGE)
FIELD = st.text(min_size=1, max_size=12)
SIDS = st.from_regex(r"[0-9a-f]{32}", fullmatch=True)
HEADER = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=40)  # no newlines
# Words that take a conversation somewhere: menu numbers, keywords, answers, dates, places.
WORDS = st.sampled_from(["hola", "hello", "menu", "1", "2", "3", "4", "5", "6", "9", "0", "911",
                         "sí", "no", "ayuda", "idioma", "stop", "start", "borrar mis datos",
                         "recuperar", "mis pruebas", "mis citas", "25/12/2026", "9:30",
                         "Tijuana", "listo", "1 y 3", "Bonjou", "olá", "français"])
TEXT = st.one_of(WORDS, st.text(max_size=60), ODD, HUGE)


@pytest.fixture
def errors() -> Iterator[list[str]]:
    """What Faro logged at ERROR or above while the test ran (never a request's content)."""
    found: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            kind = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else ""
            found.append(f"{record.name}: {record.getMessage()} {kind}")

    handler = Collect(logging.ERROR)
    logger = logging.getLogger("faro")  # does not propagate: caplog would see nothing
    logger.addHandler(handler)
    yield found
    logger.removeHandler(handler)


@pytest.fixture
def app(config, errors):
    """The app without the per-contact limit, so that every example reaches the engine."""
    app = create_app({**config, "FARO_CONTACT_RATE": "0"})

    def record(sender: Any, exception: Exception, **extra: Any) -> None:
        errors.append(repr(exception))

    got_request_exception.connect(record, app)
    yield app
    got_request_exception.disconnect(record, app)


def answered(response: Any, errors: list[str]) -> None:
    """A 4xx at worst, and nothing logged as an error on the way."""
    assert response.status_code < 500, response.get_data(as_text=True)[:300]
    assert not errors, errors


# -- Twilio -----------------------------------------------------------------------------

MESSAGES = "/webhooks/twilio/messages"
STATUS = "/webhooks/twilio/status"
SENDERS = st.sampled_from(["+5215512345678", "whatsapp:+5215512345679", "+12025550123",
                           "whatsapp:+50255551234"])
TWILIO_FIELDS = st.sampled_from([
    "From", "Body", "MessageSid", "SmsSid", "NumMedia", "MediaUrl0", "MediaContentType0",
    "MediaUrl1", "Latitude", "Longitude", "ButtonPayload", "ProfileName", "To", "WaId"]) | FIELD
PHONEISH = SENDERS | st.from_regex(r"(whatsapp:)?\+?[0-9 ().a-z-]{0,30}", fullmatch=True)


@st.composite
def twilio_forms(draw: st.DrawFn) -> dict[str, str]:
    """A Twilio form that mostly reaches the conversation: real fields, some changed."""
    form = {"MessageSid": "SM" + draw(st.uuids()).hex, "From": draw(SENDERS),
            "To": "+15005550006", "Body": draw(TEXT), "NumMedia": "0"}
    if draw(st.booleans()):
        form.update(NumMedia="1", MediaUrl0=draw(st.sampled_from(
            ["https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1", "x", ""])),
            MediaContentType0=draw(st.sampled_from(["image/jpeg", "application/pdf", "", "x/"])))
    if draw(st.booleans()):
        form.update(Latitude=draw(NUMBERISH | ODD), Longitude=draw(NUMBERISH | ODD))
    form.update(draw(st.dictionaries(TWILIO_FIELDS, VALUE | PHONEISH, max_size=5)))
    for name in draw(st.lists(st.sampled_from(sorted(form)), max_size=3)):
        form.pop(name, None)
    return form


@fuzz(700)
@given(form=twilio_forms())
def test_twilio_messages_never_crash(client, errors, form):
    errors.clear()
    headers = {"X-Twilio-Signature": twilio_signature(MESSAGES, form)}
    answered(client.post(MESSAGES, data=form, headers=headers), errors)


@fuzz(100)
@given(form=st.dictionaries(TWILIO_FIELDS, st.text(max_size=30) | ODD | PHONEISH, max_size=8),
       signature=st.none() | HEADER)
def test_unsigned_twilio_requests_are_403(client, errors, form, signature):
    errors.clear()
    headers = {} if signature is None else {"X-Twilio-Signature": signature}
    response = client.post(MESSAGES, data=form, headers=headers)
    assert response.status_code == 403
    answered(response, errors)


@st.composite
def status_callbacks(draw: st.DrawFn) -> tuple[str, dict[str, str]]:
    """A status callback's query (maybe naming a broadcast) and form."""
    form = {"MessageSid": "SM" + draw(st.uuids()).hex,
            "MessageStatus": draw(st.sampled_from(["delivered", "read", "failed", "sent",
                                                   "undelivered"]) | VALUE),
            "To": draw(PHONEISH), "ErrorCode": draw(st.sampled_from(["21610", "30003"]) | VALUE)}
    form.update(draw(st.dictionaries(FIELD, VALUE, max_size=3)))
    for name in draw(st.lists(st.sampled_from(sorted(form)), max_size=2)):
        form.pop(name, None)
    query = draw(st.none() | st.sampled_from(["BID"]) | st.text(max_size=20))
    return ("" if query is None else "?" + urlencode({"bc": query})), form


@fuzz(300)
@given(callback=status_callbacks())
def test_twilio_status_callbacks_never_crash(client, errors, broadcast, callback):
    errors.clear()
    query, form = callback
    path = STATUS + query.replace("BID", broadcast)
    headers = {"X-Twilio-Signature": twilio_signature(path, form)}
    answered(client.post(path, data=form, headers=headers), errors)


# -- the voice line ---------------------------------------------------------------------

VOICE = "/webhooks/twilio/voice"
VOICE_FIELDS = st.sampled_from(["CallSid", "From", "To", "Digits", "RecordingUrl",
                                "RecordingSid", "RecordingDuration", "CallStatus"]) | FIELD
KEYS = st.sampled_from(["1", "2", "4", "5", "9", "0", "*", "#", "25122026", "0930", "hangup"])
TURNS = (st.sampled_from(["", "?t=1", "?t=2&l=es", "?t=3&l=ht&n=1", "?t=1&again=1"])
         | st.builds(lambda t, lang: "?" + urlencode({"t": t, "l": lang}),
                     st.text(max_size=8), st.text(max_size=4)))


@st.composite
def calls(draw: st.DrawFn) -> tuple[str, dict[str, str]]:
    """A call's request (the turn in its query, keys or a recording in its form)."""
    form = {"CallSid": "CA" + draw(st.uuids()).hex, "From": draw(SENDERS | PHONEISH),
            "To": "+15005550006"}
    if draw(st.booleans()):
        form["Digits"] = draw(KEYS | VALUE)
    if draw(st.integers(0, 4)) == 0:
        form.update(RecordingUrl=draw(st.sampled_from(
            ["https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1", "x", ""]) | VALUE),
            RecordingSid="RE" + draw(SIDS), RecordingDuration=draw(NUMBERISH | ODD))
    form.update(draw(st.dictionaries(VOICE_FIELDS, VALUE | PHONEISH, max_size=4)))
    for name in draw(st.lists(st.sampled_from(sorted(form)), max_size=2)):
        form.pop(name, None)
    return draw(TURNS), form


@fuzz(300)
@given(call=calls())
def test_voice_calls_never_crash(client, errors, call):
    errors.clear()
    query, form = call
    path = VOICE + query
    headers = {"X-Twilio-Signature": twilio_signature(path, form)}
    answered(client.post(path, data=form, headers=headers), errors)


# -- Telegram ---------------------------------------------------------------------------

TELEGRAM = "/webhooks/telegram"
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | ODD,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                 max_size=4),
    max_leaves=12)
CHATS = st.sampled_from([700100200, 700100201, -100200300]) | st.integers() | JSON
UPDATE_KINDS = ("message", "edited_message", "callback_query", "channel_post", "my_chat_member")


@st.composite
def telegram_updates(draw: st.DrawFn) -> Any:
    """An update: real shapes with random leaves, or any JSON at all."""
    if draw(st.integers(0, 9)) == 0:
        return draw(JSON)
    chat = {"id": draw(CHATS), "type": draw(st.sampled_from(["private", "group"]) | JSON)}
    message = {"message_id": draw(st.integers()), "date": draw(st.integers(0, 2**31) | JSON),
               "chat": chat, "from": {"id": chat["id"], "is_bot": False,
                                      "first_name": draw(TEXT)}}
    message.update(draw(st.dictionaries(st.sampled_from(
        ["text", "caption", "photo", "document", "voice", "location", "contact", "sticker",
         "reply_to_message", "entities"]), TEXT | JSON, max_size=3)))
    if draw(st.booleans()):
        message["text"] = draw(TEXT)
    kind = draw(st.sampled_from(UPDATE_KINDS))
    body: Any = message
    if kind == "callback_query":
        body = {"id": draw(st.text(max_size=10) | JSON), "chat_instance": "1",
                "from": message["from"], "message": message, "data": draw(TEXT | JSON)}
    update = {"update_id": draw(st.integers(0, 2**40) | JSON), kind: body}
    update.update(draw(st.dictionaries(FIELD, JSON, max_size=2)))
    return update


@fuzz(700)
@given(update=telegram_updates())
def test_telegram_updates_never_crash(client, errors, update):
    errors.clear()
    response = client.post(TELEGRAM, data=json.dumps(update), content_type="application/json",
                           headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET})
    answered(response, errors)


@fuzz(100)
@given(body=st.binary(max_size=200) | st.text(max_size=200).map(str.encode),
       content_type=st.sampled_from(["application/json", "text/plain", ""]),
       secret=st.sampled_from([TELEGRAM_SECRET, None]) | HEADER)
def test_telegram_raw_bodies_never_crash(client, errors, body, content_type, secret):
    errors.clear()
    headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
    response = client.post(TELEGRAM, data=body, content_type=content_type, headers=headers)
    answered(response, errors)
    if secret != TELEGRAM_SECRET:
        assert response.status_code == 403


def replies_to_replies(depth: int) -> str:
    """An update whose message replies to a message replying to one... `depth` times."""
    inner = '{"message_id": 1, "date": 1, "chat": {"id": 1, "type": "private"}, "text": "x"'
    chain = (inner + ', "reply_to_message": ') * depth + inner + "}" * (depth + 1)
    return '{"update_id": 1, "message": ' + chain + "}"


@pytest.mark.parametrize(("path", "body"), [
    (TELEGRAM, "[" * 100_000), ("/simulator/send", "[" * 100_000)],
    ids=["telegram, too deep to parse", "simulator, too deep to parse"])
def test_deeply_nested_json_is_a_400(client, errors, path, body):
    response = client.post(path, data=body, content_type="application/json",
                           headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET})
    assert response.status_code == 400
    assert not errors


def test_a_reply_to_a_reply_hundreds_deep_is_answered_as_one_message(client, errors):
    # Faro reads only the fields it uses, never the message replied to, so the depth that
    # made python-telegram-bot's parser recurse past Python's limit costs nothing here.
    response = client.post(TELEGRAM, data=replies_to_replies(600),
                           content_type="application/json",
                           headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET})
    assert response.status_code == 200
    assert response.get_json()["method"] == "sendMessage"
    assert not errors


# -- the simulator ----------------------------------------------------------------------

SIMULATED = st.one_of(
    JSON,
    st.fixed_dictionaries({}, optional={
        "text": TEXT | JSON, "choice": WORDS | JSON,
        "location": JSON | st.fixed_dictionaries({"lat": st.floats() | JSON,
                                                  "lon": st.floats() | JSON})}))

CALL_MOVES = st.one_of(
    JSON,
    st.fixed_dictionaries({"action": st.sampled_from(["start", "press", "silence", "hangup"])},
                          optional={"keys": st.from_regex(r"[0-9*#]{1,9}", fullmatch=True)
                                    | WORDS | JSON}))
# A chat message or a move of the simulated call, in one browser session.
SIMULATOR_POSTS = st.tuples(st.just("/simulator/send"), SIMULATED) | \
    st.tuples(st.just("/simulator/call"), CALL_MOVES)


@fuzz(450)
@given(posted=SIMULATOR_POSTS, reset=st.integers(0, 19))
def test_the_simulator_never_crashes(client, errors, posted, reset):
    errors.clear()
    if reset == 0:
        answered(client.post("/simulator/reset"), errors)
    path, body = posted
    answered(client.post(path, data=json.dumps(body), content_type="application/json"), errors)


# -- the console ------------------------------------------------------------------------

@pytest.fixture
def broadcast(app) -> str:
    """A broadcast awaiting approval, for routes that name one."""
    author = add_staff(app, "autora@example.org", "coordinator")
    spec = Spec("al-otro-lado", "Al Otro Lado", author.sid, (Area("Baja California"),),
                "security", {"es": "Cerrado el cruce"}, "es")
    found = Broadcasts(app.extensions["faro"].redis).create(spec, True, dt.datetime.now(dt.UTC), 1)
    return found.id


@pytest.fixture
def console(app, monkeypatch, broadcast) -> dict[str, Any]:
    """One signed-in browser per role (and one signed out), each with its CSRF token, and
    the real ids that stand in for the placeholders of the strategies below."""
    quick_hashes(monkeypatch)
    shelter = app.extensions["faro"].conversations.sources.shelters.ready().entries()[0]
    enroll(app, 1, state=shelter["state"])  # so that an alert finds someone, and goes
    browsers: dict[str, Any] = {}
    real = {"SHELTER_ID": shelter["id"], "STATE": shelter["state"], "BID": broadcast,
            "CASE": make_case(app)}
    for role in ROLES:
        staff = role == "shelter"
        account = add_staff(app, f"{role}@example.org", role, region=shelter["state"] if staff
                            else "", shelter=shelter["id"] if staff else "")
        real[f"{role.upper()}_SID"] = account.sid
        browsers[role] = signed_in(app, f"{role}@example.org")
    browsers["anonymous"] = Console(app.test_client())
    tokens = {role: browser.token() for role, browser in browsers.items()}
    return {"app": app, "browsers": browsers, "tokens": tokens, "real": real}


def placed(console: dict[str, Any], value: Any) -> Any:
    """`value` with its placeholders ("SHELTER_ID", "CASE", "LEGAL_SID"...) made real."""
    if isinstance(value, list):
        return [placed(console, v) for v in value]
    return console["real"].get(value, value) if isinstance(value, str) else value


def either(*values: str) -> st.SearchStrategy[str]:
    return st.sampled_from(values)


LATER = st.datetimes(min_value=dt.datetime(2030, 1, 1), max_value=dt.datetime(9999, 12, 31))
# Each console form: who may post it, and a strategy of good values per field (the fuzzer
# mixes in junk, repeats and gaps; a form drawn "clean" has only good values).
FORMS: dict[str, tuple[tuple[str, ...], dict[str, st.SearchStrategy]]] = {
    "/staff/login": (("anonymous",), {
        "email": either("admin@example.org", "legal@example.org", "nadie@example.org"),
        "password": either(PASSWORD, "not the password")}),
    "/staff/scams": (("coordinator", "admin"), {"weeks": st.integers(1, 8).map(str)}),
    "/staff/cases": (("legal",), {"code": either("CASE", "K7QM-3XPA", "k7qm 3xpa")}),
    "/staff/accounts/add": (("admin",), {
        "email": st.emails(), "name": st.text(min_size=1, max_size=100),
        "org": either("Al Otro Lado", "Casa Monarca") | st.text(min_size=1, max_size=100),
        "password": st.text(min_size=12, max_size=60), "role": st.sampled_from(ROLES),
        "region": either("STATE", ""), "shelter": either("SHELTER_ID", "")}),
    "/staff/accounts/change": (("admin",), {
        "sid": either("LEGAL_SID", "COORDINATOR_SID", "SHELTER_SID", "ADMIN_SID"),
        "role": st.sampled_from(ROLES), "region": either("STATE", ""),
        "shelter": either("SHELTER_ID", "")}),
    "/staff/accounts/remove": (("admin",), {
        "sid": either("LEGAL_SID", "COORDINATOR_SID", "ADMIN_SID") | SIDS,
        "confirm": either("y")}),
    "/staff/capacity": (("shelter", "coordinator", "admin"), {
        "shelter": either("SHELTER_ID"), "status": either("open", "full", "closed"),
        "beds": st.integers(0, 9999).map(str)}),
}
COMPOSE = {
    "states": either("STATE", "Baja California"), "city": either("", "Tijuana", "Mexicali"),
    "topic": either("security", "capacity", "port", "scams"), "lang": either("es", "en"),
    "channels": either("sms", "whatsapp", "telegram"), "only": either("es", "ht"),
    "send_at": either("", "9999-12-31T23:59") | LATER.map(lambda d: d.strftime("%Y-%m-%dT%H:%M")),
    "text_es": st.text(min_size=1, max_size=200), "text_en": st.text(max_size=200),
    "text_ht": TEXT}
for _path in ("/staff/broadcasts/new", "/staff/broadcasts/preview"):
    FORMS[_path] = (("coordinator", "shelter"), COMPOSE)


@st.composite
def form_data(draw: st.DrawFn, fields: dict[str, st.SearchStrategy]) -> dict[str, Any]:
    """The form's fields: all good, or some junk, repeated (several values) or missing,
    with fields it does not have."""
    if draw(st.booleans()):
        return {name: draw(good) for name, good in fields.items()}
    data: dict[str, Any] = {}
    for name, good in fields.items():
        how = draw(st.integers(0, 7))
        if how == 0:
            continue  # missing
        value = good if how < 4 else VALUE
        data[name] = draw(st.lists(value, max_size=4)) if how == 7 else draw(value)
    data.update(draw(st.dictionaries(FIELD, VALUE, max_size=2)))
    return data


def post_form(console: dict[str, Any], role: str, path: str, data: dict[str, Any]) -> Any:
    """Post `data` to `path` as `role`, with that browser's CSRF token (signed out: a new
    browser each time, since signing in changes the token)."""
    data = {name: placed(console, value) for name, value in data.items()}
    browser = console["browsers"][role]
    if role == "anonymous":
        browser = Console(console["app"].test_client())
    data["csrf_token"] = browser.token() if role == "anonymous" else console["tokens"][role]
    return browser.client.post(path, data=data)


@pytest.mark.parametrize("path", sorted(FORMS))
@fuzz(100)
@given(data=st.data())
def test_console_forms_never_crash(console, errors, path, data):
    errors.clear()
    roles, fields = FORMS[path]
    role = data.draw(st.sampled_from(roles))
    answered(post_form(console, role, path, data.draw(form_data(fields))), errors)


SEGMENT = either("BID", "CASE", "K7QM-3XPA", "1") | st.text(min_size=1, max_size=40)
# GET routes that read a path segment or a query, who may open them, their query fields.
PAGES = [
    ("admin", "/staff/audit?{query}", {"actor": either("LEGAL_SID", "cli", ""),
                                       "action": either("signin.ok", "case", "")}),
    ("admin", "/staff/capacity?{query}", {"shelter": either("SHELTER_ID", "")}),
    ("anonymous", "/staff/login?{query}", {"next": either(
        "/staff/audit", "//evil.example", "https://evil.example", "/staff/\\evil")}),
    ("legal", "/staff/cases/{segment}", {}),
    ("legal", "/staff/cases/{segment}/media/{number}", {}),
    ("legal", "/staff/cases/{segment}/export", {}),
    ("coordinator", "/staff/broadcasts/{segment}", {}),
    ("coordinator", "/staff/broadcasts/{segment}/progress", {}),
]


@fuzz(300)
@given(data=st.data())
def test_console_pages_and_decisions_never_crash(console, errors, data):
    errors.clear()
    segment = quote(placed(console, data.draw(SEGMENT)), safe="")
    if data.draw(st.integers(0, 3)) == 0:  # approve or cancel a broadcast, any id
        role = data.draw(st.sampled_from(["coordinator", "shelter", "admin"]))
        path = f"/staff/broadcasts/{segment}/{data.draw(either('approve', 'cancel'))}"
        answered(post_form(console, role, path, data.draw(form_data({}))), errors)
        return
    role, template, fields = data.draw(st.sampled_from(PAGES))
    query = {k: placed(console, v) for k, v in data.draw(form_data(fields)).items()}
    path = template.format(query=urlencode(query, doseq=True), segment=segment,
                           number=data.draw(st.integers(0, 6) | st.integers(0, 10**12)))
    answered(console["browsers"][role].client.get(path), errors)


def test_a_send_time_no_clock_can_hold_is_refused(console, errors, worker_env):
    form = {"states": "STATE", "topic": "port", "lang": "es", "channels": "sms",
            "text_es": "Mañana abre la garita.", "send_at": "9999-12-31T23:59"}
    response = post_form(console, "coordinator", "/staff/broadcasts/new", form)
    assert response.status_code == 200
    assert "The send time is too far away." in response.get_data(as_text=True)
    by_cli = CliRunner().invoke(main, [
        "broadcast", "send", "--org", "Casa del Migrante", "--state", "Baja California",
        "--topic", "port", "--text", "es=Mañana abre la garita.", "--at", "9999-12-31T23:59",
        "--yes"])
    assert by_cli.exit_code == 1 and "too far away" in by_cli.output, by_cli.exception
    assert not errors


def test_signing_out_with_junk_fields_never_crashes(console, errors):
    browser = console["browsers"]["admin"]
    response = browser.client.post("/staff/logout", data={
        "csrf_token": console["tokens"]["admin"], "submit": "x" * 10_000, "\x00": "🙂"})
    assert response.status_code == 302
    assert not errors


# -- bodies over the limit --------------------------------------------------------------

LIMIT = 4096


@pytest.mark.parametrize("path", [MESSAGES, STATUS, TELEGRAM, "/simulator/send",
                                  "/staff/login", "/staff/accounts/add", "/staff/capacity"])
def test_a_body_over_the_limit_is_413_everywhere(config, monkeypatch, errors, path):
    quick_hashes(monkeypatch)
    app = create_app({**config, "FARO_MAX_BODY_BYTES": str(LIMIT)})
    add_staff(app, "admin@example.org", "admin")
    browser = signed_in(app, "admin@example.org")
    form = {"Body": "x" * (LIMIT + 1), "csrf_token": browser.token()}
    headers = {"X-Twilio-Signature": twilio_signature(path, form),
               "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
    response = browser.client.post(path, data=form, headers=headers)
    assert response.status_code == 413
    raw = browser.client.post(path, data=json.dumps({"text": "x" * (LIMIT + 1)}),
                              content_type="application/json", headers=headers)
    assert raw.status_code == 413
    assert not errors
