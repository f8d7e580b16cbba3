"""Per-sender token buckets kept in Redis, shared by every worker process.

A provider's limit (Twilio SMS long code 1 segment/s, WhatsApp 10-80 msg/s, Telegram about
30 msg/s) belongs to the sender, not to a worker: with the bucket in Redis, adding
workers never breaks it. One Lua call takes a token or says how long to wait.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis

from bot import keys

# KEYS[1] bucket; ARGV: rate per second, burst, tokens wanted. The time is Redis's own, so
# workers on hosts whose clocks differ still share one clock.
# Returns 0 when the tokens were taken, else the milliseconds to wait before trying again.
TAKE = """
local rate, burst, want = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1]) or burst, tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= want then
  tokens = tokens - want
else
  wait = math.ceil((want - tokens) / rate * 1000)
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 60000)
return wait
"""


@dataclass(frozen=True)
class Limit:
    """A provider limit: `rate` sends per second, at most `burst` at once."""

    rate: float
    burst: float = 1.0


class TokenBucket:
    """Takes send tokens for one sender from its bucket in Redis."""

    def __init__(self, client: redis.Redis, channel: str, sender: str, limit: Limit):
        self.key = keys.bucket(channel, sender)
        self.limit = limit
        self.redis = client
        self._take = client.register_script(TAKE)

    def try_take(self, tokens: float = 1.0) -> float:
        """Take `tokens` now if the bucket has them: 0.0; otherwise the seconds to wait."""
        wait_ms = self._take(keys=[self.key], args=[self.limit.rate, self.limit.burst, tokens])
        return int(wait_ms) / 1000

    def take(self, tokens: float = 1.0, timeout: float = 60.0) -> bool:
        """Wait until `tokens` can be taken (True), or `timeout` passes (False)."""
        deadline = time.monotonic() + timeout
        while (wait := self.try_take(tokens)) > 0:
            if time.monotonic() + wait > deadline:
                return False
            time.sleep(wait)
        return True
