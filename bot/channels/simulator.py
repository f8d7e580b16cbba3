"""The chat simulator: the real pipeline, shown as SMS, WhatsApp or Telegram would show it,
and a phone call to the voice line, shown as what the caller hears.

Open in development and tests; in production only for signed-in staff.

The simulated call plays Twilio's part: it posts each turn to the URL the last answer named,
as the voice webhook's own `parse`, `turn_of` and `answer` read and write it, and follows a
<Redirect> (a turn sent twice). Twilio keeps only that URL between requests, and so does the
session. The TwiML is read back as the caller lives it: what is heard up to each place the
call waits (`stops`). Twilio posts nothing when a caller is silent; it goes on to the TwiML
after the <Gather>. The session, a cookie, is too small to keep that TwiML, so silence asks
the conversation for its question again, as the star key does (which changes nothing), and
answers the part of that TwiML the silent caller has reached.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    render_template,
    request,
    session,
)
from werkzeug.datastructures import MultiDict

from bot.channels.render import TelegramCall, as_bodies, as_telegram, voice_notes
from bot.channels.voice import PATH, Turn, answer, parse, turn_of
from bot.errors import BadRequest
from bot.message import Inbound, Reply
from bot.segments import segments

bp = Blueprint("simulator", __name__)
RENDERINGS = ("sms", "whatsapp", "telegram")
CALL_ACTIONS = ("start", "press", "silence", "hangup")
KEYS = re.compile(r"[0-9*#]{1,32}")
# The simulated caller dials from 555-0100 to 555-0199 of a North American area code: numbers
# kept for fiction in every area code, so that no real person's contact is ever touched.
AREA_CODES = tuple(f"{a}{b}{c}" for a in "23456789" for b in "012345678" for c in "0123456789"
                   if (b, c) != ("1", "1"))  # not 211...911: those are service codes


def allowed() -> bool:
    """The simulator is for developers, and for staff signed in to the console right now."""
    if current_app.extensions["faro"].settings.development:
        return True
    from bot.staff.access import load  # checks the session in Redis: revoked means gone

    load()
    return g.get("staff") is not None


@bp.before_request
def guard() -> None:
    if not allowed():
        abort(403)


def person() -> str:
    """The simulated person of this browser, kept in the session cookie."""
    if "sim" not in session:
        session["sim"] = uuid.uuid4().hex
    return session["sim"]


def address() -> str:
    """The simulated person's address in the chat."""
    return f"sim-{person()}"


def caller() -> str:
    """The simulated person's phone number on the voice line: its own contact, apart from
    the chat's (a call is keyed like an SMS sender), and a number no one really has."""
    n = int(person(), 16)
    area, line = n % len(AREA_CODES), n // len(AREA_CODES) % 100
    return f"+1{AREA_CODES[area]}555{100 + line:04d}"


def render(replies: list[Reply] | None) -> dict[str, Any]:
    """The same replies as each channel would send them."""
    replies = replies or []
    sms = as_bodies(replies, "sms")
    whatsapp: list[dict[str, Any]] = [{"body": b} for b in as_bodies(replies, "whatsapp")]
    if whatsapp and voice_notes(replies, "whatsapp"):  # voice notes follow the text
        whatsapp[-1]["audio"] = ["/" + p for p in voice_notes(replies, "whatsapp")]
    return {
        "sms": [{"body": b, "segments": segments(b)} for b in sms],
        "whatsapp": whatsapp,
        "telegram": _telegram(as_telegram(replies, 0, lambda path: "/" + path)),
    }


def _telegram(calls: list[TelegramCall]) -> list[dict[str, Any]]:
    """Telegram's calls as bubbles: each voice note drawn in the message it comes before."""
    parts: list[dict[str, Any]] = []
    voices: list[str] = []
    for call in calls:
        if call.method == "sendVoice":
            voices.append(call.params["voice"])
            continue
        parts.append({**call.to_webhook(), **({"audio": voices} if voices else {})})
        voices = []
    return parts


@bp.get("/simulator")
def page() -> str:
    """The simulator page."""
    return render_template("simulator.html")


@bp.post("/simulator/send")
def send() -> Response:
    """Run one simulated message through the pipeline; answer every channel's rendering."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadRequest("send a JSON object")
    text, choice = data.get("text", ""), data.get("choice", "")
    if not isinstance(text, str) or not isinstance(choice, str):
        raise BadRequest("text and choice must be strings")
    msg = Inbound("simulator", address(), text=text[:4096], choice=choice[:64],
                  location=_location(data.get("location")))
    replies = current_app.extensions["faro"].conversations.handle(msg)
    return jsonify(render(replies))


@bp.post("/simulator/reset")
def reset() -> Response:
    """Forget the simulated person: the next message, or call, starts a new contact."""
    session.pop("sim", None)
    session.pop("call", None)
    return jsonify(ok=True)


@bp.post("/simulator/call")
def call() -> Response:
    """One move of the simulated caller: call, press keys, say nothing, hang up. Answers
    what the caller hears, in order, and what the call then waits for."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or data.get("action") not in CALL_ACTIONS:
        raise BadRequest(f"send a JSON object whose action is one of {', '.join(CALL_ACTIONS)}")
    action = data["action"]
    if action == "start":
        session["call"] = {"sid": f"CA{uuid.uuid4().hex}", "next": PATH, "silent": 0}
        stop = answered(post(PATH))
    elif action == "hangup":
        session.pop("call", None)
        stop = {"heard": [], "wait": "none", "ended": True}
    elif "call" not in session:
        raise BadRequest("there is no call: start one")
    elif action == "press":
        keys = data.get("keys")
        if not isinstance(keys, str) or not KEYS.fullmatch(keys):
            raise BadRequest("keys must be 1 to 32 of 0-9, * and #")
        stop = answered(post(session["call"]["next"], keys))
    else:
        stop = silence()
    return jsonify({**stop, "caller": caller()})


def post(url: str, keys: str = "") -> ET.Element:
    """Post `keys` to `url` as Twilio would; the TwiML answer, its URLs relative. A
    <Redirect> (the turn was seen before) is followed, as Twilio follows it."""
    root = hear(turn_at(url), keys)
    redirect = root.find("Redirect")
    return root if redirect is None else hear(turn_at(redirect.text or ""))


def turn_at(url: str) -> Turn:
    """The turn of the call a voice line URL posts, read as the webhook reads it."""
    return turn_of(MultiDict(parse_qsl(urlsplit(url).query)),
                   current_app.extensions["faro"].content.languages)


def hear(turn: Turn, keys: str = "") -> ET.Element:
    """The voice line's answer to the simulated caller's `keys` at `turn`, as TwiML."""
    form = {"CallSid": session["call"]["sid"], "From": caller(), "Digits": keys}
    replies = current_app.extensions["faro"].conversations.handle(
        parse(form, turn.number, turn.again))
    return ET.fromstring(str(answer(replies, turn, base="")).encode())


def answered(root: ET.Element) -> dict[str, Any]:
    """The first stop of a new answer; the call now posts where that answer says."""
    first = stops(root)[0]
    asking = next((v for v in root if v.tag in ("Gather", "Record")), None)
    if first["ended"] or asking is None:
        session.pop("call", None)
    else:
        session["call"] = {**session["call"], "next": asking.get("action", PATH), "silent": 0}
    return first


def silence() -> dict[str, Any]:
    """The caller said nothing: the next stop of the answer they were listening to."""
    current = session["call"]
    silent = current["silent"] + 1
    heard = stops(hear(dataclasses.replace(turn_at(current["next"]), again=True)))
    stop = heard[min(silent, len(heard) - 1)]
    if stop["ended"]:
        session.pop("call", None)
    else:
        session["call"] = {**current, "silent": silent}
    return stop


def stops(root: ET.Element) -> list[dict[str, Any]]:
    """A TwiML answer as a caller lives it: what they hear up to each place the call waits
    (keys, or a recording), and what comes after the last; a call hangs up at the end."""
    out: list[dict[str, Any]] = []
    heard: list[dict[str, str]] = []
    for verb in root:
        if verb.tag in ("Say", "Play"):
            heard.append(item(verb))
        elif verb.tag == "Gather":
            out.append({"heard": heard + [item(v) for v in verb], **keys_of(verb),
                        "ended": False})
            heard = []
        elif verb.tag == "Record" and out and not heard:
            out[-1]["wait"] = "record"  # the <Gather> before it waits for 1, to skip it
        elif verb.tag == "Record":
            out.append({"heard": heard, "wait": "record", "ended": False})
            heard = []
        elif verb.tag == "Hangup":
            break
    return [*out, {"heard": heard, "wait": "none", "ended": True}]


def item(verb: ET.Element) -> dict[str, str]:
    """One thing the caller hears: a line said in a language, or a recording played."""
    if verb.tag == "Play":
        return {"play": verb.text or ""}
    return {"say": verb.text or "", "lang": verb.get("language", "")}


def keys_of(gather: ET.Element) -> dict[str, Any]:
    """What a <Gather> waits for: how many keys, or keys until which key, and how long."""
    wait: dict[str, Any] = {"wait": "keys", "timeout": int(gather.get("timeout", "5"))}
    if gather.get("numDigits"):
        wait["digits"] = int(gather.get("numDigits", "1"))
    if gather.get("finishOnKey"):
        wait["finish"] = gather.get("finishOnKey")
    return wait


def _location(raw: Any) -> tuple[float, float] | None:
    if raw is None:
        return None
    try:
        lat, lon = raw["lat"], raw["lon"]
    except (KeyError, TypeError) as exc:
        raise BadRequest("location needs lat and lon") from exc
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lat, lon)):
        raise BadRequest("lat and lon must be numbers")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise BadRequest("location out of range")
    return lat, lon
