"""Subscribed contacts written straight into Redis, as the store would, for benchmarks.

Each contact is what a person who greeted Faro and subscribed to alerts leaves behind:
the contact hash (language, key space, sealed address, counters, area and topics), the
wrapped data key, and its place in the state's subscriber set. Much faster than the
conversation pipeline, for 100,000 of them; tests use the pipeline (tests/alert_helpers).
"""

from __future__ import annotations

import time

from bot import crypto, keys
from bot.message import Inbound
from bot.store import Store

CHANNELS = ("sms", "whatsapp", "telegram")
LANGS = ("es", "es", "es", "ht", "fr", "en", "pt")  # roughly who writes to shelters


def address(channel: str, n: int) -> str:
    """The n-th made-up address of a channel."""
    return str(800_000_000 + n) if channel == "telegram" else f"+52155{n:08d}"


def seed(store: Store, count: int, state: str = "Baja California", city: str = "",
         topics: str = "all", channels: tuple[str, ...] = CHANNELS, first: int = 0,
         chunk: int = 2000) -> list[str]:
    """Write `count` subscribed contacts; return their ids."""
    now, cids = int(time.time()), []
    for start in range(first, first + count, chunk):
        pipe = store.redis.pipeline(transaction=False)
        for n in range(start, min(start + chunk, first + count)):
            channel = channels[n % len(channels)]
            msg = Inbound(channel, address(channel, n))
            cid = store.contact_id(msg)
            data_key, wrapped = store.keyring.new_data_key(cid)
            pipe.hset(keys.contact(cid), mapping={
                "l": LANGS[n % len(LANGS)], "o": "0", "t": now, "t0": now, "n": 3,
                "ch": msg.key_space, "a": crypto.encrypt(data_key, msg.address, cid),
                "sr": state, "sc": city, "st": topics})
            store.keystore.put(cid, wrapped, pipe)
            pipe.sadd(keys.subscribers(state), cid)
            cids.append(cid)
        pipe.execute()
    return cids
