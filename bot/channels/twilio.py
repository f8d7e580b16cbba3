"""Twilio SMS and WhatsApp: signed webhooks in, TwiML out."""

from __future__ import annotations

import logging
import math

import redis
from flask import Blueprint, Response, current_app, request
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from bot import keys, metrics
from bot.audio import public_url
from bot.channels.render import as_bodies, voice_notes
from bot.content import Content
from bot.errors import BadRequest, ContactBusy, Forbidden, StoreUnavailable
from bot.language import detect
from bot.message import Inbound, Media, Reply

bp = Blueprint("twilio", __name__)
log = logging.getLogger("faro.twilio")
MAX_MEDIA = 10  # Twilio sends at most ten attachments per message


def verify(url: str, form: dict[str, str], signature: str, token: str) -> None:
    """Raise Forbidden unless `signature` is Twilio's signature of this request."""
    if not signature or not RequestValidator(token).validate(url, form, signature):
        raise Forbidden("bad Twilio signature")


def signed_url() -> str:
    """The URL Twilio signed: our public base URL plus the path and query we received."""
    path = request.full_path if request.query_string else request.path
    return current_app.extensions["faro"].settings.public_url + path


def parse(form: dict[str, str]) -> Inbound:
    """An Inbound from Twilio's form fields (SMS, MMS, WhatsApp text, media, location)."""
    sender = form.get("From", "")
    if not sender:
        raise BadRequest("From is missing")
    channel = "whatsapp" if sender.startswith("whatsapp:") else "sms"
    return Inbound(
        channel=channel,
        address=sender.removeprefix("whatsapp:"),
        text=form.get("Body", "")[:4096],
        message_id=form.get("MessageSid") or form.get("SmsSid") or "",
        choice=form.get("ButtonPayload", "")[:64],
        location=_location(form),
        media=_media(form),
        profile_name=form.get("ProfileName", ""),
    )


def _location(form: dict[str, str]) -> tuple[float, float] | None:
    if "Latitude" not in form or "Longitude" not in form:
        return None
    try:
        lat, lon = float(form["Latitude"]), float(form["Longitude"])
    except ValueError as exc:
        raise BadRequest("Latitude and Longitude must be numbers") from exc
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90
            and -180 <= lon <= 180):
        raise BadRequest("Latitude or Longitude out of range")
    return lat, lon


def _media(form: dict[str, str]) -> tuple[Media, ...]:
    try:
        count = int(form.get("NumMedia", "0") or 0)
    except ValueError as exc:
        raise BadRequest("NumMedia must be a whole number") from exc
    if not 0 <= count <= MAX_MEDIA:
        raise BadRequest("NumMedia out of range")
    items = []
    for i in range(count):
        url = form.get(f"MediaUrl{i}", "")
        if not url:
            raise BadRequest(f"MediaUrl{i} is missing")
        kind = form.get(f"MediaContentType{i}", "")
        items.append(Media(url=url, content_type=kind, kind=_kind(kind)))
    return tuple(items)


def _kind(content_type: str) -> str:
    major = content_type.split("/", 1)[0]
    return {"image": "photo", "audio": "voice", "video": "video"}.get(major, "document")


def twiml(bodies: list[str], media: list[str] | None = None) -> Response:
    """A TwiML response with one <Message> per body (none for a duplicate), then the media.

    Each voice note is a <Message> of its own after the text: WhatsApp drops a body sent
    in the same message as an audio file, and takes one file per message.
    """
    response = MessagingResponse()
    for body in bodies:
        response.message(body)
    for url in media or []:
        response.message().media(url)
    return Response(str(response), mimetype="application/xml")


@bp.post("/webhooks/twilio/messages")
def messages() -> Response:
    """SMS and WhatsApp messages from Twilio."""
    faro = current_app.extensions["faro"]
    form = request.form.to_dict()
    verify(signed_url(), form, request.headers.get("X-Twilio-Signature", ""),
           faro.settings.twilio_auth_token)
    msg = parse(form)
    metrics.received(msg.channel)
    try:
        replies = faro.conversations.handle(msg)
    except (StoreUnavailable, ContactBusy, redis.RedisError) as exc:
        return try_again(faro.content, msg, exc)
    if not replies:
        return twiml([])
    media = [public_url(faro.settings.public_url, p) for p in voice_notes(replies, msg.channel)]
    bodies = as_bodies(replies, msg.channel)
    metrics.replied(msg.channel, len(bodies) + len(media))
    return twiml(bodies, media)


def try_again(content: Content, msg: Inbound, exc: Exception) -> Response:
    """Redis is down, or the contact stayed locked: "send it again in a minute", with a 200.

    Not a 503: Twilio shows nothing it got with an error status and, unless told otherwise,
    does not retry a message webhook, so the person would hear nothing at all. The
    person's language is in Redis: it is guessed from the text, else Spanish and English.
    """
    kind = "busy" if isinstance(exc, ContactBusy) else "redis"
    log.error("message not handled, asked to send again",
              extra={"channel": msg.channel, "why": kind, "error": type(exc).__name__})
    metrics.failed(kind)
    guess = detect(msg.text) if msg.text else None
    langs = [guess] if guess in content.languages else [content.languages[0], "en"]
    text = "\n".join(content.t(lang, content.messages["busy"]) for lang in dict.fromkeys(langs))
    bodies = as_bodies([Reply(text)], msg.channel)
    metrics.replied(msg.channel, len(bodies))
    return twiml(bodies)


# Twilio's error for a number that replied STOP: no message may go to it any more.
UNSUBSCRIBED = "21610"


# The statuses that end a message's life, and the broadcast count each adds to.
FINAL = {"delivered": "delivered", "read": "delivered", "undelivered": "undelivered",
         "failed": "undelivered"}
# KEYS[1] the broadcast's sids, KEYS[2] its counts; ARGV sid, count name. A callback that
# Twilio repeats, or a "read" after "delivered", counts once.
COUNT_ONCE = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
  return 1
end
return 0
"""


def count_status(client, bid: str, sid: str, status: str) -> None:
    """Count a broadcast message delivered or undelivered, once per message."""
    name = FINAL.get(status)
    if name and bid.isalnum() and client.exists(keys.broadcast(bid)):
        client.eval(COUNT_ONCE, 2, keys.broadcast(bid, "sids"), keys.broadcast(bid, "n"),
                    sid, name)


@bp.post("/webhooks/twilio/status")
def status() -> tuple[str, int]:
    """Delivery status callbacks: a STOP error (21610) opts the contact out at once."""
    faro = current_app.extensions["faro"]
    form = request.form.to_dict()
    verify(signed_url(), form, request.headers.get("X-Twilio-Signature", ""),
           faro.settings.twilio_auth_token)
    if not form.get("MessageSid") or not form.get("MessageStatus"):
        raise BadRequest("MessageSid and MessageStatus are required")
    if form.get("ErrorCode") == UNSUBSCRIBED and form.get("To"):
        recipient = form["To"]
        channel = "whatsapp" if recipient.startswith("whatsapp:") else "sms"
        msg = Inbound(channel, recipient.removeprefix("whatsapp:"))
        faro.store.opt_out(faro.store.contact_id(msg))
    bid = request.args.get("bc", "")
    if bid:
        count_status(faro.redis, bid, form["MessageSid"], form["MessageStatus"])
    return "", 204
