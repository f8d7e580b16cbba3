"""Measure how many operations one Redis serves, and what one inbound message costs it.

People subscribe to alerts through the real pipeline (`Conversations.handle`, as in
scripts/bench_memory.py), then, as known contacts, move through menus. INFO before and after
gives, on the server's side, commands and socket reads (about one per round trip) per message;
scripts/bench_roundtrips.py breaks round trips down by step, counted by the client. Then
redis-benchmark measures the same server: requests per second with 50 clients, one command per
round trip and in pipelines of 8. Dividing gives a rough ceiling on the messages per second one
Redis takes; the web processes reach theirs first (see "Webhook throughput and latency").

    .venv/bin/python scripts/bench_redis.py [--people 300] [--write]
"""

from __future__ import annotations

import csv
import random
import shutil
import subprocess
import time
from collections import Counter
from urllib.parse import urlsplit

import benchdoc
import redis
from bench_memory import address, message_id, server_name, subscribe

from bot.embedded import EmbeddedRedis
from bot.message import Inbound
from bot.settings import Settings
from bot.web import Faro, build

KNOWN = ("menu", "6", "menu")  # a known contact moving through menus


def snapshot(client: redis.Redis) -> tuple[Counter, int]:
    """Calls per command so far, and the socket reads the server processed."""
    stats = client.info("commandstats")
    calls = Counter({name.removeprefix("cmdstat_"): v["calls"] for name, v in stats.items()})
    return calls, int(client.info("stats")["total_reads_processed"])


def costs(client: redis.Redis, run, messages: int) -> dict:
    """Run `run()`; commands, reads and seconds per message, and the busiest commands."""
    calls, reads = snapshot(client)
    start = time.perf_counter()
    run()
    seconds = time.perf_counter() - start
    calls_after, reads_after = snapshot(client)
    spent = calls_after - calls
    return {"commands": sum(spent.values()) / messages, "trips": (reads_after - reads) / messages,
            "ms": seconds * 1000 / messages, "top": spent.most_common(6), "messages": messages}


def converse(faro: Faro, people: int) -> tuple[dict, dict]:
    """Costs per message: new people subscribing, then the same people as known contacts."""
    rng = random.Random(7)
    channels = []

    def subscribe_all() -> None:
        channels.extend(subscribe(faro, n, rng).channel for n in range(people))

    def navigate() -> None:
        for n, channel in enumerate(channels):
            for i, text in enumerate(KNOWN):
                faro.conversations.handle(Inbound(channel, address(channel, n), text,
                                                  message_id=message_id(channel, n, 6 + i)))

    new = costs(faro.redis, subscribe_all, people * 6)
    return new, costs(faro.redis, navigate, people * len(KNOWN))


def benchmark(url: str, *extra: str) -> dict[str, float]:
    """redis-benchmark against `url`: requests per second by command."""
    parts = urlsplit(url)
    where = (["-s", parts.path] if parts.scheme == "unix"
             else ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port)])
    out = subprocess.run(["redis-benchmark", *where, "--csv", "-c", "50", "-t", "get,set,hset",
                          *extra], capture_output=True, text=True, check=True).stdout
    return {row["test"]: float(row["rps"]) for row in csv.DictReader(out.splitlines())}


def report(new: dict, known: dict, single: dict, piped: dict, server: str) -> list[str]:
    """Markdown lines for the figures."""
    rows = [("a new person subscribing (greeting, Settings, Alerts, topics, city, scope)", new),
            ("a known contact moving through menus", known)]
    trips = min(single.values()) if single else 0
    commands = min(piped.values()) if piped else 0
    ceiling = min(trips / new["trips"], commands / new["commands"]) if single else 0
    lines = [f"{server}, unix socket, no persistence; `Conversations.handle` in one process.", "",
             "| message | commands | round trips | ms in one process | busiest commands |",
             "| --- | ---: | ---: | ---: | --- |"]
    for name, f in rows:
        top = ", ".join(f"{cmd} {n / f['messages']:.1f}" for cmd, n in f["top"])
        lines.append(f"| {name} | {f['commands']:.1f} | {f['trips']:.1f} | {f['ms']:.2f} "
                     f"| {top} |")
    lines += ["", "Counted by the server: INFO commandstats, and socket reads (INFO stats "
              "`total_reads_processed`, one per command, pipeline or transaction sent). "
              "\"Redis round trips per message\" counts them on the client's side, by step."]
    if not single:
        return [*lines, "", "redis-benchmark is not on PATH: no server figures."]
    return [*lines, "",
            "redis-benchmark on the same server, 50 clients, on the same 2 cores as its client: "
            + ", ".join(f"{k} {v:,.0f}/s" for k, v in single.items())
            + " one command per round trip; "
            + ", ".join(f"{k} {v:,.0f}/s" for k, v in piped.items())
            + " in pipelines of 8.",
            "",
            f"Ceiling for one Redis, from the slowest of those and the new person's costs: about "
            f"**{ceiling:,.0f} messages/s** (round trips / round trips per message, or commands / "
            "commands per message, whichever is lower). A server with a core of its own does "
            "more; the Python processes around it reach their limit long before."]


def main() -> None:
    """Run the measurement; print it; with --write, store it in docs/benchmarks.md."""
    parser = benchdoc.parser(__doc__)
    parser.add_argument("--people", type=int, default=300)
    args = parser.parse_args()
    with EmbeddedRedis() as server:
        faro = build(Settings.load({"TESTING": True, "REDIS_URL": server.url}))
        faro.redis.flushall()
        new, known = converse(faro, args.people)
        name = server_name(faro.redis)
        found = shutil.which("redis-benchmark")
        single = benchmark(server.url, "-n", "100000") if found else {}
        piped = benchmark(server.url, "-n", "400000", "-P", "8") if found else {}
    lines = report(new, known, single, piped, name)
    benchdoc.publish("Redis capacity", ".venv/bin/python scripts/bench_redis.py --write",
                     lines, args.write)


if __name__ == "__main__":
    main()
