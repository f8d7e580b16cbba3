"""The hash chain that makes a case tamper-evident: items, digests, links.

Each item's link is the SHA-256 of the previous item's link followed by the canonical
JSON of the item's facts (seq, kind, received_at, digest, content_type, size). Changing,
removing or reordering any item changes every link after it, so the last link (the
head) stands for the whole record. Anyone can recompute it with a few lines of code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

TEXT_TYPE = "text/plain; charset=utf-8"
MEDIA_KINDS = ("photo", "document", "voice")
TEXT_KINDS = ("consent", "appointment", "event", "when", "where", "report", "account", "note")
KINDS = TEXT_KINDS + MEDIA_KINDS
LINKED = ("seq", "kind", "received_at", "digest", "content_type", "size")
RULE = ("link = SHA-256 hex of (prev + JSON of {" + ", ".join(LINKED) + "} with sorted keys, "
        "no spaces, ASCII escapes); prev of the first item is the empty string")


@dataclass(frozen=True)
class Item:
    """One piece of evidence, as the person gave it."""

    seq: int
    kind: str
    received_at: str  # ISO 8601 UTC, seconds
    digest: str  # SHA-256 hex of the text's UTF-8 bytes or of the original media bytes
    prev: str  # the previous item's link, "" for the first
    link: str
    content_type: str = TEXT_TYPE
    size: int = 0
    text: str = ""  # plaintext only in memory, never stored unencrypted
    media_id: str = ""  # blob id in the media store
    # How it arrived: sms, whatsapp, telegram, voice (a phone call), simulator; "" before
    # this was kept. Sealed with the item, outside the chain's linked facts.
    via: str = ""

    @property
    def is_media(self) -> bool:
        """True when the content is a file in the media store, not text."""
        return bool(self.media_id)


def stamp(now: dt.datetime) -> str:
    """`now` as ISO 8601 UTC to the second ("2026-01-05T14:03:22Z")."""
    if now.tzinfo is None:
        raise ValueError("evidence times must be timezone-aware")
    return now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def digest(data: bytes) -> str:
    """The SHA-256 hex digest of `data`."""
    return hashlib.sha256(data).hexdigest()


def canonical(facts: dict) -> str:
    """The canonical JSON of an item's linked facts."""
    return json.dumps({name: facts[name] for name in LINKED}, sort_keys=True,
                      separators=(",", ":"), ensure_ascii=True)


def link(prev: str, facts: dict) -> str:
    """The link of an item whose facts are `facts`, following `prev`."""
    return digest((prev + canonical(facts)).encode("utf-8"))


def make(seq: int, kind: str, received_at: str, content: bytes, prev: str, **extra) -> Item:
    """A new item holding `content`, linked after `prev`."""
    facts = {"seq": seq, "kind": kind, "received_at": received_at, "digest": digest(content),
             "content_type": extra.pop("content_type", TEXT_TYPE), "size": len(content)}
    return Item(prev=prev, link=link(prev, facts), **facts, **extra)
