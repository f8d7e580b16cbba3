"""The chat simulator: the real pipeline, shown as SMS, WhatsApp or Telegram would show it.

Open in development and tests; in production only for signed-in staff.
"""

from __future__ import annotations

import uuid
from typing import Any

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

from bot.channels.render import TelegramCall, as_bodies, as_telegram, voice_notes
from bot.errors import BadRequest
from bot.message import Inbound, Reply
from bot.segments import segments

bp = Blueprint("simulator", __name__)
RENDERINGS = ("sms", "whatsapp", "telegram")


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


def address() -> str:
    """The simulated person of this browser, kept in the session cookie."""
    if "sim" not in session:
        session["sim"] = uuid.uuid4().hex
    return f"sim-{session['sim']}"


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
    """Forget the simulated person: the next message starts a new contact."""
    session.pop("sim", None)
    return jsonify(ok=True)


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
