"""Recorded audio: a voice note per message and language, for people who cannot read.

A pack keeps its recordings as ``audio/<lang>/<flow>.<node>.ogg`` (Opus in Ogg: what
WhatsApp and Telegram play as voice notes) and describes each one in ``audio/index.yaml``::

    recordings:
      es/menu.start.ogg:
        message: menu.start
        lang: es
        voice: machine (espeak-ng 1.51)     # or: human (the organization that recorded it)
        duration: 6.2                       # seconds
        msgid: "What do you need? Send a number."
        text: "¿Qué necesitas? Manda un número.\\n1. Citas en la frontera\\n..."

``text`` is what the recording says: the message in that language, facts filled in, then
its numbered options. An operator adds or replaces a recording by putting the file at the
same place in their folder (``FARO_CONTENT_DIR``) and its entry in their own
``audio/index.yaml``; entries there are laid over the bundled index one by one.
`faro content check` warns when a recording no longer says what the message says now.

A recording may also say one of the top-level messages of ``flows/messages.yaml``,
named ``audio/<lang>/<message>.ogg``: ``voice_language`` is the line of the phone's
language menu for a language Twilio has no voice for ("Pou kreyòl ayisyen, peze 4."), its
key being the language's place in that menu.

The voice line plays the recordings of languages Twilio has no voice for (Haitian Creole),
but Twilio's <Play> takes MP3 or WAV, not Ogg: such a recording needs a phone copy beside
it, ``audio/<lang>/<flow>.<node>.mp3``, which `faro content phone-audio` makes from the Ogg.
"""

from __future__ import annotations

import re
from itertools import zip_longest
from pathlib import Path
from typing import Any

import yaml

from bot.content.flow import LanguageNode

FOLDER = "audio"
INDEX = "index.yaml"
VOICE = re.compile(r"^(machine|human) \(.+\)$")
OGG_MAGIC = b"OggS"
PHONE_COPY = ".mp3"


def load_audio(folders: list[Path], problems: list[str]) -> tuple[
        dict[tuple[str, str], str], dict[str, Path], dict[str, dict[str, Any]]]:
    """Find the recordings: (lang, "flow.node") -> path, path -> file, path -> index entry.

    Paths are content-relative (``audio/es/menu.start.ogg``); a later folder's file wins.
    """
    files: dict[str, Path] = {}
    index: dict[str, dict[str, Any]] = {}
    for folder in folders:
        for path in sorted((folder / FOLDER).glob("*/*.ogg")):
            files[path.relative_to(folder).as_posix()] = path
        index.update(_read_index(folder / FOLDER / INDEX, problems))
    audio = {found: rel for rel in files if (found := _lang_key(rel))}
    return audio, files, index


def load_phone_copies(folders: list[Path]) -> dict[str, Path]:
    """Find the MP3 copies for phone calls: content-relative path -> file (later folder wins)."""
    found: dict[str, Path] = {}
    for folder in folders:
        found.update({p.relative_to(folder).as_posix(): p
                      for p in sorted((folder / FOLDER).glob(f"*/*{PHONE_COPY}"))})
    return found


def _lang_key(rel: str) -> tuple[str, str] | None:
    """Read ("es", "menu.start") from ``audio/es/menu.start.ogg`` (or ("ht",
    "voice_language") from a message's); None if no node or message name is there."""
    _, lang, name = rel.split("/")
    key = name.removesuffix(".ogg")
    if key.count(".") == 1 and all(key.split(".")):
        return lang, key
    return (lang, key) if key.isidentifier() else None


def _read_index(path: Path, problems: list[str]) -> dict[str, dict[str, Any]]:
    """Read one folder's index entries, keyed by content-relative path."""
    if not path.is_file():
        return {}
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, OSError, UnicodeDecodeError) as exc:
        problems.append(f"{path}: cannot be read: {exc}")
        return {}
    entries = (raw.get("recordings") or {}) if isinstance(raw, dict) else None
    if not isinstance(entries, dict):
        problems.append(f"{path}: needs a 'recordings' mapping of file -> description")
        return {}
    out = {}
    for name, entry in entries.items():
        if not isinstance(entry, dict):
            problems.append(f"{path}: recording {name!r} must be a mapping")
            continue
        out[f"{FOLDER}/{name!s}"] = entry
    return out


def spoken(content: Any, lang: str, key: str) -> str:
    """Say, as text, what a recording of message `key` ("flow.node") in `lang` says."""
    from bot.engine import fill  # the engine imports the pack, which imports this module

    if "." not in key:  # a message of messages.yaml; in it, {key} is the language's own
        values = {"facts": content.facts, "vars": {}, "language": content.names.get(lang, lang),
                  "key": str(content.languages.index(lang) + 1)
                  if lang in content.languages else "?"}
        return fill(content.t(lang, content.messages[key]), values)
    flow, name = key.split(".", 1)
    node = content.node(flow, name)
    lines = [fill(content.t(lang, node.text), {"facts": content.facts, "vars": {}})]
    lines += [f"{i}. {label}" for i, label in enumerate(_labels(content, lang, node), 1)]
    return "\n".join(lines)


def source(content: Any, key: str) -> str:
    """The English source text of the message a recording says (a node's or a message's)."""
    return content.messages[key] if "." not in key else content.node(*key.split(".", 1)).text


def _labels(content: Any, lang: str, node: Any) -> list[str]:
    """List the labels a menu shows in `lang` (the language menu: each language's name)."""
    if isinstance(node, LanguageNode):
        return [content.names[code] for code in content.languages]
    return [content.t(lang, option.label) for option in getattr(node, "options", ())]


def check_recordings(content: Any) -> list[str]:
    """Warn about recordings: stale text, no such message, no description, no file."""
    out: list[str] = []
    for (lang, key), path in sorted(content.audio.items()):
        out += _check(content, lang, key, path)
    named = set(content.audio.values())
    out += [f"{path}: the name must be audio/<lang>/<flow>.<node>.ogg"
            for path in sorted(set(content.audio_files) - named)]
    out += [f"{path}: listed in audio/index.yaml, but there is no such file"
            for path in sorted(set(content.audio_index) - set(content.audio_files))]
    return out + _check_phone_copies(content)


def _check_phone_copies(content: Any) -> list[str]:
    """Warn about a phone copy with no recording, and a recording the voice line would
    play (its language has no voice) that has no phone copy."""
    out = [f"{path}: a phone copy with no recording beside it"
           for path in sorted(content.phone_files)
           if path.removesuffix(PHONE_COPY) + ".ogg" not in content.audio_files]
    out += [f"{path}: the voice line plays it, but Twilio cannot play Ogg: make its MP3 copy "
            "with `faro content phone-audio`"
            for (lang, _key), path in sorted(content.audio.items())
            if content.speech(lang) != lang and not content.phone_copy(path)]
    return out


def _check(content: Any, lang: str, key: str, path: str) -> list[str]:
    if "." not in key and key not in content.messages:
        return [f"{path}: there is no message {key!r} in flows/messages.yaml; the name must "
                "be audio/<lang>/<flow>.<node>.ogg (or <message>.ogg)"]
    if "." in key and not content.has(*key.split(".", 1)):
        return [f"{path}: there is no message {key!r} in the flows"]
    if lang != content.source_lang and lang not in content.catalogs:
        return [f"{path}: there is no catalog for language {lang!r}"]
    with content.audio_files[path].open("rb") as file:
        if file.read(4) != OGG_MAGIC:
            return [f"{path}: not an Ogg file (record it as Opus in Ogg)"]
    entry = content.audio_index.get(path)
    if entry is None:
        return [f"{path}: not described in audio/index.yaml (voice, duration, text)"]
    return _check_entry(content, lang, key, path, entry)


def _check_entry(content: Any, lang: str, key: str, path: str, entry: dict) -> list[str]:
    out = []
    if entry.get("message") != key or entry.get("lang") != lang:
        out.append(f"{path}: index says message {entry.get('message')!r} in "
                   f"{entry.get('lang')!r}, the file name says {key!r} in {lang!r}")
    if not VOICE.match(str(entry.get("voice", ""))):
        out.append(f"{path}: voice must be 'machine (engine version)' or 'human (organization)'")
    msgid = source(content, key)
    if "{vars." in msgid:
        out.append(f"{path}: message {key!r} differs for each person; a recording cannot say it")
    said, now = str(entry.get("text", "")), spoken(content, lang, key)
    if str(entry.get("msgid", msgid)) != msgid or said != now:
        out.append(f"stale recording: {path}: {_difference(said, now)}; record it again")
    return out


def _difference(said: str, now: str) -> str:
    """Name the first line where the recording and the message part ways."""
    pairs = zip_longest(said.splitlines(), now.splitlines(), fillvalue="")
    for number, (was, is_now) in enumerate(pairs, 1):
        if was != is_now:
            return f"line {number} says {was!r}, the message now says {is_now!r}"
    return "it was made from another English source text"
