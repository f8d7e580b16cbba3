"""The real alerts Faro and shelters sent, so that a forwarded copy can be checked.

A person forwards a message that claims to come from Faro or a shelter; `AlertLog.match`
says whether it is a copy of a real recent alert. Copies lose accents, punctuation and
line breaks and gain "Reenviado:" prefixes, so words are compared fuzzily; but a scammer
who edits a real alert changes a phone number, an amount or a link, so every digit and
every link must be exactly the same.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz

from bot import keys
from bot.scams import compile_rules, fold, links, utc

KEEP = dt.timedelta(days=60)
# rapidfuzz ratio, 0-100, of the words only. Copies are mechanical (punctuation, case and
# accents do not count), so they score 100 or close; rewriting one sentence of an alert
# scores about 90 and must not pass for the real one.
CUTOFF = 95
FORWARDED = re.compile(
    r"^\W*(?:(?:fwd?|fw|rv|tr|enc|re)\s*:"
    r"|(?:mensaje reenviado|reenviad[oa]|forwarded(?: message)?|message transfere|transfere"
    r"|mensagem encaminhada|encaminhad[ao]|mesaj voye)"
    r"(?: (?:muchas|varias|many|plusieurs|muitas) (?:veces|times|fois|vezes))?\b)\W*")


@dataclass(frozen=True)
class Print:
    """What must survive forwarding: the words (fuzzily), the digits and links (exactly)."""

    words: str
    digits: str
    links: tuple[str, ...]

    @classmethod
    def of(cls, text: str) -> Print:
        """The print of a message, with forwarding prefixes removed."""
        plain = unforward(fold(text))
        return cls(" ".join(re.findall(r"[^\W_]+", plain)), "".join(re.findall(r"\d", plain)),
                   tuple(links(plain)))

    def score(self, other: Print) -> float:
        """How alike two prints are, 0 to 100; 0 when a digit or a link differs."""
        if not self.words or (self.digits, self.links) != (other.digits, other.links):
            return 0.0
        return fuzz.ratio(self.words, other.words, score_cutoff=CUTOFF)


class AlertLog:
    """A record of the real alerts sent in the last 60 days."""

    def __init__(self, redis_client: Any):
        self.redis = redis_client

    def record(self, alert_id: str, org: str, text: str, sent_at: dt.datetime) -> None:
        """Remember a real alert that `org` sent."""
        sent_at = utc(sent_at)
        key = keys.alert(alert_id)
        pipe = self.redis.pipeline()
        pipe.hset(key, mapping={"org": org, "text": text, "sent_at": sent_at.isoformat()})
        pipe.expireat(key, sent_at + KEEP)
        pipe.zadd(keys.alerts(), {alert_id: sent_at.timestamp()})
        pipe.zremrangebyscore(keys.alerts(), "-inf", (sent_at - KEEP).timestamp())
        pipe.expire(keys.alerts(), KEEP)
        pipe.execute()

    def match(self, text: str, now: dt.datetime, days: int = 30) -> list[dict[str, Any]]:
        """The real alerts of the last `days` days that `text` is a copy of, best first.

        Each is {"id", "org", "text", "date" (ISO), "score" (95-100)}: show the real text,
        because a small edit (a word taken out) can still score high.
        """
        wanted = Print.of(text)
        found = []
        for alert_id, alert in self._since(utc(now) - dt.timedelta(days=days)):
            score = wanted.score(Print.of(alert["text"]))
            if score:
                sent = dt.datetime.fromisoformat(alert["sent_at"])
                found.append({"id": alert_id, "org": alert["org"], "text": alert["text"],
                              "date": sent.date().isoformat(), "score": round(score)})
        return sorted(found, key=lambda a: (a["score"], a["date"]), reverse=True)

    def _since(self, start: dt.datetime) -> list[tuple[str, dict[str, str]]]:
        ids = [i.decode() for i in self.redis.zrangebyscore(keys.alerts(), start.timestamp(),
                                                            "+inf")]
        pipe = self.redis.pipeline(transaction=False)
        for alert_id in ids:
            pipe.hgetall(keys.alert(alert_id))
        alerts = [{k.decode(): v.decode() for k, v in raw.items()} for raw in pipe.execute()]
        return [(i, a) for i, a in zip(ids, alerts, strict=True) if a]  # expired: gone


def unforward(plain: str) -> str:
    """A folded message without the "Reenviado:" or "Forwarded" labels at its start."""
    while (m := FORWARDED.match(plain)) and m.end():
        plain = plain[m.end():]
    return plain


def claims_official(text: str, rules: dict[str, Any]) -> bool:
    """Whether `text` says it comes from Faro or a shelter (the `claims` of scams.yaml)."""
    claims = compile_rules(rules).claims
    return bool(claims and claims.search(fold(text)))


# How a message presents its sender: "Aviso del albergue ...", "Message from Faro", "Somos
# de Faro", or a label first, "Albergue Juan Diego: ...". Merely naming a shelter ("¿dónde
# está el albergue?") is not a claim to be one.
_LEAD = (r"(?:aviso|alerta|mensaje|comunicado|alert|message|notice|update|avis|mesaj|avi"
         r"|mensagem)\s+(?:de la|del|de|from the|from|du|de l'|nan|da|do)\s+")
_SELF = r"(?:somos|soy|les escribe|te escribe|this is|we are|nous sommes|se|somos do|sou)\s+"


def claims_to_come_from(text: str, rules: dict[str, Any]) -> bool:
    """Whether `text` presents itself as sent by Faro or a shelter, not merely naming one."""
    claims = compile_rules(rules).claims
    if claims is None:
        return False
    head = unforward(fold(text)).split("\n", 1)[0][:120]
    name = claims.pattern
    return bool(re.match(rf"\W*{name}[^?:\n]{{0,60}}:", head, re.IGNORECASE)
                or re.search(rf"(?:{_LEAD}|{_SELF}(?:de\s+)?(?:el\s+|la\s+)?){name}", head,
                             re.IGNORECASE))
