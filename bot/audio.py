"""Serve the content pack's recordings, which Twilio and Telegram fetch to send voice notes,
and their MP3 copies, which the voice line plays."""

from __future__ import annotations

import io
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, send_file

bp = Blueprint("audio", __name__)
MAX_AGE = 3600  # seconds; an operator's new recording reaches caches within the hour


def public_url(base: str, path: str) -> str:
    """The address providers fetch a recording at: FARO_PUBLIC_URL plus its content path."""
    return f"{base.rstrip('/')}/{path}"


@bp.get("/audio/<lang>/<name>.ogg")
def recording(lang: str, name: str) -> Response:
    """One recording of the pack; only files the pack lists are served, so no path escapes."""
    content = current_app.extensions["faro"].content
    return _send(content.audio_files.get(f"audio/{lang}/{name}.ogg"), "audio/ogg")


@bp.get("/audio/<lang>/<name>.mp3")
def phone_copy(lang: str, name: str) -> Response:
    """The MP3 copy of a recording, which the voice line plays (Twilio cannot play Ogg)."""
    content = current_app.extensions["faro"].content
    return _send(content.phone_files.get(f"audio/{lang}/{name}.mp3"), "audio/mpeg")


def _send(path: Path | None, mimetype: str) -> Response:
    if path is None or not path.is_file():
        abort(404)
    # Bytes, not an open file: recordings are small, and a player that aborts a range
    # request mid-stream must not leave a file handle behind.
    stat = path.stat()
    return send_file(io.BytesIO(path.read_bytes()), mimetype=mimetype, max_age=MAX_AGE,
                     conditional=True, etag=f"{stat.st_mtime_ns:x}-{stat.st_size:x}",
                     last_modified=stat.st_mtime, download_name=path.name)
