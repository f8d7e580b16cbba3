"""The RQ worker Faro runs: RQ's own, plus broadcast recovery in its maintenance."""

from __future__ import annotations

import logging

from rq import Worker

from worker import broadcast

log = logging.getLogger("faro.worker")

# An idle worker waits for jobs worker_ttl - 15 seconds at a time and runs maintenance in
# between; these make a batch whose worker died come back within about half a minute,
# even while the RQ scheduler lock still belongs to the dead worker.
WORKER_TTL = 35
MAINTENANCE = 15


class FaroWorker(Worker):
    """An RQ worker that also revives broadcasts whose worker died."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("worker_ttl", WORKER_TTL)
        kwargs.setdefault("maintenance_interval", MAINTENANCE)
        super().__init__(*args, **kwargs)

    def run_maintenance_tasks(self) -> None:
        """RQ's maintenance, then revive unfinished broadcasts."""
        super().run_maintenance_tasks()
        try:
            broadcast.recover(self.connection)
        except Exception:  # maintenance must never stop the worker; the next run retries
            log.exception("broadcast recovery failed")
