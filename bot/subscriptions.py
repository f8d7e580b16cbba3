"""Which alerts a person asked for, as their contact record keeps it. Pure: no IO.

The contact hash (``keys.contact``) holds a subscription in three fields, written by the
``subscribe`` action (bot/effects.py) and read by whoever sends alerts:

- ``sr``: the Mexican state, named as bot.places names it ("Baja California");
- ``sc``: the city when the person wants only that city ("Tijuana"); empty or absent
  for the whole state;
- ``st``: the topics, codes of TOPICS sorted and comma-joined ("capacity,security"),
  or "all".

The set ``keys.subscribers(<state>)`` indexes contacts by state only.
"""

from __future__ import annotations

from collections.abc import Iterable

TOPICS = ("security", "capacity", "port", "scams")
ALL = "all"


def parse_topics(chosen: str | Iterable[str]) -> str:
    """The `st` field for chosen topic codes (a list, or a comma-joined string).

    "all" when the person chose "all", every topic, or nothing we know.
    """
    if isinstance(chosen, str):
        chosen = chosen.split(",")
    picked = {str(code).strip() for code in chosen}
    known = sorted(picked & set(TOPICS))
    if ALL in picked or not known or len(known) == len(TOPICS):
        return ALL
    return ",".join(known)


def wants(topics_field: str, topic: str) -> bool:
    """Whether a contact whose `st` field is `topics_field` wants alerts about `topic`."""
    chosen = {code.strip() for code in topics_field.split(",")}
    return ALL in chosen or topic in chosen
