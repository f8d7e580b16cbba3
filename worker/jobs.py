"""RQ jobs. Each opens what it needs from the environment, so any worker can run it."""

from __future__ import annotations

import logging
from functools import cache

from bot.channels.render import as_bodies, as_telegram
from bot.connection import connect, keystore
from bot.content import Content, load_content
from bot.crypto import Keyring
from bot.message import Option, Reply
from bot.outbound import TelegramSender, TwilioSender
from bot.settings import Settings
from bot.store import Store

log = logging.getLogger("faro.worker")


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


def deliver(cid: str, replies: list[dict]) -> int:
    """Send replies to contact `cid` on the channel it uses; return how many messages went.

    `replies` are plain dicts ({"text": ..., "options": [[key, label], ...]}) so that
    a job holds no address: the worker decrypts it at the last moment.
    """
    settings, store = _context()
    found = store.address(cid)
    if found is None:
        log.info("contact gone, nothing sent", extra={"contact": cid[:8]})
        return 0
    channel, address = found
    items = [Reply(r["text"], tuple(Option(k, v) for k, v in r.get("options", ())))
             for r in replies]
    if channel == "telegram":
        calls = as_telegram(items, int(address))
        TelegramSender(settings).call(calls)
        return len(calls)
    sender = TwilioSender(settings)
    kind = "whatsapp" if channel == "whatsapp" else "sms"
    bodies = as_bodies(items, kind)
    for body in bodies:
        sender.send(kind, address, body)
    return len(bodies)
