"""Fetching the media a person sent from the provider that holds it, with a cap and a deadline.

Errors never carry the URL: a Twilio redirect carries a signed query and a Telegram file
URL carries the bot token, and RQ keeps a failed job's traceback in Redis.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit

import httpx
import telegram
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.request import BaseRequest, RequestData

from bot.errors import FaroError, MediaRefused, MediaUnavailable
from bot.settings import Settings

TIMEOUT = httpx.Timeout(10.0, read=30.0)  # a read may stall 30 s, anything else 10 s
DEADLINE = 120.0  # seconds for one whole download, so a slow drip cannot hold a worker
MAX_REDIRECTS = 3  # Twilio answers a MediaUrl with one redirect to its file host
# Bytes as sent, read raw: a compressed body could inflate past the cap within one chunk.
IDENTITY = {"Accept-Encoding": "identity"}
RECORDING = "/Recordings/"  # in the path of a call's recording (the voice line's evidence)

# httpx logs each request's full URL at INFO and httpcore each response's headers at DEBUG:
# a redirect's signed Location, a file URL's bot token.
for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).setLevel(logging.WARNING)


def download(settings: Settings, url: str, limit: int) -> bytes:
    """The bytes at `url` (a Twilio MediaUrl or "tg:<file_id>"), never more than `limit`.

    Raise MediaRefused when the media cannot be had or kept (too big, gone), and
    MediaUnavailable when the provider may answer later.
    """
    if url.startswith("tg:"):
        return asyncio.run(_telegram(settings, url.removeprefix("tg:"), limit))
    return _twilio(settings, url, limit)


def _twilio(settings: Settings, url: str, limit: int) -> bytes:
    _check_twilio_url(settings, url)
    # httpx drops the Authorization header when a redirect leaves Twilio's host.
    auth = (settings.twilio_account_sid, settings.twilio_auth_token)
    try:
        with httpx.Client(auth=auth, timeout=TIMEOUT, follow_redirects=True,
                          max_redirects=MAX_REDIRECTS, headers=IDENTITY) as client, \
                client.stream("GET", url) as response:
            if response.status_code == 404 and RECORDING in urlsplit(url).path:
                # A call's recording may still be processing when the call posts it.
                raise MediaUnavailable("recording not ready yet")
            check_status(response.status_code)
            check_length(response.headers.get("content-length"), limit)
            return read_capped(response.iter_raw(), limit)
    except httpx.TransportError as exc:
        raise MediaUnavailable(f"network: {type(exc).__name__}") from None
    except httpx.HTTPError:  # too many redirects, a body that does not decode
        raise MediaRefused("failed") from None


def _check_twilio_url(settings: Settings, url: str) -> None:
    """Refuse a URL outside our Twilio account: our credentials go to Twilio only."""
    api, got = urlsplit(settings.twilio_api_url), urlsplit(url)
    account = f"/2010-04-01/Accounts/{settings.twilio_account_sid}/"
    if (got.scheme, got.netloc) != (api.scheme, api.netloc) or not got.path.startswith(account):
        raise MediaRefused("failed")


def check_status(status: int) -> None:
    """Raise unless `status` is 200: MediaUnavailable for 408, 429 and 5xx, else MediaRefused."""
    if status in (408, 429) or status >= 500:
        raise MediaUnavailable(f"provider answered {status}")
    if status != 200:
        raise MediaRefused("failed")


def check_length(header: str | None, limit: int) -> None:
    """Refuse early when the declared Content-Length is already past `limit`."""
    if header and header.isdigit() and int(header) > limit:
        raise MediaRefused("too_big")


def read_capped(chunks: Iterator[bytes], limit: int) -> bytes:
    """Join chunks, stopping with MediaRefused("too_big") as soon as they pass `limit`."""
    received, deadline = bytearray(), time.monotonic() + DEADLINE
    for chunk in chunks:
        _take(received, chunk, limit, deadline)
    return bytes(received)


async def read_capped_async(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """`read_capped` for an asynchronous stream."""
    received, deadline = bytearray(), time.monotonic() + DEADLINE
    async for chunk in chunks:
        _take(received, chunk, limit, deadline)
    return bytes(received)


def _take(received: bytearray, chunk: bytes, limit: int, deadline: float) -> None:
    received += chunk
    if len(received) > limit:
        raise MediaRefused("too_big")
    if time.monotonic() > deadline:
        raise MediaUnavailable("download too slow")


class CappedRequest(BaseRequest):
    """python-telegram-bot's HTTP layer on httpx, reading at most `limit` bytes of an answer."""

    def __init__(self, limit: int):
        self.limit = limit
        self._client = httpx.AsyncClient(timeout=TIMEOUT, headers=IDENTITY)

    @property
    def read_timeout(self) -> float | None:
        """The read timeout PTB may assume (ours is fixed)."""
        return TIMEOUT.read

    async def initialize(self) -> None:
        """Nothing to open: the client connects on the first request."""

    async def shutdown(self) -> None:
        """Close the client's connections."""
        await self._client.aclose()

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout=None, write_timeout=None, connect_timeout=None,
                         pool_timeout=None) -> tuple[int, bytes]:
        """One request; the status and at most `limit` bytes of the body."""
        data = request_data.json_parameters if request_data else None
        try:
            async with self._client.stream(method, url, data=data,
                                           headers={"User-Agent": self.USER_AGENT}) as response:
                check_length(response.headers.get("content-length"), self.limit)
                body = await read_capped_async(response.aiter_raw(), self.limit)
                return response.status_code, body
        except httpx.TimeoutException:
            raise TimedOut() from None
        except httpx.HTTPError as exc:
            raise NetworkError(f"httpx.{type(exc).__name__}") from None


async def _telegram(settings: Settings, file_id: str, limit: int) -> bytes:
    # A Bot per asyncio.run, as in bot/outbound.py: a Bot reused across event loops fails.
    request = CappedRequest(limit)
    api = settings.telegram_api_url
    bot = telegram.Bot(settings.telegram_bot_token, base_url=f"{api}/bot",
                       base_file_url=f"{api}/file/bot", request=request,
                       get_updates_request=request)
    try:
        file = await bot.get_file(file_id)
        _check_file(bot, file, limit)
        return bytes(await file.download_as_bytearray())
    except TelegramError as exc:
        raise telegram_error(exc) from None
    finally:
        await request.shutdown()


def _check_file(bot: telegram.Bot, file: telegram.File, limit: int) -> None:
    """Refuse a file too big by Telegram's count, or whose path is not on the file host."""
    if file.file_size and file.file_size > limit:
        raise MediaRefused("too_big")
    # PTB reads a file_path that names a file on this machine from the disk (its local
    # mode): only a URL on the Bot API's file host may be fetched.
    if not str(file.file_path or "").startswith(bot.base_file_url + "/"):
        raise MediaRefused("failed")


def telegram_error(exc: TelegramError) -> FaroError:
    """Our error for a python-telegram-bot one: transient ones are worth a retry."""
    if isinstance(exc.__cause__, FaroError):
        return exc.__cause__  # raised by CappedRequest; PTB wraps it in a NetworkError
    if isinstance(exc, BadRequest) and "too big" in exc.message.lower():
        return MediaRefused("too_big")  # the Bot API serves no file over 20 MB
    if isinstance(exc, RetryAfter | TimedOut) or type(exc) is NetworkError:
        return MediaUnavailable(f"telegram: {type(exc).__name__}")
    return MediaRefused("failed")  # a bad file id, a file gone (404), a refused token
