"""Evidence cases: a person's tamper-evident, encrypted record of a missed appointment.

Built for the day the server is seized. Every item (its text, its digest, its link) is
sealed with the contact's data key before it reaches Redis; media bytes are sealed too,
under random blob ids, so neither Redis nor the media folder can confirm a known photo.
Items form a hash chain (bot/chain.py); appends are compare-and-set (a Lua script), so
two messages handled at once never fork it. A case is found by its code, which the
person gives to the legal-aid group they chose; export and verification live in
bot/casefile.py.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import redis

from bot import crypto, keys
from bot.casefile import export, public_key, signing_key, verify_export
from bot.chain import KINDS, TEXT_KINDS, Item, digest, make, stamp
from bot.errors import FaroError
from bot.media import MediaStore, open_blob, seal_blob

__all__ = ["KINDS", "Cases", "Item", "NoCase", "export", "normalize_code", "public_key",
           "show_code", "signing_key", "stamp", "verify_export"]

FORMAT = 1
# Crockford's base32 (no I, L, O, U), so a code read aloud or copied by hand survives.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 8
RECORD_BLOCK = 256
MISREAD = str.maketrans({"I": "1", "L": "1", "O": "0"})
# KEYS[1] a case's meta, KEYS[2] its items: whether the case exists, how many items it
# has, and the last of them (false when none), read at one instant.
TAIL = """
local count = redis.call('LLEN', KEYS[2])
local last = false
if count > 0 then last = redis.call('LINDEX', KEYS[2], count - 1) end
return {redis.call('EXISTS', KEYS[1]), count, last}
"""
# KEYS[1] a case's meta, KEYS[2] its items, KEYS[3] the index of cases by last change.
# ARGV: how many items the sealed item was chained after, the item, the contact id, now.
# Appends only if the case still exists and has that many items (compare and set): 1 when
# appended, 0 when the case moved meanwhile, -1 when it is gone.
APPEND = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('LLEN', KEYS[2]) ~= tonumber(ARGV[1]) then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3])
return 1
"""


class NoCase(FaroError):
    """The contact has no evidence case (never opened, or deleted)."""


def normalize_code(code: str) -> str:
    """A case code as stored: upper case, no spaces or dashes, misread letters fixed."""
    return "".join(c for c in code.upper() if c.isalnum()).translate(MISREAD)


def show_code(code: str) -> str:
    """A case code as people see it: "K7QM-3XPA" (from either form)."""
    code = normalize_code(code)
    return f"{code[:4]}-{code[4:]}"


class Cases:
    """Opens, appends to, shares and deletes evidence cases, one per contact."""

    def __init__(self, client: redis.Redis, media: MediaStore, *,
                 signing_seed: bytes | None = None):
        self.redis = client
        self.media = media
        self.signing_seed = signing_seed  # signs exports; build it with `signing_key(master)`
        self._tail = client.register_script(TAIL)
        self._append_item = client.register_script(APPEND)

    def open(self, cid: str, data_key: bytes, now: dt.datetime) -> str:
        """Start the contact's case unless it exists; return its code either way."""
        while True:
            found = self.code(cid)
            if found:
                return found
            code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
            if not self.redis.set(keys.case_code(code), cid, nx=True):
                continue  # taken by another case: draw again
            created = False
            try:
                created = self._create(cid, data_key, code, now)
            finally:
                if not created:  # another open won the race, or Redis failed us
                    self.redis.delete(keys.case_code(code))
            if created:
                return show_code(code)

    def _create(self, cid: str, data_key: bytes, code: str, now: dt.datetime) -> bool:
        created = crypto.encrypt(data_key, stamp(now), f"{cid}:ev:created")
        with self.redis.pipeline() as pipe:
            try:
                pipe.watch(keys.case(cid))
                if pipe.exists(keys.case(cid)):
                    return False
                pipe.multi()
                pipe.hset(keys.case(cid), mapping={"code": code, "v": FORMAT, "c": created})
                self._touch(pipe, cid, now)
                pipe.execute()
                return True
            except redis.WatchError:
                return False

    def code(self, cid: str) -> str | None:
        """The case code of the contact ("K7QM-3XPA"), or None when there is no case."""
        code = self.redis.hget(keys.case(cid), "code")
        return show_code(code.decode()) if code else None

    def created(self, cid: str, data_key: bytes) -> str:
        """When the case was started, ISO 8601 UTC."""
        sealed = self.redis.hget(keys.case(cid), "c")
        if not sealed:
            raise NoCase(cid)
        return crypto.decrypt(data_key, sealed, f"{cid}:ev:created")

    def cid_for_code(self, code: str) -> str | None:
        """The contact id of the case with `code`, typed however the person typed it."""
        code = normalize_code(code)
        if len(code) != CODE_LENGTH or any(c not in ALPHABET for c in code):
            return None
        cid = self.redis.get(keys.case_code(code))
        return cid.decode() if cid else None

    def add_text(self, cid: str, data_key: bytes, kind: str, text: str, now: dt.datetime,
                 via: str = "") -> Item:
        """Append what the person wrote to their case (`via`: the channel it came by)."""
        if kind not in TEXT_KINDS:
            raise ValueError(f"not a kind of text evidence: {kind!r}")
        content = text.encode("utf-8")
        return self._append(cid, data_key, lambda seq, prev: make(
            seq, kind, stamp(now), content, prev, text=text, via=via), now)

    def add_media(self, cid: str, data_key: bytes, kind: str, data: bytes, content_type: str,
                  now: dt.datetime, via: str = "") -> Item:
        """Encrypt and store a file the person sent, then append it to their case."""
        if kind not in KINDS:
            raise ValueError(f"not a kind of evidence: {kind!r}")
        blob_id = secrets.token_hex(16)  # random: an id derived from content would leak it
        # Listed before the file exists, so a delete racing this append still finds it.
        self._change(cid, now, lambda pipe: pipe.sadd(keys.case_media(cid), blob_id))
        try:
            self.media.put(blob_id, seal_blob(data_key, data, _blob_context(cid, blob_id)))
            return self._append(cid, data_key, lambda seq, prev: make(
                seq, kind, stamp(now), data, prev, content_type=content_type,
                media_id=blob_id, via=via), now)
        except BaseException:
            self.media.delete(blob_id)
            raise

    def _append(self, cid: str, data_key: bytes, build: Callable[[int, str], Item],
                now: dt.datetime) -> Item:
        """Chain an item after the case's last one and store it, sealed: two round trips
        (read the tail, then append if the case has not moved), again if it moved."""
        watched = [keys.case(cid), keys.case_items(cid)]
        while True:
            exists, count, last = self._tail(keys=watched)
            if not exists:
                raise NoCase(cid)
            prev = self._open_item(cid, data_key, count, last).link if last else ""
            item = build(count + 1, prev)
            record = _pad(json.dumps(asdict(item), separators=(",", ":")))
            sealed = crypto.encrypt(data_key, record, f"{cid}:ev:{count + 1}")
            done = self._append_item(keys=[*watched, keys.cases_touched()],
                                     args=[count, sealed, cid, int(now.timestamp())])
            if done == 1:
                return item
            if done == -1:
                raise NoCase(cid)

    def _change(self, cid: str, now: dt.datetime, write: Callable[[Any], Any]) -> None:
        """Apply `write` to an existing case in one transaction, retrying if it moved."""
        watched = [keys.case(cid), keys.case_items(cid)]
        with self.redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(*watched)
                    if not pipe.exists(keys.case(cid)):
                        raise NoCase(cid)
                    pipe.multi()
                    write(pipe)
                    self._touch(pipe, cid, now)
                    pipe.execute()
                    return
                except redis.WatchError:
                    continue

    def items(self, cid: str, data_key: bytes) -> list[Item]:
        """Every item of the case, decrypted, in order."""
        sealed = self.redis.lrange(keys.case_items(cid), 0, -1)
        return [self._open_item(cid, data_key, seq, s) for seq, s in enumerate(sealed, 1)]

    def media_bytes(self, cid: str, data_key: bytes, item: Item) -> bytes:
        """The original bytes of a media item, decrypted and checked against its digest."""
        data = open_blob(data_key, self.media.get(item.media_id),
                         _blob_context(cid, item.media_id))
        if digest(data) != item.digest:
            raise FaroError(f"item {item.seq}: the stored file does not match its digest")
        return data

    def share(self, cid: str, org_id: str, now: dt.datetime) -> None:
        """Let organization `org_id` read the case."""
        def write(pipe: Any) -> None:
            pipe.hset(keys.case_shares(cid), org_id, int(now.timestamp()))
            pipe.sadd(keys.org_cases(org_id), cid)

        self._change(cid, now, write)

    def unshare(self, cid: str, org_id: str) -> None:
        """Stop sharing the case with organization `org_id`."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hdel(keys.case_shares(cid), org_id)
        pipe.srem(keys.org_cases(org_id), cid)
        pipe.execute()

    def shared_with(self, cid: str) -> set[str]:
        """The organizations that may read the case."""
        return {org.decode() for org in self.redis.hkeys(keys.case_shares(cid))}

    def is_shared(self, cid: str, org_id: str) -> bool:
        """True when organization `org_id` may read the case."""
        return bool(self.redis.hexists(keys.case_shares(cid), org_id))

    def shared_cases(self, org_id: str) -> set[str]:
        """The contact ids of the cases shared with organization `org_id`."""
        return {cid.decode() for cid in self.redis.smembers(keys.org_cases(org_id))}

    def delete(self, cid: str) -> None:
        """Erase the case: items, meta, code, shares and every media file."""
        with self.redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(keys.case(cid), keys.case_media(cid), keys.case_shares(cid))
                    self._erase(pipe, cid)
                    return
                except redis.WatchError:
                    continue  # an append or a share came in meanwhile: look again

    def _erase(self, pipe: Any, cid: str) -> None:
        blobs = [b.decode() for b in pipe.smembers(keys.case_media(cid))]
        code, orgs = pipe.hget(keys.case(cid), "code"), pipe.hkeys(keys.case_shares(cid))
        for blob_id in blobs:  # files first: should we stop here, the keys still list them
            self.media.delete(blob_id)
        pipe.multi()
        pipe.delete(keys.case(cid), keys.case_items(cid), keys.case_media(cid),
                    keys.case_shares(cid))
        if code:
            pipe.delete(keys.case_code(code.decode()))
        for org in orgs:
            pipe.srem(keys.org_cases(org.decode()), cid)
        pipe.zrem(keys.cases_touched(), cid)
        pipe.execute()

    def touched(self, cid: str) -> dt.datetime | None:
        """When the case last changed, or None when there is no case."""
        score = self.redis.zscore(keys.cases_touched(), cid)
        return None if score is None else dt.datetime.fromtimestamp(score, dt.UTC)

    def stale(self, before: dt.datetime) -> list[str]:
        """The contact ids of cases unchanged since `before`, oldest first."""
        found = self.redis.zrangebyscore(keys.cases_touched(), "-inf", f"({before.timestamp()}")
        return [cid.decode() for cid in found]

    @staticmethod
    def _touch(pipe: Any, cid: str, now: dt.datetime) -> None:
        pipe.zadd(keys.cases_touched(), {cid: int(now.timestamp())})

    @staticmethod
    def _open_item(cid: str, data_key: bytes, seq: int, sealed: bytes) -> Item:
        return Item(**json.loads(crypto.decrypt(data_key, sealed, f"{cid}:ev:{seq}")))


def _pad(record: str) -> str:
    # Trailing spaces are valid JSON; they hide how long the person's text was.
    return record + " " * (-len(record.encode()) % RECORD_BLOCK)


def _blob_context(cid: str, blob_id: str) -> bytes:
    return f"{cid}:ev:blob:{blob_id}".encode()
