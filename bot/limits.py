"""Per-contact limits on inbound messages: too many in a minute, or one message over and over.

Pure: the store counts (bot/store.py), this decides, the pipeline answers
(bot/conversation.py). Past each limit comes one notice, then silence until the window
ends, so that a flood, or a loop with another bot, costs a few replies instead of thousands.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from bot.message import Inbound

WINDOW = 60  # seconds in which FARO_CONTACT_RATE messages are answered
REPEATS = 20  # the same message is answered this many times in a row...
REPEAT_WINDOW = 5 * 60  # ...within this many seconds, and then no more until it ends
ANSWER, NOTICE, SILENT = "answer", "notice", "silent"


def verdict(count: int, limit: int) -> str:
    """What the `count`-th message of a window that allows `limit` gets (0: no limit)."""
    if not limit or count <= limit:
        return ANSWER
    return NOTICE if count == limit + 1 else SILENT


def fingerprint(key: bytes, msg: Inbound) -> str:
    """A keyed hash of what a message says, to spot repeats without keeping the text."""
    said = "\x1f".join([msg.text, msg.choice, repr(msg.location), *(m.url for m in msg.media)])
    return hmac.new(key, said.encode(), hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True)
class Repeats:
    """One message sent again and again: its fingerprint, how often, since when (epoch s).

    Kept in the contact record as ``rh``, ``rn`` and ``rt``.
    """

    digest: str = ""
    count: int = 0
    since: int = 0

    @classmethod
    def from_record(cls, record: dict[bytes, bytes]) -> Repeats:
        """The repeats a contact record holds (none when it holds none, or junk)."""
        try:
            return cls(record.get(b"rh", b"").decode(), int(record.get(b"rn", 0)),
                       int(record.get(b"rt", 0)))
        except (UnicodeDecodeError, ValueError):
            return cls()

    def fields(self) -> dict[str, str | int]:
        """The contact record fields that keep these repeats."""
        return {"rh": self.digest, "rn": self.count, "rt": self.since}

    def then(self, digest: str, now: int) -> Repeats:
        """The repeats once a message with `digest` came at `now`."""
        if digest == self.digest and 0 <= now - self.since < REPEAT_WINDOW:
            return Repeats(digest, self.count + 1, self.since)
        return Repeats(digest, 1, now)
