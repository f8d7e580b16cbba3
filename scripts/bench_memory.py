"""Measure Redis memory per idle subscribed contact (DESIGN.md's budget: 600 bytes).

A fresh server gets SAMPLE people who subscribe to alerts through the real pipeline
(`Conversations.handle`: a greeting, Settings, Alerts, topics, a city, then only that city or
the whole state) on WhatsApp, SMS and Telegram. Sending all 100,000 through it would take about
15 minutes here, so the others copy a sampled person's record field by field, with their own
address sealed under their own data key, written in pipelines. Then every key with a TTL
(conversation state, dedupe marks) is deleted, as if it had expired, and INFO memory's
used_memory before and after gives bytes per contact. Runs on redis-server (when on PATH) and
on the Valkey that bot.embedded starts otherwise.

    .venv/bin/python scripts/bench_memory.py [--contacts 100000] [--sample 1000] [--write]
"""

from __future__ import annotations

import random
import shutil
import statistics
import time
from collections import Counter
from collections.abc import Iterable, Iterator

import benchdoc
import redis

from bot import crypto, keys
from bot.embedded import EmbeddedRedis
from bot.message import KEY_SPACE, Inbound
from bot.settings import Settings
from bot.web import Faro, build

# (value, weight): most people write on WhatsApp, in Spanish, and want every alert.
CHANNELS = (("whatsapp", 5), ("sms", 3), ("telegram", 2))
GREETINGS = (("hola", 7), ("bonjou", 1), ("hello", 1), ("olá", 1))
TOPICS = (("1", 5), ("2", 2), ("2 5", 1), ("3", 1), ("2 3 4", 1))
SCOPES = (("1", 1), ("2", 1))  # only the city, or the whole state
CITIES = ("Tijuana", "Mexicali", "Ciudad Juárez", "Reynosa", "Matamoros", "Nuevo Laredo",
          "Piedras Negras", "Tapachula", "Monterrey", "Hermosillo", "Ciudad de México",
          "Villahermosa", "Oaxaca", "Puebla", "Saltillo", "Chihuahua")
BUDGET = 600


def pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    """One value of (value, weight) pairs."""
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


def address(channel: str, n: int) -> str:
    """The n-th address of a channel: a Mexican mobile, or a Telegram chat id."""
    return str(5_000_000_000 + n) if channel == "telegram" else f"+52155{n:08d}"


def subscribe(faro: Faro, n: int, rng: random.Random) -> Inbound:
    """Person n greets Faro and subscribes to alerts, message by message; their last message."""
    channel = pick(rng, CHANNELS)
    texts = [pick(rng, GREETINGS), "6", "2", pick(rng, TOPICS), rng.choice(CITIES),
             pick(rng, SCOPES)]
    for i, text in enumerate(texts):
        msg = Inbound(channel, address(channel, n), text, message_id=message_id(channel, n, i))
        faro.conversations.handle(msg)
    return msg


def message_id(channel: str, n: int, i: int) -> str:
    """The provider's id of person n's i-th message, shaped as Twilio's or Telegram's."""
    return str(900_000_000 + n * 10 + i) if channel == "telegram" else f"SM{n:024x}{i:08x}"


def chunks(items: Iterable, size: int = 1000) -> Iterator[list]:
    """Lists of at most `size` items."""
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def used(client: redis.Redis) -> int:
    """The server's used_memory, in bytes."""
    return int(client.info("memory")["used_memory"])


def expire_all(client: redis.Redis) -> tuple[Counter, int]:
    """Delete every key that has a TTL, as if idle time had run out.

    Returns how many went per kind of key, and their MEMORY USAGE in all.
    """
    gone: Counter = Counter()
    size = 0
    for batch in chunks(client.scan_iter(match=keys.pattern_all(), count=1000)):
        pipe = client.pipeline(transaction=False)
        for key in batch:
            pipe.ttl(key)
            pipe.memory_usage(key, samples=0)
        answers = pipe.execute()
        volatile = [(k, answers[2 * i + 1]) for i, k in enumerate(batch) if answers[2 * i] >= 0]
        if volatile:
            client.delete(*(k for k, _ in volatile))
        gone.update(k.decode().split(":")[1] for k, _ in volatile)
        size += sum(n for _, n in volatile)
    return gone, size


def records(faro: Faro, msgs: list[Inbound]) -> list[tuple[str, dict]]:
    """(channel, contact record without the sealed address) of each sampled person."""
    out = []
    for msg in msgs:
        record = faro.redis.hgetall(keys.contact(faro.store.contact_id(msg)))
        out.append((msg.channel, {k.decode(): v.decode() for k, v in record.items() if k != b"a"}))
    return out


def copy_contacts(faro: Faro, templates: list[tuple[str, dict]], first: int, count: int) -> None:
    """`count` more contacts, each a copy of a sampled one with its own address and keys."""
    keyring, now = faro.store.keyring, int(time.time())
    for batch in chunks(range(first, first + count)):
        pipe = faro.redis.pipeline(transaction=False)
        for n in batch:
            channel, record = templates[n % len(templates)]
            addr = address(channel, n)
            cid = keyring.contact_id(KEY_SPACE[channel], addr)
            data_key, wrapped = keyring.new_data_key(cid)
            seen = now - n % 2_592_000  # last wrote within the past month
            pipe.hset(keys.contact(cid), mapping={
                **record, "a": crypto.encrypt(data_key, addr, cid), "t": seen, "t0": seen})
            faro.store.keystore.put(cid, wrapped, pipe)
            pipe.sadd(keys.subscribers(record["sr"]), cid)
        pipe.execute()


def usage(client: redis.Redis, names: list[str]) -> float:
    """Mean MEMORY USAGE (exact: SAMPLES 0) of the keys `names`."""
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.memory_usage(name, samples=0)
    return statistics.mean(pipe.execute())


def breakdown(client: redis.Redis, cids: list[str], total: int) -> dict[str, float]:
    """Bytes per contact by kind of key: MEMORY USAGE of the sample's keys and of the sets."""
    sets = list(client.scan_iter(match=keys.subscribers("*"), count=1000))
    return {"hash": usage(client, [keys.contact(c) for c in cids]),
            "data key": usage(client, [keys.data_key(c) for c in cids]),
            "sets": sum(client.memory_usage(s, samples=0) for s in sets) / total,
            "set count": len(sets)}


def drop(client: redis.Redis, pattern: str) -> int:
    """Delete every key matching `pattern`; how many."""
    count = 0
    for batch in chunks(client.scan_iter(match=pattern, count=1000)):
        count += client.delete(*batch)
    return count


def measure(url: str, total: int, sample: int, seed: int) -> dict:
    """Fill a fresh server with `total` subscribed idle contacts; the figures."""
    faro = build(Settings.load({"TESTING": True, "REDIS_URL": url}))
    client = faro.redis
    client.flushall()
    f = {"before": used(client), "total": total, "sample": sample}
    start = time.perf_counter()
    rng = random.Random(seed)
    msgs = [subscribe(faro, n, rng) for n in range(sample)]
    f["pipeline s"] = time.perf_counter() - start
    copy_contacts(faro, records(faro, msgs), sample, total - sample)
    f["copy s"] = time.perf_counter() - start - f["pipeline s"]
    f["peak"] = used(client)
    marks = drop(client, keys.seen("*"))
    f["mark"] = (f["peak"] - used(client)) / marks
    f["expired"], f["volatile"] = expire_all(client)
    f["expired"]["d"] = marks
    f["after"] = used(client)
    cids = [faro.store.contact_id(m) for m in msgs]
    f.update(breakdown(client, cids, total))
    f["encodings"] = Counter(client.object("encoding", keys.contact(c)).decode() for c in cids)
    drop(client, keys.data_key("*"))
    f["no keystore"] = used(client)
    f["server"] = server_name(client)
    return f


def server_name(client: redis.Redis) -> str:
    """"Redis 7.0.15" or "Valkey 9.1.2"."""
    info = client.info("server")
    if "valkey_version" in info:
        return f"Valkey {info['valkey_version']}"
    return f"Redis {info['redis_version']}"


def per_contact(f: dict) -> dict[str, float]:
    """The figures per contact, from one run's raw figures."""
    per = (f["after"] - f["before"]) / f["total"]
    keystore = (f["after"] - f["no keystore"]) / f["total"]
    return {"per": per, "main": per - keystore, "keystore": keystore,
            "rest": per - f["hash"] - f["data key"] - f["sets"],
            "active": f["volatile"] / f["sample"]}


ROWS = (  # (label, figure, format)
    ("used_memory before", "before", "{:,.0f}"),
    ("used_memory with every contact, before any key expired", "peak", "{:,.0f}"),
    ("used_memory once the keys with a TTL are gone", "after", "{:,.0f}"),
    ("**bytes per idle subscribed contact, keystore in the same Redis**", "per", "**{:,.0f}**"),
    ("main Redis, with the keystore on its own server", "main", "{:,.0f}"),
    ("keystore Redis (its own server), per contact", "keystore", "{:,.0f}"),
    ("contact hash `faro:c:{cid}` (MEMORY USAGE, mean)", "hash", "{:,.0f}"),
    ("wrapped data key `faro:k:{cid}` (MEMORY USAGE, mean)", "data key", "{:,.0f}"),
    ("share of the subscriber sets `faro:sub:<state>`", "sets", "{:,.0f}"),
    ("keyspace table, allocator rounding, the rest", "rest", "{:,.0f}"),
    ("a million such contacts, MiB", "million", "{:,.0f}"),
    ("a person's conversation state, while it lasts (MEMORY USAGE, mean)", "active",
     "{:,.0f}"),
    ("a contact's handled message ids `faro:d:{cid}` (6 here), while they last (freed by "
     "deleting them)", "mark", "{:,.0f}"),
)


def report(runs: list[dict]) -> list[str]:
    """Markdown lines for the runs, one column each."""
    for f in runs:
        f.update(per_contact(f))
        f["million"] = f["per"] * 1e6 / 2**20
    first = runs[0]
    return [
        f"{first['total']:,} contacts subscribed to alerts, idle. {first['sample']:,} of them "
        f"subscribed through the real pipeline ({first['sample'] * 6:,} messages over WhatsApp, "
        f"SMS and Telegram, in {first['pipeline s']:.0f} s); the other "
        f"{first['total'] - first['sample']:,} copy a sampled record with their own address "
        f"and data key, written in pipelines ({first['copy s']:.0f} s). Then every key with a "
        f"TTL was deleted as if it had expired ({_counts(first['expired'])}). No persistence; "
        "the keystore shares the server, as in development, and its cost apart is what "
        "deleting every `faro:k:` key freed.",
        "",
        "| bytes | " + " | ".join(f["server"] for f in runs) + " |",
        "| --- |" + " ---: |" * len(runs),
        *(f"| {label} | " + " | ".join(fmt.format(f[name]) for f in runs) + " |"
          for label, name, fmt in ROWS),
        "",
        f"Target: at most {BUDGET} bytes per contact, all indexes included. Contact hashes: "
        + ", ".join(f"{f['server']} {_counts(f['encodings'])}" for f in runs)
        + f"; {first['set count']} subscriber sets (one per state chosen), hashtable-encoded.",
    ]


def _counts(counter: Counter) -> str:
    return ", ".join(f"{name} {count:,}" for name, count in counter.most_common())


def servers(wanted: str) -> list[str]:
    """The servers to measure: redis-server when on PATH, Valkey always."""
    names = ["redis", "valkey"] if wanted == "both" else [wanted]
    return [n for n in names if n != "redis" or shutil.which("redis-server")]


def main() -> None:
    """Run the measurement; print it; with --write, store it in docs/benchmarks.md."""
    parser = benchdoc.parser(__doc__)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--server", choices=["redis", "valkey", "both"], default="both")
    args = parser.parse_args()
    runs = []
    for name in servers(args.server):
        with EmbeddedRedis(prefer=name) as server:
            runs.append(measure(server.url, args.contacts, args.sample, args.seed))
    lines = report(runs)
    benchdoc.publish("Memory per subscribed contact",
                     ".venv/bin/python scripts/bench_memory.py --write", lines, args.write)


if __name__ == "__main__":
    main()
