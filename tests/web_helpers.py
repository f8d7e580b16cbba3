"""A real gunicorn serving Faro in a subprocess, for tests of what only it does."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.conftest import twilio_signature


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running(command: list[str], config: dict[str, Any], log: Path,
            **env: str) -> Iterator[str]:
    """Run `command` (gunicorn, or `faro web`) with the test's settings; its base URL once
    /healthz answers. What it prints goes to `log`."""
    port = free_port()
    command = [part.replace("{port}", str(port)) for part in command]
    environ = {**os.environ, **{k: "1" if v is True else str(v) for k, v in config.items()},
               "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}", **env}
    with open(log, "wb") as out:
        server = subprocess.Popen(command, env=environ, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1)
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, log.read_text()
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=15)


def post_twilio(base: str, path: str, form: dict[str, str], **headers: str) -> int:
    """POST a signed Twilio webhook; the status."""
    request = urllib.request.Request(
        base + path, data=urllib.parse.urlencode(form).encode(),
        headers={"X-Twilio-Signature": twilio_signature(path, form), **headers})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.status
