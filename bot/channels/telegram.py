"""Telegram: updates in with a secret header, replies as the webhook response or Bot API calls."""

from __future__ import annotations

import hmac
import logging
import math
from functools import partial
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from telegram import Bot, Message, Update

from bot import metrics
from bot.audio import public_url
from bot.channels.render import TelegramCall, as_telegram
from bot.errors import BadRequest, DeliveryError, Forbidden
from bot.message import Inbound, Media

bp = Blueprint("telegram", __name__)
log = logging.getLogger("faro.telegram")
# Parsing needs a Bot object but makes no network call; this one is never used to send.
_PARSER = Bot("0:parser")


def verify(header: str, secret: str) -> None:
    """Raise Forbidden unless the header carries our webhook secret (constant time)."""
    if not header or not hmac.compare_digest(header.encode(), secret.encode()):
        raise Forbidden("bad Telegram secret token")


def parse_update(data: Any) -> Update:
    """A python-telegram-bot Update from a decoded JSON body; BadRequest if it is not one."""
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        raise BadRequest("not a Telegram update")
    try:
        update = Update.de_json(data, _PARSER)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError, OSError,
            RecursionError) as exc:
        # OverflowError, OSError: a `date` no clock can hold; RecursionError: replies to
        # replies nested hundreds deep, which PTB parses by recursion
        raise BadRequest("malformed Telegram update") from exc
    if update is None:
        raise BadRequest("empty Telegram update")
    return update


def to_inbound(update: Update) -> tuple[Inbound, str] | None:
    """The Inbound and its chat id; None for updates we acknowledge without a reply.

    python-telegram-bot does not check types, so each field we use is checked here.
    """
    uid = str(update.update_id)
    if update.callback_query is not None:
        query = update.callback_query
        chat = _private_chat(query.message)
        if chat is None:
            return None
        return Inbound("telegram", chat, choice=_text(query.data)[:64], message_id=uid), chat
    message = update.message
    chat = _private_chat(message)
    if chat is None:
        return None  # edited messages, member updates, channel posts, groups
    text = _text(message.text) or _text(message.caption)
    name = _text(message.from_user.first_name) if message.from_user else ""
    return Inbound("telegram", chat, text=text[:4096], message_id=uid,
                   location=_location(message), media=_media(message),
                   profile_name=name), chat


def _private_chat(message: Any) -> str | None:
    """The chat id of a message in a private chat; None for no message or another chat."""
    if message is None:
        return None
    if message.chat is None:
        raise BadRequest("message without a chat")
    if message.chat.type != "private":
        return None
    if type(message.chat.id) is not int:  # bool is an int too, and not a chat id
        raise BadRequest("chat id must be a whole number")
    return str(message.chat.id)


def _text(value: Any) -> str:
    """A text field as a string ("" when absent); BadRequest when it is not text."""
    if value is not None and not isinstance(value, str):
        raise BadRequest("text must be a string")
    return value or ""


def _location(message: Message) -> tuple[float, float] | None:
    """The shared location as (latitude, longitude); BadRequest unless numbers in range."""
    if message.location is None:
        return None
    lat, lon = message.location.latitude, message.location.longitude
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lat, lon))
    if not (numbers and math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90
            and -180 <= lon <= 180):
        raise BadRequest("latitude and longitude must be numbers in range")
    return float(lat), float(lon)


def _media(message: Message) -> tuple[Media, ...]:
    if message.photo:
        largest = max(message.photo, key=_area)
        return (Media(f"tg:{_text(largest.file_id)}", "image/jpeg", "photo"),)
    if message.document:
        doc = message.document
        return (Media(f"tg:{_text(doc.file_id)}", _text(doc.mime_type), "document"),)
    if message.voice:
        voice = message.voice
        return (Media(f"tg:{_text(voice.file_id)}", _text(voice.mime_type) or "audio/ogg",
                      "voice"),)
    return ()


def _area(photo: Any) -> int:
    """The pixel count of one photo size (0 when Telegram's sizes are not numbers)."""
    sizes = (photo.width, photo.height)
    return photo.width * photo.height if all(type(v) is int for v in sizes) else 0


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
    if update.callback_query is not None:
        # Stops the spinner on the button the person pressed.
        calls.insert(0, TelegramCall("answerCallbackQuery",
                                     {"callback_query_id": update.callback_query.id}))
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
