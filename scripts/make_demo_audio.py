"""Make the demo recordings: machine voice (espeak-ng) for a few messages in es, en and ht.

Each message's current text in the language (facts filled in, then its numbered options)
is spoken by espeak-ng, encoded as Opus in Ogg (mono, 20 kbps) by opusenc, written to
``audio/<lang>/<flow>.<node>.ogg`` (or ``<message>.ogg``) and described in
``audio/index.yaml`` as ``voice: machine (espeak-ng <version>)``. A human recording
already in the index is left alone unless --replace-human is given. Needs Debian's
espeak-ng and opus-tools:

    apt-get install -y espeak-ng opus-tools
    .venv/bin/python scripts/make_demo_audio.py            # then: faro content check
    .venv/bin/python scripts/make_demo_audio.py --only ht/voice_language   # just one
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import yaml

from bot.content import load_content
from bot.content.audio import FOLDER, INDEX, source, spoken
from bot.content.pack import BUNDLED

MESSAGES = ("welcome.language", "menu.start", "emergency.start")
# The phone's language menu says each language's line in its own voice; a language Twilio
# has no voice for needs the line recorded (bot/channels/speech.py).
LINES = {"ht": ("voice_language",)}
VOICES = {"es": "es-419", "en": "en-us", "ht": "ht"}
WORDS_PER_MINUTE = 140  # a little slower than espeak-ng's 175: clearer on a phone speaker
BITRATE_KBPS = 20  # Opus speech stays clear; six demo files stay under 300 KB
HEADER = """\
# Recordings of messages, one file per message and language: audio/<lang>/<flow>.<node>.ogg
# (Opus in Ogg). `text` is what the recording says; `faro content check` warns when the
# message now says something else. voice: machine (engine version) or human (organization).
# scripts/make_demo_audio.py writes the machine entries.
"""


def main() -> None:
    """Render, encode and describe each demo message in each language."""
    args = _args()
    content = load_content(base=args.pack)
    version = _espeak_version()
    index_path = args.pack / FOLDER / INDEX
    index = _read_index(index_path)
    for lang, voice in VOICES.items():
        for key in (*MESSAGES, *LINES.get(lang, ())):
            name = f"{lang}/{key}.ogg"
            if args.only and f"{lang}/{key}" not in args.only:
                continue
            if "human" in str(index.get(name, {}).get("voice", "")) and not args.replace_human:
                print(f"kept human recording {name}")
                continue
            text = spoken(content, lang, key)
            seconds = _record(text, voice, args.pack / FOLDER / name)
            index[name] = {"message": key, "lang": lang, "voice": f"machine (espeak-ng {version})",
                           "duration": round(seconds, 1), "msgid": source(content, key),
                           "text": text}
            print(f"{name}: {seconds:.1f} s, {(args.pack / FOLDER / name).stat().st_size} bytes")
    _write_index(index_path, index)


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pack", type=Path, default=BUNDLED, help="content pack folder")
    parser.add_argument("--replace-human", action="store_true",
                        help="also overwrite recordings the index marks as human")
    parser.add_argument("--only", action="append", metavar="LANG/MESSAGE",
                        help="make only this one (ht/voice_language); may be repeated")
    return parser.parse_args()


def _espeak_version() -> str:
    """espeak-ng's version number, e.g. "1.51"."""
    out = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=True)
    found = re.search(r"(\d+\.\d+(?:\.\d+)?)", out.stdout)
    return found.group(1) if found else "unknown"


def for_speech(text: str) -> str:
    """The text as espeak-ng should read it: phone numbers digit by digit, a pause per line."""
    digits = re.sub(r"\d{3,}", lambda m: " ".join(m.group(0)), text)
    options = re.sub(r"(?m)^(\d)\. ", r"\1, ", digits)  # "1, Español": a number, not an end
    lines = [line.strip() for line in options.splitlines() if line.strip()]
    return " ".join(line if line[-1] in ".:?!" else line + "." for line in lines)


def _record(text: str, voice: str, target: Path) -> float:
    """Speak `text` into `target` as Ogg Opus; return its length in seconds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(WORDS_PER_MINUTE), "-w", str(wav),
                        for_speech(text)], check=True)
        subprocess.run(["opusenc", "--quiet", "--bitrate", str(BITRATE_KBPS), "--speech",
                        "--downmix-mono", "--serial", "1", str(wav), str(target)], check=True)
        with wave.open(str(wav)) as sound:
            return sound.getnframes() / sound.getframerate()


def _read_index(path: Path) -> dict:
    if not path.is_file():
        return {}
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return dict(raw.get("recordings") or {})


def _write_index(path: Path, index: dict) -> None:
    """Write the index with multi-line texts as YAML blocks, files in order."""

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    body = yaml.dump({"recordings": dict(sorted(index.items()))}, Dumper=Dumper,
                     allow_unicode=True, sort_keys=False, width=1000)
    path.write_text(HEADER + body, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
