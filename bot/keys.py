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


def pattern_all() -> str:
    """A SCAN pattern matching every Faro key."""
    return f"{PREFIX}:*"
