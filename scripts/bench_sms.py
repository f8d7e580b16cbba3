"""Average SMS segments per message, per language, as written and as Faro sends them.

Not a test. With --write, replaces the "SMS segments per message" section of
docs/benchmarks.md.

    .venv/bin/python scripts/bench_sms.py [--write]
"""

from __future__ import annotations

import datetime as dt
import statistics

import benchdoc

from bot.content import load_content
from bot.content.check import check

COMMAND = ".venv/bin/python scripts/bench_sms.py --write"


def table() -> list[str]:
    """Per language, the mean segments of every message before and after SMS folding."""
    report = check(load_content(), 3650, dt.date.today())
    lines = ["| language | messages | segments as written | segments as sent by SMS | saved |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for lang in sorted({row[1] for row in report.sizes}):
        rows = [row for row in report.sizes if row[1] == lang]
        before = statistics.mean(row[3] for row in rows)
        after = statistics.mean(row[4] for row in rows)
        lines.append(f"| {lang} | {len(rows)} | {before:.2f} | {after:.2f} | "
                     f"{(1 - after / before) * 100:.0f}% |")
    return lines


def main() -> None:
    """Print the table; with --write, also store it in docs/benchmarks.md."""
    args = benchdoc.parser(__doc__).parse_args()
    lines = ["Every message of the content pack, per language: the mean SMS segments of its "
             "text as written, and as Faro sends it by SMS (characters GSM-7 lacks, such as á "
             "or ã, written without the accent when that saves a segment; ñ, é, è, ò stay). "
             "WhatsApp and Telegram always get the text as written.", "", *table()]
    benchdoc.publish("SMS segments per message", COMMAND, lines, args.write)


if __name__ == "__main__":
    main()
