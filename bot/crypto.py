"""Keys derived from FARO_DATA_KEY, contact ids, and per-contact encryption.

A contact id is an HMAC of channel and address, so the address never appears in a
key. Values that must stay readable (the address, for alerts and reminders) are
encrypted with AES-GCM under a random per-contact data key; that key is stored
wrapped (encrypted) by a key derived from the master key. Erasing the wrapped key
makes every copy of the contact's data unreadable.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bot.errors import FaroError

NONCE = 12


class Keyring:
    """The keys Faro derives from the master key, one per purpose."""

    def __init__(self, master: bytes):
        self._ids = derive(master, b"faro contact ids v1")
        self._wrap = AESGCM(derive(master, b"faro key wrapping v1"))

    def contact_id(self, channel: str, address: str) -> str:
        """The stable, opaque id of the contact at `address` on `channel`."""
        mac = hmac.new(self._ids, f"{channel}\x00{address}".encode(), hashlib.sha256)
        return mac.hexdigest()[:32]

    def new_data_key(self, cid: str) -> tuple[bytes, bytes]:
        """A fresh data key for contact `cid`, and the same key wrapped for storage."""
        key = AESGCM.generate_key(bit_length=256)
        return key, seal(self._wrap, key, cid.encode())

    def unwrap(self, cid: str, wrapped: bytes) -> bytes:
        """The data key of contact `cid` from its stored, wrapped form."""
        return open_sealed(self._wrap, wrapped, cid.encode())


def derive(master: bytes, purpose: bytes) -> bytes:
    """A 32-byte key for one purpose, derived from the master key with HKDF."""
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=purpose).derive(master)


def seal(aead: AESGCM, plaintext: bytes, context: bytes) -> bytes:
    """Encrypt and authenticate `plaintext`, bound to `context`."""
    nonce = os.urandom(NONCE)
    return nonce + aead.encrypt(nonce, plaintext, context)


def open_sealed(aead: AESGCM, sealed: bytes, context: bytes) -> bytes:
    """Decrypt what `seal` produced; raise if it was altered or the key is wrong."""
    try:
        return aead.decrypt(sealed[:NONCE], sealed[NONCE:], context)
    except Exception as exc:  # cryptography raises InvalidTag without a message
        raise FaroError("encrypted value could not be opened") from exc


def encrypt(data_key: bytes, plaintext: str, context: str) -> bytes:
    """Encrypt a string under a contact's data key."""
    return seal(AESGCM(data_key), plaintext.encode(), context.encode())


def decrypt(data_key: bytes, sealed: bytes, context: str) -> str:
    """Decrypt a string sealed by `encrypt`."""
    return open_sealed(AESGCM(data_key), sealed, context.encode()).decode()
