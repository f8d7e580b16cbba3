"""Alerts that staff broadcast to the people who subscribed: what, to whom, and how far.

A broadcast is written once (`Spec`: who sends it, to which areas and topic, the text per
language) and then moves through statuses: awaiting_approval (when its audience is larger
than FARO_APPROVAL_ABOVE and a second person must agree), scheduled, planning, sending,
done, or cancelled. The worker (worker/broadcast.py) does the sending; this module keeps
the record, picks the audience and counts what happened.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import redis

from bot import keys
from bot.engine import fill
from bot.errors import FaroError
from bot.places import MEXICO, states
from bot.scams import fold
from bot.segments import cheapest
from bot.subscriptions import TOPICS, wants

CHANNELS = ("sms", "whatsapp", "telegram")
STATUSES = ("awaiting_approval", "scheduled", "planning", "sending", "done", "cancelled")
LIVE = ("awaiting_approval", "scheduled", "planning", "sending")
COUNTS = ("total", "sent", "delivered", "failed", "undelivered", "skipped", "outside",
          "resent", "via_sms", "template")
MAX_TEXT = 1000  # characters per language: an alert is short; SMS bills every 153
KEEP = dt.timedelta(days=180)
KEEP_WORK = dt.timedelta(days=2)
KEEP_SIDS = dt.timedelta(days=7)
# The contact fields an alert needs: opted out, language, key space, area, topics, last seen.
FIELDS = ("o", "l", "ch", "sr", "sc", "st", "t")
SPACE_CHANNEL = {"phone": "sms", "whatsapp": "whatsapp", "telegram": "telegram"}
CHUNK = 2000  # contacts read per pipeline

# Compare-and-set of a broadcast's status: ARGV[1] the new status, ARGV[2] the field that
# records when, ARGV[3] the time, ARGV[4..] the statuses it may move from. 1 when moved.
MOVE = """
local status = redis.call('HGET', KEYS[1], 'status')
for i = 4, #ARGV do
  if status == ARGV[i] then
    redis.call('HSET', KEYS[1], 'status', ARGV[1], ARGV[2], ARGV[3])
    return 1
  end
end
return 0
"""


class BroadcastError(FaroError):
    """A broadcast cannot be written or changed as asked; the message says why."""


@dataclass(frozen=True)
class Area:
    """A Mexican state, or one city of it."""

    state: str
    city: str = ""

    def covers(self, state: str, city: str) -> bool:
        """Whether a person subscribed for (`state`, `city`) is in this area.

        Someone who chose a whole state gets its cities' alerts too; someone who chose a
        city gets that city's and the whole state's, not another city's.
        """
        if state != self.state:
            return False
        return not self.city or not city or _fold(city) == _fold(self.city)

    def label(self) -> str:
        """"Tijuana, Baja California" or "Baja California"."""
        return f"{self.city}, {self.state}" if self.city else self.state


@dataclass(frozen=True)
class Spec:
    """What a broadcast says and to whom; everything staff decide when composing."""

    org: str  # organization id; its name is in `org_name` as it was when sent
    org_name: str
    author: str  # staff sid, or "cli"
    areas: tuple[Area, ...]
    topic: str
    texts: dict[str, str]  # language -> text
    lang: str  # the sender's language: the text for anyone whose language has none
    channels: tuple[str, ...] = CHANNELS
    languages: tuple[str, ...] = ()  # only people with these languages; () is everyone
    send_at: str = ""  # ISO time, "" for now

    def check(self, offered: Iterable[str]) -> None:
        """Refuse a spec that cannot be sent, with a reason staff can act on."""
        offered = set(offered)
        if not self.areas:
            raise BroadcastError("Choose at least one state.")
        known = set(states())
        for area in self.areas:
            if area.state not in known:
                raise BroadcastError(f"Unknown state: {area.state}.")
        if self.topic not in TOPICS:
            raise BroadcastError(f"The topic must be one of {', '.join(TOPICS)}.")
        if not self.channels or set(self.channels) - set(CHANNELS):
            raise BroadcastError("Choose at least one channel.")
        if set(self.languages) - offered:
            raise BroadcastError("Choose only languages Faro speaks.")
        if not self.texts.get(self.lang, "").strip():
            raise BroadcastError("Write the text in your own language: it is the fallback.")
        for lang, text in self.texts.items():
            if lang not in offered:
                raise BroadcastError(f"Faro does not speak {lang}.")
            if len(text) > MAX_TEXT:
                raise BroadcastError(f"The {lang} text is longer than {MAX_TEXT} characters.")
        if not self.org_name.strip():
            raise BroadcastError("Every alert names the organization that sends it.")

    def text_for(self, lang: str) -> tuple[str, str]:
        """(language, text) a person speaking `lang` gets: theirs, else the sender's."""
        text = self.texts.get(lang, "").strip()
        return (lang, text) if text else (self.lang, self.texts[self.lang].strip())

    def wants(self, record: dict[str, str]) -> bool:
        """Whether a subscribed contact (its FIELDS) is in this broadcast's audience,
        opted out or not."""
        channel = SPACE_CHANNEL.get(record.get("ch", ""), "")
        return (channel in self.channels
                and any(a.covers(record.get("sr", ""), record.get("sc", ""))
                        for a in self.areas)
                and wants(record.get("st", ""), self.topic)
                and (not self.languages or record.get("l", "") in self.languages))

    def to_json(self) -> str:
        """The spec as JSON, for its record."""
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, raw: str | bytes) -> Spec:
        """A spec from its record."""
        data = json.loads(raw)
        data["areas"] = tuple(Area(**a) for a in data["areas"])
        data["channels"], data["languages"] = tuple(data["channels"]), tuple(data["languages"])
        return cls(**data)


@dataclass
class Audience:
    """Who a spec reaches now: counts by area, language and channel, and the opted out."""

    total: int = 0
    opted_out: int = 0
    areas: Counter = field(default_factory=Counter)
    languages: Counter = field(default_factory=Counter)
    channels: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        """The counts as plain JSON-ready data."""
        return {"total": self.total, "opted_out": self.opted_out,
                "areas": dict(self.areas.most_common()),
                "languages": dict(self.languages.most_common()),
                "channels": dict(self.channels.most_common())}


def subscribers(client: redis.Redis, spec: Spec) -> Iterator[tuple[str, dict[str, str]]]:
    """(contact id, FIELDS) of everyone subscribed in the spec's states who wants it,
    opted out included, in a stable order."""
    states = sorted({a.state for a in spec.areas})
    cids = sorted(set().union(*(_members(client, keys.subscribers(s)) for s in states)))
    for start in range(0, len(cids), CHUNK):
        part = cids[start:start + CHUNK]
        pipe = client.pipeline(transaction=False)
        for cid in part:
            pipe.hmget(keys.contact(cid), FIELDS)
        for cid, values in zip(part, pipe.execute(), strict=True):
            record = {f: v.decode() for f, v in zip(FIELDS, values, strict=True) if v is not None}
            if record and spec.wants(record):
                yield cid, record


def audience(client: redis.Redis, spec: Spec) -> Audience:
    """Count who `spec` reaches now (a preview: the worker counts again when it sends)."""
    found = Audience()
    for _cid, record in subscribers(client, spec):
        if record.get("o") == "1":
            found.opted_out += 1
            continue
        found.total += 1
        area = Area(record.get("sr", ""), record.get("sc", ""))
        found.areas[area.label()] += 1
        found.languages[record.get("l") or "?"] += 1
        found.channels[SPACE_CHANNEL.get(record.get("ch", ""), "?")] += 1
    return found


@dataclass(frozen=True)
class Broadcast:
    """A broadcast as stored: its spec, status, times and counts."""

    id: str
    spec: Spec
    status: str
    times: dict[str, str]
    counts: dict[str, int]
    approver: str = ""

    @property
    def done(self) -> int:
        """Recipients the worker has finished with, whatever happened to them."""
        c = self.counts
        return c["sent"] + c["failed"] + c["skipped"] + c["outside"]

    @property
    def queued(self) -> int:
        """Recipients still waiting to be sent (or never sent, once cancelled)."""
        return max(0, self.counts["total"] - self.done)

    def progress(self) -> dict[str, Any]:
        """What the progress bar and `faro broadcast watch` show."""
        c, total = self.counts, self.counts["total"]
        percent = 100 if self.status == "done" else (100 * self.done // total if total else 0)
        return {"id": self.id, "status": self.status, "percent": percent, "total": total,
                "queued": self.queued, "sent": c["sent"], "delivered": c["delivered"],
                "failed": c["failed"] + c["undelivered"], "skipped": c["skipped"],
                "outside": c["outside"], "via_sms": c["via_sms"], "template": c["template"]}


class Broadcasts:
    """The broadcasts in Redis: write, approve, cancel, read."""

    def __init__(self, client: redis.Redis):
        self.redis = client
        self._move = client.register_script(MOVE)

    def create(self, spec: Spec, needs_approval: bool, now: dt.datetime,
               reach: int = 0) -> Broadcast:
        """Store a new broadcast, awaiting approval or scheduled; `reach` is the audience
        the preview counted (the worker counts again when it starts)."""
        bid = secrets.token_hex(6)
        status = "awaiting_approval" if needs_approval else "scheduled"
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(keys.broadcast(bid), mapping={"spec": spec.to_json(), "status": status,
                                                "created": _iso(now)})
        pipe.hset(keys.broadcast(bid, "n"), mapping={**dict.fromkeys(COUNTS, 0), "total": reach})
        pipe.zadd(keys.broadcasts(), {bid: now.timestamp()})
        pipe.execute()
        found = self.get(bid)
        assert found is not None
        return found

    def get(self, bid: str) -> Broadcast | None:
        """The broadcast `bid`, or None."""
        if not bid.isalnum():
            return None
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(keys.broadcast(bid))
        pipe.hgetall(keys.broadcast(bid, "n"))
        record, counts = pipe.execute()
        if not record:
            return None
        fields = {k.decode(): v.decode() for k, v in record.items()}
        tally = dict.fromkeys(COUNTS, 0) | {k.decode(): int(v) for k, v in counts.items()}
        times = {k: v for k, v in fields.items() if k not in ("spec", "status", "approver")}
        return Broadcast(bid, Spec.from_json(fields["spec"]), fields["status"], times, tally,
                         fields.get("approver", ""))

    def recent(self, limit: int = 50) -> list[Broadcast]:
        """The newest broadcasts first."""
        ids = [i.decode() for i in self.redis.zrevrange(keys.broadcasts(), 0, limit - 1)]
        return [b for b in map(self.get, ids) if b is not None]

    def live(self) -> list[str]:
        """Ids of broadcasts not yet done or cancelled (for recovery after a crash)."""
        ids = [i.decode() for i in self.redis.zrange(keys.broadcasts(), 0, -1)]
        pipe = self.redis.pipeline(transaction=False)
        for bid in ids:
            pipe.hget(keys.broadcast(bid), "status")
        return [bid for bid, status in zip(ids, pipe.execute(), strict=True)
                if status and status.decode() in LIVE]

    def move(self, bid: str, to: str, now: dt.datetime, *, from_: Iterable[str],
             client: Any = None) -> bool:
        """Move `bid` to status `to` if it is in one of `from_`; record when. True if moved."""
        return bool(self._move(keys=[keys.broadcast(bid)],
                               args=[to, to, _iso(now), *from_], client=client or self.redis))

    def approve(self, bid: str, sid: str, now: dt.datetime) -> bool:
        """A second person agrees: the broadcast is scheduled. False if it was not waiting."""
        broadcast = self.get(bid)
        if broadcast is None or broadcast.spec.author == sid:
            return False
        moved = self.move(bid, "scheduled", now, from_=("awaiting_approval",))
        if moved:
            self.redis.hset(keys.broadcast(bid), "approver", sid)
        return moved

    def cancel(self, bid: str, now: dt.datetime) -> bool:
        """Stop a broadcast that is not finished; those not yet sent never will be."""
        return self.move(bid, "cancelled", now, from_=LIVE)

    def status(self, bid: str) -> str:
        """The current status of `bid` ("" when unknown)."""
        value = self.redis.hget(keys.broadcast(bid), "status")
        return value.decode() if value else ""


def send_time(local: dt.datetime) -> str:
    """A send time in Mexico City time as a Spec keeps it (UTC, ISO); BroadcastError when
    no clock holds it in UTC (the last hours of year 9999)."""
    try:
        return local.replace(tzinfo=MEXICO).astimezone(dt.UTC).isoformat(timespec="seconds")
    except OverflowError as exc:
        raise BroadcastError("The send time is too far away.") from exc


def render(spec: Spec, content: Any, lang: str, channel: str = "whatsapp") -> str:
    """The alert as a person speaking `lang` gets it: who sends it, the text, how to stop.

    Who sends it and how to stop are in the person's language even when the text is in
    the sender's. On SMS, accents GSM-7 lacks are dropped when that saves segments.
    """
    _lang, text = spec.text_for(lang)
    say = lang if lang in content.languages else spec.lang
    header = fill(content.t(say, content.messages["alert_from"]), {"org": spec.org_name})
    footer = content.t(say, content.messages["alert_stop"])
    body = f"{header}\n{text}\n{footer}"
    return cheapest(body) if channel == "sms" else body


def _members(client: redis.Redis, key: str) -> set[str]:
    # In pages: one SMEMBERS of a state with 500,000 subscribers holds Redis for 0.4 s,
    # and every webhook would wait (docs/scaling.md).
    return {m.decode() for m in client.sscan_iter(key, count=5000)}


def _fold(text: str) -> str:
    return " ".join(fold(text).split())


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="seconds")
