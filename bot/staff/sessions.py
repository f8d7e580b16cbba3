"""Signed-in console sessions, kept in Redis so that signing out really ends them.

The session cookie carries the account id, its role and a random token; Redis maps the
token to the account for as long as it is used, and forgets it after the idle timeout.
"""

from __future__ import annotations

import secrets
from typing import Any

from bot import keys

IDLE = 8 * 3600  # seconds without a request before a session ends


def start(redis: Any, sid: str) -> str:
    """Open a session for account `sid`; return its token."""
    token = secrets.token_urlsafe(32)
    pipe = redis.pipeline(transaction=False)
    pipe.set(keys.staff_session(token), sid, ex=IDLE)
    pipe.sadd(keys.staff_sessions(sid), token)
    pipe.expire(keys.staff_sessions(sid), IDLE)
    pipe.execute()
    return token


def resume(redis: Any, token: str, sid: str) -> bool:
    """True when `token` is a live session of `sid`; renew its idle timeout."""
    if not token or not sid:
        return False
    pipe = redis.pipeline(transaction=False)
    pipe.get(keys.staff_session(token))
    pipe.expire(keys.staff_session(token), IDLE, xx=True)
    pipe.expire(keys.staff_sessions(sid), IDLE, xx=True)  # outlives every live session
    owner, *_renewed = pipe.execute()
    return owner is not None and owner.decode() == sid


def end(redis: Any, token: str) -> None:
    """Close a session: its cookie no longer signs anyone in."""
    if token:
        redis.delete(keys.staff_session(token))


def end_all(redis: Any, sid: str) -> None:
    """Close every session of account `sid` at once."""
    tokens = [t.decode() for t in redis.smembers(keys.staff_sessions(sid))]
    redis.delete(keys.staff_sessions(sid), *(keys.staff_session(t) for t in tokens))
