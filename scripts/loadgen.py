"""A small HTTP load generator for the webhook benchmark, run in a process of its own.

One connection per request (gunicorn's sync workers close it after each answer), written
with asyncio's low-level protocols to keep its own CPU cost small. Closed loop: a fixed
number of clients send back to back, for the most a server can take. Open loop: requests
leave at a constant rate whatever the answers do, and each latency counts from the moment
the request was due, so a server that falls behind shows it (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Result:
    """What one load run saw."""

    sent: int = 0
    wall: float = 0.0  # seconds from the first request to the last answer
    cpu: float = 0.0  # CPU seconds the generator itself used
    statuses: Counter = field(default_factory=Counter)
    latencies: dict[int, float] = field(default_factory=dict)  # request index -> seconds
    others: dict[str, float] = field(default_factory=dict)  # CPU seconds of watched processes
    requests: list = field(default_factory=list)  # what was sent, for the caller's breakdowns

    @property
    def rate(self) -> float:
        """Answers per second."""
        return len(self.latencies) / self.wall if self.wall else 0.0

    def percentile(self, share: float, only: set[int] | None = None) -> float:
        """The latency (ms) below which `share` of the answers came (of requests `only`)."""
        ordered = sorted(v for k, v in self.latencies.items() if only is None or k in only)
        return 1000 * ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class _Exchange(asyncio.Protocol):
    """Writes one request, keeps the status line, finishes when the server closes."""

    def __init__(self, data: bytes, done: asyncio.Future):
        self.data = data
        self.done = done
        self.head = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(self.data)  # type: ignore[attr-defined]

    def data_received(self, chunk: bytes) -> None:
        if len(self.head) < 12:
            self.head += chunk

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(self.head[9:12].decode() or "closed")


async def _exchange(port: int, data: bytes) -> str:
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    try:
        await loop.create_connection(lambda: _Exchange(data, done), "127.0.0.1", port)
        return await done
    except OSError as exc:
        return type(exc).__name__


async def _closed(port: int, requests: list[bytes], clients: int, seconds: float) -> Result:
    result = Result()
    queue = iter(enumerate(requests))
    start = time.perf_counter()
    deadline = start + seconds

    async def client() -> None:
        for n, data in queue:
            began = time.perf_counter()
            if began > deadline:
                return
            result.sent += 1
            result.statuses[await _exchange(port, data)] += 1
            result.latencies[n] = time.perf_counter() - began

    await asyncio.gather(*(client() for _ in range(clients)))
    result.wall = time.perf_counter() - start
    return result


async def _open(port: int, requests: list[bytes], rate: float) -> Result:
    result = Result()
    start = time.perf_counter() + 0.25  # the schedule starts once this process has settled

    async def timed(n: int, data: bytes, due: float) -> None:
        result.statuses[await _exchange(port, data)] += 1
        result.latencies[n] = time.perf_counter() - due

    tasks = []
    for n, data in enumerate(requests):
        due = start + n / rate
        wait = due - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        result.sent += 1
        tasks.append(asyncio.create_task(timed(n, data, due)))
    await asyncio.gather(*tasks)
    result.wall = time.perf_counter() - start
    return result


def _child(conn, mode: str, port: int, requests: list[bytes], amount: float,
           seconds: float) -> None:
    cpu = os.times()
    if mode == "closed":
        result = asyncio.run(_closed(port, requests, int(amount), seconds))
    else:
        result = asyncio.run(_open(port, requests, amount))
    after = os.times()
    result.cpu = (after.user - cpu.user) + (after.system - cpu.system)
    conn.send(result)
    conn.close()


def run(mode: str, port: int, requests: list[bytes], amount: float,
        seconds: float = 0.0) -> Result:
    """Load 127.0.0.1:`port` from a separate process and return what it saw.

    `mode` "closed": `amount` clients for at most `seconds`; "open": `amount` requests
    per second until `requests` run out.
    """
    context = multiprocessing.get_context("fork")
    parent, child = context.Pipe(duplex=False)
    process = context.Process(target=_child,
                              args=(child, mode, port, requests, amount, seconds))
    process.start()
    child.close()
    result = parent.recv()
    process.join()
    return result
