"""Warning signs of scams in a message, and the scam messages people reported.

`find_signs` is pure: it reads a message and the rules of ``flows/data/scams.yaml``
(``content.data["scams"]``) and names the warning signs it finds. `Reports` keeps the
messages people reported, per ISO week, sealed with a key derived from the master key,
and never with who sent them.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bot import keys
from bot.crypto import derive, open_sealed, seal
from bot.errors import ContentError

PURPOSE = b"faro scam reports v1"
KEEP = dt.timedelta(weeks=53)  # a year of weekly counts, then gone
MAX_PER_WEEK = 5000  # a flood of reports must not fill Redis
MAX_TEXT = 4096  # the longest message a channel delivers
NEGATION_WINDOW = 4  # words before a match that may negate it ("no compartas tu código")
CACHE_SIZE = 8

QUOTES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'"})
CLAUSE = re.compile(r"[.,;:!?¡¿\n]")
# Without a scheme, "hola.que" must not count as a link, so only endings people meet.
BARE_TLDS = frozenset((
    "com", "net", "org", "info", "biz", "mx", "us", "gov", "io", "co", "me", "ly", "app",
    "site", "online", "xyz", "top", "link", "click", "live", "store", "shop", "website",
    "page", "club", "vip", "ht", "br", "fr", "ca", "cc", "tv", "ws", "to", "gd", "li", "lat",
    "pro", "tk", "ml", "ga", "cf", "gq", "icu", "buzz"))
LINK = re.compile(
    r"(?:(?:https?|hxxps?)://(?P<url>[^\s/?#<>\"']+)"
    r"|(?<![\w@./-])(?P<bare>(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?P<tld>[a-z]{2,24}))"
    r"(?![\w@-]))(?P<path>[/?#][^\s<>\"']*)?")


@dataclass(frozen=True)
class Rules:
    """The scams data file, compiled once."""

    signs: tuple[tuple[str, re.Pattern[str] | None], ...]  # None: found by links
    negatable: frozenset[str]
    negations: frozenset[str]
    official: tuple[str, ...]
    shorteners: tuple[str, ...]
    claims: re.Pattern[str] | None


_compiled: dict[int, tuple[dict[str, Any], Rules]] = {}


def find_signs(text: str, rules: dict[str, Any], trusted: tuple[str, ...] = ()) -> list[str]:
    """Name the warning signs in `text`, in the order of the data file.

    `trusted` adds hosts whose links are not a warning, such as Faro's own.
    """
    compiled = compile_rules(rules)
    plain = fold(text)
    words = _without_links(plain)  # "pagos-cbp.com" is the link sign's, not the money sign's
    return [code for code, pattern in compiled.signs
            if (_has_bad_link(plain, compiled, trusted) if pattern is None
                else _has_match(words, code, pattern, compiled))]


def compile_rules(rules: dict[str, Any]) -> Rules:
    """Compile a scams data file, once per rules object; raise ContentError if it is bad."""
    hit = _compiled.get(id(rules))
    if hit and hit[0] is rules:
        return hit[1]
    built = _build(rules)
    if len(_compiled) >= CACHE_SIZE:
        _compiled.clear()  # packs are few; a reload simply compiles again
    _compiled[id(rules)] = (rules, built)  # keeping `rules` alive keeps its id unique
    return built


def check_rules(rules: dict[str, Any]) -> list[str]:
    """Every problem of a scams data file, each naming the sign."""
    problems = []
    codes = [str(s.get("code", "")) for s in rules.get("signs") or []]
    problems += [f"scams.yaml: sign {c!r} appears twice" for c in set(codes)
                 if codes.count(c) > 1]
    for sign in rules.get("signs") or []:
        problems += _check_sign(sign)
    try:
        _build(rules)
    except ContentError as exc:
        problems.append(str(exc))
    return problems


def _check_sign(sign: dict[str, Any]) -> list[str]:
    where = f"scams.yaml: sign {sign.get('code')!r}"
    out = [f"{where}: has no {k}" for k in ("code", "explain", "source") if not sign.get(k)]
    if not isinstance(sign.get("verified"), dt.date):
        out.append(f"{where}: 'verified' must be a date (YYYY-MM-DD)")
    if not sign.get("patterns") and not sign.get("hosts"):
        out.append(f"{where}: needs 'patterns' or 'hosts'")
    return out


def fold(text: str) -> str:
    """Casefold, drop accents, straighten quotes and fold spaces (lines stay apart)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(QUOTES))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return "\n".join(" ".join(line.split()) for line in bare.splitlines())


def links(text: str) -> list[str]:
    """The links in `text`, lower case, without scheme, "www." or trailing punctuation."""
    return [link for _host, link in _links(fold(text))]


def _is_link(m: re.Match[str]) -> bool:
    return not m["bare"] or m["tld"] in BARE_TLDS or m["bare"].startswith("www.")


def _without_links(plain: str) -> str:
    return LINK.sub(lambda m: " " if _is_link(m) else m[0], plain)


def _links(plain: str) -> list[tuple[str, str]]:
    found = []
    for m in LINK.finditer(plain):
        if not _is_link(m):
            continue
        # "https://cbp.gov@evil.com" leads to evil.com: the host is after the last "@".
        host = (m["url"] or m["bare"]).rsplit("@", 1)[-1].split(":")[0].strip(".")
        host = host.removeprefix("www.")
        path = (m["path"] or "").rstrip(".,;:!?)]*'\"")
        found.append((host, host + path))
    return found


def _has_bad_link(plain: str, rules: Rules, trusted: tuple[str, ...]) -> bool:
    allowed = rules.official + _domains(list(trusted))
    for host, _link in _links(plain):
        if _under(host, rules.shorteners) or not _under(host, allowed):
            return True
    return False


def _under(host: str, domains: tuple[str, ...]) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


def _has_match(plain: str, code: str, pattern: re.Pattern[str], rules: Rules) -> bool:
    if code not in rules.negatable:
        return pattern.search(plain) is not None
    return any(not _negated(plain[:m.start()], rules.negations)
               for m in pattern.finditer(plain))


def _negated(before: str, negations: frozenset[str]) -> bool:
    clause = CLAUSE.split(before)[-1].replace("n't", " not")
    return any(w in negations for w in re.findall(r"\w+", clause)[-NEGATION_WINDOW:])


def _build(rules: dict[str, Any]) -> Rules:
    signs, negatable, hosts = [], set(), {}
    for sign in rules.get("signs") or []:
        code = str(sign.get("code", ""))
        if sign.get("hosts"):
            hosts = sign["hosts"]
            signs.append((code, None))
            continue
        signs.append((code, _alternation(sign.get("patterns") or {}, f"sign {code!r}")))
        if sign.get("negatable"):
            negatable.add(code)
    negations = {_bare(str(w)).lower() for ws in (rules.get("negations") or {}).values()
                 for w in ws}
    claims = rules.get("claims") or {}
    return Rules(tuple(signs), frozenset(negatable), frozenset(negations),
                 _domains(hosts.get("official")), _domains(hosts.get("shorteners")),
                 _alternation(claims, "claims") if claims else None)


def _alternation(by_lang: dict[str, list[str]], where: str) -> re.Pattern[str]:
    """One regex for every language's patterns, matching whole words only."""
    parts = []
    for lang, patterns in by_lang.items():
        for pattern in patterns or []:
            try:
                re.compile(_bare(str(pattern)))
            except re.error as exc:
                raise ContentError(f"scams.yaml: {where} ({lang}): bad pattern {pattern!r}: "
                                   f"{exc}") from exc
            parts.append(f"(?:{_bare(str(pattern))})")
    return re.compile(r"(?<!\w)(?:" + "|".join(parts or ["(?!)"]) + r")(?!\w)", re.IGNORECASE)


def _bare(pattern: str) -> str:
    """A pattern without accents; not lowered, so that escapes such as `\\d` keep meaning."""
    decomposed = unicodedata.normalize("NFKD", pattern.translate(QUOTES))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _domains(names: list[str] | None) -> tuple[str, ...]:
    return tuple(str(n).lower().strip(".").removeprefix("www.") for n in names or [])


@dataclass(frozen=True)
class Report:
    """One reported message, as staff read it."""

    text: str
    received_at: dt.datetime
    signs: tuple[str, ...]


class Reports:
    """Scam messages people reported: per ISO week, sealed, and never with who sent them."""

    def __init__(self, redis_client: Any, master_key: bytes,
                 rules: dict[str, Any] | None = None):
        self.redis = redis_client
        self.rules = rules
        self._aead = AESGCM(derive(master_key, PURPOSE))

    def add(self, text: str, now: dt.datetime) -> Report:
        """Keep a reported message and the warning signs found in it."""
        at = utc(now)
        text = text[:MAX_TEXT]
        report = Report(text, at, tuple(find_signs(text, self.rules) if self.rules else ()))
        key = keys.scam_reports(week_of(at))
        secret = json.dumps({"text": text, "at": at.isoformat()}).encode()
        entry = {"signs": list(report.signs),
                 "sealed": base64.b64encode(seal(self._aead, secret, key.encode())).decode()}
        pipe = self.redis.pipeline()
        pipe.rpush(key, json.dumps(entry))
        pipe.ltrim(key, -MAX_PER_WEEK, -1)
        pipe.expire(key, KEEP)
        pipe.execute()
        return report

    def tally(self, count: int, now: dt.datetime) -> list[tuple[str, int, dict[str, int]]]:
        """Per week, newest first: the number of reports and of each sign, without decrypting."""
        out = []
        for week in recent_weeks(count, now):
            entries = self._entries(week)
            signs = Counter(code for e in entries for code in e.get("signs", []))
            out.append((week, len(entries), dict(signs.most_common())))
        return out

    def weeks(self, count: int, now: dt.datetime) -> list[tuple[str, list[Report]]]:
        """Per week, newest first: the reports, decrypted for staff."""
        return [(week, [self._open(week, e) for e in self._entries(week)])
                for week in recent_weeks(count, now)]

    def _entries(self, week: str) -> list[dict[str, Any]]:
        return [json.loads(raw) for raw in self.redis.lrange(keys.scam_reports(week), 0, -1)]

    def _open(self, week: str, entry: dict[str, Any]) -> Report:
        context = keys.scam_reports(week).encode()
        secret = json.loads(open_sealed(self._aead, base64.b64decode(entry["sealed"]), context))
        return Report(secret["text"], dt.datetime.fromisoformat(secret["at"]),
                      tuple(entry.get("signs", [])))


def utc(moment: dt.datetime) -> dt.datetime:
    """`moment` in UTC; a naive time is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def week_of(moment: dt.datetime) -> str:
    """The ISO week of `moment` in UTC, as "2026-W48"."""
    year, week, _day = utc(moment).isocalendar()
    return f"{year}-W{week:02d}"


def recent_weeks(count: int, now: dt.datetime) -> list[str]:
    """The labels of the `count` ISO weeks up to `now`, newest first."""
    return [week_of(utc(now) - dt.timedelta(weeks=n)) for n in range(count)]
