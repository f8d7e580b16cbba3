"""Every Redis key Faro uses is built here, and only here.

Layout (all keys start with ``faro:``; ``<cid>`` is a contact id, an HMAC of
channel and address, never the address itself):

- ``faro:c:<cid>``: hash, the contact record (language, wrapped data key,
  encrypted address, opt-out flag, counters, and the alerts asked for: ``sr`` state,
  ``sc`` city or empty, ``st`` topics, see bot/subscriptions.py; the same message sent
  in a row: ``rh`` a hash keyed with the contact's data key, never the text, ``rn`` how
  often, ``rt`` since when, see bot/limits.py). Lives until deletion or retention.
- ``faro:s:<cid>``: string, the conversation state (flow, node, answers).
  Expires after ``FARO_CONVERSATION_TTL`` seconds idle.
- ``faro:l:<cid>``: string, the per-contact lock token. Expires by itself.
- ``faro:k:<cid>``: string, the contact's data key, wrapped by the master key. In
  production it lives in the separate keystore Redis (bot/keystore.py), so that erasing
  it makes every copy of the contact's data, backups included, unreadable.
- ``faro:al:<cid>``: string, the contact an address was linked to by a recovery phrase
  (the address's own id -> the contact's id). ``faro:als:<cid>``: set, the ids linked
  to a contact, so deletion and a new recovery can find them.
- ``faro:rp:<hmac>``: string, a recovery phrase's HMAC -> the contact's id. No expiry.
- ``faro:rl:<what>:<cid>``: string counter, attempts in the current window (rate limits);
  ``faro:rl:in:<cid>`` counts the messages from one address in the current minute
  (bot/limits.py).
- ``faro:tb:<channel>:<sender>``: hash, the token bucket of one provider sender (tokens,
  time), shared by every worker so that more workers never break a provider's limit.
- ``faro:sub:<region>``: set, the contacts subscribed to alerts for a Mexican state
  (its name as bot.places gives it), for the whole state or one of its cities. Left with
  the contact on deletion.
- ``faro:ap:<cid>``: hash, the person's own appointments (id -> encrypted JSON).
  Deleted with the contact.
- ``faro:d:<cid>``: sorted set, the provider message ids (``<channel>:<id>``) handled for
  the contact they were routed to, scored by when (epoch s), so a provider's retry never
  advances a conversation twice. Entries older than ``FARO_DEDUPE_TTL`` are dropped on
  each write, and the key expires that long after the last; erased with the contact.
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
- ``faro:staff:<sid>``: hash, one console account (``name``, ``email`` sealed with a key
  derived from the master key, ``org``, ``role``, ``pw`` an argon2id hash, ``created``;
  ``region``, a Mexican state's name, and ``shelter``, a shelter id, both maybe empty).
  ``<sid>`` is an HMAC of the lower-cased email (32 hex digits), so no email is ever in a
  key. No expiry.
- ``faro:staff:ids``: set, every account's sid (a sid is hex, so never ``ids``).
- ``faro:org:<oid>``: hash, one organization (``name``, ``created``); ``<oid>`` is a slug
  of its name. ``faro:orgs``: set, every organization id.
- ``faro:session:<token>``: string, the sid of a signed-in console session. Expires after
  the idle timeout; each request renews it; signing out deletes it.
- ``faro:sessions:<sid>``: set, the session tokens an account opened, so that removing the
  account ends them all. Renewed with its sessions; a token that ended may linger in it.
- ``faro:signin:fail:<scope>:<id>``: string, failed sign-ins in the current window, for
  scope ``a`` (an account's sid, existing or not) or ``ip`` (an HMAC of the address).
  ``faro:signin:lock:<scope>:<id>``: string, present while that scope is locked out.
  Both expire by themselves.
- ``faro:audit``: stream, what staff and operators did in the console and the CLI (actor,
  action, target, details as JSON); never a message body or a phone number. Capped at
  about 100,000 entries.
- ``faro:ev:<cid>``: hash, the meta of a person's evidence case: ``code`` (the case
  code, so the person can give it to legal aid), ``v`` (format version), ``c`` (when the
  case was started, sealed with the contact's data key). Deleted with the case.
- ``faro:evi:<cid>``: list, the case's items in order (item seq N at index N-1), each
  the item's JSON, text included, sealed with the contact's data key and bound to
  ``<cid>:ev:<seq>``, so a moved item no longer opens. Digests and links live only in
  there: a digest in the clear would let whoever holds the server confirm a known photo.
- ``faro:evm:<cid>``: set, the ids of the case's media blobs (random, never derived from
  the content), so a case can be deleted without its data key.
- ``faro:evs:<cid>``: hash, the organizations the person shared the case with (org id ->
  epoch seconds of the share).
- ``faro:evc:<code>``: string, the contact id of the case with this code (8 characters
  of Crockford base32, upper case, no dash).
- ``faro:evo:<org>``: set, the contact ids of the cases shared with one organization.
- ``faro:evt``: sorted set, contact ids of evidence cases scored by their last change
  (epoch seconds), for the retention job.
- ``faro:evf:<fetch>``: string, marks one attachment as already added to a case, so a
  retried or repeated download job (worker/media.py) never adds it twice. ``<fetch>`` is
  32 hex digits of SHA-256 over the contact id and the provider's media URL, so the key
  names neither. Set only after the item is stored; expires after ``FARO_DEDUPE_TTL``.
  The RQ job of that download has the id ``faro-media-<fetch>``, so duplicates collapse.
- ``faro:bc:{<id>}``: hash, one broadcast (alert): ``spec`` (JSON: organization, author,
  areas, topic, channels, languages, texts per language, the sender's language, send
  time), ``status`` (awaiting_approval, scheduled, planning, sending, done, cancelled)
  and when each step happened. Holds no contact. Expires 180 days after it ends.
- ``faro:bc:{<id>}:n``: hash, the broadcast's counts (total, sent, delivered, failed,
  undelivered, skipped, outside, resent, via_sms, template).
- ``faro:bc:{<id>}:to``: list, the contact ids the broadcast goes to, in send order
  (recipient N at index N). ``faro:bc:{<id>}:r``: hash, recipient index -> what happened
  to it (``c:<epoch>:<route>`` claimed, ``s`` sent, ``f:<why>`` failed, ``x:<why>``
  skipped), so a restarted worker neither skips nor repeats anyone.
  ``faro:bc:{<id>}:todo``: set, batch numbers not finished. ``faro:bc:{<id>}:jobs``:
  hash, batch number -> its current RQ job id. ``faro:bc:{<id>}:lease:<n>``: string, held
  (with a short expiry) by the one job working batch ``n``. ``faro:bc:{<id>}:sids``:
  hash, provider message id -> its final status, so a repeated status callback counts
  once. All of these expire two days (``sids``: seven) after the broadcast ends.
- ``faro:bcs``: sorted set, broadcast ids by creation time (epoch seconds).
- ``faro:dl:<job>:<digest>``: hash, what one delivery job (worker/jobs.py) did with each
  message it sends: index -> ``c:<epoch>`` claimed (about to be sent) or ``s`` sent, so a
  retried job neither repeats nor skips a message. ``<digest>`` is a hash of the contact id
  and the replies, so one job delivering two different things keeps two marks. Expires
  after a day.
- ``faro:metrics``: hash, counters the workers keep for ``/metrics`` (bot/metrics.py):
  ``<family>:<label>...`` -> count. Names no contact.

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


def data_key(cid: str) -> str:
    """Key of a contact's wrapped data key (in the keystore)."""
    return f"{PREFIX}:k:{{{cid}}}"


def alias(cid: str) -> str:
    """Key of the contact an address was linked to by a recovery phrase."""
    return f"{PREFIX}:al:{{{cid}}}"


def aliases(cid: str) -> str:
    """Key of the set of addresses linked to a contact."""
    return f"{PREFIX}:als:{{{cid}}}"


def recovery(phrase_mac: str) -> str:
    """Key of a recovery phrase (by its HMAC, never the words)."""
    return f"{PREFIX}:rp:{phrase_mac}"


def attempts(what: str, cid: str) -> str:
    """Key counting attempts at `what` by a contact in the current window."""
    return f"{PREFIX}:rl:{what}:{{{cid}}}"


def inbound(cid: str) -> str:
    """Key counting the messages from one address in the current minute."""
    return attempts("in", cid)


def bucket(channel: str, sender: str) -> str:
    """Key of the send token bucket of one sender on one channel."""
    return f"{PREFIX}:tb:{channel}:{sender}"


def subscribers(region: str) -> str:
    """Key of the set of contacts subscribed to alerts for `region` (a state's name)."""
    return f"{PREFIX}:sub:{region}"


def appointments(cid: str) -> str:
    """Key of a contact's own appointments (encrypted)."""
    return f"{PREFIX}:ap:{{{cid}}}"


def reminder_job(cid: str, appointment_id: str, hours: int) -> str:
    """The RQ job id of one reminder: predictable, so a cancel finds it without a lookup."""
    return f"faro-remind-{cid}-{appointment_id}-{hours}"


def seen(cid: str) -> str:
    """Key of the provider message ids a contact's messages were handled under."""
    return f"{PREFIX}:d:{{{cid}}}"


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


def staff(sid: str) -> str:
    """Key of one console account."""
    return f"{PREFIX}:staff:{sid}"


def staff_ids() -> str:
    """Key of the set of every console account's sid."""
    return f"{PREFIX}:staff:ids"


def org(oid: str) -> str:
    """Key of one organization."""
    return f"{PREFIX}:org:{oid}"


def orgs() -> str:
    """Key of the set of every organization's id."""
    return f"{PREFIX}:orgs"


def staff_session(token: str) -> str:
    """Key of one signed-in console session."""
    return f"{PREFIX}:session:{token}"


def staff_sessions(sid: str) -> str:
    """Key of the set of session tokens one console account opened."""
    return f"{PREFIX}:sessions:{sid}"


def signin_failures(scope: str, ident: str) -> str:
    """Key counting failed sign-ins of one account (scope "a") or address (scope "ip")."""
    return f"{PREFIX}:signin:fail:{scope}:{ident}"


def signin_lock(scope: str, ident: str) -> str:
    """Key present while one account or address is locked out of signing in."""
    return f"{PREFIX}:signin:lock:{scope}:{ident}"


def audit() -> str:
    """Key of the audit log stream."""
    return f"{PREFIX}:audit"


def case(cid: str) -> str:
    """Key of the meta of a contact's evidence case."""
    return f"{PREFIX}:ev:{{{cid}}}"


def case_items(cid: str) -> str:
    """Key of the sealed items of a contact's evidence case."""
    return f"{PREFIX}:evi:{{{cid}}}"


def case_media(cid: str) -> str:
    """Key of the set of media blob ids of a contact's evidence case."""
    return f"{PREFIX}:evm:{{{cid}}}"


def case_shares(cid: str) -> str:
    """Key of the organizations a contact's evidence case is shared with."""
    return f"{PREFIX}:evs:{{{cid}}}"


def case_code(code: str) -> str:
    """Key mapping a normalized case code ("K7QM3XPA") to its contact id."""
    return f"{PREFIX}:evc:{code}"


def org_cases(org_id: str) -> str:
    """Key of the set of contact ids whose cases are shared with organization `org_id`."""
    return f"{PREFIX}:evo:{org_id}"


def cases_touched() -> str:
    """Key of the index of evidence cases by last change, for retention."""
    return f"{PREFIX}:evt"


def media_fetched(fetch: str) -> str:
    """Key marking one attachment (`fetch`, a hash of contact id and URL) as added to a case."""
    return f"{PREFIX}:evf:{fetch}"


def media_job(fetch: str) -> str:
    """The RQ job id of one attachment's download: one job per attachment, however often asked."""
    return f"faro-media-{fetch}"


def delivery(job_id: str, digest: str) -> str:
    """Key of what one delivery job sent of the replies with `digest`."""
    return f"{PREFIX}:dl:{job_id}:{digest}"


def metrics() -> str:
    """Key of the workers' counters for /metrics."""
    return f"{PREFIX}:metrics"


def broadcast(bid: str, part: str = "") -> str:
    """A broadcast's record, or one of its parts ("n", "to", "r", "todo", "jobs", "sids",
    "lease:<n>"); one hash tag keeps them in one Cluster slot."""
    return f"{PREFIX}:bc:{{{bid}}}" + (f":{part}" if part else "")


def broadcasts() -> str:
    """Sorted set of broadcast ids by creation time."""
    return f"{PREFIX}:bcs"


def records(cid: str) -> list[str]:
    """The keys named after contact `cid` that hold what Faro keeps about them (the lock,
    the alias and the keystore's key aside)."""
    return [contact(cid), conversation(cid), appointments(cid), case(cid), case_items(cid),
            case_media(cid), case_shares(cid), aliases(cid), seen(cid)]


def pattern_all() -> str:
    """A SCAN pattern matching every Faro key."""
    return f"{PREFIX}:*"
