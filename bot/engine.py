"""The conversation engine: a pure function from (state, message) to (state, replies, effects).

It does no IO. Everything it reads comes in as arguments (the content pack, the
contact's profile, the conversation state, today's date); everything it wants done
(change the language, opt out, delete the contact) goes out as effects that the
caller applies. So one engine serves every channel, the simulator and the tests.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from babel.dates import format_date
from rapidfuzz import fuzz, process

from bot.content.flow import (
    ActionNode,
    AskNode,
    BranchNode,
    LanguageNode,
    LookupNode,
    MenuNode,
    MessageNode,
    Node,
)
from bot.content.pack import PLACEHOLDER, Content, normalize
from bot.message import Inbound, Option, Reply

MAX_HOPS = 25
LOST_AFTER = 2  # failed answers in a row before we remind the person of MENU
DATE_ANSWER = re.compile(r"\{vars\.([a-z0-9_]+):date\}")
# The last, eight digits in a row (25122026), is how a date is keyed on a phone's keypad.
DATE_FORMATS = ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d", "%d/%m/%y", "%d-%m-%y",
                "%d%m%Y")


class Lookups(Protocol):
    """Read-only data the engine may ask for (shelters, alerts, a person's appointments)."""

    def lookup(self, name: str, args: dict[str, Any], lang: str) -> list[dict[str, Any]]:
        """Results of lookup `name`, each a dict with an "id" and fields for the templates."""
        ...


class NoLookups:
    """Lookups for a content pack that needs none; any call is a content mistake."""

    def lookup(self, name: str, args: dict[str, Any], lang: str) -> list[dict[str, Any]]:
        raise LookupError(name)


@dataclass(frozen=True)
class Profile:
    """What the engine knows of the contact itself (not of one conversation)."""

    lang: str = ""
    opted_out: bool = False


@dataclass(frozen=True)
class State:
    """Where a conversation waits: a node, the answers so far, failed tries in a row."""

    flow: str
    node: str
    vars: dict[str, Any] = field(default_factory=dict)
    retries: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A compact dict for storage."""
        return {"f": self.flow, "n": self.node, "v": self.vars, "r": self.retries}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> State:
        """The state `to_dict` stored."""
        return cls(raw["f"], raw["n"], dict(raw.get("v") or {}), int(raw.get("r", 0)))


@dataclass
class Step:
    """What one inbound message did: the new profile and state, replies and effects."""

    profile: Profile
    state: State | None
    replies: list[Reply]
    effects: list[dict[str, Any]]


def step(content: Content, profile: Profile, state: State | None, msg: Inbound,
         today: dt.date | None = None, lookups: Lookups | None = None,
         detect: Callable[[str], str | None] | None = None) -> Step:
    """Advance one conversation by one inbound message.

    `detect` (bot.language.detect) names the language of a first message; a person whose
    language it cannot tell, or whom Faro does not serve, gets the numbered language menu.
    A caller on the voice line hears text in a language Twilio can speak (`Content.speech`)
    and is led around questions that need written words (a node's `voice`).
    """
    run = _Run(content, profile, state, today or dt.date.today(), lookups or NoLookups(),
               msg.voice)
    keyword = None if msg.choice else content.keyword(msg.text)
    if state is not None and not content.has(state.flow, state.node):
        state = run.state = None  # the content changed under a waiting conversation
    greeting = state is None or (keyword is not None and keyword[0] in ("menu", "help"))
    # Buttons and bot commands ("/start") say nothing about the language a person reads.
    wrote = msg.text and not msg.choice and not msg.text.startswith("/")
    found = detect(msg.text) if detect and not profile.lang and greeting and wrote else None
    if msg.event:
        run.hear(msg.event)
    elif found in content.languages and (keyword is None or keyword[0] in ("menu", "help")):
        run.start_in(found)
    elif keyword:
        if found in content.languages:  # "recuperar" from a new phone: Spanish, then recover
            run.profile = replace(run.profile, lang=found)
            run.effects.append({"type": "set_language", "lang": found})
        name, target = keyword
        run.go(target if run.profile.lang or name not in ("menu", "help") else "welcome", "")
    elif msg.location and profile.lang and content.location_target and not _wants_location(
            content, state):
        # A location shared outside a question means "what is near me?"
        run.vars["where"] = {"lat": msg.location[0], "lon": msg.location[1]}
        run.go(content.location_target, "")
    elif state is None:
        run.go("menu" if profile.lang else "welcome", "")
    else:
        run.answer(msg)
    run.add_check_date()
    replies = [r if r.lang else replace(r, lang=run.lang) for r in run.replies]
    return Step(run.profile, run.state, replies, run.effects)


def _wants_location(content: Content, state: State | None) -> bool:
    if state is None:
        return False
    node = content.node(state.flow, state.node)
    return isinstance(node, AskNode) and node.input == "location"


class _Run:
    """One step's working memory."""

    def __init__(self, content: Content, profile: Profile, state: State | None, today: dt.date,
                 lookups: Lookups, voice: bool = False):
        self.content = content
        self.voice = voice  # a caller on the voice line: keypad and recordings, no words
        self.page = 0  # the page a lookup with `more` shows next
        self.lookups = lookups
        self.profile = profile
        self.state = state
        self.today = today
        self.vars: dict[str, Any] = dict(state.vars) if state else {}
        self.replies: list[Reply] = []
        self.effects: list[dict[str, Any]] = []
        self.after_lookup = ""
        self.facts: set[str] = set()  # facts shown in this step, for "we checked this on"
        self.fact_reply = 0  # the reply the check date goes under

    @property
    def lang(self) -> str:
        return self.profile.lang or self.content.languages[0]

    @property
    def text_lang(self) -> str:
        """The language text is written in: the person's, or on the voice line the one
        Twilio speaks for them (their recordings still come in their own language)."""
        return self.content.speech(self.lang) if self.voice else self.lang

    def hear(self, event: str) -> None:
        """A call began: greet as MENU would. "again": say the waiting question once more."""
        if event == "again" and self.state is not None:
            self.page = int(self.vars.get("_page") or 0)
            self.go(f"{self.state.flow}.{self.state.node}", "")
        else:
            self.go("menu" if self.profile.lang else "welcome", "")

    def start_in(self, lang: str) -> None:
        """Greet a new person in the language their first message was written in."""
        self.profile = replace(self.profile, lang=lang)
        self.effects.append({"type": "set_language", "lang": lang})
        self.replies.append(Reply(self.msg("language_detected")))
        welcome = self.content.flows["welcome"]
        first = welcome.nodes[welcome.start]
        self.go(getattr(first, "next", "") or "menu", "welcome")

    # -- moving through the graph -------------------------------------------------
    def go(self, target: str, current: str) -> None:
        flow, name = self.content.resolve(target, current)
        for _ in range(MAX_HOPS):
            node = self.content.node(flow, name)
            if self.voice and getattr(node, "voice", ""):
                # A question that needs words, or something a call must not reach (a
                # caller id proves nothing): the caller goes where the flow says instead.
                flow, name = self.content.resolve(node.voice, flow)
            elif isinstance(node, MessageNode):
                self.say(node)
                flow, name = self.content.resolve(node.next, flow)
            elif isinstance(node, ActionNode):
                self.act(node)
                if not node.next:
                    self.state = None
                    return
                flow, name = self.content.resolve(node.next, flow)
            elif isinstance(node, BranchNode):
                value = self.value(node.check)
                target = node.cases.get(str(value).lower(), node.default)
                flow, name = self.content.resolve(target, flow)
            elif isinstance(node, LookupNode) and not self.look(node):
                flow, name = self.content.resolve(self.after_lookup, flow)
            elif isinstance(node, LookupNode):
                self.state = State(flow, name, self.vars, 0)
                return
            else:
                self.replies.append(self.voiced(self.question(node), node))
                self.state = State(flow, name, self.vars, 0)
                return
        self.replies.append(Reply(self.msg("error")))
        self.state = None

    def act(self, node: ActionNode) -> None:
        args = {k: self.arg(v) for k, v in node.args.items()}
        if node.action == "set_language":
            self.profile = replace(self.profile, lang=args["lang"])
        elif node.action in ("opt_out", "opt_in"):
            self.profile = replace(self.profile, opted_out=node.action == "opt_out")
        self.effects.append({"type": node.action, **args})
        if node.action == "delete_contact":
            self.vars = {}
        if node.text:
            self.replies.append(Reply(self.render(self.text_of(node), node.facts)))

    def look(self, node: LookupNode) -> bool:
        """Say a lookup's results; True when they became a menu and we now wait."""
        args = {k: self.arg(v) for k, v in node.args.items()}
        try:
            found = self.lookups.lookup(node.lookup, args, self.text_lang)
        except LookupError:
            found = []
        found, more = self.paged(node, found)
        self.vars.pop("_choices", None)
        self.after_lookup = node.next if found or not node.if_empty else node.if_empty
        if node.save and not node.choose:
            self.vars[node.save] = str(found[0].get("id", "")) if found else ""
        if not found:
            if node.empty:
                self.replies.append(Reply(self.render(node.empty, node.facts)))
            return False
        if not node.item:
            return False
        items = [self.render(node.item, node.facts, item=i) for i in found]
        header = (self.render(self.text_of(node), node.facts, count=len(found)) if node.text
                  else "")
        if node.choose:
            self.vars["_choices"] = [str(i.get("id", n)) for n, i in enumerate(found)]
            if more:
                items.append(self.msg("more"))
            options = tuple(Option(str(n), text) for n, text in enumerate(items, 1))
            self.replies.append(Reply(header, options, expects="choice"))
            return True
        self.replies.append(Reply("\n".join(filter(None, [header, *items]))))
        return False

    def paged(self, node: LookupNode, found: list[dict[str, Any]]) -> tuple[list, bool]:
        """The results to show now, and whether a "More choices" option follows them.

        A lookup with `more` that finds over `limit` shows `limit - 1` at a time; the page
        shown is kept in `_page`, and the last page's "More choices" leads back to the first.
        """
        self.vars.pop("_page", None)
        if not (node.more and node.choose and len(found) > node.limit):
            return found[: node.limit], False
        size = node.limit - 1
        page = self.page % -(-len(found) // size)
        self.page = 0
        self.vars["_page"] = page
        return found[page * size:(page + 1) * size], True

    def value(self, path: str) -> Any:
        """The raw value at a placeholder path such as `facts.policy.status`."""
        value: Any = self.context()
        for part in path.split("."):
            if not isinstance(value, dict) or part not in value:
                return ""
            value = value[part]
        return value

    def arg(self, template: str) -> Any:
        """An action or lookup argument: a saved answer as it is, or filled-in text."""
        whole = PLACEHOLDER.fullmatch(template)
        return self.value(whole.group(1)) if whole else fill(template, self.context())

    # -- answers ------------------------------------------------------------------
    def answer(self, msg: Inbound) -> None:
        assert self.state is not None
        flow, name = self.state.flow, self.state.node
        node = self.content.node(flow, name)
        target = self.accept(node, msg)
        if target is None:
            self.retry(node)
        else:
            self.go(target, flow)

    def accept(self, node: Node, msg: Inbound) -> str | None:
        """Where a valid answer leads, saving it; None when the answer is not valid."""
        if isinstance(node, MenuNode):
            return self.accept_menu(node, msg)
        if isinstance(node, LanguageNode):
            return self.accept_language(node, msg)
        if isinstance(node, AskNode):
            return self.accept_input(node, msg)
        if isinstance(node, LookupNode):
            choices = self.vars.get("_choices") or []
            paging = "_page" in self.vars
            index = self.pick(msg, [str(n) for n in range(1, len(choices) + 1 + paging)])
            if index is None:
                return None
            if index == len(choices):  # "More choices": the next page of the same lookup
                self.page = int(self.vars["_page"]) + 1
                return self.content.key_of(node)
            self.vars.pop("_page", None)
            if node.save:
                self.vars[node.save] = choices[index]
            self.vars.pop("_choices", None)
            return node.next
        return None

    def accept_menu(self, node: MenuNode, msg: Inbound) -> str | None:
        labels = [self.render(o.label, ()) for o in node.options]
        if node.multiple:
            chosen = self.pick_several(msg, labels)
        else:
            index = self.pick(msg, labels)
            chosen = [] if index is None else [index]
        if not chosen:
            return None
        values = [node.options[i].value or str(i + 1) for i in chosen]
        if node.save:
            self.vars[node.save] = values if node.multiple else values[0]
        return node.options[chosen[0]].go

    def accept_language(self, node: LanguageNode, msg: Inbound) -> str | None:
        langs = self.content.languages
        index = self.pick(msg, [self.content.names[c] for c in langs])
        if index is None and normalize(msg.text) in langs:
            index = langs.index(normalize(msg.text))
        if index is None:
            return None
        self.profile = replace(self.profile, lang=langs[index])
        self.effects.append({"type": "set_language", "lang": langs[index]})
        return node.next

    def accept_input(self, node: AskNode, msg: Inbound) -> str | None:
        if node.on_skip and not msg.media and (
                self.pick(msg, [self.msg("skip")]) == 0
                or normalize(msg.text) in self.content.answers["done"]):
            return node.on_skip
        if node.input == "yes_no":
            said = self.yes_no(msg)
            return None if said is None else (node.if_yes if said else node.if_no)
        value = PARSERS[node.input](self, node, msg)
        if value is None:
            return None
        if node.save:
            self.vars[node.save] = value
        return node.next

    def yes_no(self, msg: Inbound) -> bool | None:
        index = self.pick(msg, [self.msg("yes"), self.msg("no")])
        if index is not None:
            return index == 0
        word = normalize(msg.text)
        if word in self.content.answers["yes"]:
            return True
        if word in self.content.answers["no"]:
            return False
        return None

    def pick(self, msg: Inbound, labels: list[str]) -> int | None:
        """Which option a message chose: by button, number or (fuzzily) by its label."""
        raw = msg.choice or normalize(msg.text)
        number = re.fullmatch(r"#?\s*(\d{1,2})\s*[.)]?", raw)
        if number:
            index = int(number.group(1)) - 1
            return index if 0 <= index < len(labels) else None
        if msg.choice or len(raw) < 3:
            return None
        names = [normalize(label) for label in labels]
        if raw in names:
            return names.index(raw)
        found = process.extract(raw, names, scorer=fuzz.WRatio, limit=2, score_cutoff=86)
        if len(found) == 1 or (len(found) == 2 and found[0][1] - found[1][1] >= 8):
            return found[0][2]
        return None

    def pick_several(self, msg: Inbound, labels: list[str]) -> list[int]:
        """The options a message chose: numbers ("1 3", "1,3", "1 y 3", "13"), or else one
        option as `pick` finds it; [] when it chose none."""
        words = [w for w in re.split(r"[\s,;.+&/-]+", normalize(msg.text))
                 if w and w not in self.content.answers["and"]]
        if msg.choice or not words or not all(w.isdigit() for w in words):
            index = self.pick(msg, labels)
            return [] if index is None else [index]
        # A menu has at most 9 options, so "13" can only mean 1 and 3.
        numbers = {n for w in words
                   for n in ([int(w)] if int(w) <= len(labels) else map(int, w))}
        return sorted(n - 1 for n in numbers) if all(
            1 <= n <= len(labels) for n in numbers) else []

    def retry(self, node: Node) -> None:
        assert self.state is not None
        retries = self.state.retries + 1
        hint = getattr(node, "retry", "") or self.msg(_retry_message(node))
        text = self.render(hint, ())
        if retries >= LOST_AFTER:
            text += "\n" + self.msg("lost")
        # Before a language is chosen, an apology in one language helps nobody: the menu
        # itself asks again in every language.
        if self.profile.lang or not isinstance(node, LanguageNode):
            self.replies.append(Reply(text))
        self.page = int(self.vars.get("_page") or 0)
        self.replies.append(self.voiced(self.question(node), node))
        self.state = replace(self.state, vars=self.vars, retries=retries)

    # -- rendering ----------------------------------------------------------------
    def question(self, node: Node) -> Reply:
        if isinstance(node, MenuNode):
            # A caller is not offered what a call cannot do; the other keys keep their numbers.
            options = [Option(str(i), self.render(o.label, ()))
                       for i, o in enumerate(node.options, 1) if o.on_call or not self.voice]
            return Reply(self.render(self.text_of(node), node.facts), tuple(options),
                         expects="choices" if node.multiple else "choice")
        if isinstance(node, LanguageNode):
            return self.language_menu(node)
        if isinstance(node, LookupNode):
            self.look(node)
            return self.replies.pop()
        assert isinstance(node, AskNode)
        text = self.render(self.text_of(node), node.facts)
        if node.input == "yes_no":
            return Reply(text, (Option("1", self.msg("yes")), Option("2", self.msg("no"))),
                         expects="choice")
        expects = "record" if node.input == "media" or node.allow_media else node.input
        if node.on_skip:
            return Reply(text, (Option("1", self.msg("skip")),), expects=expects)
        return Reply(text, expects=expects)

    def language_menu(self, node: LanguageNode) -> Reply:
        """The language menu speaks every offered language, since we do not know which yet."""
        langs = self.content.languages
        lines: list[str] = []
        for code in ([self.profile.lang] if self.profile.lang else []) + langs:
            line = self.render(node.text, node.facts, code)
            if line not in lines:
                lines.append(line)
        options = tuple(Option(str(i), self.content.names[c]) for i, c in enumerate(langs, 1))
        return Reply("\n".join(lines), options, expects="language")

    def say(self, node: MessageNode) -> None:
        self.replies.append(self.voiced(Reply(self.render(self.text_of(node), node.facts)),
                                        node))

    def voiced(self, reply: Reply, node: Node) -> Reply:
        """The reply naming its node and the node's recording in the person's language."""
        return replace(reply, audio=self.content.recording(self.lang, node),
                       node=self.content.key_of(node))

    def render(self, msgid: str, facts: tuple[str, ...], lang: str = "", **extra: Any) -> str:
        if facts:
            self.facts.update(facts)
            self.fact_reply = len(self.replies)
        lang = lang or self.text_lang
        text = self.dates(self.content.t(lang, msgid), lang)
        return fill(text, {**self.shown(lang), **extra})

    def dates(self, text: str, lang: str) -> str:
        """Write `{vars.x:date}` answers as people of `lang` write dates ("25 dic 2027")."""

        def written(match: re.Match[str]) -> str:
            try:
                day = dt.date.fromisoformat(str(self.vars.get(match.group(1), "")))
            except ValueError:
                return f"{{vars.{match.group(1)}}}"
            return format_date(day, "medium", locale=self.content.locale_for(lang))

        return DATE_ANSWER.sub(written, text)

    def add_check_date(self) -> None:
        """Say once, under the last reply that used facts, when the oldest was checked."""
        checked = self.content.verified_on(tuple(self.facts))
        if checked is None or self.fact_reply >= len(self.replies):
            return
        locale = self.content.locale_for(self.text_lang)
        date = format_date(checked, "medium", locale=locale)
        line = fill(self.msg("checked_on"), {"date": date})
        reply = self.replies[self.fact_reply]
        self.replies[self.fact_reply] = replace(reply, text=f"{reply.text}\n{line}")

    def context(self) -> dict[str, Any]:
        return {"facts": self.content.facts, "vars": self.vars}

    def shown(self, lang: str) -> dict[str, Any]:
        """The context as a person reads it: several choices as their labels, in `lang`."""
        said = dict(self.vars)
        for name, value in self.vars.items():
            labels = self.content.labels(name) if isinstance(value, list) else {}
            if labels:
                said[name] = ", ".join(self.content.t(lang, labels.get(str(v), str(v)))
                                       for v in value)
        return {"facts": self.content.facts, "vars": said}

    def t(self, msgid: str) -> str:
        return self.content.t(self.text_lang, msgid)

    def msg(self, name: str) -> str:
        if self.voice and name in self.content.spoken:
            return self.t(self.content.spoken[name])
        return self.t(self.content.messages[name])

    def text_of(self, node: Node) -> str:
        """The node's text as this person gets it: its spoken words on the voice line."""
        return getattr(node, "spoken", "") if self.voice and getattr(node, "spoken", "") \
            else node.text


def fill(text: str, context: dict[str, Any]) -> str:
    """Replace `{facts.line_911.phone}`-style placeholders from `context`."""

    def lookup(match: re.Match[str]) -> str:
        value: Any = context
        for part in match.group(1).split("."):
            if not isinstance(value, dict) or part not in value:
                # An answer skipped is empty; anything else stays visible, a content mistake.
                return "" if match.group(1).startswith("vars.") else match.group(0)
            value = value[part]
        return str(value)

    return PLACEHOLDER.sub(lookup, text)


def _retry_message(node: Node) -> str:
    if isinstance(node, AskNode) and node.input == "time":
        return "retry_time"
    if isinstance(node, AskNode):
        return f"retry_{node.input}"
    return "retry_menu"


def _text(run: _Run, node: AskNode, msg: Inbound) -> str | dict[str, Any] | None:
    if node.allow_media and msg.media:
        return {"media": _media(run, node, msg)}
    if run.voice:
        return None  # keys pressed are not words: only a recording answers
    text = msg.text.strip()
    low, high = node.min or 1, node.max or 1000
    return text if low <= len(text) <= high else None


def _number(run: _Run, node: AskNode, msg: Inbound) -> int | None:
    match = re.fullmatch(r"\d{1,9}", normalize(msg.text))
    if not match:
        return None
    value = int(match.group(0))
    if (node.min is not None and value < node.min) or (node.max is not None and value > node.max):
        return None
    return value


def _date(run: _Run, node: AskNode, msg: Inbound) -> str | None:
    text = normalize(msg.text).replace(" ", "")
    for fmt in DATE_FORMATS:
        try:
            day = dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
        offset = (day - run.today).days
        if (node.min is not None and offset < node.min) or (
                node.max is not None and offset > node.max):
            return None
        return day.isoformat()
    return None


def _time(run: _Run, node: AskNode, msg: Inbound) -> str | None:
    text = re.sub(r"([ap])\.?m\.?$", r"\1m", normalize(msg.text).replace(" ", ""))
    text = text.replace(".", ":")
    # "0930" or "930" too: how a time is keyed on a phone's keypad.
    match = re.fullmatch(r"(\d{1,2})(?:[:h]?(\d{2}))?(?:h|hrs|horas)?(am|pm)?", text)
    if not match:
        return None
    hour, minute, half = int(match.group(1)), int(match.group(2) or 0), match.group(3)
    if half and not 1 <= hour <= 12:
        return None
    if half == "pm" and hour != 12:
        hour += 12
    elif half == "am" and hour == 12:
        hour = 0
    if hour > 23 or minute > 59:
        return None
    return f"{hour:02d}:{minute:02d}"


def _location(run: _Run, node: AskNode, msg: Inbound) -> dict[str, Any] | None:
    if msg.location:
        return {"lat": msg.location[0], "lon": msg.location[1]}
    if node.allow_text and not run.voice and 2 <= len(msg.text.strip()) <= 120:
        return {"place": msg.text.strip()}
    return None


def _media(run: _Run, node: AskNode, msg: Inbound) -> list[dict[str, str]] | None:
    if not msg.media:
        return None
    return [{"url": m.url, "type": m.content_type, "kind": m.kind} for m in msg.media]


PARSERS = {"text": _text, "number": _number, "date": _date, "time": _time,
           "location": _location, "media": _media}
