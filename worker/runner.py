"""The RQ worker Faro runs: RQ's own, plus recovery of dead workers' jobs and metrics."""

from __future__ import annotations

import logging

from rq import Worker
from rq.job import JobStatus
from rq.job_lifecycle import call_exception_handlers

from bot import metrics
from worker import broadcast, jobs, orphans

log = logging.getLogger("faro.worker")

# An idle worker waits for jobs worker_ttl - 15 seconds at a time and runs maintenance in
# between; these make a batch whose worker died come back within about half a minute,
# even while the RQ scheduler lock still belongs to the dead worker.
WORKER_TTL = 35
MAINTENANCE = 15


class FaroWorker(Worker):
    """An RQ worker that also revives broadcasts and retryable jobs whose worker died, and
    counts failed jobs for /metrics."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("worker_ttl", WORKER_TTL)
        kwargs.setdefault("maintenance_interval", MAINTENANCE)
        super().__init__(*args, **kwargs)

    def work(self, *args, **kwargs) -> bool:
        """Load settings, connections and the content pack once, then work: each job runs
        in a forked work horse, which inherits them instead of loading them again."""
        jobs._context()
        jobs.pack()
        return super().work(*args, **kwargs)

    def run_maintenance_tasks(self) -> None:
        """RQ's maintenance, then put back the jobs of dead workers and revive broadcasts."""
        super().run_maintenance_tasks()
        try:
            orphans.requeue(self.connection, self.queues)
            broadcast.recover(self.connection)
        except Exception:  # maintenance must never stop the worker; the next run retries
            log.exception("recovery failed")

    def handle_exception(self, job, *exc_info) -> None:
        """Log a job's failure by its id, function and error type, then run the exception
        handlers. RQ's own record carries the job's arguments (a contact's replies, a media
        URL) and the whole traceback with its messages; the traceback stays in the job's
        result in Redis, where `rq info` and the failed registry show it."""
        log.error("job failed", exc_info=exc_info,
                  extra={"job_id": job.id, "function": job.func_name, "queue": job.origin})
        call_exception_handlers(self._exc_handlers, job, *exc_info)

    def handle_job_failure(self, job, queue, *args, **kwargs) -> None:
        """RQ's handling (a retry, or the failed registry); a job that failed for good is
        counted by its function's name."""
        super().handle_job_failure(job, queue, *args, **kwargs)
        if job.get_status(refresh=False) == JobStatus.FAILED:
            metrics.count(self.connection, "job_failed", job.func_name.rsplit(".", 1)[-1])
