"""Telegram: updates in with a secret header, replies as the webhook response or Bot API calls."""

from __future__ import annotations

import hmac
import logging
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from telegram import Bot, Message, Update

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
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BadRequest("malformed Telegram update") from exc
    if update is None:
        raise BadRequest("empty Telegram update")
    return update


def to_inbound(update: Update) -> tuple[Inbound, str] | None:
    """The Inbound and its chat id; None for updates we acknowledge without a reply."""
    uid = str(update.update_id)
    if update.callback_query is not None:
        query = update.callback_query
        message = query.message
        if message is None or message.chat.type != "private":
            return None
        chat = str(message.chat.id)
        return Inbound("telegram", chat, choice=(query.data or "")[:64], message_id=uid), chat
    message = update.message
    if message is None or message.chat.type != "private":
        return None  # edited messages, member updates, channel posts, groups
    chat = str(message.chat.id)
    location = (message.location.latitude, message.location.longitude) \
        if message.location else None
    return Inbound("telegram", chat, text=(message.text or message.caption or "")[:4096],
                   message_id=uid, location=location, media=_media(message),
                   profile_name=message.from_user.first_name if message.from_user else ""), chat


def _media(message: Message) -> tuple[Media, ...]:
    if message.photo:
        largest = max(message.photo, key=lambda p: p.width * p.height)
        return (Media(f"tg:{largest.file_id}", "image/jpeg", "photo"),)
    if message.document:
        doc = message.document
        return (Media(f"tg:{doc.file_id}", doc.mime_type or "", "document"),)
    if message.voice:
        return (Media(f"tg:{message.voice.file_id}", message.voice.mime_type or "audio/ogg",
                      "voice"),)
    return ()


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
    replies = faro.conversations.handle(msg)
    calls = as_telegram(replies, int(chat)) if replies else []
    if update.callback_query is not None:
        # Stops the spinner on the button the person pressed.
        calls.insert(0, TelegramCall("answerCallbackQuery",
                                     {"callback_query_id": update.callback_query.id}))
    return _respond(faro, calls)


def _respond(faro: Any, calls: list[TelegramCall]) -> Response:
    """Make all calls but the last through the Bot API; the last is the webhook's answer."""
    if not calls:
        return jsonify({})
    try:
        faro.telegram.call(calls[:-1])
    except DeliveryError:
        log.warning("telegram call failed", exc_info=False)
    return jsonify(calls[-1].to_webhook())
