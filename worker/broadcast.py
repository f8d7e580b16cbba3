"""Sending a broadcast: plan the audience, fan out in batches, survive a killed worker.

- `launch` (console, CLI) enqueues `start` now or at the broadcast's send time.
- `start` picks the audience once (opted-out people are counted and skipped), stores the
  recipients in order, records the alert texts (so forwarded copies can be checked) and
  enqueues one `send_batch` job per FARO_BROADCAST_BATCH recipients, all in one
  transaction with the move to "sending".
- `send_batch` holds a lease on its batch (one job per batch at a time), takes a token
  from the sender's bucket (worker/ratelimit.py) before each message, marks the recipient
  claimed, sends, and marks it sent. It gives way to conversation replies: when one is
  waiting, or after a time slice, it re-enqueues the rest of its batch and returns.
- A worker killed at any moment leaves at most one recipient claimed but not marked.
  The next job on that batch asks Twilio whether the message went (Messages list) and
  sends only if it did not. The Bot API cannot be asked, so a Telegram recipient in that
  state gets the alert again (counted as "resent"): a repeated alert is better than a
  missed one.
- `watch` (every few seconds while sending, scheduled) and `recover` (when a worker
  starts) re-enqueue batches whose job died, and finish a broadcast whose batches are done.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from bot import crypto, keys, metrics
from bot.alerts import AlertLog
from bot.broadcasts import KEEP, KEEP_SIDS, KEEP_WORK, Broadcasts, Spec, render, subscribers
from bot.channels.render import TelegramCall
from bot.content import Content
from bot.errors import DeliveryError
from bot.outbound import TelegramSender, TwilioSender
from bot.segments import segments
from bot.settings import Settings
from bot.store import Store
from worker import orphans
from worker.jobs import _context, pack
from worker.queues import queue
from worker.ratelimit import Limit, TokenBucket

log = logging.getLogger("faro.worker")

LEASE = 15  # seconds; longer than one provider call (10 s); renewed while we wait
SLICE = 20.0  # seconds a batch job sends before it gives the worker back
SENDERS = 8  # threads sending at once in one job (one claimed recipient each)
CHECK_EVERY = 0.5  # seconds between looks at cancel, waiting replies and the lease
BACKOFF = (1.0, 2.0, 4.0, 8.0)  # seconds between tries on 429, 5xx and network errors
MAX_WAIT = 60.0  # the longest Retry-After we honour inside a job
WATCH_EVERY = dt.timedelta(seconds=5)
DAY = 24 * 3600
TWILIO_STOPPED = "21610"  # the number said STOP: opt it out, never send again

# KEYS[1] lease; ARGV[1] holder, ARGV[2] seconds. 1 while we hold it (renewed), else 0.
RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""
# Claim one recipient. KEYS: the recipients' marks, the contact, the broadcast, the RQ
# queue of conversation replies; ARGV: index, claim, 1 if the recipient was unclaimed.
# 3: the broadcast is no longer sending; 2: a reply waits (stop taking new recipients);
# 0: the contact opted out (or is gone); 1: claimed. One round trip, read at the last moment.
CLAIM = """
if redis.call('HGET', KEYS[3], 'status') ~= 'sending' then return 3 end
if ARGV[3] == '1' and redis.call('LLEN', KEYS[4]) > 0 then return 2 end
if redis.call('HGET', KEYS[2], 'o') ~= '0' then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""




def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def launch(client: redis.Redis, bid: str) -> None:
    """Enqueue the start of a scheduled broadcast, now or at its send time."""
    found = Broadcasts(client).get(bid)
    if found is None or found.status != "scheduled":
        return
    q = queue(client, "default")  # planning is quick: it must not wait behind other batches
    job_id = f"faro-bc-{bid}-start"
    at = dt.datetime.fromisoformat(found.spec.send_at) if found.spec.send_at else None
    if at and at > _now():
        q.enqueue_at(at, start, bid, job_id=job_id)
    else:
        q.enqueue(start, bid, job_id=job_id)


def start(bid: str) -> int:
    """Plan a scheduled broadcast and enqueue its batches; return how many recipients."""
    settings, store = _context()
    book, now = Broadcasts(store.redis), _now()
    found = book.get(bid)
    if found is None or found.status not in ("scheduled", "planning"):
        return 0  # cancelled before its time, or started already
    book.move(bid, "planning", now, from_=("scheduled",))
    spec, content = found.spec, pack()
    recipients, opted_out = [], 0
    for cid, record in subscribers(store.redis, spec):
        if record.get("o") == "1":
            opted_out += 1
        else:
            recipients.append(cid)
    _record_texts(store.redis, bid, spec, content, now)
    size = settings.broadcast_batch
    batches = range((len(recipients) + size - 1) // size)
    q = queue(store.redis, "broadcasts")
    pipe = store.redis.pipeline(transaction=True)
    for part in ("to", "r", "todo", "jobs", "sids"):
        pipe.delete(keys.broadcast(bid, part))  # a start that died half-way begins again
    for first in range(0, len(recipients), 10_000):
        pipe.rpush(keys.broadcast(bid, "to"), *recipients[first:first + 10_000])
    pipe.hset(keys.broadcast(bid, "n"), mapping={"total": len(recipients) + opted_out,
                                                 "skipped": opted_out})
    if batches:
        pipe.sadd(keys.broadcast(bid, "todo"), *batches)
        pipe.hset(keys.broadcast(bid, "jobs"),
                  mapping={n: _job_id(bid, n, 0) for n in batches})
        q.enqueue_many([Queue.prepare_data(send_batch, (bid, n, 0), job_id=_job_id(bid, n, 0),
                                           timeout=LEASE * 4, result_ttl=600)
                        for n in batches], pipeline=pipe)
    book.move(bid, "sending", now, from_=("planning",), client=pipe)
    pipe.execute()
    log.info("broadcast planned", extra={"broadcast": bid, "recipients": len(recipients),
                                         "batches": len(batches)})
    if not batches:
        finish(store.redis, bid)
    else:
        _schedule_watch(store.redis, bid)
    return len(recipients)


def _record_texts(client: redis.Redis, bid: str, spec: Spec, content: Content,
                  now: dt.datetime) -> None:
    log_ = AlertLog(client)
    for lang in sorted(set(spec.texts) | {spec.lang}):
        log_.record(f"{bid}-{lang}", spec.org_name, render(spec, content, lang), now)


def _job_id(bid: str, n: int, gen: int) -> str:
    return f"faro-bc-{bid}-{n}-{gen}"


class LeaseLost(Exception):
    """Another job took our batch (we stalled longer than the lease): stop at once."""


@dataclass(frozen=True)
class Recipient:
    """One recipient of a batch as read at its start (fields of the contact as bytes)."""

    index: int
    cid: str
    mark: str  # "" or "c:<epoch>:<channel>" (claimed by a job that died)
    space: bytes | None
    lang: bytes | None
    seen: bytes | None
    sealed: bytes | None
    wrapped: bytes | None


@dataclass
class Route:
    """How one recipient is reached: channel, and a WhatsApp template when outside 24 h."""

    channel: str
    template: str = ""
    count: str = ""  # the extra count it adds: "template" or "via_sms"


class BatchRun:
    """One job's work on one batch of one broadcast."""

    def __init__(self, settings: Settings, store: Store, bid: str, n: int, gen: int):
        self.settings, self.store, self.redis = settings, store, store.redis
        self.bid, self.n, self.gen = bid, n, gen
        # Host and process id let a restarted worker on this host see the holder is dead.
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(6)}"
        self.lease = keys.broadcast(bid, f"lease:{n}")
        self._renew = self.redis.register_script(RENEW)
        self._release = self.redis.register_script(RELEASE)
        self.local = threading.local()  # each sending thread's Twilio client
        self.telegram = TelegramSender(settings)  # and Bot API session
        self.lock = threading.Lock()
        self.buckets: dict[str, TokenBucket | None] = {}
        self.replies_key = queue(self.redis, "replies").key
        self.stop = threading.Event()
        self._claim = self.redis.register_script(CLAIM)
        self.bodies: dict[tuple[str, str], str] = {}
        self.checked, self.verdict, self.deadline = 0.0, "", 0.0

    def run(self, spec: Spec) -> str:
        """Work the batch: "done", "paused" (re-enqueued), "busy" or "cancelled".

        What the batch needs (marks, contacts, wrapped data keys) is read in one round
        trip; then SENDERS threads send at once, so a provider's latency (100 ms or more)
        does not set the pace. Each recipient is still claimed and marked on its own.
        """
        if not self.redis.set(self.lease, self.holder, nx=True, ex=LEASE):
            return "busy"  # another live job has it; ours is a duplicate from recovery
        size = self.settings.broadcast_batch
        first = self.n * size
        cids = [c.decode() for c in
                self.redis.lrange(keys.broadcast(self.bid, "to"), first, first + size - 1)]
        self.deadline = time.monotonic() + SLICE
        try:
            recipients = self.prefetch(first, cids)
            with ThreadPoolExecutor(SENDERS, thread_name_prefix="send") as pool:
                outcomes = set(pool.map(lambda r: self.attempt(spec, r), recipients))
            for outcome in ("busy", "cancelled", "paused"):  # the first that applies
                if outcome in outcomes:
                    if outcome == "paused":
                        self.pause()
                    return outcome
            self.redis.srem(keys.broadcast(self.bid, "todo"), self.n)
            return "done"
        finally:
            self.telegram.close()
            self._release(keys=[self.lease], args=[self.holder])

    def prefetch(self, first: int, cids: list[str]) -> list[Recipient]:
        """The batch's recipients not done yet, with what sending to them needs."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hmget(keys.broadcast(self.bid, "r"), list(range(first, first + len(cids))))
        for cid in cids:
            pipe.hmget(keys.contact(cid), ["ch", "l", "t", "a"])
        marks, *records = pipe.execute()
        wrapped = self.store.keystore.get_many(cids)
        out = []
        for index, cid, mark, record, key in zip(range(first, first + len(cids)), cids, marks,
                                                 records, wrapped, strict=True):
            mark = (mark or b"").decode()
            if mark[:1] not in ("s", "f", "x"):
                out.append(Recipient(index, cid, mark, *record, key))
        return out

    def checkpoint(self) -> str:
        """Every CHECK_EVERY seconds (for all threads): renew the lease; past the time
        slice, pause. "" to go on."""
        with self.lock:
            if time.monotonic() < self.checked + CHECK_EVERY:
                return self.verdict
            held = self._renew(keys=[self.lease], args=[self.holder, LEASE])
            self.checked = time.monotonic()
            self.verdict = ("busy" if not held else
                            "paused" if self.checked > self.deadline else "")
            return self.verdict

    def attempt(self, spec: Spec, recipient: Recipient) -> str:
        """`serve` one recipient unless another thread said stop; tell the others to."""
        if self.stop.is_set():
            return "stopped"
        try:
            outcome = self.checkpoint() or self.serve(spec, recipient)
        except LeaseLost:
            outcome = "busy"  # we stalled past our lease and another job took the batch
        if outcome != "next":
            self.stop.set()
        return outcome

    def serve(self, spec: Spec, r: Recipient) -> str:
        """Send to one recipient: "next" whatever happened to them, or why we stop."""
        data_key = self.store.keyring.unwrap(r.cid, r.wrapped) if r.sealed and r.wrapped else None
        if data_key is None:
            self.finish_one(r.index, "x:gone", "skipped")  # deleted their data meanwhile
            return "next"
        address = crypto.decrypt(data_key, r.sealed, r.cid)
        route = self.route(spec, (r.space or b"").decode(), int(r.seen or 0))
        if route is None:
            self.finish_one(r.index, "x:window", "outside")
            return "next"
        lang = (r.lang or b"").decode()
        body = self.body(spec, lang, route.channel)
        if r.mark.startswith("c:") and self.reconcile(r.mark, route, address, body, r.index):
            return "next"
        # Opt-out, cancel and waiting replies are read at the claim: STOP a moment ago counts.
        claimed = self._claim(keys=[keys.broadcast(self.bid, "r"), keys.contact(r.cid),
                                    keys.broadcast(self.bid), self.replies_key],
                              args=[r.index, f"c:{int(time.time())}:{route.channel}",
                                    "0" if r.mark else "1"])
        if claimed in (2, 3):
            return "paused" if claimed == 2 else "cancelled"
        if not claimed:
            self.finish_one(r.index, "x:optout", "skipped")
            return "next"
        if route.channel == "telegram":
            self.telegram.session()  # opened before the token, so the token's time is the send's
        self.take(route, body)  # last, so the provider sees our sends at the bucket's pace
        # Only the Bot API leaves us unsure whether a claimed message went before a crash.
        resent = r.mark.startswith("c:") and route.channel == "telegram"
        self.send(spec, r.index, r.cid, route, address, body, lang, resent)
        return "next"

    def body(self, spec: Spec, lang: str, channel: str) -> str:
        """The alert in `lang` on `channel`, rendered once per batch."""
        key = (lang, channel)
        if key not in self.bodies:
            self.bodies[key] = render(spec, pack(), lang, channel)
        return self.bodies[key]

    def route(self, spec: Spec, space: str, seen: int) -> Route | None:
        """How to reach a contact of key space `space`; None when no way is allowed."""
        if space == "telegram":
            return Route("telegram")
        if space != "whatsapp":
            return Route("sms")
        if time.time() - seen <= DAY:
            return Route("whatsapp")
        templates = self.settings.whatsapp_templates
        template = templates.get(spec.topic) or templates.get("default", "")
        if template:
            return Route("whatsapp", template, "template")
        if self.settings.alert_sms_fallback:
            return Route("sms", count="via_sms")
        return None

    def take(self, route: Route, body: str) -> None:
        """Wait for the sender's bucket to allow this message (on SMS, each of its
        segments), keeping our lease."""
        bucket = self.bucket(route.channel)
        if bucket is None:
            return
        for _segment in range(segments(body) if route.channel == "sms" else 1):
            while (wait := bucket.try_take()) > 0:
                self.pause_for(wait)

    def pause_for(self, seconds: float) -> None:
        """Sleep, renewing our lease; LeaseLost if another job took the batch meanwhile."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(left, LEASE / 3))
            if not self._renew(keys=[self.lease], args=[self.holder, LEASE]):
                raise LeaseLost(self.lease)

    def bucket(self, channel: str) -> TokenBucket | None:
        if channel not in self.buckets:
            rate = self.settings.alert_rates.get(channel, 0.0)
            sender = "bot" if channel == "telegram" else self.twilio.sender(channel)
            # A burst of a tenth of a second's worth: in any one second the provider sees
            # at most rate + burst, within 10% of its limit (one message at low rates).
            self.buckets[channel] = (TokenBucket(self.redis, channel, sender,
                                                 Limit(rate, max(1.0, rate / 10)))
                                     if rate > 0 else None)
        return self.buckets[channel]

    def reconcile(self, mark: str, route: Route, address: str, body: str, index: int) -> bool:
        """A job died after claiming this recipient: True if the message went already."""
        if route.channel == "telegram":
            return False  # the Bot API cannot tell us; send again (counted as resent)
        claimed = dt.datetime.fromtimestamp(int(mark.split(":")[1]), dt.UTC)
        sid = self._try(lambda: self.twilio.find(route.channel, address,
                                                 "" if route.template else body, claimed))
        if sid is None or isinstance(sid, DeliveryError):
            return False
        self.finish_one(index, "s", "sent", route.count)
        return True

    def send(self, spec: Spec, index: int, cid: str, route: Route, address: str, body: str,
             lang: str, resent: bool) -> None:
        """Send with retries, then record what happened to this recipient."""
        if route.channel == "telegram":
            session = self.telegram.session()
            result = self._try(lambda: session.call(
                TelegramCall("sendMessage", {"chat_id": int(address), "text": body})))
        else:
            variables = ({"1": spec.org_name, "2": spec.text_for(lang)[1]}
                         if route.template else {})
            result = self._try(lambda: self.twilio.send(
                route.channel, address, body, callback=f"bc={self.bid}",
                template=route.template, variables=variables))
        extra = [route.count] if route.count else []
        if resent:
            extra.append("resent")
        if not isinstance(result, DeliveryError):
            if route.channel == "telegram":
                extra.append("delivered")  # the Bot API answers once Telegram has it
            self.finish_one(index, "s", "sent", *extra)
        elif result.code == TWILIO_STOPPED:
            self.store.opt_out(cid)
            self.finish_one(index, "x:stop", "skipped")
        else:
            log.warning("alert not delivered", extra={"broadcast": self.bid,
                                                      "error": str(result)})
            self.finish_one(index, f"f:{result.code or 'error'}", "failed")

    def _try(self, call):
        """`call()` with backoff on retryable errors; its result, or the last DeliveryError."""
        for pause in (*BACKOFF, None):
            try:
                return call()
            except DeliveryError as exc:
                if not exc.retry or pause is None:
                    return exc
                wait = min(MAX_WAIT, max(pause, exc.wait or 0.0))
                log.info("provider asked us to wait", extra={"seconds": wait})
                self.pause_for(wait)
        raise AssertionError("unreachable")

    @property
    def twilio(self) -> TwilioSender:
        """This thread's Twilio client (requests sessions are not shared across threads)."""
        sender = getattr(self.local, "twilio", None)
        if sender is None:
            sender = self.local.twilio = TwilioSender(self.settings)
        return sender

    def finish_one(self, index: int, mark: str, *counts: str) -> None:
        """Record what happened to one recipient and count it, in one round trip."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(keys.broadcast(self.bid, "r"), index, mark)
        for name in counts:
            pipe.hincrby(keys.broadcast(self.bid, "n"), name, 1)
            metrics.count(pipe, "broadcast", name)
        pipe.execute()

    def pause(self) -> None:
        """Let conversation replies go first: the rest of this batch goes to the back."""
        job_id = _job_id(self.bid, self.n, self.gen + 1)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(keys.broadcast(self.bid, "jobs"), self.n, job_id)
        queue(self.redis, "broadcasts").enqueue_many(
            [Queue.prepare_data(send_batch, (self.bid, self.n, self.gen + 1), job_id=job_id,
                                timeout=LEASE * 4, result_ttl=600)], pipeline=pipe)
        pipe.execute()


def send_batch(bid: str, n: int, gen: int = 0) -> str:
    """Work batch `n` of broadcast `bid` (see BatchRun.run for what it returns)."""
    settings, store = _context()
    found = Broadcasts(store.redis).get(bid)
    if found is None or found.status != "sending":
        return "cancelled"
    outcome = BatchRun(settings, store, bid, n, gen).run(found.spec)
    if outcome == "done" and not store.redis.scard(keys.broadcast(bid, "todo")):
        finish(store.redis, bid)
    return outcome


def finish(client: redis.Redis, bid: str) -> None:
    """Mark a sending broadcast done and let its working keys expire."""
    book = Broadcasts(client)
    book.move(bid, "done", _now(), from_=("sending",))
    if book.status(bid) in ("done", "cancelled"):
        _expire(client, bid)


def _expire(client: redis.Redis, bid: str) -> None:
    pipe = client.pipeline(transaction=False)
    for part in ("to", "r", "todo", "jobs"):
        pipe.expire(keys.broadcast(bid, part), KEEP_WORK)
    pipe.expire(keys.broadcast(bid, "sids"), KEEP_SIDS)
    pipe.expire(keys.broadcast(bid), KEEP)
    pipe.expire(keys.broadcast(bid, "n"), KEEP)
    pipe.execute()


def watch(bid: str) -> str:
    """Re-enqueue the batches whose job died; finish when all are done; run again soon."""
    _settings, store = _context()
    outcome = revive(store.redis, bid)
    if outcome == "sending":
        _schedule_watch(store.redis, bid, again=True)
    return outcome


def revive(client: redis.Redis, bid: str, break_dead: bool = False) -> str:
    """Give every unfinished batch of `bid` a live or queued job; return its status.

    With `break_dead`, a lease held by a process of this host that no longer runs is
    dropped at once instead of when it expires.
    """
    book = Broadcasts(client)
    status = book.status(bid)
    if status == "cancelled":
        _expire(client, bid)
        return status
    if status == "planning" and not _alive(client, f"faro-bc-{bid}-start"):
        queue(client, "default").enqueue(start, bid, job_id=f"faro-bc-{bid}-start")
    if status != "sending":
        return status
    todo = sorted(int(n) for n in client.smembers(keys.broadcast(bid, "todo")))
    if not todo:
        finish(client, bid)
        return book.status(bid)
    jobs = client.hgetall(keys.broadcast(bid, "jobs"))
    for n in todo:
        lease = keys.broadcast(bid, f"lease:{n}")
        holder = client.get(lease)
        if holder and break_dead and _dead(holder.decode()):
            client.eval(RELEASE, 1, lease, holder)
            holder = None
        if holder:
            continue
        job_id = (jobs.get(str(n).encode()) or b"").decode()
        if job_id and _alive(client, job_id):
            continue
        gen = int(job_id.rsplit("-", 1)[1]) + 1 if job_id else 0
        new_id = _job_id(bid, n, gen)
        pipe = client.pipeline(transaction=True)
        pipe.hset(keys.broadcast(bid, "jobs"), n, new_id)
        queue(client, "broadcasts").enqueue_many(
            [Queue.prepare_data(send_batch, (bid, n, gen), job_id=new_id, timeout=LEASE * 4,
                                result_ttl=600)], pipeline=pipe)
        pipe.execute()
        log.warning("broadcast batch revived", extra={"broadcast": bid, "batch": n})
    return status


def _dead(holder: str) -> bool:
    """Whether a lease's holder is a process of this host that is gone (or is us: a
    restarted container may reuse the dead worker's process id)."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    return pid.isdigit() and orphans.gone(host, int(pid))


def _alive(client: redis.Redis, job_id: str) -> bool:
    """Whether the job is waiting to run, or started less than a lease ago."""
    try:
        job = Job.fetch(job_id, connection=client)
    except NoSuchJobError:
        return False
    status = job.get_status(refresh=False)
    if status in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED):
        return True
    if status == JobStatus.STARTED and job.started_at is not None:
        started = job.started_at.replace(tzinfo=job.started_at.tzinfo or dt.UTC)
        return (_now() - started).total_seconds() < LEASE  # past that, its lease tells
    return False


def _schedule_watch(client: redis.Redis, bid: str, again: bool = False) -> None:
    """Schedule the next `watch` of `bid`, unless one is scheduled already."""
    q, prefix = queue(client, "default"), f"faro-bc-{bid}-watch-"
    if not again and any(j.startswith(prefix) for j in q.scheduled_job_registry.get_job_ids()):
        return
    # A fresh id each time: a job must not re-enqueue itself under the id it runs as.
    q.enqueue_in(WATCH_EVERY, watch, bid, job_id=f"{prefix}{time.time_ns()}", result_ttl=60)


def recover(client: redis.Redis) -> int:
    """Revive every unfinished broadcast (a worker does it at start and every few
    seconds, see worker/runner.py); return how many there are."""
    live = Broadcasts(client).live()
    for bid in live:
        status = revive(client, bid, break_dead=True)
        if status == "scheduled":
            launch(client, bid)
        elif status == "sending":
            _schedule_watch(client, bid)
    return len(live)
