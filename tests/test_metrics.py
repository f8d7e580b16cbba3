"""GET /metrics: counts that move with traffic and work, who may read it, and the sum over
gunicorn's worker processes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client.parser import text_string_to_metric_families
from rq import SimpleWorker

from bot import create_app
from bot.broadcasts import Area, Broadcasts, Spec
from bot.message import Inbound
from tests.alert_helpers import NO_LIMIT, enroll
from tests.conftest import twiml_messages
from tests.web_helpers import post_twilio, running
from worker import jobs
from worker.broadcast import launch
from worker.queues import all_queues, queue
from worker.runner import FaroWorker

PHONE = "+5215512345678"
CHAT = 700100200


@pytest.fixture
def config(config):
    return {**config, **NO_LIMIT}


@pytest.fixture
def app(config, worker_env):
    return create_app(config)


class InProcess(SimpleWorker, FaroWorker):
    """Faro's worker (its failure counts included), running each job in this process."""


def work(client) -> None:
    InProcess(all_queues(client), connection=client).work(burst=True, with_scheduler=True)


def scrape(client, **headers) -> dict[tuple[str, tuple], float]:
    """Every sample of /metrics: (name, sorted labels) -> value."""
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "text/plain"
    return samples(response.get_data(as_text=True))


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def moved(before: dict, after: dict) -> dict[tuple[str, tuple], float]:
    """The samples whose value changed, by how much (histogram buckets left out)."""
    return {k: v - before.get(k, 0) for k, v in after.items()
            if v != before.get(k, 0) and not k[0].endswith("_bucket")}


def test_messages_replies_latency_and_errors_per_channel(client, channels):
    before = scrape(client)
    twiml_messages(channels.sms("hola"))
    twiml_messages(channels.sms("1"))
    twiml_messages(channels.whatsapp("hola"))
    assert channels.tg_text("hola").status_code == 200
    assert channels.sms("hola", MessageSid="").status_code == 200  # no id: still handled
    assert channels.twilio({"From": PHONE, "Body": "x"}, sign=False).status_code == 403
    assert channels.telegram({"update_id": "x"}).status_code == 400
    after = scrape(client)

    changed = moved(before, after)
    assert changed[("faro_messages_received_total", (("channel", "sms"),))] == 3
    assert changed[("faro_messages_received_total", (("channel", "whatsapp"),))] == 1
    assert changed[("faro_messages_received_total", (("channel", "telegram"),))] == 1
    for channel in ("sms", "whatsapp", "telegram"):
        assert changed[("faro_replies_sent_total", (("channel", channel),))] >= 1
    assert changed[("faro_webhook_seconds_count", (("channel", "sms"),))] == 3
    assert changed[("faro_webhook_seconds_count", (("channel", "twilio"),))] == 1, "the 403"
    assert changed[("faro_webhook_seconds_count", (("channel", "telegram"),))] == 2
    assert changed[("faro_webhook_errors_total", (("kind", "forbidden"),))] == 1
    assert changed[("faro_webhook_errors_total", (("kind", "bad_request"),))] == 1
    text = client.get("/metrics").get_data(as_text=True)
    assert PHONE not in text and PHONE[1:] not in text and str(CHAT) not in text


def test_worker_counts_and_queue_depths_come_from_redis(app, client, redis_client, fake_twilio,
                                                       fake_telegram):
    before = scrape(client)
    faro = app.extensions["faro"]
    msg = Inbound("sms", PHONE, "hola", message_id="m1")
    faro.conversations.handle(msg)
    cid = faro.store.contact_id(msg)
    for _ in range(3):
        jobs.enqueue_delivery(queue(redis_client, "replies"), cid, [{"text": "Hola"}])
    queued = scrape(client)
    assert queued[("faro_queue_jobs", (("queue", "replies"), ("state", "queued")))] == 3

    fake_twilio.fail_next.extend([500, (400, 21211)])  # a 5xx (retried), then a refusal
    work(redis_client)
    after = scrape(client)
    changed = moved(before, after)
    assert changed[("faro_worker_messages_sent_total", (("channel", "sms"),))] == 1
    assert changed[("faro_delivery_failures_total", (("channel", "sms"), ("retry", "yes")))] == 1
    assert changed[("faro_delivery_failures_total", (("channel", "sms"), ("retry", "no")))] == 1
    assert changed[("faro_job_failures_total", (("job", "deliver"),))] == 1
    assert after[("faro_queue_jobs", (("queue", "replies"), ("state", "scheduled")))] == 1
    assert after[("faro_queue_jobs", (("queue", "replies"), ("state", "failed")))] == 1
    assert after[("faro_redis_up", ())] == 1


def test_broadcast_messages_by_outcome(app, client, redis_client, fake_twilio, fake_telegram):
    enroll(app, 2)
    enroll(app, 1, channel="telegram")
    enroll(app, 1, opted_out=True, first=5)
    before = scrape(client)
    spec = Spec("casa", "Casa del Migrante", "cli", (Area("Baja California"),), "security",
                {"es": "Retenes hoy."}, "es")
    bid = Broadcasts(redis_client).create(spec, needs_approval=False,
                                          now=dt.datetime.now(dt.UTC)).id
    launch(redis_client, bid)
    work(redis_client)
    changed = moved(before, scrape(client))
    assert changed[("faro_broadcast_messages_total", (("outcome", "sent"),))] == 3
    assert changed[("faro_broadcast_messages_total", (("outcome", "delivered"),))] == 1, (
        "Telegram's answer is its delivery")


def test_a_token_guards_metrics_and_production_hides_them_without_one(config, app):
    guarded = create_app({**config, "FARO_METRICS_TOKEN": "scrape-secret"}).test_client()
    assert guarded.get("/metrics").status_code == 401
    assert guarded.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    scrape(guarded, Authorization="Bearer scrape-secret")

    faro = app.extensions["faro"]
    faro.settings = dataclasses.replace(faro.settings, mode="production")
    assert app.test_client().get("/metrics").status_code == 404


def test_gunicorn_workers_add_up_their_counts(config, tmp_path):
    command = [sys.executable, "-m", "bot.cli", "web", "--bind", "127.0.0.1:{port}",
               "--workers", "2"]
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_1.db").write_bytes(b"an earlier run")  # `faro web` clears it
    with running(command, config, tmp_path / "web.log",
                 PROMETHEUS_MULTIPROC_DIR=str(folder)) as base:
        sent, deadline = 0, time.monotonic() + 30
        # In rounds of eight at once, until both workers took some (one may boot later).
        while len({p.name for p in folder.glob("counter_*.db")}) < 2:
            assert time.monotonic() < deadline, "both workers counted"
            forms = [{"MessageSid": f"SM{sent + n:032d}", "From": f"+52155{sent + n:08d}",
                      "Body": "hola", "To": "+15005550006", "NumMedia": "0"} for n in range(8)]
            with ThreadPoolExecutor(8) as pool:
                answers = list(pool.map(
                    lambda form: post_twilio(base, "/webhooks/twilio/messages", form), forms))
            assert answers == [200] * 8
            sent += 8
        texts = [urllib.request.urlopen(f"{base}/metrics", timeout=5).read().decode()
                 for _ in range(4)]
    for text in texts:  # whichever worker answered, the sum over both
        assert samples(text)[("faro_messages_received_total", (("channel", "sms"),))] == sent
