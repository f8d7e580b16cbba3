"""The Redis connection every process opens from the settings.

REDIS_URL and FARO_KEYSTORE_URL take what redis-py's `from_url` takes (``redis://``,
``rediss://``, ``unix://``), or a Sentinel URL that names the Sentinels and the service:

    redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/service[/db]

The port defaults to 26379. The credentials are the master's and are sent to the Sentinels
too. The client asks a Sentinel for the current master on each new connection, so after a
failover the next command that reconnects reaches the new master.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import redis
from redis.sentinel import Sentinel

from bot.errors import ConfigError
from bot.keystore import Keystore
from bot.settings import Settings

SENTINEL = "redis+sentinel"
SENTINEL_PORT = 26379
TIMEOUTS = {"socket_timeout": 2, "socket_connect_timeout": 2}  # a dead server fails fast


def connect(settings: Settings) -> redis.Redis:
    """A Redis client for REDIS_URL, with short timeouts so a dead server fails fast."""
    if not settings.redis_url:
        raise ConfigError("REDIS_URL is not set (`faro serve` starts an embedded server)")
    return client_for(settings.redis_url, health_check_interval=30)


def keystore(settings: Settings, client: redis.Redis) -> Keystore:
    """The keystore: its own server when FARO_KEYSTORE_URL is set, else the main one."""
    if not settings.keystore_url:
        return Keystore(client, shared=True)
    return Keystore(client_for(settings.keystore_url), shared=False)


def client_for(url: str, **options: int) -> redis.Redis:
    """A client for `url` (a Sentinel URL gives the client of its service's master)."""
    options = {**TIMEOUTS, **options}
    if urlsplit(url).scheme != SENTINEL:
        return redis.Redis.from_url(url, **options)
    hosts, service, db, auth = parse_sentinel(url)
    sentinels = Sentinel(hosts, sentinel_kwargs={**TIMEOUTS, **auth})
    return sentinels.master_for(service, db=db, **auth, **options)


def parse_sentinel(url: str) -> tuple[list[tuple[str, int]], str, int, dict[str, str]]:
    """(Sentinel hosts, service name, database, credentials) of a redis+sentinel:// URL."""
    parts = urlsplit(url)
    userinfo, _, netloc = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    path = [p for p in parts.path.split("/") if p]
    try:
        hosts = [_host(item) for item in netloc.split(",") if item]
        db = int(path[1]) if len(path) > 1 else 0
    except ValueError as exc:
        raise ConfigError(f"bad Sentinel URL: {exc}") from exc
    if not hosts or not path:
        raise ConfigError("a Sentinel URL names its hosts and service: "
                          "redis+sentinel://host:26379,host2:26379/service")
    auth = {k: unquote(v) for k, v in (("username", user), ("password", password)) if v}
    return hosts, path[0], db, auth


def _host(item: str) -> tuple[str, int]:
    """("host", port) of "host", "host:port", "[::1]" or "[::1]:port"."""
    if item.startswith("["):
        host, _, rest = item[1:].partition("]")
        return host, int(rest[1:]) if rest else SENTINEL_PORT
    host, _, port = item.partition(":")
    return host, int(port) if port else SENTINEL_PORT
