"""The shared token bucket: a provider's limit holds however many workers send."""

import threading
import time

import redis

from worker.ratelimit import Limit, TokenBucket


def test_a_full_bucket_allows_its_burst_then_makes_senders_wait(redis_client):
    bucket = TokenBucket(redis_client, "sms", "+15005550006", Limit(rate=2, burst=3))
    assert [bucket.try_take() for _ in range(3)] == [0, 0, 0]
    wait = bucket.try_take()
    assert 0.4 <= wait <= 0.5  # one token comes back every half second


def test_workers_sharing_one_bucket_keep_the_rate_together(redis_server, redis_client):
    sent: list[float] = []
    lock = threading.Lock()

    def worker():
        client = redis.Redis.from_url(redis_server.url)
        bucket = TokenBucket(client, "whatsapp", "+14155238886", Limit(rate=20, burst=1))
        for _ in range(10):
            assert bucket.take(timeout=10)
            with lock:
                sent.append(time.monotonic())
        client.close()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 30 sends at 20 per second with a burst of 1 take at least 29/20 s, whoever sends.
    assert len(sent) == 30
    assert max(sent) - min(sent) >= 29 / 20 * 0.95


def test_buckets_of_different_senders_do_not_share_tokens(redis_client):
    one = TokenBucket(redis_client, "sms", "+15005550006", Limit(rate=1, burst=1))
    two = TokenBucket(redis_client, "sms", "+15005550007", Limit(rate=1, burst=1))
    assert one.try_take() == 0 and two.try_take() == 0
    assert one.try_take() > 0


def test_take_gives_up_at_its_timeout(redis_client):
    bucket = TokenBucket(redis_client, "sms", "+15005550006", Limit(rate=0.1, burst=1))
    assert bucket.take(timeout=1)
    started = time.monotonic()
    assert bucket.take(timeout=0.2) is False
    assert time.monotonic() - started < 0.5
