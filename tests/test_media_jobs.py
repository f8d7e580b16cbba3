"""Evidence media downloads: RQ jobs against the fake Twilio and Telegram, a real Redis."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
from pathlib import Path

import pytest
from rq import SimpleWorker
from rq.job import Job, JobStatus

from bot import keys
from bot.engine import Profile, Step
from bot.errors import ContentError, MediaRefused, MediaUnavailable
from bot.evidence import Cases
from bot.media import LocalMediaStore
from bot.message import Inbound, Media
from bot.segments import cheapest
from worker import download, jobs, media
from worker.filetypes import accept, normalize, sniff
from worker.queues import queue

PHONE = "+5215512345678"
CHAT = 700100200
NOW = dt.datetime(2026, 11, 29, 20, 20, 40, tzinfo=dt.UTC)
RECEIVED = "2026-11-29T20:20:40Z"
LIMIT = 1_572_864  # 1.5 MiB: Spanish shows it as "1,5"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01" + b"FARO-PHOTO-OF-AN-INJURY " * 400 + b"\xff\xd9"
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n" + b"FARO-POLICE-REPORT " * 200
OGG = b"OggS\x00\x02" + bytes(20) + b"OpusHead" + b"FARO-VOICE " * 300


@pytest.fixture
def config(config, tmp_path):
    """The shared settings, with evidence files in this test's own folder and a small cap."""
    return {**config, "FARO_MEDIA_DIR": str(tmp_path / "media"), "FARO_MEDIA_MAX_BYTES": LIMIT}


@pytest.fixture(autouse=True)
def fresh_content(worker_env):
    """The worker's settings and content pack follow this test's config (worker_env)."""


@pytest.fixture
def logs():
    """Every log record at any level from Faro, RQ and the HTTP clients, as text."""
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(f"{record.getMessage()} {record.__dict__!r}")

    handler, root = Keep(logging.DEBUG), logging.getLogger()
    saved = root.level, logging.getLogger("faro").level
    root.addHandler(handler)
    logging.getLogger("faro").addHandler(handler)  # faro's logs do not propagate to root
    root.setLevel(logging.DEBUG)
    logging.getLogger("faro").setLevel(logging.DEBUG)
    yield records
    root.removeHandler(handler)
    logging.getLogger("faro").removeHandler(handler)
    root.setLevel(saved[0])
    logging.getLogger("faro").setLevel(saved[1])


def person(msg: Inbound, lang: str = "es") -> str:
    """A contact who speaks `lang` and has an evidence case; their contact id."""
    settings, store = jobs._context()
    session = store.begin(msg)
    store.commit(session, msg, Step(Profile(lang=lang), None, [], []))
    cases(settings).open(session.cid, session.data_key, NOW)
    return session.cid


def cases(settings=None) -> Cases:
    settings = settings or jobs._context()[0]
    return Cases(jobs._context()[1].redis, LocalMediaStore(settings.media_dir))


def items(cid: str):
    _settings, store = jobs._context()
    key = store.data_key(cid)
    return cases().items(cid, key), key


def run(redis_client, job: Job) -> Job:
    """Let a burst worker run what is queued; the job, refreshed."""
    SimpleWorker([queue(redis_client)], connection=redis_client).work(burst=True)
    job.refresh()
    return job


def enqueue(redis_client, cid: str, kind: str, url: str, content_type: str) -> Job:
    return media.enqueue_media(queue(redis_client), cid, kind, Media(url, content_type, kind),
                               RECEIVED)


def said(content_key: str, lang: str = "es", **values: str) -> str:
    """What the person should read by SMS: the pack's message, translated, filled in."""
    return cheapest(media.say(lang, content_key, **values))


def read(content_key: str, lang: str = "es", **values: str) -> str:
    """What the person should read on Telegram, where accents always stay."""
    return media.say(lang, content_key, **values)


def sms_person() -> str:
    return person(Inbound("sms", PHONE, message_id="SM1"))


def tg_person(lang: str = "es") -> str:
    return person(Inbound("telegram", str(CHAT), message_id="1"), lang)


# Twilio


def test_jpeg_from_twilio_is_sealed_into_the_case(redis_client, fake_twilio, logs):
    cid = sms_person()
    # Like Twilio: the MediaUrl redirects to a file host (here under another host name).
    host = fake_twilio.url.replace("127.0.0.1", "localhost")
    url = fake_twilio.add_media(JPEG, "image/jpeg", redirect_to=host)
    job = run(redis_client, enqueue(redis_client, cid, "photo", url, "image/jpeg"))

    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == {"status": "saved", "seq": 1}
    found, key = items(cid)
    photo = found[-1]
    assert (photo.kind, photo.content_type, photo.size) == ("photo", "image/jpeg", len(JPEG))
    assert photo.digest == hashlib.sha256(JPEG).hexdigest()
    assert photo.received_at == RECEIVED
    assert cases().media_bytes(cid, key, photo) == JPEG

    [blob] = [p for p in Path(jobs._context()[0].media_dir).iterdir()]
    assert b"FARO-PHOTO" not in blob.read_bytes() and JPEG[:4] not in blob.read_bytes()
    assert blob.stat().st_mode & 0o077 == 0, "only Faro's user may read it"

    first, second, sent = fake_twilio.requests
    basic = base64.b64encode(b"AC00000000000000000000000000000000:test-twilio-token").decode()
    assert first["headers"]["Authorization"] == f"Basic {basic}"
    assert "Signature=" in second["path"] and "Authorization" not in second["headers"], (
        "the credentials stay with Twilio")
    assert sent["params"]["To"] == PHONE
    assert sent["params"]["Body"] == said("media_saved", kind=said("evidence_photo"))
    assert "Foto" in sent["params"]["Body"]

    text = "\n".join(logs)
    assert "fetch_evidence" in text, "the capture saw the worker's own logs"
    for secret in ("Signature", "s3cr3t", url, "/Media/", "FARO-PHOTO", PHONE, "5512345678"):
        assert secret not in text, [r[:700] for r in logs if secret in r]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "streamed"])
def test_too_big_is_refused_and_the_person_told(redis_client, fake_twilio, chunked):
    cid = sms_person()
    url = fake_twilio.add_media(JPEG * 200, "image/jpeg", chunked=chunked)  # about 1.9 MiB
    job = run(redis_client, enqueue(redis_client, cid, "photo", url, "image/jpeg"))

    assert job.return_value() == {"status": "refused", "reason": "too_big"}
    [body] = [m["Body"] for m in fake_twilio.messages()]
    assert body == said("media_too_big", limit_mb="1,5")
    assert "1,5 MB" in body and "muy grande" in body and "mas chica" in body
    assert items(cid)[0] == []
    assert list(Path(jobs._context()[0].media_dir).iterdir()) == []


def test_html_declared_as_a_photo_is_refused(redis_client, fake_twilio):
    cid = sms_person()
    url = fake_twilio.add_media(b"<html><script>steal()</script></html>", "image/jpeg")
    job = run(redis_client, enqueue(redis_client, cid, "photo", url, "image/jpeg"))

    assert job.return_value() == {"status": "refused", "reason": "wrong_type"}
    assert [m["Body"] for m in fake_twilio.messages()] == [said("media_wrong_type")]
    assert items(cid)[0] == []


def test_a_type_not_kept_is_refused_without_downloading(redis_client, fake_twilio):
    cid = sms_person()
    url = fake_twilio.add_media(b"MZ\x90\x00", "application/x-msdownload")
    job = run(redis_client, enqueue(redis_client, cid, "document", url,
                                    "application/x-msdownload"))

    assert job.return_value() == {"status": "refused", "reason": "wrong_type"}
    assert [r["method"] for r in fake_twilio.requests] == ["POST"], "only the reply"


def test_media_gone_at_twilio_is_refused(redis_client, fake_twilio):
    cid = sms_person()
    url = fake_twilio.add_media(JPEG, "image/jpeg").replace("/Media/ME", "/Media/MX")
    job = run(redis_client, enqueue(redis_client, cid, "photo", url, "image/jpeg"))

    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == {"status": "refused", "reason": "failed"}
    assert [m["Body"] for m in fake_twilio.messages()] == [said("media_failed")]


def test_a_url_outside_our_twilio_account_gets_no_credentials(redis_client, fake_twilio,
                                                              fake_telegram):
    cid = sms_person()
    path = fake_twilio.add_media(JPEG, "image/jpeg").removeprefix(fake_twilio.url)
    other_account = fake_twilio.add_media(JPEG, "image/jpeg", account="AC" + "9" * 32)
    for url in (fake_telegram.url + path, other_account):
        job = run(redis_client, enqueue(redis_client, cid, "photo", url, "image/jpeg"))
        assert job.return_value() == {"status": "refused", "reason": "failed"}
    assert fake_telegram.requests == []
    assert [r["method"] for r in fake_twilio.requests] == ["POST", "POST"], "only the replies"


def test_provider_error_is_retried_and_the_file_stored_once(redis_client, fake_twilio):
    cid = sms_person()
    url = fake_twilio.add_media(JPEG, "image/jpeg")
    fake_twilio.fail_next.append(500)
    job = run(redis_client, enqueue(redis_client, cid, "photo", url, "image/jpeg"))

    assert job.get_status() == JobStatus.SCHEDULED
    assert (job.retries_left, job.retry_intervals) == (2, [10, 60, 300])
    assert fake_twilio.messages() == [], "nothing said while a retry is due"
    queue(redis_client).scheduled_job_registry.requeue(job.id)  # the scheduler's 10 s, skipped
    job = run(redis_client, job)

    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == {"status": "saved", "seq": 1}
    assert len(items(cid)[0]) == 1
    assert [r["method"] for r in fake_twilio.requests] == ["GET", "GET", "POST"]


def test_the_person_is_told_when_no_retry_is_left(redis_client, fake_twilio):
    cid = sms_person()
    url = fake_twilio.add_media(JPEG, "image/jpeg")
    fake_twilio.fail_next.append(503)
    # Enqueued without retries, so this first failure is the last attempt.
    job = queue(redis_client).enqueue(media.fetch_evidence, cid, "photo", url, "image/jpeg",
                                      RECEIVED)
    job = run(redis_client, job)

    assert job.get_status() == JobStatus.FAILED
    assert [m["Body"] for m in fake_twilio.messages()] == [said("media_failed")]
    assert "MediaUnavailable" in job.latest_result().exc_string
    assert url not in job.latest_result().exc_string


def test_the_same_file_twice_gives_one_item(redis_client, fake_twilio):
    cid = sms_person()
    url = fake_twilio.add_media(JPEG, "image/jpeg")
    first = enqueue(redis_client, cid, "photo", url, "image/jpeg")
    again = enqueue(redis_client, cid, "photo", url, "image/jpeg")
    assert again.id == first.id == keys.media_job(media.fetch_id(cid, url))
    assert queue(redis_client).count == 1, "duplicates collapse into one job"
    run(redis_client, first)
    # The same job run again (RQ requeued it, a worker died after saving...).
    twice = queue(redis_client).enqueue(media.fetch_evidence, cid, "photo", url, "image/jpeg",
                                        RECEIVED)
    twice = run(redis_client, twice)

    assert first.return_value() == {"status": "saved", "seq": 1}
    assert twice.return_value() == {"status": "skipped"}
    assert len(items(cid)[0]) == 1
    assert len(fake_twilio.messages()) == 1, "one confirmation"
    assert redis_client.ttl(keys.media_fetched(media.fetch_id(cid, url))) > 0


def test_a_file_sent_again_after_a_refusal_is_fetched_again(redis_client, fake_twilio):
    cid = sms_person()
    url = fake_twilio.add_media(JPEG, "image/jpeg")
    fake_twilio.fail_next.append(404)
    first = run(redis_client, enqueue(redis_client, cid, "photo", url, "image/jpeg"))
    assert first.return_value() == {"status": "refused", "reason": "failed"}

    again = run(redis_client, enqueue(redis_client, cid, "photo", url, "image/jpeg"))
    assert again.id == first.id
    assert again.return_value() == {"status": "saved", "seq": 1}
    assert [m["Body"] for m in fake_twilio.messages()] == [
        said("media_failed"), said("media_saved", kind=said("evidence_photo"))]


def test_job_holds_no_address_and_says_no_url(redis_client, fake_twilio):
    cid = sms_person()
    url = fake_twilio.add_media(JPEG, "image/jpeg")
    job = Job.fetch(enqueue(redis_client, cid, "photo", url, "image/jpeg").id,
                    connection=redis_client)

    assert job.args == (cid, "photo", url, "image/jpeg", RECEIVED, True, "")  # notify, via
    assert job.description == "fetch_evidence(photo)"
    assert "5512345678" not in repr((job.args, job.kwargs, job.description, job.id))
    assert job.failure_ttl == 7 * 24 * 3600


def test_an_erased_contact_is_not_fetched(redis_client, fake_twilio):
    cid = sms_person()
    url = fake_twilio.add_media(JPEG, "image/jpeg")
    redis_client.delete(keys.contact(cid), keys.data_key(cid))
    job = run(redis_client, enqueue(redis_client, cid, "photo", url, "image/jpeg"))

    assert job.return_value() == {"status": "skipped"}
    assert fake_twilio.requests == []


def test_a_deleted_case_is_not_recreated(redis_client, fake_twilio):
    cid = sms_person()
    url = fake_twilio.add_media(JPEG, "image/jpeg")
    cases().delete(cid)
    job = run(redis_client, enqueue(redis_client, cid, "photo", url, "image/jpeg"))

    assert job.return_value() == {"status": "skipped"}
    assert cases().code(cid) is None
    assert list(Path(jobs._context()[0].media_dir).iterdir()) == []


# Telegram


def test_pdf_from_telegram(redis_client, fake_telegram):
    cid = tg_person(lang="en")
    fake_telegram.add_file("BQACAgEAAxkBAAIB", PDF, "documents/file_7.pdf")
    job = run(redis_client, enqueue(redis_client, cid, "document", "tg:BQACAgEAAxkBAAIB",
                                    "application/pdf"))

    assert job.return_value() == {"status": "saved", "seq": 1}
    found, key = items(cid)
    assert (found[-1].kind, found[-1].content_type) == ("document", "application/pdf")
    assert cases().media_bytes(cid, key, found[-1]) == PDF
    [get_file] = fake_telegram.calls("getFile")
    assert get_file["file_id"] == "BQACAgEAAxkBAAIB"
    [download_] = [r for r in fake_telegram.requests if r["method"] == "GET"]
    assert download_["path"] == "/file/bot123456%3Adev-telegram-token/documents/file_7.pdf"
    [sent] = fake_telegram.calls("sendMessage")
    assert int(sent["chat_id"]) == CHAT
    assert sent["text"] == read("media_saved", "en", kind="Document") == (
        "Saved safely in your record: Document.")


def test_voice_note_from_telegram(redis_client, fake_telegram):
    cid = tg_person()
    fake_telegram.add_file("AwACAgEAAxkBAAIC", OGG, "voice/file_8.oga")
    job = run(redis_client, enqueue(redis_client, cid, "voice", "tg:AwACAgEAAxkBAAIC",
                                    "audio/ogg"))

    assert job.return_value() == {"status": "saved", "seq": 1}
    found, _key = items(cid)
    assert (found[-1].kind, found[-1].content_type, found[-1].size) == (
        "voice", "audio/ogg", len(OGG))
    [sent] = fake_telegram.calls("sendMessage")
    assert sent["text"] == read("media_saved", kind=read("evidence_voice"))


@pytest.mark.parametrize("size", [None, 0], ids=["telegram-says", "telegram-silent"])
def test_too_big_on_telegram(redis_client, fake_telegram, size):
    cid = tg_person()
    fake_telegram.add_file("big", OGG * 600, "voice/big.oga", size=size)
    job = run(redis_client, enqueue(redis_client, cid, "voice", "tg:big", "audio/ogg"))

    assert job.return_value() == {"status": "refused", "reason": "too_big"}
    downloads = [r for r in fake_telegram.requests if r["method"] == "GET"]
    assert len(downloads) == (0 if size is None else 1), "a size told up front saves the read"
    [sent] = fake_telegram.calls("sendMessage")
    assert sent["text"] == read("media_too_big", limit_mb="1,5")


def test_unknown_telegram_file_is_refused(redis_client, fake_telegram):
    cid = tg_person()
    job = run(redis_client, enqueue(redis_client, cid, "photo", "tg:nope", "image/jpeg"))
    assert job.return_value() == {"status": "refused", "reason": "failed"}
    assert fake_telegram.calls("sendMessage")[0]["text"] == read("media_failed")


def test_a_file_path_naming_a_local_file_is_never_read(redis_client, fake_telegram):
    """python-telegram-bot reads an existing local path from disk (its local mode)."""
    cid = tg_person()
    fake_telegram.add_file("local", PDF, "pyproject.toml")
    assert Path("pyproject.toml").is_file()
    job = run(redis_client, enqueue(redis_client, cid, "document", "tg:local",
                                    "application/pdf"))
    assert job.return_value() == {"status": "refused", "reason": "failed"}


def test_telegram_server_error_is_retried(redis_client, fake_telegram):
    cid = tg_person()
    fake_telegram.add_file("ph", JPEG, "photos/file_1.jpg")
    fake_telegram.fail_next.append(502)
    job = run(redis_client, enqueue(redis_client, cid, "photo", "tg:ph", "image/jpeg"))
    assert job.get_status() == JobStatus.SCHEDULED
    queue(redis_client).scheduled_job_registry.requeue(job.id)
    assert run(redis_client, job).return_value() == {"status": "saved", "seq": 1}


# Content


def test_a_missing_message_is_a_content_error(monkeypatch):
    monkeypatch.delitem(jobs.pack().messages, "media_too_big")
    with pytest.raises(ContentError, match="media_too_big"):
        media.say("es", "media_too_big", limit_mb="16")


def test_every_media_message_is_in_the_pack():
    for name in ("media_saved", "media_too_big", "media_wrong_type", "media_failed"):
        assert jobs.pack().messages[name]


# Pure parts: types, caps, errors


@pytest.mark.parametrize(("head", "found"), [
    (JPEG, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
    (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image/webp"),
    (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "image/heic"),
    (PDF, "application/pdf"),
    (OGG, "audio/ogg"),
    (b"ID3\x04\x00\x00\x00\x00\x00\x00", "audio/mpeg"),
    (b"\xff\xfb\x90\x64\x00", "audio/mpeg"),
    (b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00", "audio/mp4"),
    (b"#!AMR\n\x3c", "audio/amr"),
    (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00", "video/mp4"),
    (b"<html><body>", None),
    (b"<?xml version='1.0'?><svg", None),
    (b"MZ\x90\x00\x03\x00", None),
    (b"\x7fELF\x02\x01\x01", None),
    (b"PK\x03\x04\x14\x00", None),
    (b"#!/bin/sh\n", None),
    (b"", None),
])
def test_sniff(head, found):
    assert sniff(head[:32]) == found


@pytest.mark.parametrize(("declared", "head", "kept"), [
    ("image/jpeg", JPEG, "image/jpeg"),
    ("IMAGE/JPG", JPEG, "image/jpeg"),
    ("image/jpeg", b"\x89PNG\r\n\x1a\n", "image/png"),  # still a photo; the bytes name it
    ("audio/ogg; codecs=opus", OGG, "audio/ogg"),
    ("audio/mp4", b"\x00\x00\x00\x18ftypmp42", "audio/mp4"),  # one container, two uses
    ("image/jpeg", b"<html>", None),
    ("image/jpeg", PDF, None),
    ("application/pdf", JPEG, None),
    ("audio/ogg", b"MZ\x90\x00", None),
    ("text/html", b"<html>", None),
    ("application/octet-stream", PDF, None),
    ("", JPEG, None),
])
def test_accept(declared, head, kept):
    assert accept(declared, head) == kept


def test_normalize():
    assert normalize(" Audio/OGG ; codecs=opus") == "audio/ogg"


def test_read_capped_stops_past_the_limit():
    sent: list[int] = []

    def chunks():
        for i in range(100):
            sent.append(i)
            yield b"x" * 1000

    with pytest.raises(MediaRefused) as refused:
        download.read_capped(chunks(), 2500)
    assert refused.value.reason == "too_big"
    assert len(sent) == 3, "reading stopped at the first chunk past the limit"
    assert download.read_capped(iter([b"ab", b"c"]), 3) == b"abc"


def test_a_slow_drip_hits_the_deadline(monkeypatch):
    monkeypatch.setattr(download, "DEADLINE", -1.0)
    with pytest.raises(MediaUnavailable):
        download.read_capped(iter([b"a"]), 10)


@pytest.mark.parametrize(("status", "error"), [
    (404, MediaRefused), (401, MediaRefused), (403, MediaRefused), (400, MediaRefused),
    (408, MediaUnavailable), (429, MediaUnavailable), (500, MediaUnavailable),
    (503, MediaUnavailable),
])
def test_status_errors(status, error):
    with pytest.raises(error):
        download.check_status(status)
