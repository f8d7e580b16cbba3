"""REDIS_URL forms: a Sentinel URL reaches the master, and the new one after a failover."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from bot.connection import connect, parse_sentinel
from bot.errors import ConfigError
from bot.settings import Settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(folder: Path, port: int, *args: str) -> subprocess.Popen:
    """A redis-server (or, with --sentinel, a Sentinel) on 127.0.0.1:`port`."""
    # Without it the failover test must fail, not pass as skipped (.ci/run installs it).
    assert shutil.which("redis-server"), "this test needs redis-server on PATH (apt install)"
    folder.mkdir()
    return subprocess.Popen(["redis-server", *args, "--port", str(port), "--bind", "127.0.0.1",
                             "--dir", str(folder), "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def until(check, seconds: float = 10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if found := check():
                return found
        except (redis.RedisError, OSError):
            pass
        time.sleep(0.05)
    pytest.fail("timed out")


@pytest.fixture
def sentinel(tmp_path: Path) -> Iterator[dict]:
    """A master, its replica and one Sentinel watching them as service "faro"."""
    ports = {name: free_port() for name in ("master", "replica", "sentinel")}
    conf = tmp_path / "sentinel.conf"
    conf.write_text(f"sentinel monitor faro 127.0.0.1 {ports['master']} 1\n"
                    f"sentinel known-replica faro 127.0.0.1 {ports['replica']}\n"
                    "sentinel down-after-milliseconds faro 500\n"
                    "sentinel failover-timeout faro 5000\n")
    procs = [serve(tmp_path / "m", ports["master"], "--repl-diskless-sync-delay", "0"),
             serve(tmp_path / "r", ports["replica"], "--replicaof", "127.0.0.1",
                   str(ports["master"]))]
    try:
        replica = redis.Redis(port=ports["replica"])
        until(lambda: replica.info("replication")["master_link_status"] == "up")
        procs.append(serve(tmp_path / "s", ports["sentinel"], str(conf), "--sentinel"))
        yield {**ports, "master process": procs[0]}
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)


def test_sentinel_urls_are_read_with_defaults():
    assert parse_sentinel("redis+sentinel://:pw@a:26380,b,[::1]:5/faro/2") == (
        [("a", 26380), ("b", 26379), ("::1", 5)], "faro", 2, {"password": "pw"})
    for bad in ("redis+sentinel://a:x/faro", "redis+sentinel:///faro", "redis+sentinel://a"):
        with pytest.raises(ConfigError):
            parse_sentinel(bad)


def test_a_sentinel_url_reaches_the_master_and_follows_a_failover(sentinel):
    url = f"redis+sentinel://127.0.0.1:{sentinel['sentinel']},127.0.0.1:{free_port()}/faro"
    client = connect(Settings.load({"TESTING": True, "REDIS_URL": url}))
    until(lambda: client.set("faro:probe", "1"))  # the first Sentinel answers; one is down
    assert client.connection_pool.get_master_address()[1] == sentinel["master"]
    until(lambda: redis.Redis(port=sentinel["replica"]).get("faro:probe"))

    sentinel["master process"].kill()  # the master dies; the Sentinel promotes the replica
    until(lambda: client.set("faro:after", "2"), seconds=20)
    assert redis.Redis(port=sentinel["replica"]).get("faro:after") == b"2"
