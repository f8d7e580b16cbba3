"""Golden transcripts: what a person on SMS sends and exactly what Faro answers.

(The voice line's transcripts, `channel: voice`, are played by tests/test_voice.py.)

Each file in tests/golden/ holds the messages sent and the replies expected, through
the real webhook, store and engine. After a deliberate content change, rewrite them
with `FARO_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_transcripts.py` and read the
diff before committing it.
"""

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("FARO_UPDATE_GOLDEN") == "1"


class Literal(str):
    """A string yaml writes as a block, so transcripts read like a chat."""


yaml.SafeDumper.add_representer(
    Literal, lambda d, s: d.represent_scalar("tag:yaml.org,2002:str", s, style="|"))


# A recovery phrase is random: four words and two digits, alone on a line.
PHRASE = re.compile(r"^(?:[a-z]+ ){4}\d{2}$", re.MULTILINE)
# So is a case code: eight letters and digits of Crockford's base32, "K7QM-3XPA".
CODE = re.compile(r"\b[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}\b")


def sms_replies(response) -> str:
    assert response.status_code == 200
    root = ET.fromstring(response.data)
    text = "\n---\n".join(m.text or "" for m in root.iter("Message"))
    return CODE.sub("<case code>", PHRASE.sub("<recovery phrase>", text))


def transcripts(channel: str) -> list[Path]:
    """The golden files of one channel (tests/test_voice.py plays the voice line's)."""
    return [path for path in sorted(GOLDEN.glob("*.yaml"))
            if yaml.safe_load(path.read_text(encoding="utf-8")).get("channel") == channel]


def compare(path: Path, script: dict, key: str, got: list[str]) -> None:
    """Check each answer against the transcript's `key`; with FARO_UPDATE_GOLDEN=1, keep
    the answers as the transcript instead."""
    if UPDATE:
        for turn, answer in zip(script["turns"], got, strict=True):
            turn[key] = Literal(answer)
        path.write_text(yaml.safe_dump(script, allow_unicode=True, sort_keys=False,
                                       width=1000), encoding="utf-8")
        return
    for number, (turn, answer) in enumerate(zip(script["turns"], got, strict=True), 1):
        assert answer == turn[key].rstrip("\n"), f"turn {number}: {turn}"


@pytest.mark.parametrize("path", transcripts("sms"), ids=lambda p: p.stem)
def test_transcript(channels, path):
    script = yaml.safe_load(path.read_text(encoding="utf-8"))
    got = [sms_replies(channels.sms(turn["send"])) for turn in script["turns"]]
    compare(path, script, "reply", got)


def test_every_flow_has_a_transcript_in_spanish_and_english():
    covered = {p.stem for p in GOLDEN.glob("*.yaml")}
    for name in ("welcome", "menu", "emergency"):
        assert {f"{name}_es", f"{name}_en"} <= covered
