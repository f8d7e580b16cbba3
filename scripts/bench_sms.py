"""Average SMS segments per message, per language, as written and as Faro sends them.

Run: .venv/bin/python scripts/bench_sms.py   (prints a Markdown table; not a test)
"""

from __future__ import annotations

import statistics

from bot.content import load_content
from bot.content.check import check


def main() -> None:
    """Print, per language, the mean segments of every message before and after SMS folding."""
    import datetime as dt

    report = check(load_content(), 3650, dt.date.today())
    print("| language | messages | segments as written | segments as sent by SMS | saved |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for lang in sorted({row[1] for row in report.sizes}):
        rows = [row for row in report.sizes if row[1] == lang]
        before = statistics.mean(row[3] for row in rows)
        after = statistics.mean(row[4] for row in rows)
        print(f"| {lang} | {len(rows)} | {before:.2f} | {after:.2f} | "
              f"{(1 - after / before) * 100:.0f}% |")


if __name__ == "__main__":
    main()
