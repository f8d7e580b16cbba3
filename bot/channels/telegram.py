"""Telegram: updates in with a secret header, replies as the webhook response or Bot API calls."""

from __future__ import annotations

import hmac
import logging
import math
from functools import partial
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from bot import metrics
from bot.audio import public_url
from bot.channels.render import TelegramCall, as_telegram
from bot.errors import BadRequest, DeliveryError, Forbidden
from bot.message import Inbound, Media

bp = Blueprint("telegram", __name__)
log = logging.getLogger("faro.telegram")
LATEST = 2**33  # a `date` past this (year 2242) is not a real message's


def verify(header: str, secret: str) -> None:
    """Raise Forbidden unless the header carries our webhook secret (constant time)."""
    if not header or not hmac.compare_digest(header.encode(), secret.encode()):
        raise Forbidden("bad Telegram secret token")


def parse_update(data: Any) -> dict[str, Any]:
    """A Telegram update (a decoded JSON body); BadRequest if it is not one.

    Read as plain JSON rather than through python-telegram-bot's objects: building those
    for a whole update cost more CPU than the rest of the webhook's parsing, and each
    field Faro reads is checked here anyway (Telegram's types are not enforced by PTB).
    """
    if not isinstance(data, dict) or not _whole(data.get("update_id")):
        raise BadRequest("not a Telegram update")
    return data


def to_inbound(update: dict[str, Any]) -> tuple[Inbound, str] | None:
    """The Inbound and its chat id; None for updates we acknowledge without a reply
    (edited messages, member updates, channel posts, groups, inline buttons)."""
    uid = str(update["update_id"])
    if "callback_query" in update:
        query = _object(update["callback_query"], "callback_query")
        if not isinstance(query.get("id"), str):
            raise BadRequest("callback query without an id")
        chat = _private_chat(query.get("message"))
        if chat is None:
            return None
        return Inbound("telegram", chat, choice=_text(query.get("data"))[:64],
                       message_id=uid), chat
    if "message" not in update:
        return None
    message = update["message"]
    chat = _private_chat(message)
    if chat is None:
        return None
    text = _text(message.get("text")) or _text(message.get("caption"))
    person = message.get("from")
    name = _text(_object(person, "from").get("first_name")) if person is not None else ""
    return Inbound("telegram", chat, text=text[:4096], message_id=uid,
                   location=_location(message), media=_media(message),
                   profile_name=name), chat


def _private_chat(message: Any) -> str | None:
    """The chat id of a message in a private chat; None for no message or another chat."""
    if message is None:
        return None
    message = _object(message, "message")
    if not _whole(message.get("message_id")) or not _whole(message.get("date")) \
            or not 0 <= message["date"] < LATEST:
        raise BadRequest("message without a whole message_id and date")
    chat = _object(message.get("chat"), "chat")
    if not isinstance(chat.get("type"), str):
        raise BadRequest("chat without a type")
    if chat["type"] != "private":
        return None
    if not _whole(chat.get("id")):
        raise BadRequest("chat id must be a whole number")
    return str(chat["id"])


def _object(value: Any, name: str) -> dict[str, Any]:
    """`value` when it is a JSON object; BadRequest naming the field when not."""
    if not isinstance(value, dict):
        raise BadRequest(f"{name} must be an object")
    return value


def _whole(value: Any) -> bool:
    """True for a whole number (bool is an int too in Python, and not a number here)."""
    return type(value) is int


def _text(value: Any) -> str:
    """A text field as a string ("" when absent); BadRequest when it is not text."""
    if value is not None and not isinstance(value, str):
        raise BadRequest("text must be a string")
    return value or ""


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) \
        and math.isfinite(value)


def _location(message: dict[str, Any]) -> tuple[float, float] | None:
    """The shared location as (latitude, longitude); BadRequest unless numbers in range."""
    if message.get("location") is None:
        return None
    where = _object(message["location"], "location")
    lat, lon = where.get("latitude"), where.get("longitude")
    if not (_number(lat) and _number(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise BadRequest("latitude and longitude must be numbers in range")
    return float(lat), float(lon)


def _media(message: dict[str, Any]) -> tuple[Media, ...]:
    if message.get("photo"):
        sizes = message["photo"]
        if not isinstance(sizes, list):
            raise BadRequest("photo must be a list of sizes")
        largest = max((_object(size, "photo size") for size in sizes), key=_area)
        return (Media(f"tg:{_file_id(largest)}", "image/jpeg", "photo"),)
    for field, kind, default in (("document", "document", ""), ("voice", "voice", "audio/ogg")):
        if message.get(field):
            item = _object(message[field], field)
            return (Media(f"tg:{_file_id(item)}", _text(item.get("mime_type")) or default,
                          kind),)
    return ()


def _file_id(item: dict[str, Any]) -> str:
    if not isinstance(item.get("file_id"), str) or not item["file_id"]:
        raise BadRequest("file without a file_id")
    return item["file_id"]


def _area(photo: dict[str, Any]) -> int:
    """The pixel count of one photo size (0 when Telegram's sizes are not numbers)."""
    width, height = photo.get("width"), photo.get("height")
    return width * height if _whole(width) and _whole(height) else 0


@bp.post("/webhooks/telegram")
def webhook() -> Response:
    """One Telegram update."""
    faro = current_app.extensions["faro"]
    verify(request.headers.get("X-Telegram-Bot-Api-Secret-Token", ""),
           faro.settings.telegram_webhook_secret)
    update = parse_update(request.get_json(silent=True))
    parsed = to_inbound(update)
    if parsed is None:
        return jsonify({})
    msg, chat = parsed
    metrics.received("telegram")
    replies = faro.conversations.handle(msg)
    audio_url = partial(public_url, faro.settings.public_url)
    calls = as_telegram(replies, int(chat), audio_url) if replies else []
    metrics.replied("telegram", len(calls))
    if "callback_query" in update:
        # Stops the spinner on the button the person pressed.
        calls.insert(0, TelegramCall("answerCallbackQuery",
                                     {"callback_query_id": update["callback_query"]["id"]}))
    return _respond(faro, calls)


def _respond(faro: Any, calls: list[TelegramCall]) -> Response:
    """Make all calls but the last through the Bot API; the last is the webhook's answer.

    Telegram runs the answer after these calls, so a voice note made here arrives just
    before the text it reads.
    """
    if not calls:
        return jsonify({})
    for batch in _batches(calls[:-1]):
        try:
            faro.telegram.call(batch)
        except DeliveryError:
            log.warning("telegram call failed", exc_info=False)
    return jsonify(calls[-1].to_webhook())


def _batches(calls: list[TelegramCall]) -> list[list[TelegramCall]]:
    """Split the calls into ordered runs that a failure may stop; each voice note runs alone."""
    # Alone, a recording Telegram cannot fetch never stops a text.
    runs: list[list[TelegramCall]] = []
    for call in calls:
        if not runs or "sendVoice" in (call.method, runs[-1][-1].method):
            runs.append([call])
        else:
            runs[-1].append(call)
    return runs
