"""Where each contact's wrapped data key lives: apart from the data it unlocks.

Erasing a contact erases its key here, which makes every copy of its data unreadable:
a media file that survived, a replica, a backup of the main Redis. A backup of the
keystore itself would undo that, so in production the keystore is its own small Redis
(FARO_KEYSTORE_URL) whose backups are kept only a few days (docs/operations.md): a
deletion is then total once the last such backup expires. Without FARO_KEYSTORE_URL the
keys sit in the main Redis, which suits development and tests only.
"""

from __future__ import annotations

from typing import Any

import redis

from bot import keys


class Keystore:
    """Gets, puts and erases wrapped data keys."""

    def __init__(self, client: redis.Redis, shared: bool):
        self.redis = client
        self.shared = shared  # the same server as the data: reads go in the same pipeline

    def get(self, cid: str) -> bytes | None:
        """The wrapped data key of `cid`, or None once erased."""
        return self.redis.get(keys.data_key(cid))

    def get_many(self, cids: list[str]) -> list[bytes | None]:
        """The wrapped data keys of `cids`, in order, in one round trip."""
        return self.redis.mget([keys.data_key(cid) for cid in cids]) if cids else []

    def put(self, cid: str, wrapped: bytes, pipe: Any = None) -> None:
        """Store the wrapped data key of `cid` (in `pipe` when the keystore is shared)."""
        (pipe if pipe is not None and self.shared else self.redis).set(keys.data_key(cid),
                                                                         wrapped)

    def delete(self, cid: str) -> None:
        """Erase the data key of `cid`: from now on its data cannot be read."""
        self.redis.delete(keys.data_key(cid))
