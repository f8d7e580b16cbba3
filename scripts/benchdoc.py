"""Write one benchmark's section of docs/benchmarks.md, keeping the others.

Every benchmark script calls `write_section(title, command, body)`: the section starts
with the date, the machine and the command that made its figures.
"""

from __future__ import annotations

import argparse
import os
import platform
from datetime import date
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def machine() -> str:
    """"2 cores, Python 3.11.2" for the section's first line."""
    return f"{os.cpu_count()} cores, Python {platform.python_version()}"


def write_section(title: str, command: str, body: list[str], path: Path = DOC) -> None:
    """Replace (or add at the end) the section `## title` with `body`."""
    section = [f"## {title}", "",
               f"{date.today().isoformat()}, {machine()}. Command: `{command}`.", "",
               *body, ""]
    text = path.read_text("utf-8") if path.exists() else "# Benchmarks\n"
    head, found, rest = text.partition(f"## {title}\n")
    tail = ""
    if found:
        after = rest.find("\n## ")
        tail = rest[after + 1:] if after >= 0 else ""
    path.write_text(head.rstrip("\n") + "\n\n" + "\n".join(section)
                    + ("\n" + tail if tail else ""), "utf-8")


def publish(title: str, command: str, lines: list[str], write: bool) -> None:
    """Print a benchmark's lines; with `write`, also store them as its section."""
    print("\n".join(lines))
    if write:
        write_section(title, command, lines)


def parser(doc: str) -> argparse.ArgumentParser:
    """A benchmark's command line: its docstring's first line, and --write."""
    made = argparse.ArgumentParser(description=doc.splitlines()[0])
    made.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    return made
