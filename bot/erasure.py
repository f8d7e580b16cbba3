"""Erasing a contact: every key about them, their media, and the key that could read them.

Used when a person says "delete my data" and by the retention job. The contact's data
key goes with the contact record, so any copy of their media that survives elsewhere
(a backup of the media folder) can no longer be read.
"""

from __future__ import annotations

from bot import keys
from bot.appointments import Appointments
from bot.evidence import Cases
from bot.recovery import Recovery
from bot.store import Store


def erase_contact(store: Store, cases: Cases, recovery: Recovery, cid: str) -> None:
    """Erase everything Faro keeps about contact `cid`, its data key first."""
    store.keystore.delete(cid)  # from here on, every copy of the contact's data is unreadable
    region = store.redis.hget(keys.contact(cid), "sr")
    if region:
        store.redis.srem(keys.subscribers(region.decode()), cid)
    Appointments(store.redis).delete_all(cid)
    cases.delete(cid)
    recovery.forget(cid)
    store.redis.delete(keys.conversation(cid), keys.contact(cid), keys.inbound(cid),
                       keys.seen(cid))
