"""Prometheus metrics on `GET /metrics`, in the text exposition format.

Two sources, neither of which names a person (labels are channels, queues, job names,
outcomes and error kinds):

- The web process counts what it sees in memory: messages in and replies out per channel,
  how long each webhook took, webhook errors by kind. Under gunicorn each worker process
  writes its counts to files in PROMETHEUS_MULTIPROC_DIR (`faro web` sets it) and a scrape
  of any worker adds them all up (prometheus_client's multiprocess mode).
- RQ workers run anywhere and serve no HTTP, so what they count (messages they sent,
  delivery failures, failed jobs, broadcast messages by outcome) goes into one Redis hash,
  `faro:metrics`, in the same round trips as their work. A scrape reads it, and the queue
  depths, from Redis at that moment.

`FARO_METRICS_TOKEN` set: a scrape must send `Authorization: Bearer <token>`. Unset, the
route answers 404 in production and is open in development and tests.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Iterator

import redis
from flask import Flask, Response, current_app, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from rq import Queue

from bot import keys
from worker.queues import NAMES

# The webhooks whose latency is measured, and the channel to count them under until the
# request names its own (a Twilio message says whether it is SMS or WhatsApp).
WEBHOOKS = {"twilio.messages": "twilio", "twilio.status": "twilio_status",
            "voice.call": "voice", "telegram.webhook": "telegram"}
BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# registry=None: collected per scrape, from these objects or from the multiprocess files.
RECEIVED = Counter("faro_messages_received", "Messages people sent, by channel",
                   ["channel"], registry=None)
REPLIED = Counter("faro_replies_sent", "Messages sent in webhook answers, by channel",
                  ["channel"], registry=None)
LATENCY = Histogram("faro_webhook_seconds", "Time to answer a webhook, by channel",
                    ["channel"], buckets=BUCKETS, registry=None)
ERRORS = Counter("faro_webhook_errors", "Webhook requests that failed, by kind "
                 "(redis, busy, bad_request, forbidden, internal)", ["kind"], registry=None)
IN_PROCESS = (RECEIVED, REPLIED, LATENCY, ERRORS)

# Fields of the faro:metrics hash ("<family>:<label value>[:<label value>]") and how each
# family is shown: name, help, label names.
STORED = {
    "sent": ("faro_worker_messages_sent", "Messages workers sent (queued replies, reminders, "
             "evidence answers), by channel", ["channel"]),
    "delivery_failed": ("faro_delivery_failures", "Provider calls by workers that failed, by "
                        "channel and whether another try was due", ["channel", "retry"]),
    "job_failed": ("faro_job_failures", "RQ jobs that failed, by function", ["job"]),
    "broadcast": ("faro_broadcast_messages", "Alert recipients by outcome (sent, failed, "
                  "skipped, outside, resent, via_sms, template, delivered)", ["outcome"]),
}


def received(channel: str) -> None:
    """Count one message in on `channel`, which also labels this request's latency."""
    g.metrics_channel = channel
    RECEIVED.labels(channel).inc()


def replied(channel: str, count: int) -> None:
    """Count `count` messages out in a webhook's answer."""
    if count:
        REPLIED.labels(channel).inc(count)


def failed(kind: str) -> None:
    """Count one webhook request that failed (redis, busy, bad_request, internal...)."""
    if request.endpoint in WEBHOOKS:
        ERRORS.labels(kind).inc()


def count(client: redis.Redis | redis.client.Pipeline, family: str, *labels: str,
          by: int = 1) -> None:
    """Add `by` to a worker-side counter kept in Redis (on a pipeline: in its round trip)."""
    client.hincrby(keys.metrics(), ":".join((family, *labels)), by)


def init_app(app: Flask) -> None:
    """Time the webhooks and serve `GET /metrics`."""
    app.before_request(_start)
    app.after_request(_observe)
    app.add_url_rule("/metrics", "metrics", scrape)


def _start() -> None:
    g.metrics_started = time.perf_counter()


def _observe(response: Response) -> Response:
    channel = WEBHOOKS.get(request.endpoint or "")
    if channel and "metrics_started" in g:
        channel = g.get("metrics_channel", channel)
        LATENCY.labels(channel).observe(time.perf_counter() - g.metrics_started)
    return response


def scrape() -> Response:
    """The metrics, for Prometheus."""
    faro = current_app.extensions["faro"]
    token = faro.settings.metrics_token
    if not token and not faro.settings.development:
        return Response("not found\n", 404, mimetype="text/plain")
    given = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if token and not hmac.compare_digest(given.encode(), token.encode()):
        return Response("unauthorized\n", 401, {"WWW-Authenticate": "Bearer"},
                        mimetype="text/plain")
    return Response(render(faro.redis), mimetype=CONTENT_TYPE_LATEST)


def render(client: redis.Redis) -> bytes:
    """Every metric in the text exposition format."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        for metric in IN_PROCESS:
            registry.register(metric)
    registry.register(FromRedis(client))
    return generate_latest(registry)


class FromRedis:
    """The workers' counters and the queue depths, read from Redis at scrape time."""

    def __init__(self, client: redis.Redis):
        self.client = client

    def collect(self) -> Iterator[Metric]:
        """Yield the metric families (an unreachable Redis shows as faro_redis_up 0)."""
        try:
            stored, depths = self._read()
        except redis.RedisError:
            yield GaugeMetricFamily("faro_redis_up", "Whether Redis answered the scrape", 0)
            return
        yield GaugeMetricFamily("faro_redis_up", "Whether Redis answered the scrape", 1)
        families = {name: CounterMetricFamily(metric, text, labels=labels)
                    for name, (metric, text, labels) in STORED.items()}
        for field, value in stored.items():
            family, *labels = field.decode().split(":")
            if family in families and len(labels) == len(STORED[family][2]):
                families[family].add_metric(labels, int(value))
        yield from families.values()
        depth = GaugeMetricFamily("faro_queue_jobs", "RQ jobs per queue and state",
                                  labels=["queue", "state"])
        for (name, state), value in depths.items():
            depth.add_metric([name, state], value)
        yield depth

    def _read(self) -> tuple[dict[bytes, bytes], dict[tuple[str, str], int]]:
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(keys.metrics())
        order = []
        for name in NAMES:
            q = Queue(name, connection=self.client)
            for state, key in (("queued", q.key), ("started", q.started_job_registry.key),
                               ("scheduled", q.scheduled_job_registry.key),
                               ("failed", q.failed_job_registry.key)):
                (pipe.llen if state == "queued" else pipe.zcard)(key)
                order.append((name, state))
        stored, *sizes = pipe.execute()
        return stored, dict(zip(order, sizes, strict=True))
