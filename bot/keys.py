"""Every Redis key Faro uses is built here, and only here.

Layout (all keys start with ``faro:``; ``<cid>`` is a contact id, an HMAC of
channel and address, never the address itself):

- ``faro:c:<cid>``: hash, the contact record (language, wrapped data key,
  encrypted address, opt-out flag, counters). Lives until deletion or retention.
- ``faro:s:<cid>``: string, the conversation state (flow, node, answers).
  Expires after ``FARO_CONVERSATION_TTL`` seconds idle.
- ``faro:l:<cid>``: string, the per-contact lock token. Expires by itself.
- ``faro:ap:<cid>``: hash, the person's own appointments (id -> encrypted JSON).
  Deleted with the contact.
- ``faro:d:<channel>:<message id>``: string, a provider message id already
  handled, so a provider's retry never advances a conversation twice.
  Expires after ``FARO_DEDUPE_TTL``.
- ``faro:scam:<YYYY-Www>``: list, the scam messages people reported in one ISO week
  (UTC). Each item is JSON ``{"signs": [...], "sealed": ...}``: the warning-sign codes
  in clear (for counts), the text and time sealed with a key derived from the master
  key. Nothing says who reported it. Expires about a year after the week's last report.
- ``faro:alerts``: sorted set, the ids of real alerts Faro and shelters sent, scored by
  send time (epoch seconds); entries older than 60 days are pruned on each write.
- ``faro:alert:<id>``: hash, one real alert (``org``, ``text``, ``sent_at``), so that a
  forwarded copy can be checked. Expires 60 days after it was sent.
- ``faro:sh:<id>``: hash, one shelter of the directory (strings: name, city, state,
  lat, lon, services and serves as comma-joined codes, phone, hours, status, verified,
  source as JSON, capacity_status, capacity_beds, capacity_updated). No expiry.
  The ids ``geo``, ``ids`` and ``digest`` are refused, so these never collide with the
  keys below.
- ``faro:sh:ids``: set, the id of every stored shelter, shown or not.
- ``faro:sh:geo``: GEO sorted set, the shelters a person may be shown (status
  ``verified``) at their coordinates. Nothing about a person is kept in these keys.
- ``faro:sh:digest``: string, a digest of the records imported at start-up last, so a
  changed content pack is imported again and an unchanged one is not.

The ``{<cid>}`` hash tag keeps one contact's keys in one Redis Cluster slot.
"""

PREFIX = "faro"


def contact(cid: str) -> str:
    """Key of a contact's record."""
    return f"{PREFIX}:c:{{{cid}}}"


def conversation(cid: str) -> str:
    """Key of a contact's conversation state."""
    return f"{PREFIX}:s:{{{cid}}}"


def lock(cid: str) -> str:
    """Key of a contact's lock."""
    return f"{PREFIX}:l:{{{cid}}}"


def appointments(cid: str) -> str:
    """Key of a contact's own appointments (encrypted)."""
    return f"{PREFIX}:ap:{{{cid}}}"


def reminder_job(cid: str, appointment_id: str, hours: int) -> str:
    """The RQ job id of one reminder: predictable, so a cancel finds it without a lookup."""
    return f"faro-remind-{cid}-{appointment_id}-{hours}"


def seen(channel: str, message_id: str) -> str:
    """Key marking a provider message id as handled."""
    return f"{PREFIX}:d:{channel}:{message_id}"


def scam_reports(week: str) -> str:
    """Key of the scam reports of ISO week `week` ("2026-W48")."""
    return f"{PREFIX}:scam:{week}"


def alerts() -> str:
    """Key of the time index of real alerts."""
    return f"{PREFIX}:alerts"


def alert(alert_id: str) -> str:
    """Key of one real alert."""
    return f"{PREFIX}:alert:{alert_id}"


def shelter(shelter_id: str) -> str:
    """Key of one shelter's record."""
    return f"{PREFIX}:sh:{shelter_id}"


def shelter_ids() -> str:
    """Key of the set of every stored shelter's id."""
    return f"{PREFIX}:sh:ids"


def shelter_digest() -> str:
    """Key of the digest of the shelter records imported last (re-import when it changes)."""
    return f"{PREFIX}:sh:digest"


def shelter_geo() -> str:
    """Key of the GEO index of the shelters a person may be shown."""
    return f"{PREFIX}:sh:geo"


def pattern_all() -> str:
    """A SCAN pattern matching every Faro key."""
    return f"{PREFIX}:*"
