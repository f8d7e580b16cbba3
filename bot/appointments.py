"""A person's own appointments (COMAR, a court, legal aid, a port of entry) and reminders.

Each appointment is stored encrypted under the contact's data key. Reminders are RQ
jobs scheduled for fixed times before it; a job carries only the contact id and the
appointment id, never what the appointment is or who it is for.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import asdict, dataclass
from zoneinfo import ZoneInfo

import redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job

from bot import crypto, keys

REMINDER_HOURS = (72, 24, 3)
DEFAULT_ZONE = "America/Mexico_City"
MAX_PER_CONTACT = 20


@dataclass(frozen=True)
class Appointment:
    """One appointment a person told us about."""

    id: str
    kind: str
    date: str  # ISO date
    time: str  # HH:MM, local time at the place
    place: str
    zone: str = DEFAULT_ZONE

    def starts(self) -> dt.datetime:
        """When it starts, as an aware datetime."""
        local = dt.datetime.fromisoformat(f"{self.date}T{self.time}")
        return local.replace(tzinfo=ZoneInfo(self.zone))


class Appointments:
    """Saves, lists and cancels appointments, and schedules their reminders."""

    def __init__(self, client: redis.Redis, queue_name: str = "replies"):
        self.redis = client
        self.queue = Queue(queue_name, connection=client)

    def add(self, cid: str, data_key: bytes, fields: dict[str, str], now: dt.datetime
            ) -> Appointment | None:
        """Save an appointment and schedule its reminders; None when the person has too many."""
        if self.redis.hlen(keys.appointments(cid)) >= MAX_PER_CONTACT:
            return None
        item = Appointment(id=os.urandom(4).hex(), kind=str(fields.get("kind", "other")),
                           date=str(fields["date"]), time=str(fields.get("time") or "09:00"),
                           place=str(fields.get("place", ""))[:200],
                           zone=str(fields.get("zone") or DEFAULT_ZONE))
        sealed = crypto.encrypt(data_key, json.dumps(asdict(item)), f"{cid}:ap")
        self.redis.hset(keys.appointments(cid), item.id, sealed)
        self.schedule(cid, item, now)
        return item

    def schedule(self, cid: str, item: Appointment, now: dt.datetime) -> list[str]:
        """Enqueue a reminder for each offset still in the future; return the job ids."""
        from worker.reminders import remind

        ids = []
        for hours in REMINDER_HOURS:
            at = item.starts() - dt.timedelta(hours=hours)
            if at > now:
                job_id = keys.reminder_job(cid, item.id, hours)
                self.queue.enqueue_at(at.astimezone(dt.UTC), remind, cid, item.id, hours,
                                      job_id=job_id)
                ids.append(job_id)
        return ids

    def list(self, cid: str, data_key: bytes) -> list[Appointment]:
        """The person's appointments, soonest first."""
        raw = self.redis.hgetall(keys.appointments(cid))
        items = [self._open(cid, data_key, sealed) for sealed in raw.values()]
        return sorted(items, key=lambda a: (a.date, a.time))

    def get(self, cid: str, data_key: bytes, item_id: str) -> Appointment | None:
        """One appointment, or None when it was cancelled."""
        sealed = self.redis.hget(keys.appointments(cid), item_id)
        return self._open(cid, data_key, sealed) if sealed else None

    def cancel(self, cid: str, item_id: str) -> bool:
        """Forget an appointment and its reminders; False when there was none."""
        self._unschedule(cid, [item_id])
        return bool(self.redis.hdel(keys.appointments(cid), item_id))

    def delete_all(self, cid: str) -> None:
        """Forget every appointment of a contact and cancel their reminders."""
        ids = [i.decode() for i in self.redis.hkeys(keys.appointments(cid))]
        self._unschedule(cid, ids)
        self.redis.delete(keys.appointments(cid))

    def _unschedule(self, cid: str, item_ids: list[str]) -> None:
        for item_id in item_ids:
            for hours in REMINDER_HOURS:
                try:
                    Job.fetch(keys.reminder_job(cid, item_id, hours),
                              connection=self.redis).delete()
                except NoSuchJobError:
                    continue

    @staticmethod
    def _open(cid: str, data_key: bytes, sealed: bytes) -> Appointment:
        return Appointment(**json.loads(crypto.decrypt(data_key, sealed, f"{cid}:ap")))
