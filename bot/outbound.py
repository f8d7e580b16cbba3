"""Sending to people outside a webhook's own response: Twilio REST and the Telegram Bot API."""

from __future__ import annotations

import asyncio
import logging

import telegram
from telegram.error import TelegramError
from telegram.request import HTTPXRequest
from twilio.base.exceptions import TwilioException
from twilio.rest import Client

from bot.channels.render import TelegramCall
from bot.errors import DeliveryError
from bot.settings import Settings

log = logging.getLogger("faro.outbound")


class TelegramSender:
    """Makes Bot API calls through python-telegram-bot, at TELEGRAM_API_URL."""

    def __init__(self, settings: Settings):
        self.token = settings.telegram_bot_token
        self.base_url = f"{settings.telegram_api_url}/bot"
        self.file_url = f"{settings.telegram_api_url}/file/bot"

    def call(self, calls: list[TelegramCall]) -> None:
        """Make the calls in order; raise DeliveryError when one fails."""
        if calls:
            asyncio.run(self._call(calls))

    async def _call(self, calls: list[TelegramCall]) -> None:
        # A Bot per asyncio.run: a Bot reused across event loops fails ("Event loop is closed").
        # We open its HTTP client ourselves: `async with Bot` would also call getMe each time.
        request = HTTPXRequest(connection_pool_size=2)
        bot = telegram.Bot(self.token, base_url=self.base_url, base_file_url=self.file_url,
                           request=request)
        await request.initialize()
        try:
            for call in calls:
                await getattr(bot, _snake(call.method))(**call.params)
        except TelegramError as exc:
            raise DeliveryError(f"telegram {call.method}: {exc}") from exc
        finally:
            await request.shutdown()


def _snake(method: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in method)


class TwilioSender:
    """Sends SMS and WhatsApp messages through Twilio's REST API, at TWILIO_API_URL."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.client = Client(settings.twilio_account_sid, settings.twilio_auth_token)
        self.client.api.base_url = settings.twilio_api_url

    def send(self, channel: str, address: str, body: str) -> str:
        """Send one message; return Twilio's message sid."""
        s = self.settings
        to = f"whatsapp:{address}" if channel == "whatsapp" else address
        sender = s.twilio_whatsapp_from if channel == "whatsapp" else s.twilio_sms_from
        kwargs = {"to": to, "body": body,
                  "status_callback": f"{s.public_url}/webhooks/twilio/status"}
        if s.twilio_messaging_service_sid and channel != "whatsapp":
            kwargs["messaging_service_sid"] = s.twilio_messaging_service_sid
        else:
            kwargs["from_"] = sender
        try:
            return self.client.messages.create(**kwargs).sid
        except TwilioException as exc:
            raise DeliveryError(f"twilio: {exc}") from exc
