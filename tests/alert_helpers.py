"""Subscribed people for alert tests, made through the real conversation pipeline."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from rq import SimpleWorker

from bot import create_app, keys
from bot.message import Inbound
from worker.queues import all_queues

# No provider rate limits, and no per-contact one: whole-flow tests send a person's
# messages faster than anyone types (more than FARO_CONTACT_RATE's 20 in a minute).
NO_LIMIT = {"FARO_RATE_SMS": "0", "FARO_RATE_WHATSAPP": "0", "FARO_RATE_TELEGRAM": "0",
            "FARO_CONTACT_RATE": "0"}
GREETING = {"es": "hola", "en": "hello", "fr": "bonjour", "ht": "bonjou", "pt": "olá"}


# Import these two into a test module to override its `config` and `app` fixtures.
@pytest.fixture(name="config")
def unlimited_config(config: dict[str, Any]) -> dict[str, Any]:
    """The test config without rate limits."""
    return {**config, **NO_LIMIT}


@pytest.fixture(name="app")
def worker_app(config: dict[str, Any], worker_env: None) -> Any:
    """An app whose config the worker jobs of the test share."""
    return create_app(config)


def address(channel: str, n: int) -> str:
    """The n-th test address of a channel: a Mexican mobile, or a Telegram chat id."""
    return str(700_000_000 + n) if channel == "telegram" else f"+52155{n:08d}"


def enroll(app: Any, n: int, *, channel: str = "sms", lang: str = "es",
           state: str = "Baja California", city: str = "", topics: str = "all",
           seen_ago: int = 0, opted_out: bool = False, first: int = 0) -> list[str]:
    """`n` people who greeted Faro on `channel` in `lang` and subscribed; their contact ids.

    The greeting goes through the real pipeline (so the address is sealed as in production);
    the subscription fields are those the Settings flow writes.
    """
    faro = app.extensions["faro"]
    cids = []
    for i in range(first, first + n):
        msg = Inbound(channel, address(channel, i), GREETING[lang], message_id=f"m{channel}{i}")
        faro.conversations.handle(msg)
        cid = faro.store.contact_id(msg)
        faro.redis.hset(keys.contact(cid), mapping={
            "sr": state, "sc": city, "st": topics, "o": "1" if opted_out else "0",
            "t": int(time.time()) - seen_ago})
        faro.redis.sadd(keys.subscribers(state), cid)
        cids.append(cid)
    return cids


def work(client: Any) -> None:
    """Run every queued job (and those scheduled for now) in this process, then return."""
    SimpleWorker(all_queues(client), connection=client).work(burst=True, with_scheduler=True)


def start_worker(config: dict[str, Any]) -> subprocess.Popen:
    """A real `faro worker` process with the test's settings in its environment."""
    env = {**os.environ, **{k: "1" if v is True else str(v) for k, v in config.items()}}
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "worker"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (RQ's work horse, its scheduler)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:  # field 4 of stat: the parent's pid
                found.append(int(stat.parent.name))
    return found


def kill(worker: subprocess.Popen) -> None:
    """SIGKILL the worker and RQ's work horse (its child, in a process group of its own),
    as when a container or a machine dies: killing the parent alone leaves the horse sending.
    """
    for pid in [worker.pid, *children(worker.pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    worker.wait()
