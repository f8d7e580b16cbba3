"""Structured (JSON) logs with a request id. Never a message body or an address."""

from __future__ import annotations

import json
import logging
import sys
import traceback

from flask import g, has_request_context

STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"t": self.formatTime(record), "level": record.levelname,
                 "logger": record.name, "msg": record.getMessage()}
        if has_request_context() and "request_id" in g:
            entry["request_id"] = g.request_id
        entry.update({k: v for k, v in record.__dict__.items() if k not in STANDARD})
        if record.exc_info and record.exc_info[0]:
            # The type and the place only: an exception's message may quote what a person wrote.
            entry["exc"] = record.exc_info[0].__name__
            entry["at"] = _place(record.exc_info[2])
        return json.dumps(entry, default=str)


def _place(tb) -> str:
    frames = traceback.extract_tb(tb)
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else ""


def configure_logging(level: str = "INFO") -> None:
    """Send Faro's logs to stderr as JSON lines, once."""
    root = logging.getLogger("faro")
    root.setLevel(level)
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
        root.propagate = False
