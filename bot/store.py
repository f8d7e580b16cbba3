"""Contacts and conversations in Redis: lock, load, save, de-duplicate.

One inbound message costs two round trips, each one Lua script: LOAD takes the contact's
lock, counts the message against the sender's per-minute limit and reads everything the
engine needs (or, for a message handled before, lets go of the lock at once); SAVE writes
the result, marks the provider's message id as handled and releases the lock. One script
per step, rather than a pipeline of seven commands, is what makes a step cheap for the web
process: redis-py spends more CPU packing and parsing each command than the round trip
takes. Every key a script touches carries the contact's hash tag, so both run on Cluster.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import time
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
import redis

from bot import crypto, keys
from bot.crypto import Keyring
from bot.engine import Profile, State, Step
from bot.errors import BadRequest, ContactBusy, StoreUnavailable
from bot.keystore import Keystore
from bot.limits import WINDOW, Repeats
from bot.message import Inbound

RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
# KEYS: lock, contact, conversation, alias, handled message ids, wrapped data key, inbound
# counter. ARGV: lock token, lock ms, the message's "<channel>:<id>" ('' for none), read the
# data key (1/0), count (1/0), the counter's window in seconds.
# Returns {0, counted} when another holds the lock; {1, counted, 1} for a message handled
# before (the lock let go again); else {1, counted, 0, contact fields, conversation, alias,
# wrapped data key}.
LOAD = """
local counted = 0
if ARGV[5] == '1' then
  counted = redis.call('incr', KEYS[7])
  if counted == 1 or redis.call('ttl', KEYS[7]) == -1 then
    redis.call('expire', KEYS[7], ARGV[6])
  end
end
if not redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {0, counted} end
if ARGV[3] ~= '' and redis.call('zscore', KEYS[5], ARGV[3]) then
  redis.call('del', KEYS[1])
  return {1, counted, 1}
end
local wrapped = false
if ARGV[4] == '1' then wrapped = redis.call('get', KEYS[6]) end
return {1, counted, 0, redis.call('hgetall', KEYS[2]), redis.call('get', KEYS[3]),
        redis.call('get', KEYS[4]), wrapped}
"""
# KEYS: contact, conversation, handled message ids, lock, wrapped data key.
# ARGV: lock token; the conversation: keep, del or set; the sealed state and its ttl (for
# set); the message's "<channel>:<id>" ('' for none), now (epoch s) and how long marks last;
# the wrapped data key to store ('' for none); the contact record: '' untouched, 'set' the
# fields, 'step' the fields and one more message; then the fields, as name, value...
# Writes land even when the lock timed out meanwhile (what the person said is not lost);
# the lock is released only if it is still ours.
SAVE = """
if ARGV[9] ~= '' then
  if #ARGV > 9 then redis.call('hset', KEYS[1], unpack(ARGV, 10)) end
  if ARGV[9] == 'step' then redis.call('hincrby', KEYS[1], 'n', 1) end
end
if ARGV[2] == 'del' then redis.call('del', KEYS[2])
elseif ARGV[2] == 'set' then redis.call('set', KEYS[2], ARGV[3], 'EX', ARGV[4]) end
if ARGV[8] ~= '' then redis.call('set', KEYS[5], ARGV[8]) end
if ARGV[5] ~= '' then
  local now, ttl = tonumber(ARGV[6]), tonumber(ARGV[7])
  redis.call('zadd', KEYS[3], now, ARGV[5])
  redis.call('zremrangebyscore', KEYS[3], '-inf', now - ttl)
  redis.call('zremrangebyrank', KEYS[3], 0, -501)  -- a flood keeps the newest 500
  redis.call('expire', KEYS[3], ttl)
end
if redis.call('get', KEYS[4]) == ARGV[1] then redis.call('del', KEYS[4]) end
return 1
"""
# What a phone number may look like before parsing: digits and separators, no letters
# (phonenumbers reads letters as keypad digits, so "+52155ABC" would become another number).
PHONE_SHAPE = re.compile(r"\+?[0-9][0-9 ().-]{5,24}")


@dataclass
class Session:
    """One locked contact while a message is handled."""

    cid: str
    token: str
    data_key: bytes
    profile: Profile
    state: State | None
    new: bool
    wrapped_key: bytes = b""
    mark: str = ""  # "<channel>:<provider message id>", marked handled on save
    direct: str = ""  # the id of the address the message came from (before any routing)
    sent: int = 0  # messages from that address in this minute, this one included (if counted)
    repeats: Repeats = field(default_factory=Repeats)  # the same message in a row; saved


@dataclass
class Loaded:
    """What LOAD read for one contact."""

    locked: bool
    counted: int  # messages from the address this minute, this one included (0: not counted)
    mark: str  # "<channel>:<provider message id>", or "" when the provider gave none
    seen: bool = False
    record: dict[bytes, bytes] = field(default_factory=dict)
    sealed: bytes | None = None
    alias: bytes | None = None
    wrapped: bytes | None = None


def normalize_address(channel: str, address: str) -> str:
    """The canonical form of an address, so one person always gets one contact id."""
    address = address.strip()
    if channel in ("sms", "whatsapp", "voice"):
        address = address.removeprefix("whatsapp:")
        if not PHONE_SHAPE.fullmatch(address):
            raise BadRequest("the sender is not a phone number")
        try:
            number = phonenumbers.parse(address, None)
        except phonenumbers.NumberParseException as exc:
            raise BadRequest("the sender is not a phone number") from exc
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if not address:
        raise BadRequest("the sender is missing")
    return address


class Store:
    """Faro's state in Redis, as the conversation pipeline needs it."""

    def __init__(self, client: redis.Redis, keyring: Keyring, *, conversation_ttl: int,
                 dedupe_ttl: int, lock_timeout_ms: int, keystore: Keystore | None = None):
        self.redis = client
        self.keyring = keyring
        self.keystore = keystore or Keystore(client, shared=True)
        self.conversation_ttl = conversation_ttl
        self.dedupe_ttl = dedupe_ttl
        self.lock_timeout_ms = lock_timeout_ms
        self._release = client.register_script(RELEASE)
        self._load = client.register_script(LOAD)
        self._write = client.register_script(SAVE)

    def contact_id(self, msg: Inbound) -> str:
        """The contact id of the sender of `msg`."""
        return self.keyring.contact_id(msg.key_space, normalize_address(msg.channel, msg.address))

    def begin(self, msg: Inbound, count: bool = False) -> Session | None:
        """Lock the sender's contact and load it; None when the message was seen before.

        An address linked by a recovery phrase is routed to the contact it was linked to;
        an address cut off from its contact (a stolen phone) gets a fresh contact of its own.
        With `count`, the message counts against its address's messages this minute
        (`Session.sent`), in the same round trip.
        """
        direct = cid = self.contact_id(msg)
        token = os.urandom(8).hex()
        counter, sent = count, 0
        while True:
            loaded = self._acquire(cid, token, msg, counter)
            sent, counter = sent or loaded.counted, False  # once per message, however routed
            if loaded.seen:
                return None
            target = self._route(direct, cid, loaded.record, loaded.alias)
            if target == cid:
                break
            self.release(cid, token)
            cid = target
        session = self._session(cid, token, loaded)
        session.mark = loaded.mark
        session.direct, session.sent = direct, sent
        return session

    def _route(self, direct: str, cid: str, record: dict, alias: bytes | None) -> str:
        if cid != direct:
            return cid
        if alias:
            return alias.decode()
        if record.get(b"b") == b"1":
            return self.keyring.contact_id("cut-off", direct)
        return cid

    def _acquire(self, cid: str, token: str, msg: Inbound, count: bool) -> Loaded:
        deadline = time.monotonic() + self.lock_timeout_ms / 1000
        pause, sent = 0.002, 0
        while True:
            loaded = self._try_lock(cid, token, msg, count)
            sent, count = sent or loaded.counted, False  # a retry is the same message
            if loaded.locked:
                loaded.counted = sent
                return loaded
            if time.monotonic() > deadline:
                raise ContactBusy("contact stayed locked")
            time.sleep(pause * (1 + random.random()))
            pause = min(pause * 2, 0.05)

    def _try_lock(self, cid: str, token: str, msg: Inbound, count: bool) -> Loaded:
        # Marks are kept by the contact a message is routed to, under its hash tag; unused
        # keys are passed anyway, as Cluster wants every key a script touches named.
        mark = f"{msg.channel}:{msg.message_id}" if msg.message_id else ""
        try:
            out = self._load(keys=[keys.lock(cid), keys.contact(cid), keys.conversation(cid),
                                   keys.alias(cid), keys.seen(cid), keys.data_key(cid),
                                   keys.inbound(cid)],
                             args=[token, self.lock_timeout_ms, mark,
                                   int(self.keystore.shared), int(count), WINDOW])
            loaded = Loaded(bool(out[0]), out[1], mark)
            if not loaded.locked or out[2]:
                loaded.seen = bool(loaded.locked)
                return loaded
            fields, loaded.sealed, loaded.alias, loaded.wrapped = out[3:]
            loaded.record = dict(zip(fields[::2], fields[1::2], strict=True))
            if not self.keystore.shared and loaded.record:
                # A separate keystore costs one more round trip, to its own server.
                loaded.wrapped = self.keystore.get(cid)
        except redis.RedisError as exc:
            raise StoreUnavailable(str(exc)) from exc
        return loaded

    def _session(self, cid: str, token: str, loaded: Loaded) -> Session:
        record, wrapped = loaded.record, loaded.wrapped
        if record and wrapped:
            data_key = self.keyring.unwrap(cid, wrapped)
            profile = Profile(lang=record.get(b"l", b"").decode(),
                              opted_out=record.get(b"o") == b"1")
            state = None
            if loaded.sealed:
                raw = json.loads(crypto.decrypt(data_key, loaded.sealed, cid))
                state = State.from_dict(raw)
            return Session(cid, token, data_key, profile, state, False, wrapped,
                           repeats=Repeats.from_record(record))
        data_key, wrapped = self.keyring.new_data_key(cid)
        return Session(cid, token, data_key, Profile(), None, True, wrapped)

    def commit(self, session: Session, msg: Inbound, result: Step) -> None:
        """Save what one step changed, mark the message handled, release the lock."""
        if any(e["type"] == "delete_contact" for e in result.effects):
            # The rest (records, media, the data key) is erased by bot.erasure right after.
            self._save(session, "del")
            return
        now = int(time.time())
        fields: dict[str, Any] = {"l": result.profile.lang,
                                  "o": "1" if result.profile.opted_out else "0", "t": now,
                                  **session.repeats.fields()}
        wrapped = b""
        if session.new:
            address = normalize_address(msg.channel, msg.address)
            fields.update({"ch": msg.key_space, "t0": now,
                           "a": crypto.encrypt(session.data_key, address, session.cid)})
            if self.keystore.shared:
                wrapped = session.wrapped_key
            else:  # before the record that needs it: a record never outlives its key
                self.keystore.put(session.cid, session.wrapped_key)
        if result.state is None:
            self._save(session, "del", fields=fields, contact="step", wrapped=wrapped)
            return
        blob = json.dumps(result.state.to_dict(), separators=(",", ":"))
        self._save(session, "set", crypto.encrypt(session.data_key, blob, session.cid),
                   fields, "step", wrapped)

    def hold(self, session: Session) -> None:
        """Leave a message a limit held back: keep the repeat count, mark the message
        handled, release the lock. The conversation stays where it was."""
        self._save(session, "keep", fields=session.repeats.fields(),
                   contact="" if session.new else "set")

    def _save(self, session: Session, conversation: str, sealed: bytes = b"",
              fields: dict[str, Any] | None = None, contact: str = "",
              wrapped: bytes = b"") -> None:
        """Run SAVE: the conversation kept, deleted or set to `sealed`; the contact
        record's `fields`; the mark; the lock released."""
        cid = session.cid
        pairs = [item for pair in (fields or {}).items() for item in pair]
        try:
            self._write(keys=[keys.contact(cid), keys.conversation(cid),
                              keys.seen(cid), keys.lock(cid), keys.data_key(cid)],
                        args=[session.token, conversation, sealed, self.conversation_ttl,
                              session.mark, int(time.time()), self.dedupe_ttl, wrapped,
                              contact, *pairs])
        except redis.RedisError as exc:
            raise StoreUnavailable(str(exc)) from exc

    def release(self, cid: str, token: str) -> None:
        """Release a contact's lock if we still hold it."""
        with contextlib.suppress(redis.RedisError):  # the lock expires by itself anyway
            self._release(keys=[keys.lock(cid)], args=[token])

    def opt_out(self, cid: str) -> None:
        """Mark a known contact as opted out of every alert (a provider said STOP)."""
        if self.redis.exists(keys.contact(cid)):
            self.redis.hset(keys.contact(cid), "o", "1")

    def data_key(self, cid: str) -> bytes | None:
        """The data key of contact `cid`, unwrapped; None once the contact is erased."""
        wrapped = self.keystore.get(cid)
        return self.keyring.unwrap(cid, wrapped) if wrapped else None

    def address(self, cid: str) -> tuple[str, str] | None:
        """The (key space, address) of a contact, decrypted; None when it is gone."""
        sealed, space = self.redis.hmget(keys.contact(cid), ["a", "ch"])
        data_key = self.data_key(cid) if sealed else None
        if data_key is None:
            return None
        return space.decode(), crypto.decrypt(data_key, sealed, cid)
