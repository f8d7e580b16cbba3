"""Jobs whose worker died under them (SIGKILL, a container gone), put back at once.

RQ notices such a job by itself only once its heartbeat lapses (about 90 seconds), and
then schedules its retry, which waits for a live scheduler (the dead worker's lock lasts
another minute). A worker on the same host can tell at once: the dead worker's process
is gone. A job that asked for retries (evidence downloads, deliveries) then goes back to
the front of its queue, spending one retry, so a job that kills its worker every time
still ends. Other jobs are left to RQ: broadcast batches have leases of their own
(worker/broadcast.py), and a worker of another host is judged by its heartbeat.
"""

from __future__ import annotations

import logging
import os
import socket

import redis
from rq import Queue, Worker
from rq.exceptions import NoSuchJobError
from rq.executions import Execution
from rq.job import Job, JobStatus

log = logging.getLogger("faro.worker")


def requeue(client: redis.Redis, queues: list[Queue]) -> list[str]:
    """Put back the retryable jobs whose worker, on this host, is dead; their ids."""
    done = []
    for queue in queues:
        registry = queue.started_job_registry
        for job_id, execution_id in registry.get_job_and_execution_ids(cleanup=False):
            job = _orphan(client, job_id, execution_id)
            # Whoever takes the entry out of the registry puts the job back: only one worker.
            if job is None or not client.zrem(registry.key, f"{job_id}:{execution_id}"):
                continue
            job.retries_left = (job.retries_left or 1) - 1
            queue.enqueue_job(job, at_front=True)
            log.warning("job of a dead worker requeued", extra={"job_id": job.id})
            done.append(job.id)
    return done


def _orphan(client: redis.Redis, job_id: str, execution_id: str) -> Job | None:
    """The job, when it may be retried and the worker running it is dead."""
    try:
        job = Job.fetch(job_id, connection=client)
        worker = Execution.fetch(execution_id, job_id, connection=client).worker_name
    except (NoSuchJobError, ValueError):  # gone, or its execution expired: RQ cleans up
        return None
    if job.get_status(refresh=False) != JobStatus.STARTED or not job.should_retry:
        return None
    host, pid = client.hmget(Worker.redis_worker_namespace_prefix + worker, ["hostname", "pid"])
    if host is None:
        return job  # its worker's record expired: RQ counts it dead too
    return job if gone(host.decode(), int(pid or 0)) else None


def gone(host: str, pid: int) -> bool:
    """Whether process `pid` of `host` is known to be gone: only this host's can be checked.
    Our own pid counts as gone: a restarted container may give us the dead one's."""
    if host != socket.gethostname() or pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
