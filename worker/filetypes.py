"""Which files Faro keeps as evidence, judged by what they claim to be and by their bytes.

Pure functions: no IO. A file is kept only when its declared type is on the allow-list
and its first bytes show that same kind of file, so a "photo" that is really an
executable or a web page is refused.
"""

from __future__ import annotations

ALLOWED = frozenset({
    "image/jpeg", "image/png", "image/webp", "image/heic", "application/pdf",
    "audio/ogg", "audio/mpeg", "audio/mp4", "audio/amr", "video/mp4",
})
# Other names clients and providers use for the same types.
ALIASES = {
    "image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "image/heif": "image/heic",
    "audio/opus": "audio/ogg", "audio/mp3": "audio/mpeg", "audio/x-m4a": "audio/mp4",
    "audio/m4a": "audio/mp4", "audio/aac": "audio/mp4",
}
HEAD = 32  # bytes enough for every signature below
# Major brands of an ISO media file ("ftyp" box) that mean a HEIC/HEIF still image.
HEIC_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"})
AUDIO_BRANDS = frozenset({b"M4A ", b"M4B "})
SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"%PDF-", "application/pdf"),
    (b"OggS", "audio/ogg"),
    (b"#!AMR", "audio/amr"),  # also "#!AMR-WB"
    (b"ID3", "audio/mpeg"),
)


def normalize(content_type: str) -> str:
    """The bare, lower-case type ("audio/ogg; codecs=opus" -> "audio/ogg"), aliases resolved."""
    bare = content_type.split(";", 1)[0].strip().lower()
    return ALIASES.get(bare, bare)


def sniff(head: bytes) -> str | None:
    """The allowed type the first bytes of a file show; None for anything else."""
    for magic, kind in SIGNATURES:
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        return _iso_media(head[8:12])
    if _mpeg_frame(head):
        return "audio/mpeg"
    return None


def _iso_media(brand: bytes) -> str:
    if brand in HEIC_BRANDS:
        return "image/heic"
    return "audio/mp4" if brand in AUDIO_BRANDS else "video/mp4"


def _mpeg_frame(head: bytes) -> bool:
    """True when the file starts with an MPEG audio frame header (an MP3 without ID3 tag)."""
    # 11 sync bits, then a layer other than the reserved 00.
    return len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06 != 0


def accept(declared: str, head: bytes) -> str | None:
    """The type to store for a file declared `declared` starting with `head`; None to refuse."""
    claimed, found = normalize(declared), sniff(head)
    if claimed not in ALLOWED or found is None:
        return None
    if {claimed, found} <= {"audio/mp4", "video/mp4"}:
        return claimed  # one container: only the declared type says voice note or video
    # A PNG declared image/jpeg is still a photo: the bytes name the type we store.
    return found if _major(claimed) == _major(found) else None


def _major(content_type: str) -> str:
    return content_type.split("/", 1)[0]
