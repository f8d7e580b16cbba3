"""Console accounts and organizations, kept in Redis; passwords hashed with argon2id.

An account is keyed by an HMAC of its email, so an email never appears in a key; the
email itself is sealed in the record with a key derived from the master key.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass, replace
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bot import keys, places
from bot.crypto import derive, open_sealed, seal
from bot.errors import FaroError
from bot.shelters import Directory
from bot.staff import sessions

ROLES = ("admin", "coordinator", "shelter", "legal")
MIN_PASSWORD = 12
MAX_PASSWORD = 256  # argon2 takes any length; a megabyte "password" should not
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class AccountError(FaroError):
    """An account cannot be created as asked (bad email, role or password; already there)."""


@dataclass(frozen=True)
class Account:
    """One staff member who may sign in to the console."""

    sid: str
    name: str
    org: str
    role: str
    region: str = ""  # a Mexican state as bot.places names it: where they may act
    shelter: str = ""  # a shelter id of bot.shelters: the one they speak for


class Accounts:
    """The console's accounts: create, find, check a password, change, remove."""

    def __init__(self, redis: Any, master_key: bytes):
        self.redis = redis
        self._ids = derive(master_key, b"faro staff ids v1")
        self._aead = AESGCM(derive(master_key, b"faro staff records v1"))

    def sid_for(self, email: str) -> str:
        """The account id for `email`, whether or not such an account exists."""
        mac = hmac.new(self._ids, normalize(email).encode(), hashlib.sha256)
        return mac.hexdigest()[:32]

    def add(self, email: str, name: str, org_name: str, role: str, password: str,
            region: str = "", shelter: str = "") -> Account:
        """Create an account (and its organization if new); refuse one that exists."""
        email, name = normalize(email), name.strip()
        check(email, name, role, password)
        region, shelter = placement(self.redis, role, region, shelter)
        sid, oid = self.sid_for(email), add_org(self.redis, org_name)
        key = keys.staff(sid)
        # Claiming the hash field first makes two concurrent adds of one email safe.
        if not self.redis.hsetnx(key, "pw", hasher().hash(password)):
            raise AccountError("an account with this email exists already")
        self.redis.hset(key, mapping={
            "name": name, "org": oid, "role": role, "created": _now(),
            "region": region, "shelter": shelter,
            "email": seal(self._aead, email.encode(), key.encode())})
        self.redis.sadd(keys.staff_ids(), sid)
        return Account(sid, name, oid, role, region, shelter)

    def change(self, sid: str, role: str, region: str = "", shelter: str = "") -> Account:
        """Give account `sid` a role, region and shelter; its next request has them."""
        account = self.get(sid)
        if account is None:
            raise AccountError("there is no such account")
        check_role(role)
        region, shelter = placement(self.redis, role, region, shelter)
        self.redis.hset(keys.staff(sid), mapping={"role": role, "region": region,
                                                  "shelter": shelter})
        return replace(account, role=role, region=region, shelter=shelter)

    def remove(self, sid: str) -> Account | None:
        """Delete account `sid` and end its sessions at once; the account it was, or None."""
        account = self.get(sid)
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(keys.staff(sid))
        pipe.srem(keys.staff_ids(), sid)
        pipe.execute()
        sessions.end_all(self.redis, sid)  # else the same email added again would revive them
        return account

    def get(self, sid: str) -> Account | None:
        """The account `sid`, or None."""
        return _account(sid, self.redis.hgetall(keys.staff(sid)))

    def email(self, sid: str) -> str:
        """The email of account `sid` (decrypted), or "" when there is none."""
        key = keys.staff(sid)
        sealed = self.redis.hget(key, "email")
        return open_sealed(self._aead, sealed, key.encode()).decode() if sealed else ""

    def verify(self, email: str, password: str) -> Account | None:
        """The account when `password` is its password; None otherwise, in about equal time."""
        sid = self.sid_for(email)
        stored = self.redis.hget(keys.staff(sid), "pw")
        if not stored or len(password) > MAX_PASSWORD:
            _spend(password[:MAX_PASSWORD])  # an unknown email must not answer faster
            return None
        try:
            hasher().verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if hasher().check_needs_rehash(stored.decode()):
            self.redis.hset(keys.staff(sid), "pw", hasher().hash(password))
        return self.get(sid)

    def all(self) -> list[Account]:
        """Every account, by name."""
        return sorted(everyone(self.redis), key=lambda a: (a.name.casefold(), a.sid))


def everyone(redis: Any) -> list[Account]:
    """Every account, unsorted (no key needed: nothing secret is read)."""
    sids = sorted(_text(s) for s in redis.smembers(keys.staff_ids()))
    pipe = redis.pipeline(transaction=False)
    for sid in sids:
        pipe.hgetall(keys.staff(sid))
    found = (_account(sid, record) for sid, record in zip(sids, pipe.execute(), strict=True))
    return [a for a in found if a is not None]


def add_org(redis: Any, name: str) -> str:
    """The id of the organization called `name`, created when it is new."""
    name = " ".join(name.split())
    oid = slug(name)
    if not oid:
        raise AccountError("an organization needs a name with letters or digits")
    if redis.hsetnx(keys.org(oid), "name", name):
        redis.hset(keys.org(oid), "created", _now())
        redis.sadd(keys.orgs(), oid)
    return oid


def org_names(redis: Any) -> dict[str, str]:
    """Every organization: id -> name."""
    oids = sorted(_text(o) for o in redis.smembers(keys.orgs()))
    pipe = redis.pipeline(transaction=False)
    for oid in oids:
        pipe.hget(keys.org(oid), "name")
    return {oid: _text(name or oid) for oid, name in zip(oids, pipe.execute(), strict=True)}


def check(email: str, name: str, role: str, password: str) -> None:
    """Refuse a malformed email, an empty name, an unknown role or a weak password."""
    if len(email) > 254 or not EMAIL.match(email):
        raise AccountError("the email does not look like an email address")
    if not name:
        raise AccountError("the account needs a name")
    check_role(role)
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"the password must have at most {MAX_PASSWORD} characters")


def check_role(role: str) -> None:
    """Refuse a role the console does not know."""
    if role not in ROLES:
        raise AccountError(f"the role must be one of {', '.join(ROLES)}")


def placement(redis: Any, role: str, region: str, shelter: str) -> tuple[str, str]:
    """An account's region and shelter, checked; shelter staff get their shelter's state."""
    region, shelter = region.strip(), shelter.strip()
    if region and region not in places.states():
        raise AccountError(f"the region must be a Mexican state, such as Chihuahua, "
                           f"not {region!r}")
    if not shelter:
        return region, ""
    found = Directory(redis).get(shelter)
    if found is None:
        raise AccountError(f"there is no shelter {shelter!r}")
    if role == "shelter" and not region and found.get("state") in places.states():
        region = found["state"]  # a shelter across the border (Texas) leaves it empty
    return region, shelter


def normalize(email: str) -> str:
    """An email as it is compared and keyed: trimmed and case-folded."""
    return email.strip().casefold()


def slug(name: str) -> str:
    """A short id from an organization's name: "Al Otro Lado" -> "al-otro-lado"."""
    folded = unicodedata.normalize("NFKD", name.casefold())
    bare = "".join(c for c in folded if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", "-", bare).strip("-")[:48].strip("-")


@functools.cache
def hasher() -> PasswordHasher:
    """The argon2id hasher, with argon2-cffi's recommended parameters."""
    return PasswordHasher()


@functools.cache
def _decoy() -> str:
    return hasher().hash("a password nobody has, to spend the time of a real check")


def _spend(password: str) -> None:
    with contextlib.suppress(VerificationError):
        hasher().verify(_decoy(), password)


def _account(sid: str, record: dict[Any, Any]) -> Account | None:
    fields = {_text(k): v for k, v in record.items()}
    if fields.get("role") is None or fields.get("org") is None:
        return None  # absent, or half-written by a concurrent add
    return Account(sid, _text(fields.get("name", b"")), _text(fields["org"]),
                   _text(fields["role"]), _text(fields.get("region", b"")),
                   _text(fields.get("shelter", b"")))


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
