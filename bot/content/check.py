"""`faro content check`: validation, stale facts, and what each message costs by SMS."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from bot.content.audio import check_recordings
from bot.content.catalog import missing
from bot.content.pack import Content
from bot.engine import fill
from bot.segments import cheapest, segments


@dataclass
class Report:
    """What a check found: stale facts, and the SMS size of every message per language."""

    stale: list[str] = field(default_factory=list)
    # where, lang, chars, segments as written, segments as sent by SMS
    sizes: list[tuple[str, str, int, int, int]] = field(default_factory=list)
    missing: dict[str, list[str]] = field(default_factory=dict)  # lang -> untranslated msgids
    recordings: list[str] = field(default_factory=list)  # stale or misplaced audio recordings


def check(content: Content, max_age_days: int, today: dt.date) -> Report:
    """Report facts older than `max_age_days` and the SMS size of each message."""
    report = Report()
    limit = today - dt.timedelta(days=max_age_days)
    for fid, fact in sorted(content.facts.items()):
        if fact["status"] == "verified" and fact["verified"] < limit:
            report.stale.append(f"{fact['file']}: fact {fid!r} was last checked on "
                                f"{fact['verified']}, more than {max_age_days} days ago")
    report.recordings = check_recordings(content)
    msgids = content.msgids()
    for lang, catalog in sorted(content.catalogs.items()):
        report.missing[lang] = missing(catalog, msgids)
    context = {"facts": content.facts, "vars": {}}
    for name, flow in sorted(content.flows.items()):
        for node_name, node in flow.nodes.items():
            if not node.text:
                continue
            for lang in content.languages:
                text = fill(content.t(lang, node.text), context)
                report.sizes.append((f"{name}.{node_name}", lang, len(text), segments(text),
                                     segments(cheapest(text))))
    return report
