"""Contacts and conversations in Redis: lock, load, save, de-duplicate.

One inbound message costs two round trips: one pipeline takes the contact's lock, reads
everything the engine needs and counts the message against the sender's per-minute limit;
one transaction writes the result, marks the provider's message id as handled and releases
the lock.
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
    seen_key: str = ""
    direct: str = ""  # the id of the address the message came from (before any routing)
    sent: int = 0  # messages from that address in this minute, this one included (if counted)
    repeats: Repeats = field(default_factory=Repeats)  # the same message in a row; saved


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
        seen_key = keys.seen(msg.channel, msg.message_id) if msg.message_id else ""
        counter, sent = keys.inbound(direct) if count else "", 0
        while True:
            seen, record, sealed, alias, wrapped, counted = self._acquire(cid, token, seen_key,
                                                                          counter)
            sent, counter = sent or counted, ""  # once per message, however it is routed
            target = self._route(direct, cid, record, alias)
            if target == cid:
                break
            self.release(cid, token)
            cid = target
        if seen:
            self.release(cid, token)
            return None
        session = self._session(cid, token, seen_key, record, wrapped, sealed)
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

    def _acquire(self, cid: str, token: str, seen_key: str, counter: str) -> list[Any]:
        deadline = time.monotonic() + self.lock_timeout_ms / 1000
        pause, sent = 0.002, 0
        while True:
            got, *rest, counted = self._try_lock(cid, token, seen_key, counter)
            sent, counter = sent or counted, ""  # a retry is the same message
            if got:
                return [*rest, sent]
            if time.monotonic() > deadline:
                raise ContactBusy("contact stayed locked")
            time.sleep(pause * (1 + random.random()))
            pause = min(pause * 2, 0.05)

    def _try_lock(self, cid: str, token: str, seen_key: str, counter: str) -> list[Any]:
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(keys.lock(cid), token, nx=True, px=self.lock_timeout_ms)
        if seen_key:
            pipe.exists(seen_key)
        pipe.hgetall(keys.contact(cid))
        pipe.get(keys.conversation(cid))
        pipe.get(keys.alias(cid))
        if self.keystore.shared:
            pipe.get(keys.data_key(cid))
        if counter:  # last, so that the replies before keep their places
            pipe.incr(counter)
            pipe.expire(counter, WINDOW, nx=True)
        try:
            out = pipe.execute()
            sent, out = (out[-2], out[:-2]) if counter else (0, out)
            if not self.keystore.shared:  # a separate keystore costs one more round trip
                record = out[2 if seen_key else 1]
                out.append(self.keystore.get(cid) if out[0] and record else None)
        except redis.RedisError as exc:
            raise StoreUnavailable(str(exc)) from exc
        return [*(out if seen_key else [out[0], 0, *out[1:]]), sent]

    def _session(self, cid, token, seen_key, record, wrapped, sealed) -> Session:
        if record and wrapped:
            data_key = self.keyring.unwrap(cid, wrapped)
            profile = Profile(lang=record.get(b"l", b"").decode(),
                              opted_out=record.get(b"o") == b"1")
            state = None
            if sealed:
                raw = json.loads(crypto.decrypt(data_key, sealed, cid))
                state = State.from_dict(raw)
            return Session(cid, token, data_key, profile, state, False, wrapped, seen_key,
                           repeats=Repeats.from_record(record))
        data_key, wrapped = self.keyring.new_data_key(cid)
        return Session(cid, token, data_key, Profile(), None, True, wrapped, seen_key)

    def commit(self, session: Session, msg: Inbound, result: Step) -> None:
        """Save what one step changed, mark the message handled, release the lock."""
        cid = session.cid
        pipe = self.redis.pipeline(transaction=True)
        if any(e["type"] == "delete_contact" for e in result.effects):
            # The rest (records, media, the data key) is erased by bot.erasure right after.
            pipe.delete(keys.conversation(cid))
        else:
            self._write_contact(pipe, session, msg, result)
            if result.state is None:
                pipe.delete(keys.conversation(cid))
            else:
                blob = json.dumps(result.state.to_dict(), separators=(",", ":"))
                pipe.set(keys.conversation(cid), crypto.encrypt(session.data_key, blob, cid),
                         ex=self.conversation_ttl)
        self._finish(pipe, session)

    def hold(self, session: Session) -> None:
        """Leave a message a limit held back: keep the repeat count, mark the message
        handled, release the lock. The conversation stays where it was."""
        pipe = self.redis.pipeline(transaction=True)
        if not session.new:
            pipe.hset(keys.contact(session.cid), mapping=session.repeats.fields())
        self._finish(pipe, session)

    def _finish(self, pipe, session: Session) -> None:
        """Mark the message handled and release the lock, with what `pipe` holds already."""
        if session.seen_key:
            pipe.set(session.seen_key, 1, ex=self.dedupe_ttl)
        # EVAL, not the registered script: a pipeline first asks SCRIPT EXISTS for those,
        # which costs a round trip of its own.
        pipe.eval(RELEASE, 1, keys.lock(session.cid), session.token)
        try:
            pipe.execute()
        except redis.RedisError as exc:
            raise StoreUnavailable(str(exc)) from exc

    def _write_contact(self, pipe, session: Session, msg: Inbound, result: Step) -> None:
        now = int(time.time())
        fields: dict[str, Any] = {"l": result.profile.lang,
                                  "o": "1" if result.profile.opted_out else "0", "t": now,
                                  **session.repeats.fields()}
        if session.new:
            address = normalize_address(msg.channel, msg.address)
            fields.update({"ch": msg.key_space, "t0": now,
                           "a": crypto.encrypt(session.data_key, address, session.cid)})
            self.keystore.put(session.cid, session.wrapped_key, pipe)
        pipe.hset(keys.contact(session.cid), mapping=fields)
        pipe.hincrby(keys.contact(session.cid), "n", 1)

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
