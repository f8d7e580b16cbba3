"""Replies as plain text for SMS and WhatsApp, and as Telegram Bot API calls."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.message import Reply
from bot.segments import cheapest

TWILIO_MAX_BODY = 1600  # Twilio refuses longer bodies
TELEGRAM_MAX_TEXT = 4096
VOICE_CHANNELS = ("whatsapp", "telegram")  # never SMS: it costs, and feature phones cannot play it


def as_text(reply: Reply, channel: str) -> str:
    """One reply as the text SMS and WhatsApp show: the menu as numbered lines."""
    if channel == "whatsapp":
        lines = [f"*{o.key}.* {o.label}" for o in reply.options]
    else:
        lines = reply.numbered_lines()
    return "\n".join([reply.text, *lines]) if lines else reply.text


def as_bodies(replies: list[Reply], channel: str) -> list[str]:
    """The replies joined into as few Twilio messages as fit, for SMS and WhatsApp.

    Each separate message costs the person on SMS at least one segment, so we join.
    """
    bodies: list[str] = []
    for text in (as_text(r, channel) for r in replies):
        if bodies and len(bodies[-1]) + 2 + len(text) <= TWILIO_MAX_BODY:
            bodies[-1] += "\n\n" + text
        else:
            bodies += _chunks(text, TWILIO_MAX_BODY)
    return [cheapest(b) for b in bodies] if channel == "sms" else bodies


def _chunks(text: str, size: int) -> list[str]:
    out = []
    while len(text) > size:
        cut = text.rfind("\n", 0, size)
        cut = cut if cut > size // 2 else size
        out.append(text[:cut])
        text = text[cut:].lstrip("\n")
    return [*out, text]


@dataclass
class TelegramCall:
    """One Bot API call: `method` (camelCase) and its parameters."""

    method: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_webhook(self) -> dict[str, Any]:
        """The call as a webhook response body."""
        return {"method": self.method, **self.params}


def voice_notes(replies: list[Reply], channel: str) -> list[str]:
    """The recordings to send beside the replies' text (content paths); none by SMS."""
    return [r.audio for r in replies if r.audio] if channel in VOICE_CHANNELS else []


def as_telegram(replies: list[Reply], chat_id: int | str,
                audio_url: Callable[[str], str] | None = None) -> list[TelegramCall]:
    """The replies as sendMessage calls; consecutive texts are joined, menus get buttons.

    With `audio_url`, each recording goes as a sendVoice call just before the message that
    carries its text, so that the buttons stay on the last message.
    """
    calls: list[TelegramCall] = []
    pending: list[str] = []
    voices: list[TelegramCall] = []
    for reply in replies:
        pending.append(reply.text)
        if reply.audio and audio_url is not None:
            voices.append(TelegramCall("sendVoice", {"chat_id": chat_id,
                                                     "voice": audio_url(reply.audio)}))
        if reply.options:
            calls += [*voices, _send(chat_id, "\n\n".join(pending), keyboard(reply))]
            pending, voices = [], []
    if pending:
        calls += [*voices, _send(chat_id, "\n\n".join(pending), None)]
    return calls


def _send(chat_id: int | str, text: str, markup: dict[str, Any] | None) -> TelegramCall:
    params: dict[str, Any] = {"chat_id": chat_id, "text": text[:TELEGRAM_MAX_TEXT]}
    if markup is not None:
        params["reply_markup"] = markup
    return TelegramCall("sendMessage", params)


def keyboard(reply: Reply) -> dict[str, Any]:
    """A menu as inline buttons that show their numbers; each sends the number back.

    The Bot API's InlineKeyboardMarkup as JSON, which python-telegram-bot passes on as it
    is: building its objects cost more than the rest of a reply (about 85 µs a menu).
    """
    return {"inline_keyboard": [[{"text": f"{o.key}. {o.label}", "callback_data": o.key}]
                                for o in reply.options]}
