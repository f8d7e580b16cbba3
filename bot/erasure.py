"""Erasing a contact: every key about them, their media, and the key that could read them.

Used when a person says "delete my data" and by the retention job. The contact's data
key goes with the contact record, so any copy of their media that survives elsewhere
(a backup of the media folder) can no longer be read.
"""

from __future__ import annotations

import redis

from bot import keys
from bot.appointments import Appointments
from bot.evidence import Cases
from bot.recovery import Recovery


def erase_contact(client: redis.Redis, cases: Cases, recovery: Recovery, cid: str) -> None:
    """Erase everything Faro keeps about contact `cid`, its data key last."""
    Appointments(client).delete_all(cid)
    cases.delete(cid)
    recovery.forget(cid)
    client.delete(keys.conversation(cid), keys.contact(cid))
