"""Load and validate a content pack: flows, facts, keywords and catalogs.

A pack is a folder with ``flows/*.yaml`` (the flows plus ``keywords.yaml`` and
``languages.yaml``), ``flows/data/*.yaml`` (facts with ``source`` and ``verified``)
and ``locales/<lang>/LC_MESSAGES/messages.po``, and may have recordings in
``audio/<lang>/<flow>.<node>.ogg``, with an MP3 copy beside each one the voice line plays
(see bot.content.audio); ``languages.yaml`` also names the voice line's voices. An
operator's folder (``FARO_CONTENT_DIR``) is laid over the bundled pack file by file: a
file there replaces the bundled file of the same name.
"""

from __future__ import annotations

import datetime as dt
import gettext
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.content import catalog as cat
from bot.content.audio import load_audio, load_phone_copies
from bot.content.extract import DATA_TEXT_KEYS
from bot.content.flow import (
    ActionNode,
    AskNode,
    BranchNode,
    Flow,
    LookupNode,
    MenuNode,
    Node,
    targets,
)
from bot.errors import ContentError

PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*(?:\.[a-z0-9_]+)*)\}")
BUNDLED = Path(__file__).resolve().parents[2]
RESERVED = ("keywords.yaml", "languages.yaml", "messages.yaml")
REQUIRED_MESSAGES = (
    "retry_menu", "retry_text", "retry_yes_no", "retry_date", "retry_number", "retry_location",
    "retry_media", "retry_time", "lost", "skip", "reminder", "reminder_72", "reminder_24",
    "reminder_3", "shelter_line", "shelter_phone", "shelter_hours", "shelter_space",
    "shelter_source", "claims_unmatched", "media_saved", "media_too_big", "media_wrong_type",
    "media_failed", "recovery_phrase", "recovered", "not_recovered", "recovery_wait",
    "checked_on", "yes", "no", "error", "busy", "language_detected", "too_many", "repeated",
    "more",
    # The voice line (bot/channels/speech.py).
    "voice_language", "voice_language_other", "voice_press", "voice_choices", "voice_date",
    "voice_time", "voice_number", "voice_record", "voice_words", "voice_keys", "voice_silence",
    "voice_goodbye", "voice_busy", "voice_hidden", "voice_fallback",
)
REQUIRED_FLOWS = ("welcome", "menu")
ENDINGS = ("delete_contact", "opt_out")  # actions after which silence is what the person asked
FACT_STATUSES = ("verified", "to_verify", "retired")


@dataclass
class Content:
    """A loaded, validated content pack. Read-only once built."""

    flows: dict[str, Flow]
    files: dict[str, str]
    facts: dict[str, dict[str, Any]]
    keywords: dict[str, tuple[str, str]]  # normalized word -> (keyword name, target)
    answers: dict[str, set[str]]  # "yes"/"no" -> normalized words
    languages: list[str]  # offered, in menu order
    location_target: str
    names: dict[str, str]
    source_lang: str
    fallback_locale: str
    messages: dict[str, str] = field(default_factory=dict)
    spoken: dict[str, str] = field(default_factory=dict)  # name -> what the voice line says
    date_locales: dict[str, str] = field(default_factory=dict)  # lang -> locale for dates
    plurals: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (one, other)
    data: dict[str, Any] = field(default_factory=dict)  # data file stem -> parsed YAML
    catalogs: dict[str, Any] = field(default_factory=dict)
    audio: dict[tuple[str, str], str] = field(default_factory=dict)  # (lang, "flow.node") -> path
    audio_files: dict[str, Path] = field(default_factory=dict)  # that path -> file in a folder
    audio_index: dict[str, dict[str, Any]] = field(default_factory=dict)  # path -> audio/index.yaml
    phone_files: dict[str, Path] = field(default_factory=dict)  # audio/.../x.mp3 -> file
    # The voice line: lang -> Twilio's {"language": "es-MX", "voice": "Polly.Mia"}; a language
    # with none -> the language its unrecorded text is said in.
    voices: dict[str, dict[str, str]] = field(default_factory=dict)
    voice_fallback: dict[str, str] = field(default_factory=dict)
    _t: dict[str, gettext.NullTranslations] = field(default_factory=dict)
    _keys: dict[int, str] = field(default_factory=dict)  # id(node) -> "flow.node"
    _labels: dict[str, dict[str, str]] = field(default_factory=dict)  # save -> labels()

    def t(self, lang: str, msgid: str) -> str:
        """`msgid` in `lang`, or the source text where the catalog lacks it."""
        return self._t.get(lang, gettext.NullTranslations()).gettext(msgid)

    def tn(self, lang: str, name: str, count: int) -> str:
        """The plural message `name` for `count`, in `lang`, with {count} filled in."""
        one, other = self.plurals[name]
        text = self._t.get(lang, gettext.NullTranslations()).ngettext(one, other, count)
        return text.replace("{count}", str(count))

    def locale_for(self, lang: str) -> str:
        """The locale Babel formats dates and numbers in for `lang`."""
        if lang in self.date_locales:
            return self.date_locales[lang]
        return cat.formatting_locale(lang, self.fallback_locale)

    def recording(self, lang: str, node: Node) -> str:
        """The content-relative path of `node`'s recording in `lang`; "" when it has none."""
        return self.audio.get((lang, self.key_of(node)), "") if self.audio else ""

    def key_of(self, node: Node) -> str:
        """The "flow.node" a node of this pack stands at."""
        if not self._keys:
            self._keys.update({id(found): f"{f}.{n}" for f, flow in self.flows.items()
                               for n, found in flow.nodes.items()})
        return self._keys.get(id(node), "")

    def phone_copy(self, recording: str) -> str:
        """The MP3 copy of a recording (``audio/ht/x.ogg``) that a phone call can play; ""
        when there is none (Twilio's <Play> takes MP3 or WAV, not Ogg)."""
        copy = recording.removesuffix(".ogg") + ".mp3"
        return copy if recording and copy in self.phone_files else ""

    def speech(self, lang: str) -> str:
        """The language a caller of `lang` hears text in: `lang` when Twilio has a voice for
        it, else its `voice_fallback` (Haitian Creole: French), else the first with a voice."""
        if lang in self.voices or not self.voices:
            return lang
        fallback = self.voice_fallback.get(lang, "")
        if fallback in self.voices:
            return fallback
        return next((code for code in self.languages if code in self.voices), lang)

    def msgids(self) -> set[str]:
        """Every source string a person can read: node texts, labels, engine messages."""
        found = set(self.messages.values()) | {one for one, _other in self.plurals.values()}
        found |= set(self.spoken.values())
        for flow in self.flows.values():
            for node in flow.nodes.values():
                found.update(getattr(node, name, "") for name in ("text", "item", "empty",
                                                                   "retry", "spoken"))
                found.update(o.label for o in getattr(node, "options", ()))
        found.update(data_texts(self.data))
        return found - {""}

    def labels(self, save: str) -> dict[str, str]:
        """Option value -> label (untranslated) of the menus that save an answer as `save`."""
        # Asked on every reply that shows a list answer: look through the flows once.
        if save not in self._labels:
            self._labels[save] = {
                o.value: o.label for flow in self.flows.values() for node in flow.nodes.values()
                if getattr(node, "save", "") == save for o in getattr(node, "options", ())
                if o.value}
        return self._labels[save]

    def has(self, flow: str, name: str) -> bool:
        """True when `flow` exists and has a node `name`."""
        return flow in self.flows and name in self.flows[flow].nodes

    def node(self, flow: str, name: str) -> Node:
        """The node `name` of `flow`."""
        return self.flows[flow].nodes[name]

    def resolve(self, target: str, current: str) -> tuple[str, str]:
        """The (flow, node) a target names, seen from flow `current`."""
        if "." in target:
            flow, node = target.split(".", 1)
            return flow, node
        if current in self.flows and target in self.flows[current].nodes:
            return current, target
        if target in self.flows:
            return target, self.flows[target].start
        raise ContentError(f"unknown target {target!r}")

    def keyword(self, text: str) -> tuple[str, str] | None:
        """The (keyword, target) a whole message means, in any shipped language."""
        word = normalize(text)
        return self.keywords.get(word) if word else None

    def verified_on(self, fact_ids: tuple[str, ...]) -> dt.date | None:
        """The oldest check date among the facts, for "we checked this on"."""
        dates = [self.facts[f]["verified"] for f in fact_ids if f in self.facts]
        return min(dates) if dates else None


def data_texts(obj: Any) -> list[str]:
    """The sentences a person reads in data files: values of `explain`, `say` and `bring` keys."""
    if isinstance(obj, dict):
        own = [v for k, v in obj.items() if k in DATA_TEXT_KEYS and isinstance(v, str)]
        return own + [t for v in obj.values() for t in data_texts(v)]
    if isinstance(obj, list):
        return [t for v in obj for t in data_texts(v)]
    return []


def normalize(text: str) -> str:
    """Casefold, drop accents and outer punctuation, fold spaces: for matching words."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.strip(" \t\r\n.!?¡¿,;:\"'()*").split())


def pack_files(folders: list[Path], sub: str, pattern: str) -> dict[str, Path]:
    """The pack's files in `sub` matching `pattern`; a later folder's file wins by name."""
    found: dict[str, Path] = {}
    for folder in folders:
        found.update({p.name: p for p in sorted((folder / sub).glob(pattern))})
    return found


def load_content(override: str | Path | None = None, base: str | Path = BUNDLED) -> Content:
    """Load the pack at `base` (the bundled one), overlaid by `override`.

    Raise ContentError listing every problem found, each naming its file and node.
    """
    problems: list[str] = []
    folders = [Path(base)] + ([Path(override)] if override else [])
    flows, files = _load_flows(folders, problems)
    facts, data = _load_facts(folders, problems)
    keywords, answers, location_target = _load_keywords(folders, problems)
    langs = _load_yaml(pack_files(folders, "flows", "languages.yaml").get("languages.yaml"),
                       problems) or {}
    content = Content(
        flows=flows, files=files, facts=facts, keywords=keywords, answers=answers,
        languages=[], location_target=location_target, names=dict(langs.get("names") or {}),
        source_lang=str(langs.get("source", "en")),
        fallback_locale=str(langs.get("fallback_locale", "es")), data=data,
        date_locales={str(k): str(v) for k, v in (langs.get("date_locales") or {}).items()},
        voice_fallback={str(k): str(v) for k, v in (langs.get("voice_fallback") or {}).items()},
    )
    content.voices = _voices(langs.get("voices"), problems)
    raw = _load_yaml(pack_files(folders, "flows", "messages.yaml").get("messages.yaml"),
                     problems) or {}
    entries = (raw.get("messages") or {}).items()
    content.messages = {str(k): str(v) for k, v in entries if not isinstance(v, dict)}
    content.plurals = {str(k): (str(v.get("one", "")), str(v.get("other", "")))
                       for k, v in entries if isinstance(v, dict)}
    # Said on the voice line instead of the message of the same name: no "send" or "write".
    content.spoken = {str(k): str(v) for k, v in (raw.get("spoken") or {}).items()}
    problems += [f"messages.yaml: spoken {name!r} names no message" for name in content.spoken
                 if name not in content.messages]
    _load_catalogs(content, folders, langs, problems)
    content.audio, content.audio_files, content.audio_index = load_audio(folders, problems)
    content.phone_files = load_phone_copies(folders)
    problems += validate(content)
    if problems:
        raise ContentError("\n".join(problems))
    return content


def _load_yaml(path: Path | None, problems: list[str]) -> Any:
    if path is None:
        return None
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, OSError, UnicodeDecodeError) as exc:
        problems.append(f"{path}: cannot be read: {exc}")
        return None


def _voices(raw: Any, problems: list[str]) -> dict[str, dict[str, str]]:
    """languages.yaml's `voices`: each language Twilio speaks, with its code and voice."""
    out = {}
    for lang, spec in (raw or {}).items():
        if not isinstance(spec, dict) or not spec.get("language"):
            problems.append(f"languages.yaml: voice of {lang!r} needs a 'language' such as "
                            "es-MX (and may name a 'voice' such as Polly.Mia)")
            continue
        out[str(lang)] = {k: str(spec[k]) for k in ("language", "voice") if spec.get(k)}
    return out


def _load_flows(folders: list[Path], problems: list[str]) -> tuple[dict[str, Flow], dict[str, str]]:
    flows: dict[str, Flow] = {}
    files: dict[str, str] = {}
    for name, path in pack_files(folders, "flows", "*.yaml").items():
        if name in RESERVED:
            continue
        raw = _load_yaml(path, problems)
        if raw is None:
            continue
        try:
            flow = Flow.model_validate(raw)
        except ValidationError as exc:
            problems += [f"{path}: {_where(e['loc'])}: {e['msg']}" for e in exc.errors()]
            continue
        if flow.flow in flows:
            problems.append(f"{path}: flow {flow.flow!r} is also defined in {files[flow.flow]}")
        flows[flow.flow] = flow
        files[flow.flow] = str(path)
    return flows, files


def _where(loc: tuple) -> str:
    if len(loc) >= 2 and loc[0] == "nodes":
        rest = ".".join(str(p) for p in loc[2:] if p not in {"message", "menu", "ask",
                                                            "language", "action"})
        return f"node {loc[1]!r}" + (f": {rest}" if rest else "")
    return ".".join(str(p) for p in loc) or "file"


def _load_facts(folders: list[Path], problems: list[str]) -> tuple[dict, dict[str, Any]]:
    facts: dict[str, dict[str, Any]] = {}
    data: dict[str, Any] = {}
    for path in pack_files(folders, "flows/data", "*.yaml").values():
        raw = _load_yaml(path, problems) or {}
        data[path.stem] = raw
        for fid, fact in (raw.get("facts") or {}).items():
            where = f"{path}: fact {fid!r}"
            if not isinstance(fact, dict):
                problems.append(f"{where}: must be a mapping")
                continue
            if not fact.get("source"):
                problems.append(f"{where}: has no source")
            if not isinstance(fact.get("verified"), dt.date):
                problems.append(f"{where}: 'verified' must be a date (YYYY-MM-DD)")
            if fact.get("status", "verified") not in FACT_STATUSES:
                problems.append(f"{where}: status must be one of {', '.join(FACT_STATUSES)}")
            facts[str(fid)] = {"status": "verified", **fact, "file": str(path)}
    return facts, data


def _load_keywords(folders: list[Path], problems: list[str]):
    raw = _load_yaml(pack_files(folders, "flows", "keywords.yaml").get("keywords.yaml"),
                     problems) or {}
    keywords: dict[str, tuple[str, str]] = {}
    for name, spec in (raw.get("keywords") or {}).items():
        for words in (spec.get("words") or {}).values():
            for word in words:
                if not normalize(str(word)):
                    problems.append(f"keywords.yaml: keyword {name!r} has an empty word")
                    continue
                keywords[normalize(str(word))] = (name, spec.get("go", ""))
    answers = {
        kind: {normalize(str(w)) for words in (raw.get("answers", {}).get(kind) or {}).values()
               for w in words}
        for kind in ("yes", "no", "done", "and")
    }
    return keywords, answers, str(raw.get("location") or "")


def _load_catalogs(content: Content, folders: list[Path], langs: dict, problems: list[str]) -> None:
    incomplete = set(langs.get("incomplete") or [])
    order = list(langs.get("order") or [])
    offered = [content.source_lang]
    for po in _catalog_paths(folders):
        lang = po.parts[-3]
        catalog = cat.read_catalog(po, lang)
        content.catalogs[lang] = catalog
        content._t[lang] = cat.translations(catalog)
        if lang not in incomplete and not cat.missing(catalog, content.msgids()):
            offered.append(lang)
    ranked = sorted(set(offered), key=lambda code: (order.index(code) if code in order
                                                    else len(order), code))
    content.languages = ranked
    for code in ranked:
        content.names[code] = content.names.get(code) or cat.autonym(code)


def _catalog_paths(folders: list[Path]) -> list[Path]:
    paths: dict[str, Path] = {}
    for folder in folders:
        found = (folder / "locales").glob("*/LC_MESSAGES/messages.po")
        paths.update({p.parts[-3]: p for p in found})
    return sorted(paths.values())


def validate(content: Content) -> list[str]:
    """Every problem of a loaded pack: missing flows, bad targets, facts, unreachable nodes."""
    problems = [f"content pack: flow {name!r} is required" for name in REQUIRED_FLOWS
                if name not in content.flows]
    problems += [f"messages.yaml: message {name!r} is required" for name in REQUIRED_MESSAGES
                 if name not in content.messages]
    for name, flow in content.flows.items():
        problems += _check_flow(content, name, flow)
    for _word, (kw, target) in sorted(content.keywords.items()):
        if not _exists(content, target, ""):
            problems.append(f"keywords.yaml: keyword {kw!r} leads to unknown {target!r}")
    if content.location_target and not _exists(content, content.location_target, ""):
        problems.append(f"keywords.yaml: location leads to unknown {content.location_target!r}")
    if not problems:
        problems += _unreachable(content)
    return sorted(set(problems))


def _exists(content: Content, target: str, current: str) -> bool:
    try:
        flow, node = content.resolve(target, current)
    except ContentError:
        return False
    return flow in content.flows and node in content.flows[flow].nodes


def _check_flow(content: Content, name: str, flow: Flow) -> list[str]:
    path = content.files[name]
    out = []
    if flow.start not in flow.nodes:
        out.append(f"{path}: start node {flow.start!r} does not exist")
    for node_name, node in flow.nodes.items():
        where = f"{path}: node {node_name!r}"
        for field_name, target in targets(node):
            if not _exists(content, target, name):
                out.append(f"{where}: {field_name} leads to unknown node {target!r}")
        out += _check_node_fields(where, node)
        out += _check_placeholders(content, where, node)
        for fid in node.facts:
            fact = content.facts.get(fid)
            if fact is None:
                out.append(f"{where}: unknown fact {fid!r}")
            elif fact["status"] != "verified":
                out.append(f"{where}: fact {fid!r} is {fact['status']}, not verified")
    return out


def _check_node_fields(where: str, node: Node) -> list[str]:
    if isinstance(node, AskNode):
        if node.input == "yes_no" and not (node.if_yes and node.if_no):
            return [f"{where}: a yes_no question needs both 'if_yes' and 'if_no' targets"]
        if node.input != "yes_no" and not node.next:
            return [f"{where}: a question needs a 'next' target"]
    if isinstance(node, ActionNode) and not node.next and node.action not in ENDINGS:
        return [f"{where}: action {node.action!r} needs a 'next' target"]
    if isinstance(node, LookupNode) and node.choose and not node.item:
        return [f"{where}: a lookup that offers a choice needs an 'item'"]
    if isinstance(node, LookupNode) and node.more and not (node.choose and node.limit >= 3):
        return [f"{where}: a lookup with 'more' offers a choice ('choose') of 'limit' 3 or more"]
    if isinstance(node, MenuNode) and len({o.label for o in node.options}) < len(node.options):
        return [f"{where}: two options have the same label"]
    if isinstance(node, MenuNode) and node.multiple:
        return _check_multiple(where, node)
    return []


def _check_multiple(where: str, node: MenuNode) -> list[str]:
    """A menu of several choices saves them all and goes on to one place, whatever they are."""
    out = [] if node.save else [f"{where}: a menu with 'multiple' needs 'save'"]
    if len({o.go for o in node.options}) > 1:
        out.append(f"{where}: the options of a menu with 'multiple' must all lead to one node")
    return out


def _check_placeholders(content: Content, where: str, node: Node) -> list[str]:
    out = []
    texts = [node.text] + [o.label for o in getattr(node, "options", ())]
    texts += [getattr(node, name, "") for name in ("item", "empty", "retry")]
    refs = [ref for text in texts for ref in PLACEHOLDER.findall(text)]
    refs += [v[1:-1] for v in getattr(node, "args", {}).values() if PLACEHOLDER.fullmatch(v)]
    if isinstance(node, BranchNode):
        refs.append(node.check)
    for ref in refs:
        head, _, rest = ref.partition(".")
        if head in ("vars", "item", "count"):
            continue
        fid, _, attr = rest.partition(".")
        if head != "facts" or fid not in content.facts or attr not in content.facts[fid]:
            out.append(f"{where}: placeholder {{{ref}}} names no known fact field")
        elif content.facts[fid]["status"] != "verified":
            out.append(f"{where}: fact {fid!r} is {content.facts[fid]['status']}, not verified")
    return out


def _unreachable(content: Content) -> list[str]:
    roots = [(n, content.flows[n].start) for n in REQUIRED_FLOWS]
    roots += [content.resolve(t, "") for _k, t in content.keywords.values()]
    if content.location_target:
        roots.append(content.resolve(content.location_target, ""))
    seen: set[tuple[str, str]] = set()
    while roots:
        here = roots.pop()
        if here in seen:
            continue
        seen.add(here)
        node = content.node(*here)
        roots += [content.resolve(t, here[0]) for _f, t in targets(node)]
    return [f"{content.files[f]}: node {n!r} cannot be reached from the welcome, the menu "
            "or a keyword" for f, flow in content.flows.items() for n in flow.nodes
            if (f, n) not in seen]
