"""SMS segment counting: GSM-7 (160, or 153 per part) against UCS-2 (70, or 67 per part).

One character outside GSM-7 turns a whole SMS into UCS-2 and can double what a person
pays, so on SMS (never WhatsApp or Telegram) `cheapest` writes "á" as "a" when that saves
a segment; the letters GSM-7 has (ñ, é, è, ò, ü...) stay as they are.
"""

from __future__ import annotations

import re
import unicodedata

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")


GSM7 = frozenset(GSM7_BASIC | GSM7_EXTENDED)
ASTRAL = re.compile("[\U00010000-\U0010FFFF]")  # two UTF-16 code units each


def is_gsm7(text: str) -> bool:
    """True when every character fits the GSM-7 alphabet (with its extension table)."""
    return GSM7.issuperset(text)


def segments(text: str) -> int:
    """How many SMS segments `text` costs."""
    if is_gsm7(text):
        units = len(text) + sum(text.count(c) for c in GSM7_EXTENDED)
        single, part = 160, 153
    else:
        units = len(text) + len(ASTRAL.findall(text))  # UTF-16 code units
        single, part = 70, 67
    if units <= single:
        return 1
    return -(-units // part)


# Typography with a plain GSM-7 equivalent.
LOOKALIKE = {"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-",
             "\u2014": "-", "\u2026": "...", "\u00a0": " ", "\u00ba": "o", "\u00aa": "a",
             "\u2022": "-"}


class _Plain(dict):
    """str.translate's table for `to_gsm7`, filled one character at a time as met, so a
    reply is translated in C once its characters have been seen (a table of every
    character would be huge; a loop in Python costs about 0.1 ms a reply)."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        if char in LOOKALIKE:
            plain = LOOKALIKE[char]
        elif char in GSM7:
            plain = char
        else:
            base = unicodedata.normalize("NFKD", char)[0]
            plain = base if base in GSM7_BASIC else char
        if len(self) < 65536:  # bounded: a flood of odd characters cannot grow it forever
            self[code] = plain
        return plain


_PLAIN = _Plain()


def to_gsm7(text: str) -> str:
    """`text` with each character GSM-7 lacks replaced by its closest GSM-7 letter, if any."""
    return text.translate(_PLAIN)


def cheapest(text: str) -> str:
    """The SMS form of `text`: without accents GSM-7 lacks when that costs fewer segments."""
    plain = to_gsm7(text)
    return plain if segments(plain) < segments(text) else text
