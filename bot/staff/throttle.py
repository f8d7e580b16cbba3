"""Sign-in throttling: too many failures lock an account, or an address, out for a while.

An account is counted by its id whether or not it exists, so a lockout says nothing
about which emails have accounts. An address gets a higher limit than an account
because a shelter's whole staff often shares one.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from bot import keys
from bot.crypto import derive

WINDOW = 15 * 60  # seconds over which failures add up
LOCKOUT = 15 * 60  # seconds a scope stays locked once over its limit
LIMITS = {"a": 5, "ip": 20}


class Throttle:
    """Counts failed sign-ins per account and per address, and locks them out."""

    def __init__(self, redis: Any, master_key: bytes):
        self.redis = redis
        self._key = derive(master_key, b"faro signin throttle v1")

    def scopes(self, sid: str, address: str) -> list[tuple[str, str]]:
        """The scopes one attempt counts against: the account and the address (hashed)."""
        mac = hmac.new(self._key, address.encode(), hashlib.sha256).hexdigest()[:32]
        return [("a", sid), ("ip", mac)]

    def locked(self, scopes: list[tuple[str, str]]) -> bool:
        """True while any of `scopes` is locked out."""
        return bool(self.redis.exists(*(keys.signin_lock(s, i) for s, i in scopes)))

    def fail(self, scopes: list[tuple[str, str]]) -> bool:
        """Count one failure against each scope; True when that locked one of them."""
        pipe = self.redis.pipeline(transaction=False)
        for scope, ident in scopes:
            pipe.incr(keys.signin_failures(scope, ident))
            pipe.expire(keys.signin_failures(scope, ident), WINDOW, nx=True)
        counts = pipe.execute()[::2]
        over = [(s, i) for (s, i), n in zip(scopes, counts, strict=True) if n >= LIMITS[s]]
        for scope, ident in over:
            pipe.set(keys.signin_lock(scope, ident), 1, ex=LOCKOUT)
            pipe.delete(keys.signin_failures(scope, ident))
        pipe.execute()
        return bool(over)

    def forgive(self, scopes: list[tuple[str, str]]) -> None:
        """Forget an account's failures after it signed in (the address's stay counted)."""
        self.redis.delete(*(keys.signin_failures(s, i) for s, i in scopes if s == "a"))
