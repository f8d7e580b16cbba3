"""The Redis connection every process opens from the settings."""

from __future__ import annotations

import redis

from bot.errors import ConfigError
from bot.keystore import Keystore
from bot.settings import Settings


def connect(settings: Settings) -> redis.Redis:
    """A Redis client for REDIS_URL, with short timeouts so a dead server fails fast."""
    if not settings.redis_url:
        raise ConfigError("REDIS_URL is not set (`faro serve` starts an embedded server)")
    return redis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2,
                                health_check_interval=30)


def keystore(settings: Settings, client: redis.Redis) -> Keystore:
    """The keystore: its own server when FARO_KEYSTORE_URL is set, else the main one."""
    if not settings.keystore_url:
        return Keystore(client, shared=True)
    return Keystore(redis.Redis.from_url(settings.keystore_url, socket_timeout=2,
                                         socket_connect_timeout=2), shared=False)
