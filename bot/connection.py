"""The Redis connection every process opens from the settings."""

from __future__ import annotations

import redis

from bot.errors import ConfigError
from bot.settings import Settings


def connect(settings: Settings) -> redis.Redis:
    """A Redis client for REDIS_URL, with short timeouts so a dead server fails fast."""
    if not settings.redis_url:
        raise ConfigError("REDIS_URL is not set (`faro serve` starts an embedded server)")
    return redis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2,
                                health_check_interval=30)
