"""RQ jobs. Each opens what it needs from the environment, so any worker can run it."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial
from typing import Any

import redis
from rq import Queue, Retry, get_current_job
from rq.job import Job

from bot import keys, metrics
from bot.channels.render import as_bodies, as_telegram
from bot.connection import connect, keystore
from bot.content import Content, load_content
from bot.crypto import Keyring
from bot.errors import DeliveryError
from bot.message import Option, Reply
from bot.outbound import TelegramSender, TwilioSender
from bot.settings import Settings
from bot.store import Store

log = logging.getLogger("faro.worker")
RETRY_INTERVALS = (5, 30, 120, 600)  # seconds: a blip, a provider's rate limit, an outage
FAILURE_TTL = 7 * 24 * 3600
MARKS_TTL = 24 * 3600  # longer than every retry of a job together


@cache
def _context() -> tuple[Settings, Store]:
    settings = Settings.load()
    client = connect(settings)  # short timeouts: a dead Redis fails the job fast
    store = Store(client, Keyring(settings.data_key), conversation_ttl=settings.conversation_ttl,
                  dedupe_ttl=settings.dedupe_ttl, lock_timeout_ms=settings.lock_timeout_ms,
                  keystore=keystore(settings, client))
    return settings, store


@cache
def pack() -> Content:
    """The content pack, loaded once per worker process."""
    settings, _store = _context()
    return load_content(settings.content_dir or None)


def enqueue_delivery(queue: Queue, cid: str, replies: list[dict]) -> Job:
    """Queue `replies` for contact `cid`; a provider's 429, 5xx or timeout is tried again
    later (RETRY_INTERVALS), and what went already is never sent twice."""
    return queue.enqueue(deliver, cid, replies, description="deliver",  # RQ logs it: no text
                         retry=Retry(max=len(RETRY_INTERVALS), interval=list(RETRY_INTERVALS)),
                         failure_ttl=FAILURE_TTL)


def deliver(cid: str, replies: list[dict]) -> int:
    """Send replies to contact `cid` on the channel it uses; return how many messages went.

    `replies` are plain dicts ({"text": ..., "options": [[key, label], ...]}) so that
    a job holds no address: the worker decrypts it at the last moment. In a job, each
    message is claimed before it is sent and marked after (`Marks`): a retried job skips
    what went, and asks Twilio about a message whose send it saw fail half-way (a timeout).
    The Bot API cannot be asked, so such a Telegram message is sent again.
    """
    settings, store = _context()
    found = store.address(cid)
    if found is None:
        log.info("contact gone, nothing sent", extra={"contact": cid[:8]})
        return 0
    channel, address = found
    items = [Reply(r["text"], tuple(Option(k, v) for k, v in r.get("options", ())))
             for r in replies]
    marks = Marks.of_job(store.redis, cid, replies)
    if channel == "telegram":
        telegram = TelegramSender(settings)
        sends = [Send(partial(telegram.call, [call])) for call in as_telegram(items, int(address))]
    else:
        channel = "whatsapp" if channel == "whatsapp" else "sms"
        twilio = TwilioSender(settings)
        sends = [Send(partial(twilio.send, channel, address, body),
                      partial(twilio.find, channel, address, body))
                 for body in as_bodies(items, channel)]
    for index, send in enumerate(sends):
        _send(store, marks, channel, index, send)
    return len(sends)


@dataclass(frozen=True)
class Send:
    """One message to send, and how to ask the provider whether it went since a time."""

    send: Callable[[], Any]
    find: Callable[[dt.datetime], str | None] | None = None


def _send(store: Store, marks: Marks, channel: str, index: int, send: Send) -> None:
    mark = marks.get(index)
    if mark == "s":
        return  # an earlier run of this job sent it
    if mark.startswith("c:") and send.find is not None:
        claimed = dt.datetime.fromtimestamp(int(mark[2:]), dt.UTC)
        if send.find(claimed) is not None:  # it went, though the earlier run did not hear so
            marks.sent(index)
            return
    marks.claim(index)
    try:
        send.send()
    except DeliveryError as exc:
        _failed(store, channel, exc)
        raise
    marks.sent(index, channel)


def _failed(store: Store, channel: str, exc: DeliveryError) -> None:
    """Log and count a failed send; when no try could work, let RQ not retry the job."""
    job = get_current_job()
    retry = exc.retry and job is not None and job.should_retry
    log.warning("delivery failed", extra={"channel": channel, "error": str(exc),
                                          "retry": retry})
    metrics.count(store.redis, "delivery_failed", channel, "yes" if retry else "no")
    if job is not None and not exc.retry:
        job.retries_left = 0  # a refused number or a blocked bot: another try would not help


class Marks:
    """What one job sent of one list of replies (keys.delivery): index -> ``c:<epoch>``
    claimed, or ``s`` sent. Outside a job (a direct call) nothing is kept."""

    def __init__(self, client: redis.Redis, key: str):
        self.client, self.key = client, key
        self.marks = {int(k): v.decode() for k, v in client.hgetall(key).items()} if key else {}

    @classmethod
    def of_job(cls, client: redis.Redis, cid: str, replies: list[dict]) -> Marks:
        """The marks of the current job for these replies."""
        job = get_current_job()
        if job is None:
            return cls(client, "")
        digest = hashlib.sha256(json.dumps([cid, replies], sort_keys=True).encode())
        return cls(client, keys.delivery(job.id, digest.hexdigest()[:16]))

    def get(self, index: int) -> str:
        """The mark of message `index`, "" when none."""
        return self.marks.get(index, "")

    def claim(self, index: int) -> None:
        """Mark message `index` as about to be sent."""
        self._set(index, f"c:{int(time.time())}")

    def sent(self, index: int, channel: str = "") -> None:
        """Mark message `index` as sent (and count it, on `channel`)."""
        self._set(index, "s", channel)

    def _set(self, index: int, mark: str, channel: str = "") -> None:
        pipe = self.client.pipeline(transaction=False)
        if self.key:
            pipe.hset(self.key, str(index), mark)
            pipe.expire(self.key, MARKS_TTL)
        if channel:
            metrics.count(pipe, "sent", channel)
        pipe.execute()
