"""Recorded audio: voice notes beside the text on WhatsApp and Telegram, never by SMS."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bot import create_app
from bot.cli import main
from bot.content import load_content
from bot.content.audio import check_recordings, spoken
from bot.content.check import check
from bot.engine import Profile, step
from bot.message import Inbound
from tests.conftest import PUBLIC_URL, Channels, twiml_media, twiml_messages

ROOT = Path(__file__).parents[1]
ES_MENU = "audio/es/menu.start.ogg"


def url(path: str) -> str:
    return f"{PUBLIC_URL}/{path}"


def fetch(client, path: str, **kwargs):
    """GET `path`, read the whole body and close the file behind it."""
    with client.get(path, **kwargs) as response:
        response.get_data()
        return response


def overlay_with(tmp_path: Path, recordings: dict[str, bytes], entries: dict | None = None):
    """An operator's folder holding `recordings` (audio/... -> bytes) and an index."""
    folder = tmp_path / "operator"
    for rel, data in recordings.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    if entries is not None:
        (folder / "audio").mkdir(parents=True, exist_ok=True)
        (folder / "audio" / "index.yaml").write_text(
            yaml.safe_dump({"recordings": entries}, allow_unicode=True), encoding="utf-8")
    return folder


def entry(content, lang: str, key: str, **changes) -> dict:
    """An index entry that matches what message `key` says now in `lang`."""
    flow, name = key.split(".")
    return {"message": key, "lang": lang, "voice": "human (Albergue de prueba)",
            "duration": 3.0, "msgid": content.node(flow, name).text,
            "text": spoken(content, lang, key), **changes}


# -- the bundled demo recordings ------------------------------------------------------

def test_demo_recordings_are_small_ogg_opus_machine_voice_and_current():
    content = load_content()
    keys = ("welcome.language", "menu.start", "emergency.start")
    assert {(lang, key) for lang in ("es", "en", "ht") for key in keys} <= set(content.audio)
    # and the Creole line of the phone's language menu ("Pou kreyòl ayisyen, peze 4.")
    assert ("ht", "voice_language") in content.audio
    total = 0
    for path, file in content.audio_files.items():
        data = file.read_bytes()
        assert data.startswith(b"OggS") and b"OpusHead" in data[:100], path
        assert content.audio_index[path]["voice"].startswith("machine (espeak-ng ")
        total += len(data)
    assert total < 450_000  # ten files: three messages in Spanish, English and Creole, a line
    # A demo recording must say what its message says now (911, the language list...), and
    # the Creole ones, which the voice line plays, have their MP3 copies.
    assert check_recordings(content) == [], "run scripts/make_demo_audio.py to record again"
    assert sorted(content.phone_files) == [f"audio/ht/{key}.mp3"
                                           for key in sorted((*keys, "voice_language"))]


def test_engine_names_the_recording_in_the_persons_language():
    content = load_content()
    spanish = step(content, Profile(lang="es"), None, Inbound("sms", "x", text="menu"))
    english = step(content, Profile(lang="en"), None, Inbound("sms", "x", text="menu"))
    french = step(content, Profile(lang="fr"), None, Inbound("sms", "x", text="menu"))
    assert spanish.replies[-1].audio == ES_MENU
    assert english.replies[-1].audio == "audio/en/menu.start.ogg"
    assert french.replies[-1].audio == ""  # no French recording: text only


# -- channels -------------------------------------------------------------------------

def test_whatsapp_sends_the_voice_note_after_the_text(channels):
    first = channels.whatsapp("Nanga def")
    assert "Elige tu idioma" in twiml_messages(first)[0]
    assert twiml_media(first) == [url("audio/es/welcome.language.ogg")]

    chosen = channels.whatsapp("1")
    assert "¿Qué necesitas?" in "\n".join(twiml_messages(chosen))
    assert twiml_media(chosen) == [url(ES_MENU)]
    # The voice note is a message of its own after the text: WhatsApp drops a body sent
    # with an audio file.
    body = chosen.get_data(as_text=True)
    assert body.index("¿Qué necesitas?") < body.index("<Media>")
    assert "<Message><Media>" in body

    emergency = channels.whatsapp("5")
    assert twiml_media(emergency) == [url("audio/es/emergency.start.ogg")]


def test_whatsapp_in_english_gets_the_english_recording(channels):
    channels.whatsapp("Nanga def")
    assert twiml_media(channels.whatsapp("2")) == [url("audio/en/menu.start.ogg")]


def test_sms_never_sends_audio(channels):
    for text in ("Nanga def", "1", "5", "basura", "menu"):
        response = channels.sms(text)
        assert twiml_messages(response)
        assert twiml_media(response) == []
        assert "<Media>" not in response.get_data(as_text=True)


def test_telegram_text_sends_the_voice_before_the_text_answer(channels, fake_telegram):
    answer = channels.tg_text("Nanga def").get_json()
    assert answer["method"] == "sendMessage" and "Elige tu idioma" in answer["text"]
    assert fake_telegram.calls("sendVoice") == [
        {"chat_id": "700100200", "voice": url("audio/es/welcome.language.ogg")}]
    assert fake_telegram.calls("sendMessage") == []


def test_telegram_button_sends_the_menus_voice(channels, fake_telegram):
    channels.tg_text("Nanga def")
    fake_telegram.clear()
    answer = channels.tg_button("2").get_json()
    assert "What do you need?" in answer["text"]
    assert fake_telegram.calls("sendVoice") == [
        {"chat_id": "700100200", "voice": url("audio/en/menu.start.ogg")}]


def test_a_voice_note_telegram_refuses_never_stops_the_text(channels, fake_telegram):
    fake_telegram.fail_next.append(400)
    answer = channels.tg_text("Nanga def").get_json()
    assert answer["method"] == "sendMessage" and "Elige tu idioma" in answer["text"]


def test_simulator_shows_the_voice_notes(client):
    out = client.post("/simulator/send", json={"text": "Nanga def"}).get_json()
    assert out["whatsapp"][-1]["audio"] == ["/audio/es/welcome.language.ogg"]
    assert out["telegram"][0]["audio"] == ["/audio/es/welcome.language.ogg"]
    assert all("audio" not in part for part in out["sms"])
    assert len(out["telegram"]) == 1  # the voice note is drawn in its message's bubble


# -- serving ------------------------------------------------------------------------------

def test_audio_route_serves_ogg_with_caching(client):
    response = fetch(client, "/" + ES_MENU)
    assert response.status_code == 200
    assert response.mimetype == "audio/ogg"
    assert response.data.startswith(b"OggS")
    assert response.data == (ROOT / ES_MENU).read_bytes()
    assert response.cache_control.public and response.cache_control.max_age > 0
    again = fetch(client, "/" + ES_MENU, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


@pytest.mark.parametrize("path", [
    "/audio/es/../../pyproject.toml",
    "/audio/..%2F..%2Fflows/menu.ogg",
    "/audio/es/..%2F..%2Fflows%2Fmenu.ogg",
    "/audio/%2e%2e/menu.start.ogg",
    "/audio/es/%2e%2e%2f%2e%2e%2fpyproject.ogg",
    "/audio/es/..%5c..%5cpyproject.ogg",
    "/audio/es/%2Fetc%2Fpasswd.ogg",
    "/audio/index.yaml",
    "/audio/es/menu.start.wav",
    "/audio/es/nothing.here.ogg",
    "/audio/fr/menu.start.ogg",
])
def test_audio_route_refuses_anything_but_a_recording(client, path):
    response = fetch(client, path)
    assert response.status_code == 404
    assert not response.data.startswith(b"OggS")


# -- content check --------------------------------------------------------------------

def test_content_check_reports_a_recording_the_translation_left_behind(tmp_path):
    po = ROOT / "locales" / "es" / "LC_MESSAGES" / "messages.po"
    changed = tmp_path / "operator" / "locales" / "es" / "LC_MESSAGES" / "messages.po"
    changed.parent.mkdir(parents=True)
    text = po.read_text(encoding="utf-8")
    assert text.count('msgstr "¿Qué necesitas? Manda un número."') == 1
    changed.write_text(text.replace('msgstr "¿Qué necesitas? Manda un número."',
                                    'msgstr "¿Qué necesitas hoy? Manda un número."'),
                       encoding="utf-8")
    report = check(load_content(tmp_path / "operator"), 3650, dt.date.today())
    assert [line for line in report.recordings if "stale recording" in line] == [
        line for line in report.recordings if ES_MENU in line]
    assert len(report.recordings) == 1 and "¿Qué necesitas hoy?" in report.recordings[0]

    result = CliRunner().invoke(main, ["content", "check", "--no-sizes", "--max-age-days",
                                       "3650", "--dir", str(tmp_path / "operator")])
    assert result.exit_code == 0, result.output  # a warning: the text still goes out
    assert f"audio: stale recording: {ES_MENU}" in result.output


def test_the_language_menus_creole_line_goes_stale_with_its_translation_or_place(tmp_path):
    po = ROOT / "locales" / "ht" / "LC_MESSAGES" / "messages.po"
    changed = tmp_path / "operator" / "locales" / "ht" / "LC_MESSAGES" / "messages.po"
    changed.parent.mkdir(parents=True)
    text = po.read_text(encoding="utf-8")
    line = 'msgstr "Pou kreyòl ayisyen, peze {key}."'
    assert text.count(line) == 1
    changed.write_text(text.replace(line, 'msgstr "Pou kreyòl, peze {key}."'), encoding="utf-8")
    warnings = check_recordings(load_content(tmp_path / "operator"))
    assert warnings == ["stale recording: audio/ht/voice_language.ogg: line 1 says "
                        "'Pou kreyòl ayisyen, peze 4.', the message now says "
                        "'Pou kreyòl, peze 4.'; record it again"]

    # The recording says the key: Creole moved to another place in the menu, it is stale.
    moved = load_content()
    moved.languages = [code for code in moved.languages if code != "ht"] + ["ht"]
    assert [w for w in check_recordings(moved) if "voice_language" in w] == [
        "stale recording: audio/ht/voice_language.ogg: line 1 says "
        f"'Pou kreyòl ayisyen, peze 4.', the message now says 'Pou kreyòl ayisyen, peze "
        f"{len(moved.languages)}.'; record it again"]


def test_content_check_reports_a_stale_index_text(tmp_path):
    content = load_content()
    folder = overlay_with(tmp_path, {}, {"es/menu.start.ogg": entry(
        content, "es", "menu.start", text="¿Qué quieres? Manda un número.")})
    warnings = check_recordings(load_content(folder))
    assert len(warnings) == 1 and warnings[0].startswith(f"stale recording: {ES_MENU}")


def test_content_check_reports_misplaced_and_undescribed_recordings(tmp_path):
    ogg = (ROOT / ES_MENU).read_bytes()
    folder = overlay_with(tmp_path, {
        "audio/es/menu.gone.ogg": ogg,  # no such node
        "audio/es/menu.ogg": ogg,  # no node in the name
        "audio/es/no_such_message.ogg": ogg,  # no such message in messages.yaml
        "audio/fr/menu.start.ogg": ogg,  # no index entry
        "audio/pt/menu.start.ogg": b"ID3 not ogg",
    }, {"es/emergency.kidnap.ogg": {"message": "emergency.kidnap", "lang": "es"}})
    warnings = "\n".join(check_recordings(load_content(folder)))
    assert "audio/es/menu.gone.ogg: there is no message 'menu.gone'" in warnings
    assert ("audio/es/menu.ogg: there is no message 'menu' in flows/messages.yaml; the name "
            "must be audio/<lang>/<flow>.<node>.ogg") in warnings
    assert "audio/es/no_such_message.ogg: there is no message 'no_such_message'" in warnings
    assert "audio/fr/menu.start.ogg: not described in audio/index.yaml" in warnings
    assert "audio/pt/menu.start.ogg: not an Ogg file" in warnings
    assert "audio/es/emergency.kidnap.ogg: listed in audio/index.yaml, but there is no such" \
        in warnings


# -- an operator's recordings ---------------------------------------------------------

@pytest.fixture
def operator_app(config, tmp_path):
    """The app with an operator's folder: a French menu and a Spanish welcome message."""
    content = load_content()
    ogg = (ROOT / "audio/en/menu.start.ogg").read_bytes()
    folder = overlay_with(tmp_path, {"audio/fr/menu.start.ogg": ogg,
                                     "audio/es/welcome.hello.ogg": ogg}, {
        "fr/menu.start.ogg": entry(content, "fr", "menu.start"),
        "es/welcome.hello.ogg": entry(content, "es", "welcome.hello")})
    return create_app({**config, "FARO_CONTENT_DIR": str(folder)}), ogg


def test_an_operator_adds_recordings_without_code(operator_app):
    app, ogg = operator_app
    channels = Channels(app.test_client())
    channels.whatsapp("Nanga def")
    assert twiml_media(channels.whatsapp("3")) == [url("audio/fr/menu.start.ogg")]
    served = fetch(app.test_client(), "/audio/fr/menu.start.ogg")
    assert served.status_code == 200 and served.data == ogg

    # A message node (not only a menu) gets its voice note too, before the menu's.
    channels.whatsapp("Nanga def", sender="+5215500000001")
    chosen = channels.whatsapp("1", sender="+5215500000001")
    assert twiml_media(chosen) == [url("audio/es/welcome.hello.ogg"), url(ES_MENU)]
    assert check_recordings(app.extensions["faro"].content) == []


def test_an_operator_replaces_a_bundled_recording(config, tmp_path):
    replacement = (ROOT / "audio/en/emergency.start.ogg").read_bytes()
    folder = overlay_with(tmp_path, {ES_MENU: replacement})
    client = create_app({**config, "FARO_CONTENT_DIR": str(folder)}).test_client()
    assert fetch(client, "/" + ES_MENU).data == replacement
    # The bundled description still applies to the file laid over it.
    assert load_content(folder).audio_index[ES_MENU]["lang"] == "es"


# -- the voice line's phone copies ------------------------------------------------------

def test_a_recording_the_voice_line_plays_needs_its_phone_copy(tmp_path):
    content = load_content()
    ogg = (ROOT / "audio/es/emergency.start.ogg").read_bytes()
    folder = overlay_with(tmp_path, {"audio/ht/emergency.kidnap.ogg": ogg,
                                     "audio/fr/emergency.kidnap.ogg": ogg,
                                     "audio/ht/menu.gone.mp3": b"\xff\xf3 not a recording"}, {
        "ht/emergency.kidnap.ogg": entry(content, "ht", "emergency.kidnap"),
        "fr/emergency.kidnap.ogg": entry(content, "fr", "emergency.kidnap")})
    assert check_recordings(load_content(folder)) == [
        "audio/ht/menu.gone.mp3: a phone copy with no recording beside it",
        "audio/ht/emergency.kidnap.ogg: the voice line plays it, but Twilio cannot play Ogg: "
        "make its MP3 copy with `faro content phone-audio`"]  # French has a voice: no copy

    result = CliRunner().invoke(main, ["content", "phone-audio", "--dir", str(folder)])
    assert result.exit_code == 0, result.output
    copy = folder / "audio/ht/emergency.kidnap.mp3"
    assert result.output == f"wrote {copy}\n"
    assert copy.read_bytes()[:2] == b"\xff\xf3"  # MPEG-2 audio: what Twilio's <Play> takes
    assert not (folder / "audio/fr/emergency.kidnap.mp3").exists()
    assert check_recordings(load_content(folder)) == [
        "audio/ht/menu.gone.mp3: a phone copy with no recording beside it"]
    again = CliRunner().invoke(main, ["content", "phone-audio", "--dir", str(folder)])
    assert again.output == "", "only a missing copy is made"
