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
import time
from dataclasses import dataclass

import redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from bot import crypto, keys
from bot.alerts import AlertLog
from bot.broadcasts import KEEP, KEEP_SIDS, KEEP_WORK, Broadcasts, Spec, render, subscribers
from bot.channels.render import TelegramCall
from bot.content import Content
from bot.errors import DeliveryError
from bot.outbound import TelegramSession, TwilioSender
from bot.segments import segments
from bot.settings import Settings
from bot.store import Store
from worker.jobs import _context, pack
from worker.queues import queue
from worker.ratelimit import Limit, TokenBucket

log = logging.getLogger("faro.worker")

LEASE = 15  # seconds; longer than one provider call (10 s); renewed while we wait
SLICE = 20.0  # seconds a batch job sends before it gives the worker back
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
        self.twilio = TwilioSender(settings)
        self.telegram: TelegramSession | None = None
        self.buckets: dict[str, TokenBucket | None] = {}
        self.replies_key = queue(self.redis, "replies").key

    def run(self, spec: Spec) -> str:
        """Work the batch: "done", "paused" (re-enqueued), "busy" or "cancelled"."""
        if not self.redis.set(self.lease, self.holder, nx=True, ex=LEASE):
            return "busy"  # another live job has it; ours is a duplicate from recovery
        size = self.settings.broadcast_batch
        first = self.n * size
        cids = [c.decode() for c in
                self.redis.lrange(keys.broadcast(self.bid, "to"), first, first + size - 1)]
        deadline = time.monotonic() + SLICE
        try:
            for offset, cid in enumerate(cids):
                outcome = self.serve(spec, first + offset, cid, deadline)
                if outcome != "next":
                    return outcome
            self.redis.srem(keys.broadcast(self.bid, "todo"), self.n)
            return "done"
        except LeaseLost:
            return "busy"  # we stalled past our lease and another job took the batch
        finally:
            if self.telegram is not None:
                self.telegram.__exit__(None, None, None)
            self._release(keys=[self.lease], args=[self.holder])

    def serve(self, spec: Spec, index: int, cid: str, deadline: float) -> str:
        """Send to one recipient unless done already: "next", or why we stop here."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hget(keys.broadcast(self.bid, "r"), index)
        pipe.hget(keys.broadcast(self.bid), "status")
        pipe.hmget(keys.contact(cid), ["o", "ch", "l", "t", "a"])
        pipe.llen(self.replies_key)
        self._renew(keys=[self.lease], args=[self.holder, LEASE], client=pipe)
        mark, status, (opted, space, lang, seen, sealed), replies, held = pipe.execute()
        mark = (mark or b"").decode()
        if status != b"sending":
            return "cancelled"
        if not held:
            return "busy"  # our lease ran out and another job took the batch
        if mark[:1] in ("s", "f", "x"):
            return "next"
        if not mark and (replies or time.monotonic() > deadline):
            self.pause()
            return "paused"
        if opted == b"1":
            self.finish_one(index, "x:optout", "skipped")
            return "next"
        data_key = self.store.data_key(cid) if sealed else None
        if data_key is None:
            self.finish_one(index, "x:gone", "skipped")  # deleted their data meanwhile
            return "next"
        address = crypto.decrypt(data_key, sealed, cid)
        route = self.route(spec, (space or b"").decode(), int(seen or 0))
        if route is None:
            self.finish_one(index, "x:window", "outside")
            return "next"
        lang = (lang or b"").decode()
        body = render(spec, pack(), lang, route.channel)
        if mark.startswith("c:") and self.reconcile(mark, route, address, body, index):
            return "next"
        if route.channel == "telegram":
            self.telegram_session()  # opened before the token, so the token's time is the send's
        self.take(route, body)
        self.redis.hset(keys.broadcast(self.bid, "r"), index,
                        f"c:{int(time.time())}:{route.channel}")
        # Only the Bot API leaves us unsure whether a claimed message went before a crash.
        resent = mark.startswith("c:") and route.channel == "telegram"
        self.send(spec, index, cid, route, address, body, lang, resent)
        return "next"

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
            session = self.telegram_session()
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

    def telegram_session(self) -> TelegramSession:
        if self.telegram is None:
            self.telegram = TelegramSession(self.settings).__enter__()
        return self.telegram

    def finish_one(self, index: int, mark: str, *counts: str) -> None:
        """Record what happened to one recipient and count it, in one round trip."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(keys.broadcast(self.bid, "r"), index, mark)
        for name in counts:
            pipe.hincrby(keys.broadcast(self.bid, "n"), name, 1)
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
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


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
