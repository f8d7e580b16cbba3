"""The voice line as Twilio drives it: calls answered in TwiML Voice through the same engine.

Golden transcripts (tests/golden/voice_*.yaml) hold each key pressed and the TwiML answered,
through the real webhook, store, engine and content; rewrite them after a deliberate change
with `FARO_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_voice.py` and read the diff.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zipfile
from pathlib import Path

import pytest
import yaml
from rq import SimpleWorker
from twilio.request_validator import RequestValidator

from bot import create_app, keys, places
from bot.casefile import export, public_key, signing_key, verify_export
from bot.content import load_content
from bot.engine import Profile, State, step
from bot.message import Inbound
from bot.segments import cheapest
from tests.conftest import PUBLIC_URL, TWILIO_TOKEN, twilio_signature, twiml_messages
from tests.test_evidence_flow import everything_stored
from tests.test_transcripts import CODE, compare, transcripts
from tests.voice_helpers import PATH, PHONE, Caller, heard, pretty, said, twiml
from worker.queues import queue

# What a caller says into the phone, as the MP3 Twilio makes of it (an MPEG frame header).
RECORDING = b"\xff\xf3\x38\xc4" + b"FARO-CALLER-ACCOUNT-OF-THE-KIDNAPPING " * 300
# A recovery phrase as a voice says it: four words and two digits, then the end of a sentence.
SPOKEN_PHRASE = re.compile(r"(?<=: )(?:[a-z]+ ){4}\d{2}(?=\.)")


@pytest.fixture
def config(config, tmp_path):
    return {**config, "FARO_MEDIA_DIR": str(tmp_path / "media")}


@pytest.fixture
def caller(client) -> Caller:
    return Caller(client)


def contacts(redis_client) -> list[bytes]:
    return list(redis_client.scan_iter("faro:c:*"))


def cid_of(app, channel: str = "voice", address: str = PHONE) -> str:
    return app.extensions["faro"].store.contact_id(Inbound(channel, address))


def verbs(response) -> list[str]:
    """The top-level verbs of an answer, in order."""
    return [verb.tag for verb in twiml(response)]


# -- golden transcripts ---------------------------------------------------------------------

def play(caller: Caller, fake_twilio, turn: dict):
    if "call" in turn:
        return caller.call()
    if "record" in turn:
        return caller.record(fake_twilio, RECORDING, turn["record"])
    return caller.press(str(turn["press"]))


@pytest.mark.parametrize("path", transcripts("voice"), ids=lambda p: p.stem)
def test_voice_transcript(caller, fake_twilio, path):
    script = yaml.safe_load(path.read_text(encoding="utf-8"))
    got = [SPOKEN_PHRASE.sub("<recovery phrase>", CODE.sub("<case code>", pretty(
        play(caller, fake_twilio, turn)))) for turn in script["turns"]]
    compare(path, script, "twiml", got)


def test_the_voice_transcripts_cover_the_calls_the_line_must_handle():
    covered = {p.stem for p in transcripts("voice")}
    assert {"voice_welcome", "voice_emergency", "voice_shelters", "voice_evidence",
            "voice_creole"} <= covered


# -- what a caller hears --------------------------------------------------------------------

def test_a_new_caller_hears_each_language_in_its_own_voice_or_recording(caller):
    first = twiml(caller.call())
    gather = first.find("Gather")
    lines = [(v.tag, v.get("language"), v.text) for v in gather]
    assert lines == [
        ("Say", "es-MX", "Para español, oprime 1."),
        ("Say", "en-US", "For English, press 2."),
        ("Say", "fr-FR", "Pour le français, appuyez sur 3."),
        ("Play", None, f"{PUBLIC_URL}/audio/ht/voice_language.mp3"),
        ("Say", "pt-BR", "Para português, digite 5.")]
    assert gather.get("input") == "dtmf" and gather.get("numDigits") == "1"
    assert gather.get("action") == f"{PUBLIC_URL}{PATH}?t=1&l=es"


def test_silence_repeats_the_question_once_then_says_goodbye_and_hangs_up(caller):
    caller.call()
    answer = caller.press("2")
    assert verbs(answer) == ["Gather", "Say", "Gather", "Say", "Hangup"]
    first, silence, again, goodbye, _ = twiml(answer)
    assert silence.text == "I did not hear anything."
    assert [v.text for v in again] == [v.text for v in first][-2:]  # the menu and its keys
    assert again.get("action") == first.get("action")
    assert "Goodbye" in goodbye.text and "Call 9 1 1" in goodbye.text


def test_the_played_recordings_are_served_as_mp3(client, caller):
    caller.call()
    played = [v.text for v in twiml(caller.press("4")).iter("Play")]
    assert played == [f"{PUBLIC_URL}/audio/ht/menu.start.mp3"] * 2
    with client.get(played[0].removeprefix(PUBLIC_URL)) as audio:
        assert audio.status_code == 200 and audio.mimetype == "audio/mpeg"
        assert audio.get_data()[:2] == b"\xff\xf3"  # an MPEG audio frame: what <Play> takes
    assert client.get("/audio/ht/nothing.mp3").status_code == 404


def test_a_date_and_a_time_are_keyed_then_pound(caller):
    caller.call()
    for keys_pressed in ("2", "1", "4", "1", "1"):  # English, appointments, mine, save, COMAR
        answer = caller.press(keys_pressed)
    gather = twiml(answer).find("Gather")
    assert gather.get("finishOnKey") == "#" and gather.get("numDigits") is None
    assert "press 2 5 1 2 2 0 2 6" in heard(answer)[-1]
    answer = caller.press("15012027")
    assert "press 0 9 3 0" in heard(answer)[-1]
    answer = caller.press("0930")
    assert said(answer)[0] == ("Save this appointment: Jan 15, 2027 at 09:30? "
                               "For Yes, press 1. For No, press 2.")
    answer = caller.press("1")
    assert said(answer)[0].startswith("Saved. We will remind you by text message")


# -- one contact for a number, whether it texts or calls -------------------------------------

def test_a_number_that_texted_calls_and_hears_its_language_at_once(channels, caller,
                                                                   redis_client):
    twiml_messages(channels.sms("Bonjour, j'ai besoin d'aide", sender=PHONE))
    answer = caller.call()
    assert said(answer)[0] == "De quoi avez-vous besoin ? Pour Rendez-vous " \
                              "à la frontière, appuyez sur 1. Pour Arnaques et fraudes, " \
                              "appuyez sur 2. Pour Mes preuves, appuyez sur 3. Pour Centres " \
                              "d'accueil et aide, appuyez sur 4. Pour Urgence, appuyez sur 5. " \
                              "Pour Paramètres, appuyez sur 6."
    assert {say.get("language") for say in twiml(answer).iter("Say")} == {"fr-FR"}
    assert len(contacts(redis_client)) == 1


def test_a_caller_who_texts_goes_on_from_where_the_call_left(channels, caller, app,
                                                              redis_client):
    caller.call()
    caller.press("5")  # Português
    assert said(caller.press("4"))[0].startswith("De que tipo de ajuda você precisa?")
    texted = twiml_messages(channels.sms("1", sender=PHONE))
    assert texted == [cheapest("Onde você está? Compartilhe sua localização ou escreva o nome "
                               "da sua cidade.")]  # by SMS: the question that takes words
    assert len(contacts(redis_client)) == 1
    assert redis_client.hget(keys.contact(cid_of(app, "sms")), "l") == b"pt"


# -- retries, repeats, and requests that are not Twilio's ------------------------------------

def test_a_turn_twilio_sends_again_moves_the_conversation_once(caller, app, redis_client):
    caller.call()
    first = caller.press("2")  # English: the main menu
    retried = caller.retry()
    assert verbs(retried) == ["Redirect"]
    assert twiml(retried).find("Redirect").text == f"{PUBLIC_URL}{PATH}?t=1&l=es&again=1"
    again = caller.post()  # Twilio follows the redirect: the question it waits on, again
    assert said(again)[:2] == said(first)[1:3]  # the main menu, not the menu after it
    assert said(caller.press("5"))[0].startswith("In danger right now? Call 9 1 1.")
    assert redis_client.hget(keys.contact(cid_of(app)), "n") == b"4"


def test_the_star_key_says_the_question_again(caller):
    caller.call()
    menu = said(caller.press("1"))
    assert said(caller.press("*"))[:2] == menu[1:3]


SIGNATURES = [
    # label, how to sign (gets the path and form, may change the form), status
    ("signed", lambda p, f: twilio_signature(p, f), 200),
    ("unsigned", lambda p, f: None, 403),
    ("garbage", lambda p, f: "bm90IGEgc2lnbmF0dXJl", 403),
    ("another account's token",
     lambda p, f: RequestValidator("other").compute_signature(PUBLIC_URL + p, f), 403),
    ("keys changed after signing",
     lambda p, f: (twilio_signature(p, f), f.update(Digits="5"))[0], 403),
    ("signed for http://localhost",
     lambda p, f: RequestValidator(TWILIO_TOKEN).compute_signature("http://localhost" + p, f),
     403),
    ("signed for another turn", lambda p, f: twilio_signature(PATH + "?t=7", f), 403),
]


@pytest.mark.parametrize(("label", "sign", "status"), SIGNATURES, ids=[s[0] for s in SIGNATURES])
def test_signature(client, redis_client, label, sign, status):
    path = PATH + "?t=1&l=es"
    form = {"CallSid": "CA" + "1" * 32, "From": PHONE, "To": "+15005550006", "Digits": "1"}
    signature = sign(path, form)
    headers = {} if signature is None else {"X-Twilio-Signature": signature}
    response = client.post(path, data=form, headers=headers)
    assert response.status_code == status
    assert len(contacts(redis_client)) == (status == 200)


def form(**fields: str) -> dict[str, str]:
    return {k: v for k, v in {"CallSid": "CA" + "2" * 32, "From": PHONE, "To": "+15005550006",
                              "CallStatus": "ringing", **fields}.items() if v is not None}


MALFORMED = [
    # label, query, form
    ("no CallSid", "", form(CallSid=None)),
    ("a CallSid that is not one", "", form(CallSid="CA123")),
    ("no From", "", form(From=None)),
    ("an empty From", "", form(From="")),
    ("letters for keys", "?t=1", form(Digits="12ab")),
    ("too many keys", "?t=1", form(Digits="1" * 40)),
    ("a turn that is not a number", "?t=x", form()),
    ("a turn in other digits", "?t=%C2%B2", form()),
    ("a turn from no call", "?t=99999", form()),
    ("a recording with no RecordingSid", "?t=2", form(RecordingUrl="https://x/r")),
    ("a recording that is no URL", "?t=2",
     form(RecordingUrl="file:///etc/passwd", RecordingSid="RE" + "3" * 32)),
    ("a recording of no length", "?t=2", form(RecordingUrl="https://x/r",
                                             RecordingSid="RE" + "3" * 32,
                                             RecordingDuration="long")),
]


@pytest.mark.parametrize(("label", "query", "fields"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_a_malformed_request_is_a_400_and_stores_nothing(client, redis_client, label, query,
                                                          fields):
    path = PATH + query
    response = client.post(path, data=fields,
                           headers={"X-Twilio-Signature": twilio_signature(path, fields)})
    assert response.status_code == 400
    assert response.get_json()["error"]
    assert contacts(redis_client) == []


@pytest.mark.parametrize("number", ["+266696687", "+7378742833", "Anonymous", "client:ana"])
def test_a_hidden_number_is_told_to_call_showing_it_and_gets_no_contact(
        client, redis_client, number):
    fields = form(From=number)
    response = client.post(PATH, data=fields,
                           headers={"X-Twilio-Signature": twilio_signature(PATH, fields)})
    assert said(response) == [
        "Faro no puede ver tu número de teléfono, así que no puede guardar tus respuestas. "
        "Por favor, vuelve a llamar sin ocultar tu número. ¿Estás en peligro? Llama al 9 1 1.",
        "Faro cannot see your phone number, so it cannot keep your answers. Please call "
        "again without hiding your number. In danger? Call 9 1 1."]
    assert verbs(response)[-1] == "Hangup"
    assert contacts(redis_client) == []


@pytest.mark.parametrize(("query", "expected"), [
    ("", [("es-MX", "Tenemos mucho trabajo. Por favor, vuelve a llamar en unos minutos. "
                    "¿Estás en peligro? Llama al 9 1 1."),
          ("en-US", "We are busy. Please call again in a few minutes. In danger? Call 9 1 1.")]),
    ("?t=3&l=fr", [("fr-FR", "Nous sommes très occupés. Rappelez dans quelques minutes, "
                             "s'il vous plaît. En danger ? Appelez le 9 1 1.")]),
])
def test_redis_down_asks_the_caller_to_call_again_not_a_500(config, tmp_path, query, expected):
    down = create_app({**config, "REDIS_URL": f"unix://{tmp_path}/no-redis.sock"})
    fields = form(Digits="1") if query else form()
    path = PATH + query
    response = down.test_client().post(
        path, data=fields, headers={"X-Twilio-Signature": twilio_signature(path, fields)})
    assert [(s.get("language"), s.text) for s in twiml(response).iter("Say")] == expected
    assert verbs(response)[-1] == "Hangup"


# -- evidence by voice ------------------------------------------------------------------------

def record_by_voice(caller: Caller, fake_twilio) -> list[str]:
    caller.call()
    for keys_pressed in ("1", "3", "1", "20012025", "4", "2", "18012025", "6", "2"):
        caller.press(keys_pressed)
    return said(caller.record(fake_twilio, RECORDING, 42))


def test_a_recorded_account_is_fetched_sealed_and_chained_into_the_case(
        caller, fake_twilio, app, redis_client, worker_env):
    heard = record_by_voice(caller, fake_twilio)
    assert heard[0].startswith("Tu registro está guardado. Para recibir una frase de "
                               "recuperación")  # by message: a call proves no one's identity
    assert not any("Tu frase de recuperación es" in line for line in heard)
    SimpleWorker([queue(redis_client)], connection=redis_client).work(burst=True)

    faro = app.extensions["faro"]
    cid = cid_of(app)
    cases, key = faro.conversations.sources.cases, faro.store.data_key(cid)
    items = cases.items(cid, key)
    voice = items[-1]
    assert (voice.kind, voice.content_type) == ("voice", "audio/mpeg")
    assert cases.media_bytes(cid, key, voice) == RECORDING
    assert [i.kind for i in items] == ["consent", "appointment", "event", "when", "where",
                                       "report", "voice"]
    assert {i.via for i in items} == {"voice"}, "legal aid sees each item came by a call"
    bundle = export(cases, cid, key, ["es", "en"], faro.content, dt.datetime.now(dt.UTC))
    assert verify_export(bundle, trusted_key=public_key(signing_key(faro.settings.data_key))) \
        == [], "the case verifies: every item in its place in the chain"
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        summary = archive.read("summary-es.txt").decode()
        manifest = json.loads(archive.read("manifest.json"))
    assert summary.count("Recibido en una llamada. El número de quien llama se puede "
                         "falsificar") == len(items)
    assert {entry["via"] for entry in manifest["items"]} == {"voice"}
    stored = everything_stored(redis_client, Path(faro.settings.media_dir))
    assert not any(b"FARO-CALLER-ACCOUNT" in blob for blob in stored), "sealed, not plain"
    assert not any(PHONE.encode() in blob or PHONE[1:].encode() in blob for blob in stored)
    # The caller heard "saved" in the call: no SMS follows, the download included.
    assert fake_twilio.messages() == []


def test_a_recording_still_processing_is_fetched_on_a_later_try(
        caller, fake_twilio, app, redis_client, worker_env):
    record_by_voice(caller, fake_twilio)
    fake_twilio.fail_next.append(404)
    SimpleWorker([queue(redis_client)], connection=redis_client).work(burst=True)
    [job_id] = queue(redis_client).scheduled_job_registry.get_job_ids()
    queue(redis_client).scheduled_job_registry.requeue(job_id)
    SimpleWorker([queue(redis_client)], connection=redis_client).work(burst=True)
    faro = app.extensions["faro"]
    cid = cid_of(app)
    items = faro.conversations.sources.cases.items(cid, faro.store.data_key(cid))
    assert items[-1].kind == "voice"


# -- the engine on the voice line ------------------------------------------------------------

class States:
    """The states lookup as the app answers it (bot/lookups.py), for the engine alone."""

    def lookup(self, name, args, lang):
        assert name == "states"
        return [{"id": state, "name": state} for state in places.states()]


def voice_step(content, state: State | None, keys_pressed: str, channel: str = "voice"):
    return step(content, Profile(lang="es"), state, Inbound(channel, PHONE, text=keys_pressed),
                dt.date(2026, 11, 29), States())


def test_a_question_that_needs_words_leads_a_caller_to_a_keypad_menu_instead():
    content = load_content()
    by_sms = voice_step(content, State("evidence", "when"), "18/01/2025", channel="sms")
    by_call = voice_step(content, State("evidence", "when"), "18012025")
    assert by_sms.state.node == "where" and by_sms.replies[-1].expects == "location"
    assert by_call.state.node == "where_state" and by_call.replies[-1].expects == "choice"
    assert by_call.replies[-1].text == "¿En qué estado pasó?"


def test_pressing_nine_pages_through_a_long_list_and_back_to_its_start():
    content = load_content()
    first = voice_step(content, State("evidence", "when"), "18012025")
    pages, current = [], first
    for _ in range(5):
        pages.append([o.label for o in current.replies[-1].options])
        current = voice_step(content, current.state, "9")
    assert [len(page) for page in pages] == [9, 9, 9, 9, 9]
    assert pages[0][:2] == ["Aguascalientes", "Baja California"]
    assert {page[-1] for page in pages} == {"Más opciones"}
    assert pages[4] == pages[0], "the last page's More choices leads back to the first"
    chosen = voice_step(content, voice_step(content, first.state, "9").state, "3")
    assert chosen.state.node == "report"
    assert chosen.effects[-1]["value"] == "Estado de México"


def test_a_caller_paging_through_menus_is_never_cut_off_by_the_message_limits(config):
    # Three messages a minute by SMS; a call's key presses are paced by its speech instead.
    caller = Caller(create_app({**config, "FARO_CONTACT_RATE": "3"}).test_client())
    caller.call()
    caller.press("1")  # Español
    for key in ("4", "1", "9", "9", "9", "9", "*", "*"):
        answer = said(caller.press(key))
        assert answer, f"no answer to {key}"
        assert not any("minuto" in line for line in answer), answer


BY_MESSAGE = ("Por tu seguridad, esto no se hace en una llamada: cualquiera puede hacer que una "
              "llamada parezca venir de tu número.")


def test_a_call_cannot_read_out_share_erase_or_take_over_a_record(caller, fake_twilio, app,
                                                                   redis_client):
    # Anyone can make a call show a person's number: what reads out or changes their record
    # (and a recovery phrase, which would link another phone to it) is done only by message.
    record_by_voice(caller, fake_twilio)
    cid = cid_of(app)
    caller.press("0")  # main menu
    assert said(caller.press("3"))[0].startswith("Tu registro ")  # the case menu
    for option in ("4", "5", "6", "7"):  # see, share, a new phrase, erase
        heard = said(caller.press(option))
        assert heard[0].startswith(BY_MESSAGE), (option, heard)
        assert any(line.startswith("Tu registro") for line in heard[1:]), "the case menu"
        assert not any("frase de recuperación es" in line for line in heard)
    assert redis_client.exists(keys.case(cid)) and not redis_client.exists(keys.case_shares(cid))
    assert not list(redis_client.scan_iter("faro:rp:*")), "no recovery phrase was made"
    caller.press("0")
    caller.press("6")  # Ajustes
    assert said(caller.press("5"))[0].startswith(BY_MESSAGE)  # erase everything
    assert redis_client.exists(keys.contact(cid))
