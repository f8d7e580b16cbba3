"""Faults: Redis stopped or killed mid-conversation and mid-upload, providers that answer
429, 5xx or nothing, a worker SIGKILLed during a download.

Each test that stops Redis runs its own server (AOF on, a fixed unix socket), so the app's
client reconnects to the same URL when the server comes back.
"""

from __future__ import annotations

import datetime as dt
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
import redis
from rq import SimpleWorker
from rq.job import Job, JobStatus

from bot import keys
from bot.embedded import EmbeddedRedis
from bot.evidence import Cases
from bot.media import LocalMediaStore
from bot.message import Inbound
from bot.segments import cheapest
from tests.alert_helpers import kill, start_worker
from tests.conftest import twiml_messages
from worker import download, jobs, media
from worker.queues import queue

PHONE = "+5215512345678"
OTHER = "+5215587654321"
CHAT = 700100200
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01" + b"FARO-FAULT-PHOTO " * 64_000 + b"\xff\xd9"
ANSWERS = ["3", "1", "20/01/2025", "7", "ABC123", "1", "18/01/2025", "Reynosa", "1",
           "CI-FGR-2025-0042"]
STORY = "Me detuvieron en Reynosa y perdí la cita"


class AofRedis(EmbeddedRedis):
    """A real server with AOF in its own folder, on a fixed socket; `stop` takes a signal
    (SIGTERM: a clean shutdown; SIGKILL: a crash) and `start` brings it back from the AOF."""

    def __init__(self, folder: Path, fsync: str):
        super().__init__(folder, prefer="redis", persist=True)
        self.fsync = fsync

    def _start_redis(self, binary: str) -> None:
        self._proc = subprocess.Popen(
            [binary, "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
             "--dir", str(self.folder), "--save", "", "--appendonly", "yes",
             "--appendfsync", self.fsync],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._wait()

    def halt(self, how: signal.Signals) -> None:
        assert self._proc is not None
        self._proc.send_signal(how)
        self._proc.wait(timeout=10)
        self._proc = None
        self.socket.unlink(missing_ok=True)  # a killed server leaves its socket file


def own_redis(tmp_path: Path, fsync: str = "everysec") -> AofRedis:
    # A fault test that cannot run must fail, never pass as skipped (.ci/run installs it).
    assert shutil.which("redis-server"), "these tests need redis-server on PATH (apt install)"
    return AofRedis(tmp_path / "aof", fsync).start()


@pytest.fixture
def server(tmp_path, request):
    found = own_redis(tmp_path, getattr(request, "param", "everysec"))
    yield found
    found.stop()


@pytest.fixture
def config(config, server, tmp_path):
    """The app and the worker jobs on this test's own server."""
    return {**config, "REDIS_URL": server.url, "FARO_MEDIA_DIR": str(tmp_path / "media")}


@pytest.fixture
def own_client(server):
    client = redis.Redis.from_url(server.url)
    yield client
    client.close()


@pytest.fixture(autouse=True)
def fresh_worker(worker_env):
    """The worker's settings and content pack follow this test's config (worker_env)."""


def snapshot(client: redis.Redis) -> dict[bytes, bytes]:
    """Every key and its serialized value (without its time to live)."""
    return {key: client.dump(key) for key in client.scan_iter("*")}


def busy(app, lang: str) -> str:
    content = app.extensions["faro"].content
    return content.t(lang, content.messages["busy"])


def timed(call):
    started = time.perf_counter()
    response = call()
    return response, time.perf_counter() - started


# Redis stopped mid-conversation


def test_redis_stopped_mid_conversation(server, own_client, app, channels):
    control = [twiml_messages(channels.sms(t, sender=OTHER)) for t in ("hola", "2", "1")]
    assert twiml_messages(channels.sms("hola")) == control[0]
    assert twiml_messages(channels.sms("2")) == control[1]
    assert channels.tg_text("hola", chat=CHAT).status_code == 200
    saved = snapshot(own_client)
    server.halt(signal.SIGTERM)

    answers = {}
    for text, lang in (("1", None), ("necesito ayuda por favor", "es"),
                       ("I need help please", "en")):
        response, took = timed(lambda t=text: channels.sms(t))
        assert took < 1.0, took
        answers[text] = (twiml_messages(response), took)
        expected = [busy(app, lang)] if lang else [busy(app, "es"), busy(app, "en")]
        assert answers[text][0] == [cheapest("\n".join(expected))]
    response, took = timed(lambda: channels.tg_text("1", chat=CHAT))
    assert response.status_code == 503 and took < 1.0, "Telegram retries a 503 by itself"
    assert channels.client.get("/healthz").status_code == 503
    print({t: f"{took * 1000:.0f} ms" for t, (_, took) in answers.items()},
          f"telegram {took * 1000:.0f} ms")

    server.start()
    assert snapshot(own_client) == saved, "everything saved before the stop is back"
    # The person sends their choice again and goes on from where they were.
    assert twiml_messages(channels.sms("1")) == control[2]
    assert channels.client.get("/healthz").status_code == 200
    assert channels.tg_text("2", chat=CHAT).status_code == 200


# Redis restarted (AOF) during an evidence upload


@pytest.mark.parametrize(("server", "how"), [("always", signal.SIGKILL),
                                             ("everysec", signal.SIGTERM)],
                         ids=["fsync-always-killed", "fsync-everysec-stopped"],
                         indirect=["server"])
def test_every_acknowledged_evidence_item_survives_a_redis_restart(
        server, own_client, app, channels, fake_twilio, how):
    faro = app.extensions["faro"]

    def say(text: str, **extra: str) -> list[str]:
        return twiml_messages(channels.sms(text, sender=PHONE, **extra))

    def restart() -> None:
        server.halt(how)
        server.start()

    def case_items():
        cid = faro.store.contact_id(Inbound("sms", PHONE))
        return faro.conversations.sources.cases.items(cid, faro.store.data_key(cid)), cid

    acknowledged: list[str] = []  # kinds of the items the person was told were saved
    for n, text in enumerate(["hola", *ANSWERS]):
        if n == 6:  # mid-way Redis goes down: the person is asked to send again
            server.halt(how)
            assert say(text) == [cheapest(f"{busy(app, 'es')}\n{busy(app, 'en')}")]
            server.start()
        say(text)
        acknowledged = [item.kind for item in case_items()[0]]
    assert acknowledged[0] == "consent" and len(acknowledged) >= 5, acknowledged

    # The photo: Redis restarts while the worker is downloading it.
    url = fake_twilio.add_media(JPEG, "image/jpeg")
    restarted = threading.Event()

    def restart_during_download(entry):
        if entry["method"] == "GET" and not restarted.is_set():
            restart()
            restarted.set()

    fake_twilio.on_request = restart_during_download
    assert "Recibido" in say("", NumMedia="1", MediaUrl0=url, MediaContentType0="image/jpeg")[0]
    restart()  # after the job was queued and the person told "receiving"
    SimpleWorker([queue(own_client)], connection=own_client).work(burst=True)
    assert restarted.is_set()
    told = [m["Body"] for m in fake_twilio.messages()]
    assert told == [cheapest(media.say("es", "media_saved", kind=media.say("es",
                                                                           "evidence_photo")))]
    say("1")
    say(STORY)
    before = [(i.kind, i.digest) for i in case_items()[0]]

    restart()
    items, cid = case_items()
    assert [(i.kind, i.digest) for i in items] == before
    kinds = [i.kind for i in items]
    assert kinds[:len(acknowledged)] == acknowledged and "photo" in kinds and "account" in kinds
    photo = next(i for i in items if i.kind == "photo")
    assert faro.conversations.sources.cases.media_bytes(cid, faro.store.data_key(cid),
                                                        photo) == JPEG


# Providers: 429, 5xx, timeouts


def person(app, channel: str = "sms", address: str = PHONE) -> str:
    """A contact who greeted Faro; their contact id."""
    faro = app.extensions["faro"]
    msg = Inbound(channel, address, "hola", message_id=f"greet-{channel}")
    faro.conversations.handle(msg)
    return faro.store.contact_id(msg)


def run(client: redis.Redis, job: Job, name: str = "replies") -> Job:
    """Run what is queued in a burst; the job, refreshed."""
    SimpleWorker([queue(client, name)], connection=client).work(burst=True)
    job.refresh()
    return job


def retry_now(client: redis.Redis, job: Job, name: str = "replies") -> Job:
    """Skip the wait of a scheduled retry, then run it."""
    assert job.get_status() == JobStatus.SCHEDULED, job.get_status()
    queue(client, name).scheduled_job_registry.requeue(job.id)
    return run(client, job, name)


LONG = ["Primera parte. " + "a" * 1000, "Segunda parte. " + "b" * 1000]


@pytest.mark.parametrize("failure", [429, 500, 503])
def test_a_delivery_is_retried_and_nothing_is_sent_twice(app, own_client, fake_twilio, failure):
    cid = person(app)
    fake_twilio.clear()
    fake_twilio.on_request = _fail_second(fake_twilio, failure)  # the first part goes
    job = jobs.enqueue_delivery(queue(own_client, "replies"), cid, [{"text": t} for t in LONG])
    job = run(own_client, job)
    assert job.retries_left == len(jobs.RETRY_INTERVALS) - 1
    job = retry_now(own_client, job)

    assert job.get_status() == JobStatus.FINISHED and job.return_value() == 2
    bodies = [m["Body"] for m, _sid in fake_twilio.accepted()]
    assert [b[:14] for b in bodies] == ["Primera parte.", "Segunda parte."], "each once"
    assert len(fake_twilio.messages()) == 3, "the failed one, then only it again"
    assert own_client.hget(keys.metrics(), "delivery_failed:sms:yes") == b"1"


def _fail_second(fake, status: int):
    """A hook that makes the second message request fail with `status`, once."""
    posts = []

    def hook(entry):
        if entry["method"] == "POST":
            posts.append(entry)
            if len(posts) == 1:  # the fake takes its failure before calling the hook
                with fake.lock:
                    fake.fail_next.insert(0, (status, 20429 if status == 429 else 20500))
    return hook


def test_a_delivery_that_timed_out_is_looked_up_not_sent_again(app, own_client, fake_twilio,
                                                               monkeypatch):
    from bot import outbound

    cid = person(app)
    fake_twilio.clear()
    monkeypatch.setattr(outbound, "TIMEOUT", 0.5)
    slow = threading.Event()
    fake_twilio.on_request = lambda e: (e["method"] == "POST" and not slow.is_set()
                                        and (slow.set(), time.sleep(1.5)))
    job = jobs.enqueue_delivery(queue(own_client, "replies"), cid, [{"text": "Hola de nuevo"}])
    job = run(own_client, job)
    deadline = time.monotonic() + 5
    while not fake_twilio.accepted() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(fake_twilio.accepted()) == 1, "Twilio took it though we gave up"
    job = retry_now(own_client, job)

    assert job.get_status() == JobStatus.FINISHED
    assert [m["Body"] for m, _ in fake_twilio.accepted()] == ["Hola de nuevo"]
    assert len(fake_twilio.messages()) == 1, "asked Twilio's Messages list instead"


def test_a_telegram_delivery_is_retried_from_the_message_that_failed(app, own_client,
                                                                    fake_telegram):
    cid = person(app, "telegram", str(CHAT))
    fake_telegram.clear()
    fake_telegram.on_request = _fail_second(fake_telegram, 502)
    job = jobs.enqueue_delivery(queue(own_client, "replies"), cid,
                                [{"text": "Uno", "options": [["1", "Sí"]]}, {"text": "Dos"}])
    job = retry_now(own_client, run(own_client, job))

    assert job.get_status() == JobStatus.FINISHED
    assert [c["text"] for c in fake_telegram.calls("sendMessage")] == ["Uno", "Dos", "Dos"]


def test_a_refused_delivery_is_not_retried(app, own_client, fake_twilio):
    cid = person(app)
    fake_twilio.clear()
    fake_twilio.fail_next.append((400, 21211))  # not a valid phone number
    job = run(own_client, jobs.enqueue_delivery(queue(own_client, "replies"), cid,
                                                [{"text": "Hola"}]))
    assert job.get_status() == JobStatus.FAILED
    assert len(fake_twilio.requests) == 1
    assert own_client.hget(keys.metrics(), "delivery_failed:sms:no") == b"1"
    assert own_client.hget(keys.metrics(), "job_failed:deliver") is None, (
        "counted by FaroWorker, not by this SimpleWorker")


def evidence_person(app) -> tuple[str, bytes]:
    faro = app.extensions["faro"]
    cid = person(app)
    key = faro.store.data_key(cid)
    faro.conversations.sources.cases.open(cid, key, dt.datetime.now(dt.UTC))
    return cid, key


def fetch(own_client, cid: str, url: str) -> Job:
    return media.enqueue_media(queue(own_client), cid, "photo",
                               media.Media(url, "image/jpeg", "photo"), "2026-11-29T20:20:40Z")


@pytest.mark.parametrize("failure", ["429", "timeout"])
def test_a_download_is_retried_after_a_429_or_a_timeout_and_saved_once(
        app, own_client, fake_twilio, monkeypatch, failure):
    cid, key = evidence_person(app)
    url = fake_twilio.add_media(JPEG[:40_000], "image/jpeg")
    if failure == "429":
        fake_twilio.fail_next.append((429, 20429))
    else:
        monkeypatch.setattr(download, "TIMEOUT", httpx.Timeout(0.5))
        first = threading.Event()
        fake_twilio.on_request = lambda e: not first.is_set() and (first.set(), time.sleep(1.5))
    job = run(own_client, fetch(own_client, cid, url), "default")
    assert job.retries_left == 2
    job = retry_now(own_client, job, "default")

    assert job.return_value() == {"status": "saved", "seq": 1}
    items = app.extensions["faro"].conversations.sources.cases.items(cid, key)
    assert len(items) == 1
    assert len(fake_twilio.messages()) == 1, "one confirmation"


# A worker SIGKILLed during a download


def test_a_worker_killed_mid_download_is_replaced_and_the_file_is_complete(
        config, app, own_client, fake_twilio):
    cid, key = evidence_person(app)
    # About 1.1 MB in 64 KiB chunks, a fifth of a second apart: over three seconds.
    url = fake_twilio.add_media(JPEG, "image/jpeg", chunked=True, pause=0.2)
    path = url.removeprefix(fake_twilio.url)
    started = threading.Event()
    fake_twilio.on_request = lambda e: e["method"] == "GET" and started.set()
    job = fetch(own_client, cid, url)
    worker = start_worker(config)
    try:
        assert started.wait(20), "the worker began the download"
        time.sleep(1.0)  # some chunks in
        kill(worker)
        assert job.get_status(refresh=True) == JobStatus.STARTED
        fake_twilio.media[path]["pause"] = 0.0
        killed_at = time.monotonic()
        worker = start_worker(config)
        while job.get_status(refresh=True) != JobStatus.FINISHED:
            assert time.monotonic() - killed_at < 30, job.get_status()
            time.sleep(0.1)
        print(f"finished {time.monotonic() - killed_at:.1f} s after the kill")
    finally:
        kill(worker)

    job.refresh()
    assert job.retries_left == 2, "the dead worker's run used one retry"
    assert job.return_value() == {"status": "saved", "seq": 1}
    cases = Cases(own_client, LocalMediaStore(config["FARO_MEDIA_DIR"]))
    [photo] = cases.items(cid, key)
    assert cases.media_bytes(cid, key, photo) == JPEG
    assert len([p for p in Path(config["FARO_MEDIA_DIR"]).iterdir()]) == 1
    assert [r["method"] for r in fake_twilio.requests] == ["GET", "GET", "POST"]
