"""2,000 recipients, two worker processes, one SIGKILLed mid-run: everyone served once,
and the providers' limits held in the send times the fake providers recorded."""

from __future__ import annotations

import collections
import datetime as dt
import time

import pytest

from bot import create_app, keys
from bot.broadcasts import Area, Broadcasts, Spec
from tests.alert_helpers import address, children, enroll, kill, start_worker
from worker import broadcast
from worker.broadcast import launch

# Low enough that the limits, not the two workers on two cores, set the pace.
RATES = {"sms": 30.0, "whatsapp": 15.0, "telegram": 15.0}
PEOPLE = {"sms": 1000, "whatsapp": 500, "telegram": 500}


@pytest.fixture
def config(config):
    return {**config, "FARO_BROADCAST_BATCH": "100",
            **{f"FARO_RATE_{c.upper()}": str(r) for c, r in RATES.items()}}


def holds_a_batch(client, bid: str, worker) -> bool:
    horses = set(children(worker.pid))
    holders = [client.get(k) for k in client.scan_iter(keys.broadcast(bid, "lease:*"))]
    return any(int(h.decode().split(":")[1]) in horses for h in holders if h)


def sent_count(fake_twilio, fake_telegram) -> int:
    # Cheap on purpose: the fakes' threads stamp arrivals, and share this process's GIL.
    return len(fake_twilio.requests) + len(fake_telegram.requests)


def test_a_killed_worker_neither_skips_nor_repeats_and_the_limits_hold(
        config, redis_client, fake_twilio, fake_telegram):
    app = create_app(config)
    for n, (channel, count) in enumerate(PEOPLE.items()):
        enroll(app, count, channel=channel, lang=("es", "en", "fr")[n], first=n * 10_000)
    fake_twilio.clear(), fake_telegram.clear()
    spec = Spec("casa-del-migrante", "Casa del Migrante", "cli", (Area("Baja California"),),
                "security", {"es": "Hay retenes en la carretera a Tecate hoy."}, "es")
    book = Broadcasts(redis_client)
    bid = book.create(spec, needs_approval=False, now=dt.datetime.now(dt.UTC)).id
    launch(redis_client, bid)

    workers = [start_worker(config), start_worker(config)]
    try:
        deadline = time.monotonic() + 60
        while sent_count(fake_twilio, fake_telegram) < 600 and time.monotonic() < deadline:
            time.sleep(0.25)
        # Mid-batch: when one of its work horses holds a batch's lease (the lease names the
        # holder's pid), wherever in the batch that horse is.
        while not holds_a_batch(redis_client, bid, workers[0]) and time.monotonic() < deadline:
            time.sleep(0.05)
        kill(workers[0])
        workers[0] = start_worker(config)
        deadline = time.monotonic() + 180
        while book.status(bid) != "done" and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        for worker in workers:
            kill(worker)

    progress = book.get(bid).progress()
    assert progress["status"] == "done" and progress["percent"] == 100
    # The killed worker's batch was taken over by a new job (generation 1 or more).
    jobs = [j.decode() for j in redis_client.hvals(keys.broadcast(bid, "jobs"))]
    revived = [j for j in jobs if not j.endswith("-0")]
    assert revived, jobs
    print(f"revived batches: {revived}; resent on Telegram: {book.get(bid).counts['resent']}")
    # Twilio: exactly once each (a recipient claimed by the dead worker was looked up
    # with the Messages list before any resend).
    twilio_to = collections.Counter(m["To"] for m, _sid in fake_twilio.accepted())
    wanted = {address("sms", i) for i in range(PEOPLE["sms"])} | {
        f"whatsapp:{address('whatsapp', 10_000 + i)}" for i in range(PEOPLE["whatsapp"])}
    assert set(twilio_to) == wanted and set(twilio_to.values()) == {1}
    # Telegram cannot be asked: at least once each, and a repeat only where counted.
    chats = collections.Counter(str(c["chat_id"]) for c in fake_telegram.calls("sendMessage"))
    assert set(chats) == {address("telegram", 20_000 + i) for i in range(PEOPLE["telegram"])}
    repeats = sum(chats.values()) - len(chats)
    assert repeats <= book.get(bid).counts["resent"] <= broadcast.SENDERS
    assert progress["sent"] == sum(PEOPLE.values())

    # The limits: in any stretch of the run, no channel sent more than its rate allows: a
    # burst of a tenth of a second's worth, plus 0.1 s for the time between taking a token
    # and the request's arrival (eight sending threads per worker share one CPU).
    times = collections.defaultdict(list)
    for request in fake_twilio.requests:
        if request.get("sid"):
            channel = "whatsapp" if request["params"]["To"].startswith("whatsapp:") else "sms"
            times[channel].append(request["at"])
    times["telegram"] = [r["at"] for r in fake_telegram.requests
                         if r["path"].endswith("/sendMessage")]
    for channel, stamps in times.items():
        stamps.sort()
        rate = RATES[channel]
        for i in range(0, len(stamps), 7):
            for j in range(i + 1, len(stamps), 13):
                allowed = max(1, rate / 10) + rate * (stamps[j] - stamps[i] + 0.1) + 1
                assert j - i + 1 <= allowed, (channel, i, j)
        busiest = max(sum(1 for t in stamps if s <= t < s + 1) for s in stamps)
        print(f"{channel}: {len(stamps)} sends in {stamps[-1] - stamps[0]:.1f} s, "
              f"busiest second {busiest}, limit {rate}/s")
