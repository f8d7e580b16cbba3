"""The evidence download job: fetch a file a person sent, check it, seal it into their case."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from babel.numbers import format_decimal
from rq import Queue, Retry, get_current_job
from rq.exceptions import DuplicateJobError
from rq.job import Job, JobStatus

from bot import keys
from bot.engine import fill
from bot.errors import ContentError, DeliveryError, MediaRefused, MediaUnavailable
from bot.evidence import Cases, Item, NoCase
from bot.media import LocalMediaStore
from bot.message import Media
from bot.settings import Settings
from bot.store import Store
from worker.download import download
from worker.filetypes import ALLOWED, HEAD, accept, normalize
from worker.jobs import _context, deliver, pack

log = logging.getLogger("faro.worker")
RETRY_INTERVALS = [10, 60, 300]  # seconds: a provider's blip, then a minute, then five
JOB_TIMEOUT = 180  # longer than a download's own deadline: RQ kills only a job stuck elsewhere
RESULT_TTL = 24 * 3600
FAILURE_TTL = 7 * 24 * 3600  # a failed job keeps its media URL: days, not RQ's default year
PENDING = (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.STARTED, JobStatus.DEFERRED)




def fetch_id(cid: str, url: str) -> str:
    """The hash naming one attachment's download (its job id and its done marker)."""
    return hashlib.sha256(f"{cid}\x00{url}".encode()).hexdigest()[:32]


def enqueue_media(queue: Queue, cid: str, kind: str, media: Media, received_at: str,
                  notify: bool = True, via: str = "") -> Job:
    """Queue the download of one attachment (on "default"); asking again returns the same job.

    Duplicates collapse while the job waits or runs. Once it has ended, asking again
    starts a fresh job: a person told to send a file again may send the very same one.
    With `notify` false (a recording made in a call) the person is sent nothing afterwards.
    """
    job_id = keys.media_job(fetch_id(cid, media.url))
    args: tuple = (cid, kind, media.url, media.content_type, received_at, notify, via)
    try:
        return _enqueue(queue, job_id, args)
    except DuplicateJobError:
        earlier = Job.fetch(job_id, connection=queue.connection)
        if earlier.get_status() in PENDING:
            return earlier
        earlier.delete()  # the done marker still keeps a saved file from being added twice
        return _enqueue(queue, job_id, args)


def _enqueue(queue: Queue, job_id: str, args: tuple) -> Job:
    return queue.enqueue(
        fetch_evidence, *args, job_id=job_id, unique=True,
        retry=Retry(max=3, interval=RETRY_INTERVALS), job_timeout=JOB_TIMEOUT,
        result_ttl=RESULT_TTL, failure_ttl=FAILURE_TTL,
        # RQ logs a job's description as it starts it; the default lists the arguments.
        description=f"fetch_evidence({args[1]})")


@dataclass(frozen=True)
class Attachment:
    """What one download job was asked to fetch."""

    cid: str
    kind: str
    url: str
    declared_type: str
    received_at: str

    @property
    def done_key(self) -> str:
        """The key that marks this attachment as added to the case."""
        return keys.media_fetched(fetch_id(self.cid, self.url))


def fetch_evidence(cid: str, kind: str, url: str, declared_type: str,
                   received_at: str, notify: bool = True, via: str = "") -> dict[str, Any]:
    """Download one file a person sent, check it, and add it to their evidence case.

    While it waits in Redis the job holds a contact id (an HMAC, not an address), the
    kind, the declared type, the time received, and the provider's media URL, which it
    needs to fetch the file and which is the only thing about the person it carries:
    a Twilio MediaUrl, or "tg:<file_id>" (useless without the bot token). Nothing here
    logs the URL or the bytes. Transient provider errors raise MediaUnavailable for RQ's
    retries; a refusal (too big, wrong type, gone) is told to the person and returned.
    Without `notify` (a recording from the voice line) nothing is sent to the person: only
    logged, and the record shows what it holds when they look.
    """
    settings, store = _context()
    att = Attachment(cid, kind, url, declared_type, received_at)
    found = None if store.redis.exists(att.done_key) else _contact(store, cid)
    if found is None:
        return {"status": "skipped"}  # added by an earlier run, or the person erased their data
    data_key, lang = found
    try:
        data, content_type = _fetch(settings, att, lang, notify)
    except MediaRefused as exc:
        return refuse(cid, lang, exc.reason, notify)
    item = _add(settings, store, att, data_key, data, content_type, via)
    if item is None:
        return {"status": "skipped"}
    store.redis.set(att.done_key, 1, ex=settings.dedupe_ttl)
    log.info("evidence media saved", extra={"contact": cid[:8], "kind": kind})
    if notify:
        _confirm(cid, lang, kind)
    return {"status": "saved", "seq": item.seq}


def fetch(settings: Settings, url: str, declared_type: str) -> tuple[bytes, str]:
    """The bytes at `url` and the type to store them as; MediaRefused unless Faro keeps them."""
    if normalize(declared_type) not in ALLOWED:
        raise MediaRefused("wrong_type")  # refused before a byte is fetched
    data = download(settings, url, settings.media_max_bytes)
    content_type = accept(declared_type, data[:HEAD])
    if content_type is None:
        raise MediaRefused("wrong_type")
    return data, content_type


def _fetch(settings: Settings, att: Attachment, lang: str, notify: bool) -> tuple[bytes, str]:
    try:
        return fetch(settings, att.url, att.declared_type)
    except MediaUnavailable as exc:
        log.warning("evidence media unavailable", extra={"contact": att.cid[:8], "why": str(exc)})
        if _last_attempt():
            # No retry is left: the person must send it again.
            refuse(att.cid, lang, "failed", notify)
        raise


def _last_attempt() -> bool:
    """True when RQ will not run this job again should it fail now."""
    job = get_current_job()
    return job is None or not job.retries_left


def _add(settings: Settings, store: Store, att: Attachment, data_key: bytes, data: bytes,
         content_type: str, via: str) -> Item | None:
    """Seal the file into the case; None when the case is gone."""
    cases = Cases(store.redis, LocalMediaStore(settings.media_dir))
    try:
        return cases.add_media(att.cid, data_key, att.kind, data, content_type,
                               _when(att.received_at), via)
    except NoCase:  # the person deleted their case while the file was on its way
        log.info("evidence case gone, media dropped", extra={"contact": att.cid[:8]})
        return None


def _contact(store: Store, cid: str) -> tuple[bytes, str] | None:
    """The contact's data key and language; None when the contact is gone."""
    data_key, lang = store.data_key(cid), store.redis.hget(keys.contact(cid), "l")
    if data_key is None:
        return None
    return data_key, (lang or b"").decode()


def _when(received_at: str) -> dt.datetime:
    when = dt.datetime.fromisoformat(received_at)
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def refuse(cid: str, lang: str, reason: str, notify: bool = True) -> dict[str, Any]:
    """Tell the person why their file was not kept (when `notify`); the job's result."""
    log.info("evidence media refused", extra={"contact": cid[:8], "reason": reason})
    if not notify:
        return {"status": "refused", "reason": reason}
    settings, _store = _context()
    limit_mb = format_decimal(settings.media_max_bytes / 2**20, format="#,##0.#",
                              locale=pack().locale_for(_lang(lang)))
    deliver(cid, [{"text": say(lang, f"media_{reason}", limit_mb=limit_mb)}])
    return {"status": "refused", "reason": reason}


def _confirm(cid: str, lang: str, kind: str) -> None:
    """Tell the person their file is in the record; a failed send is only logged."""
    text = say(lang, "media_saved", kind=say(lang, f"evidence_{kind}"))
    try:
        deliver(cid, [{"text": text}])
    except DeliveryError:  # the file is safe; a retry would not send this again anyway
        log.warning("media confirmation not sent", extra={"contact": cid[:8]})


def say(lang: str, name: str, **values: Any) -> str:
    """Content message `name` in `lang`, filled in; ContentError when the pack lacks it."""
    content = pack()
    if name not in content.messages:
        raise ContentError(f"messages.yaml: message {name!r} is missing (worker/media.py needs "
                           "media_saved, media_too_big, media_wrong_type, media_failed)")
    return fill(content.t(_lang(lang), content.messages[name]), values)


def _lang(lang: str) -> str:
    languages = pack().languages
    return lang if lang in languages else languages[0]
