"""The audit log: who did what in the console and the CLI, kept in a Redis stream.

An entry names an actor (a staff id, or "cli"), an action ("signin.ok", "case.view",
...), a target (a case code, a staff id, a week) and a few details. It never holds a
message body, a phone number or an email: callers pass ids and codes, and the keys
below are refused so that a slip shows up in tests instead of in the log.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from bot import keys

MAX_ENTRIES = 100_000
PAGE = 500
MAX_VALUE = 200
REFUSED = frozenset(("text", "body", "message", "phone", "address", "email", "password"))

# What the console and the CLI record; other modules may record more.
ACTIONS = (
    "signin.ok", "signin.failed", "signout", "audit.view", "scams.view", "scams.texts",
    "access.denied", "case.denied", "case.view", "case.media", "case.export", "staff.add",
    "account.add", "account.change", "account.remove", "capacity.set", "broadcast.create",
    "broadcast.view", "broadcast.approve", "broadcast.cancel",
)


@dataclass(frozen=True)
class Entry:
    """One audit entry, as read back."""

    id: str
    at: dt.datetime
    actor: str
    action: str
    target: str
    details: dict[str, Any] = field(default_factory=dict)


def record(redis: Any, actor: str, action: str, target: str = "", **details: Any) -> str:
    """Append one entry to the audit log; return its stream id."""
    refused = REFUSED & set(details)
    if refused:
        raise ValueError(f"the audit log never holds {', '.join(sorted(refused))}")
    fields = {"actor": actor, "action": action, "target": str(target)[:MAX_VALUE],
              "details": json.dumps({k: _scalar(v) for k, v in details.items()})}
    entry_id = redis.xadd(keys.audit(), fields, maxlen=MAX_ENTRIES, approximate=True)
    return _text(entry_id)


def read(redis: Any, count: int, actor: str | None = None,
         action: str | None = None) -> list[Entry]:
    """The newest `count` entries, newest first, by `actor` and of `action` when given.

    An action filter also matches its family: "case" matches "case.view".
    """
    found: list[Entry] = []
    last = "+"
    while len(found) < count:
        page = redis.xrevrange(keys.audit(), max=last, min="-", count=PAGE)
        found += [e for e in map(_entry, page) if _matches(e, actor, action)]
        if len(page) < PAGE:
            break
        last = "(" + _text(page[-1][0])  # exclusive: the next page starts after this one
    return found[:count]


def _matches(entry: Entry, actor: str | None, action: str | None) -> bool:
    if actor and entry.actor != actor:
        return False
    return not action or entry.action == action or entry.action.startswith(action + ".")


def _entry(raw: tuple[Any, dict[Any, Any]]) -> Entry:
    entry_id, fields = _text(raw[0]), {_text(k): _text(v) for k, v in raw[1].items()}
    millis = int(entry_id.split("-")[0])
    return Entry(entry_id, dt.datetime.fromtimestamp(millis / 1000, dt.UTC),
                 fields.get("actor", ""), fields.get("action", ""), fields.get("target", ""),
                 json.loads(fields.get("details") or "{}"))


def _scalar(value: Any) -> Any:
    if isinstance(value, bool | int | float) or value is None:
        return value
    return str(value)[:MAX_VALUE]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
