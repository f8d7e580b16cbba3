"""The voice line: a Twilio number's calls, through the same pipeline as every message.

Twilio posts here when a call comes in, then again with each answer: the digits a
<Gather> collected, or the recording a <Record> made. Each request is signed like the
messages webhook (403 otherwise) and becomes an Inbound on channel "voice", whose caller
shares one contact with the same number's SMS (`KEY_SPACE`). The answer is TwiML Voice
(bot/channels/speech.py).

Message ids. Twilio gives a call one CallSid and its requests no id of their own, and it may
send a request again when our answer came late or not at all. So every answer posts back
to ``/webhooks/twilio/voice?t=<n>``, where ``t`` counts the turns of the call: the first
request is turn 0, and the answer to turn n-1 is the only thing that can post turn n (its
<Gather>, or the <Record> after it; the repeat after silence posts the same turn, and at
most one of them is ever answered). A request's message id is ``<CallSid>:<t>``, so Twilio
sending one again is a duplicate and does not move the conversation twice. Since the call
must go on, a duplicate is answered with a <Redirect> to ``?t=<n>&again=1``, which says the
question the conversation, already moved, now waits on (`Inbound.event` "again"). That
request carries no id: saying a question again changes nothing, so it needs none, and a
duplicate of it cannot loop.

The answer's URL also carries ``l``, the caller's language, so that a notice given when
Redis is down is said in it, and ``n=1`` once the call has heard that a language with no
voice is said in its stand-in (speech.py). Nothing here logs a number or a CallSid.

The simulator's phone call (simulator.py) plays Twilio's part with the same `parse`,
`turn_of` and `answer`, so a caller in a browser hears what a caller on a phone hears.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from urllib.parse import urlencode

import redis
from flask import Blueprint, Response, current_app, request
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.datastructures import MultiDict

from bot import metrics
from bot.audio import public_url
from bot.channels.speech import Speaker, spoken_notice
from bot.channels.twilio import signed_url, verify
from bot.errors import BadRequest, ContactBusy, StoreUnavailable
from bot.message import Inbound, Media, Reply
from bot.store import normalize_address

bp = Blueprint("voice", __name__)
log = logging.getLogger("faro.voice")
PATH = "/webhooks/twilio/voice"
CALL_SID = re.compile(r"CA[0-9a-fA-F]{32}")
RECORDING_SID = re.compile(r"RE[0-9a-fA-F]{32}")
DIGITS = re.compile(r"[0-9*#]{0,32}|hangup")  # "hangup": how a <Record> says it ended
TURN = re.compile(r"[0-9]{1,4}")  # more turns than any call has: a larger `t` is not ours
# Twilio spells a withheld caller id on the keypad: ANONYMOUS is +266696687. Such a caller
# is not one person, so they get no contact (and no record) of their own.
KEYPAD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "22233344455566677778889999")
WITHHELD = frozenset("+" + word.translate(KEYPAD) for word in (
    "ANONYMOUS", "RESTRICTED", "UNAVAILABLE", "UNKNOWN", "BLOCKED", "PRIVATE"))


@dataclass(frozen=True)
class Turn:
    """Where a request stands in its call, as the URL it was posted to says (`answer_url`)."""

    number: int  # 0 for the call's first request
    lang: str  # the caller's language, as the last answer named it; "" when none yet
    noted: bool  # the stand-in note was said in this call
    again: bool  # say the question the conversation waits on again


def turn_of(args: MultiDict, languages: list[str]) -> Turn:
    """The turn a request answers; BadRequest if it is not ours. A language the pack does
    not have is no language."""
    raw = args.get("t", "0")
    if not TURN.fullmatch(raw):
        raise BadRequest("t must be a turn number")
    hint = args.get("l", "")
    return Turn(int(raw), hint if hint in languages else "", args.get("n") == "1",
                args.get("again") == "1")


def parse(form: dict[str, str], turn: int, again: bool) -> Inbound:
    """An Inbound from Twilio's voice fields: the call's start, keys pressed, a recording."""
    sid, caller = form.get("CallSid", ""), form.get("From", "")
    if not CALL_SID.fullmatch(sid):
        raise BadRequest("CallSid is missing or malformed")
    if not caller:
        raise BadRequest("From is missing")
    digits = form.get("Digits", "")
    if not DIGITS.fullmatch(digits):
        raise BadRequest("Digits must be keypad keys")
    recording = _recording(form)
    if again:
        return Inbound("voice", caller, event="again")
    message_id = f"{sid}:{turn}"
    if recording is not None:
        return Inbound("voice", caller, message_id=message_id, media=(recording,))
    keys = digits.replace("#", "") if digits != "hangup" else ""
    if keys and keys != "*":
        return Inbound("voice", caller, text=keys, message_id=message_id)
    # No key: the call's first request; the star key, or nothing, asks to hear it again.
    event = "call" if turn == 0 and not keys else "again"
    return Inbound("voice", caller, message_id=message_id, event=event)


def _recording(form: dict[str, str]) -> Media | None:
    """The recording a <Record> made, as the MP3 Twilio serves at its URL; None if none."""
    url = form.get("RecordingUrl", "")
    if not url:
        return None
    if not url.startswith(("https://", "http://")):
        raise BadRequest("RecordingUrl must be a URL")
    if not RECORDING_SID.fullmatch(form.get("RecordingSid", "")):
        raise BadRequest("RecordingSid is missing or malformed")
    if not re.fullmatch(r"[0-9]{1,6}", form.get("RecordingDuration", "0")):
        raise BadRequest("RecordingDuration must be a whole number")
    # Twilio serves a recording as WAV, or as MP3 with ".mp3" added: smaller, and kept.
    return Media(url=url + ".mp3", content_type="audio/mpeg", kind="voice")


def withheld(address: str) -> bool:
    """True when the caller's number is hidden, or is no phone number at all."""
    if address in WITHHELD:
        return True
    try:
        normalize_address("voice", address)
    except BadRequest:
        return True
    return False


def twiml(response) -> Response:
    """A TwiML Voice answer."""
    return Response(str(response), mimetype="application/xml")


def answer_url(base: str, turn: int, lang: str = "", noted: bool = False,
               again: bool = False) -> str:
    """Where Twilio posts turn `turn` of the call (with the caller's language, whether the
    stand-in note was said, and whether to say the question again)."""
    query = {"t": turn, "l": lang, "n": int(noted), "again": int(again)}
    return f"{base.rstrip('/')}{PATH}?{urlencode({k: v for k, v in query.items() if v})}"


@bp.post(PATH)
def call() -> Response:
    """A call to the voice line, or one answer in it."""
    faro = current_app.extensions["faro"]
    form = request.form.to_dict()
    verify(signed_url(), form, request.headers.get("X-Twilio-Signature", ""),
           faro.settings.twilio_auth_token)
    content = faro.content
    turn = turn_of(request.args, content.languages)
    msg = parse(form, turn.number, turn.again)
    metrics.received("voice")
    if withheld(msg.address):
        log.info("call from a hidden number answered")
        return twiml(spoken_notice(content, [content.languages[0], "en"], "voice_hidden"))
    try:
        replies = faro.conversations.handle(msg)
    except (StoreUnavailable, ContactBusy, redis.RedisError) as exc:
        return call_again(turn.lang, exc)
    metrics.replied("voice", len(replies or ()))  # here: the simulator's calls are not counted
    return twiml(answer(replies, turn))


def answer(replies: list[Reply] | None, turn: Turn, base: str | None = None) -> VoiceResponse:
    """The TwiML for the replies to `turn`; for a turn Twilio sent again (None), the
    question the conversation, already moved, waits on. Its URLs start with `base`
    (FARO_PUBLIC_URL unless given)."""
    faro = current_app.extensions["faro"]
    base = faro.settings.public_url if base is None else base
    if replies is None:
        response = VoiceResponse()
        response.redirect(answer_url(base, turn.number, turn.lang, turn.noted, again=True),
                          method="POST")
        return response
    lang = next((r.lang for r in reversed(replies) if r.lang),
                turn.lang or faro.content.languages[0])
    speaker = Speaker(faro.content, lambda path: public_url(base, path), lang, turn.noted)
    return speaker.answer(replies, lambda said: answer_url(base, turn.number + 1, lang, said))


def call_again(lang: str, exc: Exception) -> Response:
    """Redis is down, or the contact stayed locked: "please call again", spoken, with a 200.

    Twilio would answer an error status with its own "an application error has occurred",
    in English, and end the call. The language is the one this call's last answer named;
    on the first request none is known: Spanish, then English.
    """
    content = current_app.extensions["faro"].content
    kind = "busy" if isinstance(exc, ContactBusy) else "redis"
    log.error("call not handled, asked to call again",
              extra={"channel": "voice", "why": kind, "error": type(exc).__name__})
    metrics.failed(kind)
    langs = [lang] if lang else [content.languages[0], "en"]
    return twiml(spoken_notice(content, langs, "voice_busy"))
