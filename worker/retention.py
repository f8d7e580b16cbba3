"""The retention job: erase contacts and evidence cases nobody touched for too long.

It runs once a day and schedules its own next run, so one `faro worker` with the
scheduler keeps it going; its fixed job id means many workers never run it twice.
"""

from __future__ import annotations

import datetime as dt
import logging

from rq import Queue

from bot import keys
from bot.erasure import erase_contact
from bot.evidence import Cases
from bot.media import LocalMediaStore
from bot.recovery import Recovery
from worker.jobs import _context

log = logging.getLogger("faro.worker")
JOB_ID = "faro-retention"
EVERY = dt.timedelta(days=1)


def sweep(now: dt.datetime | None = None, reschedule: bool = True) -> dict[str, int]:
    """Erase what has been idle longer than FARO_RETENTION_DAYS; return how much."""
    settings, store = _context()
    now = now or dt.datetime.now(dt.UTC)
    cutoff = now - dt.timedelta(days=settings.retention_days)
    cases = Cases(store.redis, LocalMediaStore(settings.media_dir))
    recovery = Recovery(store.redis, settings.data_key)
    contacts = [cid for cid in _contacts(store.redis) if _idle(store.redis, cid, cutoff)]
    for cid in contacts:
        erase_contact(store, cases, recovery, cid)
    stale = [cid for cid in cases.stale(cutoff) if cid not in contacts]
    for cid in stale:
        cases.delete(cid)
    log.info("retention sweep", extra={"contacts": len(contacts), "cases": len(stale)})
    if reschedule:
        schedule(Queue("default", connection=store.redis), now + EVERY)
    return {"contacts": len(contacts), "cases": len(stale)}


def schedule(queue: Queue, at: dt.datetime) -> None:
    """Make sure one sweep is scheduled (at `at`), whatever ran before."""
    if JOB_ID in queue.scheduled_job_registry.get_job_ids():
        return
    queue.enqueue_at(at, sweep, job_id=JOB_ID)


def _contacts(client) -> list[str]:
    prefix = keys.contact("")[:-1]  # "faro:c:{"
    return [k.decode()[len(prefix):-1] for k in client.scan_iter(match=f"{prefix}*", count=1000)]


def _idle(client, cid: str, cutoff: dt.datetime) -> bool:
    seen = client.hget(keys.contact(cid), "t")
    return seen is not None and int(seen) < cutoff.timestamp()
