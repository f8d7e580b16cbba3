"""SMS segment counting: GSM-7 (160, or 153 per part) against UCS-2 (70, or 67 per part).

One character outside GSM-7 turns a whole SMS into UCS-2 and can double what a person
pays, so on SMS (never WhatsApp or Telegram) `cheapest` writes "á" as "a" when that saves
a segment; the letters GSM-7 has (ñ, é, è, ò, ü...) stay as they are.
"""

from __future__ import annotations

import unicodedata

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")


def is_gsm7(text: str) -> bool:
    """True when every character fits the GSM-7 alphabet (with its extension table)."""
    return all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in text)


def segments(text: str) -> int:
    """How many SMS segments `text` costs."""
    if is_gsm7(text):
        units = sum(2 if c in GSM7_EXTENDED else 1 for c in text)
        single, part = 160, 153
    else:
        units = sum(2 if ord(c) > 0xFFFF else 1 for c in text)  # UTF-16 code units
        single, part = 70, 67
    if units <= single:
        return 1
    return -(-units // part)


# Typography with a plain GSM-7 equivalent.
LOOKALIKE = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"',
                           "\u2013": "-", "\u2014": "-", "\u2026": "...", "\u00a0": " ",
                           "\u00ba": "o", "\u00aa": "a", "\u2022": "-"})


def to_gsm7(text: str) -> str:
    """`text` with each character GSM-7 lacks replaced by its closest GSM-7 letter, if any."""
    out = []
    for char in text.translate(LOOKALIKE):
        if char in GSM7_BASIC or char in GSM7_EXTENDED:
            out.append(char)
            continue
        base = unicodedata.normalize("NFKD", char)[0]
        out.append(base if base in GSM7_BASIC else char)
    return "".join(out)


def cheapest(text: str) -> str:
    """The SMS form of `text`: without accents GSM-7 lacks when that costs fewer segments."""
    plain = to_gsm7(text)
    return plain if segments(plain) < segments(text) else text
