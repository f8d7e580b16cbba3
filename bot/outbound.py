"""Sending to people outside a webhook's own response: Twilio REST and the Telegram Bot API.

Every failure becomes a DeliveryError that says whether another try may work: a 429, a
5xx or a network error may; a refused number or a blocked bot will not.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import threading
import weakref
from typing import Any

import telegram
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from bot.channels.render import TelegramCall
from bot.errors import DeliveryError
from bot.httpclient import HttpFailure, KeptRequest, KeptTwilio
from bot.settings import Settings

log = logging.getLogger("faro.outbound")
TIMEOUT = 10  # seconds for one provider call; a broadcast lease outlives it (worker/broadcast)


class TelegramSession:
    """Bot API calls through python-telegram-bot, at TELEGRAM_API_URL, on one event loop.

    Use it as a context manager to make many calls over one kept-open connection (a
    broadcast batch, a web worker's replies); a Bot must not outlive the loop it was opened
    on ("Event loop is closed").
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self.loop: asyncio.AbstractEventLoop | None = None

    def __enter__(self) -> TelegramSession:
        s = self.settings
        self.loop = asyncio.new_event_loop()
        self.request = KeptRequest(TIMEOUT)
        # We open its HTTP client ourselves: `async with Bot` would also call getMe. We never
        # poll for updates, so getUpdates shares it.
        self.bot = telegram.Bot(s.telegram_bot_token, base_url=f"{s.telegram_api_url}/bot",
                                base_file_url=f"{s.telegram_api_url}/file/bot",
                                request=self.request, get_updates_request=self.request)
        self.loop.run_until_complete(self.request.initialize())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.loop is not None
        try:
            self.loop.run_until_complete(self.request.shutdown())
        finally:
            self.loop.close()
            self.loop = None

    def call(self, call: TelegramCall) -> Any:
        """Make one Bot API call; raise DeliveryError when it fails."""
        assert self.loop is not None, "use TelegramSession as a context manager"
        method = getattr(self.bot, _snake(call.method))
        try:
            return self.loop.run_until_complete(method(**call.params))
        except TelegramError as exc:
            raise telegram_error(call.method, exc) from exc


class TelegramSender:
    """Makes a few Bot API calls in order (a webhook's extra calls, a worker's replies).

    Each thread keeps its session open from one call to the next, so that its calls share
    an event loop and a connection to Telegram (no TLS handshake per reply). `close()`
    closes them all, as does dropping the sender; make no call after it.
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self.local = threading.local()
        self.sessions: list[TelegramSession] = []
        self.lock = threading.Lock()
        self.close = weakref.finalize(self, _close, self.sessions)  # or when dropped

    def call(self, calls: list[TelegramCall]) -> None:
        """Make the calls in order; raise DeliveryError when one fails."""
        if calls:
            session = self.session()
            for call in calls:
                session.call(call)

    def session(self) -> TelegramSession:
        """This thread's open session (an event loop belongs to one thread at a time)."""
        session = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = TelegramSession(self.settings).__enter__()
            with self.lock:
                self.sessions.append(session)
        return session


def _close(sessions: list[TelegramSession]) -> None:
    for session in sessions:
        session.__exit__(None, None, None)


def telegram_error(method: str, exc: TelegramError) -> DeliveryError:
    """A Bot API failure as a DeliveryError, retryable for flood control and the network."""
    if isinstance(exc, RetryAfter):
        wait = exc.retry_after
        seconds = wait.total_seconds() if isinstance(wait, dt.timedelta) else float(wait)
        return DeliveryError(f"telegram {method}: flood control", retry=True, wait=seconds,
                             code="429")
    retry = isinstance(exc, NetworkError) and not isinstance(exc, BadRequest)
    return DeliveryError(f"telegram {method}: {type(exc).__name__}", retry=retry,
                         code=type(exc).__name__)


def _snake(method: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in method)


class TwilioSender:
    """Sends SMS and WhatsApp messages through Twilio's REST API, at TWILIO_API_URL."""

    def __init__(self, settings: Settings):
        self.settings = settings
        http = KeptTwilio(TIMEOUT)
        self.client = Client(settings.twilio_account_sid, settings.twilio_auth_token,
                             http_client=http)
        # Its connections close with it (or with close()), not whenever the GC gets to them.
        self.close = weakref.finalize(self, http.connections.close)
        self.client.api.base_url = settings.twilio_api_url

    def sender(self, channel: str) -> str:
        """The number (or messaging service) that sends on `channel`: its rate-limit key."""
        s = self.settings
        if channel == "whatsapp":
            return s.twilio_whatsapp_from
        return s.twilio_messaging_service_sid or s.twilio_sms_from

    def send(self, channel: str, address: str, body: str = "", *, callback: str = "",
             template: str = "", variables: dict[str, str] | None = None) -> str:
        """Send one message (a WhatsApp `template` by its content sid, with `variables`);
        return Twilio's message sid. `callback` is the query of the status callback URL."""
        s = self.settings
        kwargs: dict[str, Any] = {
            "to": _to(channel, address),
            "status_callback": f"{s.public_url}/webhooks/twilio/status"
                               + (f"?{callback}" if callback else "")}
        if template:
            kwargs.update(content_sid=template, content_variables=json.dumps(variables or {}))
        else:
            kwargs["body"] = body
        if s.twilio_messaging_service_sid and channel != "whatsapp":
            kwargs["messaging_service_sid"] = s.twilio_messaging_service_sid
        else:
            kwargs["from_"] = self.sender(channel)
        try:
            return self.client.messages.create(**kwargs).sid
        except TwilioRestException as exc:
            retry = exc.status == 429 or exc.status >= 500
            raise DeliveryError(f"twilio {exc.status} {exc.code}", retry=retry,
                                code=str(exc.code or exc.status)) from exc
        except HttpFailure as exc:
            raise DeliveryError(f"twilio: {exc}", retry=True) from exc
        except TwilioException as exc:
            raise DeliveryError(f"twilio: {exc}") from exc

    def find(self, channel: str, address: str, body: str, since: dt.datetime) -> str | None:
        """The sid of a message we already sent to `address` with `body` (any, if "") since
        `since`, or None: a worker that died mid-send asks before sending again."""
        try:
            found = self.client.messages.list(to=_to(channel, address),
                                              date_sent_after=since.date(), limit=200)
        except TwilioRestException as exc:
            raise DeliveryError(f"twilio {exc.status} {exc.code}", retry=True) from exc
        except HttpFailure as exc:
            raise DeliveryError(f"twilio: {exc}", retry=True) from exc
        sender = self.sender(channel)
        for message in found:
            if (not body or message.body == body) and (not message.from_ or message.from_ == sender
                                         or self.settings.twilio_messaging_service_sid):
                return message.sid
        return None


def _to(channel: str, address: str) -> str:
    return f"whatsapp:{address}" if channel == "whatsapp" else address
