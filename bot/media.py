"""Where evidence files live: a store of opaque, already encrypted blobs.

Blobs are always ciphertext: callers encrypt before `put` (with `seal_blob`), so a store
never holds a photo or a voice message in the clear. `seal_blob` also pads, because the
exact size of a file is a fingerprint too: whoever holds a known photo could otherwise
find it in a copied folder or bucket by its length alone.
"""

from __future__ import annotations

import contextlib
import os
import re
import struct
import tempfile
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bot import crypto
from bot.errors import FaroError

BLOB_ID = re.compile(r"[a-z0-9]{16,64}")
LENGTH = struct.Struct(">Q")


class MediaStore(Protocol):
    """A place for encrypted blobs, by id.

    `LocalMediaStore` keeps them in a folder; an S3-compatible bucket (MinIO, Garage,
    a provider's object storage) can implement the same three methods later.
    """

    def put(self, blob_id: str, data: bytes) -> None:
        """Store `data` under `blob_id`, replacing any blob of that id."""

    def get(self, blob_id: str) -> bytes:
        """The blob `blob_id`; raise KeyError when there is none."""

    def delete(self, blob_id: str) -> None:
        """Remove the blob `blob_id`; do nothing when there is none."""


def padded_size(size: int) -> int:
    """`size` rounded up Padmé-style: at most 12% more, leaking only its magnitude."""
    if size < 2:
        return size
    exponent = size.bit_length() - 1
    mask = (1 << (exponent - exponent.bit_length())) - 1
    return (size + mask) & ~mask


def seal_blob(data_key: bytes, data: bytes, context: bytes) -> bytes:
    """Pad and encrypt a file under a contact's data key, bound to `context`."""
    framed = LENGTH.pack(len(data)) + data
    padding = b"\0" * (padded_size(len(framed)) - len(framed))
    return crypto.seal(AESGCM(data_key), framed + padding, context)


def open_blob(data_key: bytes, sealed: bytes, context: bytes) -> bytes:
    """The original file from what `seal_blob` produced; raise if altered or the key is wrong."""
    framed = crypto.open_sealed(AESGCM(data_key), sealed, context)
    (size,) = LENGTH.unpack_from(framed)
    if size > len(framed) - LENGTH.size:
        raise FaroError("a sealed file is shorter than it says")
    return framed[LENGTH.size:LENGTH.size + size]


def check_id(blob_id: str) -> str:
    """Return `blob_id` if it is a valid blob id; raise ValueError otherwise."""
    # Ids become file names: this shape rules out "..", slashes and hidden files.
    if not isinstance(blob_id, str) or not BLOB_ID.fullmatch(blob_id):
        raise ValueError("a blob id is 16 to 64 lowercase letters and digits")
    return blob_id


class LocalMediaStore:
    """Blobs as files in one folder that only Faro's user can open."""

    def __init__(self, folder: str | os.PathLike[str]):
        self.folder = Path(folder)
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        # mkdir's mode is reduced by the umask and ignored for a folder that exists.
        self.folder.chmod(0o700)

    def put(self, blob_id: str, data: bytes) -> None:
        """Write the blob to a temporary file, then move it into place in one step."""
        target = self._path(blob_id)
        fd, temp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-")  # mkstemp uses 0600
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise
        self._sync_folder()

    def get(self, blob_id: str) -> bytes:
        """Read a blob; raise KeyError when it is absent."""
        try:
            return self._path(blob_id).read_bytes()
        except FileNotFoundError:
            raise KeyError(blob_id) from None

    def delete(self, blob_id: str) -> None:
        """Remove a blob if it exists."""
        self._path(blob_id).unlink(missing_ok=True)

    def _path(self, blob_id: str) -> Path:
        return self.folder / check_id(blob_id)

    def _sync_folder(self) -> None:
        # The rename is durable only once the folder's entry is on disk too.
        fd = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
