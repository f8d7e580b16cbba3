"""The message mix the webhook benchmarks send: signed Twilio and Telegram requests.

Each contact follows one scripted conversation in its own language, on SMS, WhatsApp or
Telegram (typing numbers, or pressing buttons); every message is labelled with the kind
of step it is, so the benchmarks can report per kind. Nothing here talks to a server.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from bot.embedded import EmbeddedRedis

ROOT = Path(__file__).resolve().parents[1]

PUBLIC_URL = "https://faro.bench.example"
TWILIO_TOKEN = "bench-twilio-auth-token"
TELEGRAM_SECRET = "bench-telegram-webhook-secret"
TWILIO_PATH = "/webhooks/twilio/messages"
TELEGRAM_PATH = "/webhooks/telegram"

NEW, MENU, TEXT, SEARCH, EVIDENCE = ("new contact", "menu step", "free-text step",
                                     "shelter search", "evidence step")
KINDS = (NEW, MENU, TEXT, SEARCH, EVIDENCE)

FIRST = {"es": "Hola, necesito ayuda por favor", "en": "Hello, I need some help please",
         "fr": "Bonjour, j'ai besoin d'aide s'il vous plaît",
         "pt": "Olá, preciso de ajuda por favor", "ht": "Bonjou, mwen bezwen èd tanpri"}
UNSERVED = "Ri nuk'ulem, k'o jun tob'anik"  # K'iche': Faro answers with its language menu
YES = {"es": "sí", "en": "yes", "fr": "oui", "pt": "sim", "ht": "wi"}
CITIES = ("Tijuana", "Ciudad Juárez", "Tapachula", "Reynosa", "Monterrey", "Mexicali",
          "Nogales", "CDMX", "Matamoros", "Piedras Negras")

# A script is a list of (kind, text, is a menu choice). Choices are button presses for
# the Telegram contacts who press buttons; everyone else types them.
SHELTERS = [(MENU, "4", True), (MENU, "1", True), (SEARCH, "{city}", False),
            (MENU, "3", True)]
EVIDENCE_STEPS = [(EVIDENCE, "3", True), (EVIDENCE, "{yes}", False),
                  (TEXT, "12/03/2025", False), (MENU, "1", True),
                  (EVIDENCE, "ABC123456", False), (EVIDENCE, "2", True),
                  (EVIDENCE, "01/03/2025", False), (EVIDENCE, "{city}, en la central", False),
                  (MENU, "menu", False)]
# Who the contacts are: (share, script, first message is detected or needs the menu).
PLAN = ((0.5, SHELTERS, True), (0.4, EVIDENCE_STEPS, True), (0.1, SHELTERS, False))
CHANNELS = ("sms", "whatsapp", "telegram", "telegram-buttons")


@dataclass(frozen=True)
class Request:
    """One signed webhook request, ready to send."""

    kind: str
    contact: int
    channel: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def raw(self, host: str) -> bytes:
        """The request as HTTP/1.1 bytes; the connection closes after the answer."""
        head = [f"POST {self.path} HTTP/1.1", f"Host: {host}",
                f"Content-Length: {len(self.body)}", "Connection: close",
                *(f"{name}: {value}" for name, value in self.headers)]
        return ("\r\n".join(head) + "\r\n\r\n").encode() + self.body


class Signer:
    """Builds the requests of one run: unique message ids, signed as the providers sign."""

    def __init__(self, run: int):
        self.run = run  # 0 to 99: ids of different runs never collide
        self.serial = itertools.count(1)
        self.validator = RequestValidator(TWILIO_TOKEN)

    def twilio(self, kind: str, contact: int, channel: str, text: str) -> Request:
        phone = f"+52155{contact:08d}"
        sid = f"SM{self.run:02d}{next(self.serial):030d}"
        # Every field Twilio's request for an incoming message carries (its docs' list):
        # the signature covers them all, and the form parser reads them all.
        form = {"ToCountry": "US", "ToState": "CA", "SmsMessageSid": sid, "NumMedia": "0",
                "ToCity": "", "FromZip": "", "SmsSid": sid, "FromState": "",
                "SmsStatus": "received", "FromCity": "", "Body": text, "FromCountry": "MX",
                "To": "+15005550006", "ToZip": "", "NumSegments": "1", "MessageSid": sid,
                "AccountSid": "AC" + "0" * 32, "From": phone, "ApiVersion": "2010-04-01"}
        if channel == "whatsapp":
            form.update({"From": f"whatsapp:{phone}", "To": "whatsapp:+14155238886",
                         "ProfileName": "Ana", "WaId": phone[1:], "MessageType": "text",
                         "ReferralNumMedia": "0"})
            for field in ("ToCountry", "ToState", "ToCity", "ToZip", "FromCountry",
                          "FromState", "FromCity", "FromZip"):
                del form[field]  # not sent for WhatsApp
        signature = self.validator.compute_signature(PUBLIC_URL + TWILIO_PATH, form)
        headers = (("Content-Type", "application/x-www-form-urlencoded"),
                   ("X-Twilio-Signature", signature))
        return Request(kind, contact, channel, TWILIO_PATH, headers, urlencode(form).encode())

    def telegram(self, kind: str, contact: int, channel: str, text: str,
                 button: bool) -> Request:
        update_id = self.run * 10**9 + next(self.serial)
        person = {"id": contact, "is_bot": False, "first_name": "Ana"}
        chat = {"id": contact, "type": "private", "first_name": "Ana"}
        if button:
            update = {"update_id": update_id, "callback_query": {
                "id": f"cb{update_id}", "chat_instance": "42", "data": text, "from": person,
                "message": {"message_id": 1, "date": 1764000000, "text": "menu", "chat": chat}}}
        else:
            update = {"update_id": update_id, "message": {
                "message_id": update_id, "date": 1764000000, "text": text, "chat": chat,
                "from": person}}
        headers = (("Content-Type", "application/json"),
                   ("X-Telegram-Bot-Api-Secret-Token", TELEGRAM_SECRET))
        return Request(kind, contact, channel, TELEGRAM_PATH, headers,
                       json.dumps(update).encode())

    def message(self, kind: str, contact: int, channel: str, text: str,
                choice: bool) -> Request:
        if channel.startswith("telegram"):
            return self.telegram(kind, contact, channel, text,
                                 choice and channel == "telegram-buttons")
        return self.twilio(kind, contact, channel, text)


def conversation(signer: Signer, contact: int, rng: random.Random) -> list[Request]:
    """The requests of one contact's conversation, in order."""
    _, script, detected = rng.choices(PLAN, weights=[plan[0] for plan in PLAN])[0]
    lang = rng.choice(sorted(FIRST))
    channel = rng.choice(CHANNELS)
    values = {"city": rng.choice(CITIES), "yes": YES[lang]}
    steps = [(NEW, FIRST[lang], False)] if detected else [(NEW, UNSERVED, False),
                                                           (MENU, "1", True)]
    return [signer.message(kind, contact, channel, text.format(**values), choice)
            for kind, text, choice in steps + script]


def mix(contacts: int, run: int, block: int = 100, seed: int = 7) -> list[Request]:
    """The requests of `contacts` conversations, interleaved.

    Contacts go in blocks of `block`: each block sends every contact's first message, then
    every second message, and so on, so that one contact's messages are far apart and
    never race each other (they would only wait on the contact's lock).
    """
    rng = random.Random(f"{seed}-{run}")
    signer = Signer(run)
    numbers = range(run * 10**6 + 1, run * 10**6 + 1 + contacts)  # new people in each run
    talks = [conversation(signer, n, rng) for n in numbers]
    out: list[Request] = []
    for start in range(0, len(talks), block):
        group = talks[start:start + block]
        for steps in itertools.zip_longest(*group):
            out.extend(r for r in steps if r is not None)
    return out


def shares(requests: list[Request]) -> dict[str, float]:
    """The share of each kind of step in `requests`."""
    return {kind: sum(r.kind == kind for r in requests) / len(requests) for kind in KINDS}


def production_env(redis_url: str, keystore_url: str, fake_url: str,
                   media_dir: str) -> dict[str, str]:
    """The environment of a production Faro with explicit secrets, its providers faked."""
    return {"FARO_ENV": "production", "REDIS_URL": redis_url,
            "FARO_KEYSTORE_URL": keystore_url, "FARO_PUBLIC_URL": PUBLIC_URL,
            "FARO_SECRET_KEY": "bench-secret-key-" + "x" * 32,
            "FARO_DATA_KEY": base64.urlsafe_b64encode(b"b" * 32).decode(),
            "FARO_MEDIA_DIR": media_dir,
            "TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
            "TWILIO_SMS_FROM": "+15005550006", "TWILIO_WHATSAPP_FROM": "whatsapp:+14155238886",
            "TWILIO_API_URL": fake_url, "TELEGRAM_BOT_TOKEN": "123456:bench-telegram-token",
            "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET, "TELEGRAM_API_URL": fake_url}


@contextlib.contextmanager
def backends(folder: Path) -> Iterator[dict[str, str]]:
    """A real Redis, another for the keystore (as in production) and a fake Bot API;
    yields the production environment that uses them."""
    sys.path.insert(0, str(ROOT))
    from tests.fakes import FakeTelegram  # answers the Bot API calls a button press makes

    with EmbeddedRedis(folder / "redis") as main, EmbeddedRedis(folder / "keystore") as keys:
        fake = FakeTelegram().start()
        try:
            yield production_env(main.url, keys.url, fake.url, str(folder / "media"))
        finally:
            fake.stop()
