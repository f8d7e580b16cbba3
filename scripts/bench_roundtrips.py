"""Count the Redis round trips of each inbound message, by kind of step (not a test).

Sends the webhook benchmark's message mix (scripts/benchmix.py) through the Flask app
built with production settings, against real Redis servers, and counts every write of a
command, or of a pipeline or transaction, to a Redis socket: a pipeline, a MULTI/EXEC or
a Lua script is one round trip; a script's hidden SCRIPT EXISTS is one more. Run once with
the keystore on its own server (production) and once sharing the main server. With
--write, replaces the "Redis round trips per message" section of docs/benchmarks.md.

    .venv/bin/python scripts/bench_roundtrips.py [--contacts 150] [--write]
"""

from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import benchdoc
import benchmix
from redis.connection import AbstractConnection

from bot import create_app

COMMAND = ".venv/bin/python scripts/bench_roundtrips.py --write"


def command_names(packed: bytes) -> list[str]:
    """The command names in packed RESP (one for a command, several for a pipeline)."""
    names, at = [], 0
    while packed.startswith(b"*", at):
        end = packed.index(b"\r\n", at)
        count, at = int(packed[at + 1:end]), end + 2
        args = []
        for _ in range(count):
            end = packed.index(b"\r\n", at)
            size, at = int(packed[at + 1:end]), end + 2
            args.append(packed[at:at + size])
            at += size + 2
        name = args[0].decode().upper()
        names.append(f"{name} {args[1].decode().upper()}" if name == "SCRIPT" else name)
    return names


@contextlib.contextmanager
def counting(keystore: str) -> Iterator[list[list[str]]]:
    """Record each round trip (the command names sent together) while inside; those to the
    server at unix socket `keystore` start with "keystore"."""
    trips: list[list[str]] = []
    send = AbstractConnection.send_packed_command

    def counted(self, command, check_health=True):
        packed = command if isinstance(command, bytes | str) else b"".join(command)
        names = command_names(packed.encode() if isinstance(packed, str) else packed)
        where = ["keystore"] if keystore and getattr(self, "path", None) == keystore else []
        trips.append(where + names)
        return send(self, command, check_health)

    AbstractConnection.send_packed_command = counted
    try:
        yield trips
    finally:
        AbstractConnection.send_packed_command = send


def measure(env: dict[str, str], contacts: int, run: int) -> dict[str, list[list[list[str]]]]:
    """Per kind of step, the round trips of each message (warm app, fresh contacts)."""
    client = create_app({**env, "FARO_LOG_LEVEL": "WARNING"}).test_client()
    for request in benchmix.mix(20, run=run):  # warm up: connections, scripts, shelters
        send(client, request)
    found: dict[str, list[list[list[str]]]] = defaultdict(list)
    keystore = env["FARO_KEYSTORE_URL"].removeprefix("unix://")
    for request in benchmix.mix(contacts, run=run + 1):
        with counting(keystore) as trips:
            send(client, request)
        found[request.kind].append(trips)
    return found


def send(client, request: benchmix.Request) -> None:
    answer = client.post(request.path, data=request.body, headers=dict(request.headers),
                         base_url=benchmix.PUBLIC_URL)
    if answer.status_code != 200:
        raise SystemExit(f"{request.kind}: HTTP {answer.status_code} {answer.get_data()[:200]}")


def spread(counts: list[int]) -> str:
    """"3.0 (3-3)": the mean and the range."""
    return f"{statistics.mean(counts):.1f} ({min(counts)}-{max(counts)})"


def shape(trips: list[list[str]]) -> str:
    """One message's round trips as "SET+EXISTS+…; MULTI…EXEC" for the doc."""
    parts = []
    for names in trips:
        where = "keystore " if names[0] == "keystore" else ""
        names = names[1:] if where else names
        if names[0] == "MULTI":
            parts.append("MULTI " + "+".join(names[1:-1]) + " EXEC")
        else:
            parts.append(where + "+".join(names))
    return "; ".join(f"({n}) {p}" for n, p in enumerate(parts, 1))


def report(contacts: int) -> list[str]:
    """Run both layouts and return the markdown lines."""
    with tempfile.TemporaryDirectory(prefix="faro-rt-") as folder, \
            benchmix.backends(Path(folder)) as env:
        apart = measure(env, contacts, run=1)
        shared = measure({**env, "FARO_KEYSTORE_URL": ""}, contacts, run=3)
    lines = ["| kind of step | messages | round trips, keystore apart (production) "
             "| round trips, keystore in the main Redis |", "| --- | ---: | ---: | ---: |"]
    for kind in benchmix.KINDS:
        counts = [len(t) for t in apart[kind]]
        lines.append(f"| {kind} | {len(counts)} | {spread(counts)} | "
                     f"{spread([len(t) for t in shared[kind]])} |")
    lines += ["", "What a message sends, in order, keystore apart (the most common shape):", ""]
    for kind in benchmix.KINDS:
        common = Counter(shape(t) for t in apart[kind]).most_common(1)[0][0]
        lines.append(f"- {kind}: {common}")
    return lines


NOTES = [
    "Counted by wrapping redis-py's `send_packed_command`: each write to a Redis socket is "
    "one round trip; a pipeline, a MULTI/EXEC transaction or an EVAL is one. Kinds as in the "
    "webhook mix: the first message of a new contact (language detected or the language "
    "menu); a menu step (a number or button that leads to the next question); a free-text "
    "step (a typed date kept in the conversation); a shelter search by city name; an "
    "evidence step (opening the case, consent, and answers stored as evidence items).",
    "",
    "Before issue #7 (commit 95a978d), keystore apart: new contact 17, menu step 4, "
    "free-text step 4, shelter search 6.3, evidence step 9.7. redis-py asked SCRIPT EXISTS "
    "before every commit (its lock release was a registered script in the transaction; it "
    "is an EVAL now); a new contact's leftovers were erased key by key even when there were "
    "none (one EXISTS now); an evidence item took WATCH, EXISTS, LLEN, LINDEX and the "
    "transaction, after a lookup of the case code (now two scripts: `TAIL` reads "
    "the last item, `APPEND` adds the next if the case has not moved meanwhile, in "
    "bot/evidence.py; that was WATCH, a read script and a transaction until 2026-11-30, "
    "6.5 on average). Then the lock-and-load pipeline and the commit transaction became one Lua "
    "script each (`LOAD`, `SAVE` in bot/store.py): the same round trips, far fewer commands "
    "for redis-py to pack and parse. A menu step is at its floor: `LOAD`, the data key from "
    "the keystore (its own server in production), `SAVE`.",
]


def main() -> None:
    """Print the table; with --write, also store it in docs/benchmarks.md."""
    parser = benchdoc.parser(__doc__)
    parser.add_argument("--contacts", type=int, default=150)
    args = parser.parse_args()
    os.environ.pop("TESTING", None)
    lines = ["Round trips to Redis per inbound message, mean (min-max), "
             f"{args.contacts} new contacts through the webhooks.", "",
             *report(args.contacts), "", *NOTES]
    benchdoc.publish("Redis round trips per message", COMMAND, lines, args.write)


if __name__ == "__main__":
    main()
