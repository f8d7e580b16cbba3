"""Structured (JSON) logs with a request id (web) or a job id (worker).

Never a message body or an address: records carry ids, counts, kinds and the names of
errors, and an exception shows as its type and place only.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback

from flask import g, has_request_context
from rq import get_current_job

STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
# Libraries that log what they send below WARNING: httpx a file URL (with the bot token) or
# a signed redirect, httpcore headers, twilio's client the query of a Messages lookup (a
# phone number), python-telegram-bot each call's parameters (chat id and text), urllib3
# request lines with their query. Kept at WARNING, whatever level the root logger has.
QUIET = ("httpx", "httpcore", "twilio.http_client", "telegram", "urllib3")
LIBRARY_FIELDS = ("job_id", "queue")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"t": self.formatTime(record), "level": record.levelname,
                 "logger": record.name, "msg": record.getMessage()}
        if has_request_context() and "request_id" in g:
            entry["request_id"] = g.request_id
        elif (job := get_current_job()) is not None:
            entry["job_id"] = job.id
        # Faro's own records choose their fields; a library's may carry anything (RQ's a
        # failed job's arguments), so only the ids are taken from them.
        mine = record.name == "faro" or record.name.startswith("faro.")
        entry.update({k: v for k, v in record.__dict__.items()
                      if k not in STANDARD and (mine or k in LIBRARY_FIELDS)})
        if record.exc_info and record.exc_info[0]:
            # The type and the place only: an exception's message may quote what a person wrote.
            entry["exc"] = record.exc_info[0].__name__
            entry["at"] = _place(record.exc_info[2])
        return json.dumps(entry, default=str)


def _place(tb) -> str:
    frames = traceback.extract_tb(tb)
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else ""


def configure_logging(level: str = "INFO", names: tuple[str, ...] = ("faro",)) -> None:
    """Send the logs of `names` (Faro's; a worker adds RQ's) to stderr as JSON lines, once;
    quiet the libraries that would log an address or a text."""
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in names:
        logger = logging.getLogger(name)
        logger.setLevel(level)
        if not any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(JsonFormatter())
            logger.addHandler(handler)
            logger.propagate = False
