"""The RQ queues Faro uses, most urgent first."""

from __future__ import annotations

import redis
from rq import Queue

# Replies to a person come before alerts: a broadcast must never delay a conversation.
NAMES = ("replies", "default", "broadcasts")


def queue(client: redis.Redis, name: str = "default") -> Queue:
    """The RQ queue `name` on `client`."""
    return Queue(name, connection=client)


def all_queues(client: redis.Redis) -> list[Queue]:
    """Every Faro queue, in the order a worker should serve them."""
    return [queue(client, n) for n in NAMES]
