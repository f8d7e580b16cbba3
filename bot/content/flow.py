"""The schema of a flow file, validated on load.

A flow is a named graph of nodes. Each node has a ``type``:

- ``message``: say ``text``, then go on to ``next`` at once.
- ``menu``: say ``text`` and list ``options``; each option's ``go`` is where a choice leads
  (with ``save``, the chosen option's ``value`` is kept as an answer). Labels may hold
  placeholders (``Only {vars.city}``). With ``multiple``, a person may choose several
  options at once ("1 3", "1,3", "1 y 3"); they must all lead to the same node, and
  ``save`` keeps the list of their values, in menu order.
- ``ask``: say ``text`` and wait for one answer of kind ``input`` (text, yes_no, date,
  number, location, media); a valid answer is saved under ``save`` and leads to
  ``next`` (``if_yes``/``if_no`` for yes_no); anything else gets ``retry`` and the question again.
  A caller on the voice line has only a keypad and a voice: where a question needs written
  words (a city, a message to check), ``voice`` names the node they go to instead (a keypad
  menu of states, or a few words on how to do it by message). Any node may have ``voice``:
  a call must not reach what reads out or changes a person's record (their evidence, a
  recovery phrase, their appointments, erasing), since anyone can make a call show any
  caller id; such nodes lead a caller to a message that says to do it by message instead.
- ``language``: the language menu; the choice sets the contact's language.
- ``action``: do a named action (an effect the caller applies), then go on to ``next``.
- ``branch``: go to ``cases[value]`` where the value is read from ``check`` (a fact's field
  such as ``facts.appointments_policy.state``, or a saved answer ``vars.need``), else
  to ``default``. This is how an operator switches content by editing a data file.
- ``lookup``: ask an injected, read-only lookup (``lookup``, with ``args``) and say
  each result with the ``item`` template (``{item.name}``), or ``empty`` when there is
  none (then go to ``if_empty`` when given). With ``choose``, the results become a menu
  and the chosen result's ``id`` is saved under ``save``; without it, ``save`` keeps the
  first result's ``id``. With ``more``, results past ``limit`` come page by page: the
  last option of each page is "More choices".

A target is a node of the same flow (``kidnap``), another flow's start (``menu``),
or another flow's node (``settings.language``).
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

Action = Literal["set_language", "opt_out", "opt_in", "delete_contact", "save_appointment",
                 "cancel_appointment", "report_scam", "evidence_open", "evidence_add",
                 "evidence_share", "evidence_delete", "recovery_new", "recover", "subscribe"]
LookupName = Literal["shelters_near", "shelters_in_city", "check_message", "match_alert",
                     "appointments", "case", "evidence_items", "organizations",
                     "evidence_missing", "region", "city", "states", "shelter_states",
                     "shelter_cities"]
ACTIONS = get_args(Action)
LOOKUPS = get_args(LookupName)
INPUTS = ("text", "yes_no", "date", "time", "number", "location", "media")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Choice(Strict):
    label: str = Field(min_length=1)
    go: str = Field(min_length=1)
    value: str = ""  # saved under the menu's `save` when chosen
    # False: not read out on the voice line, because what it leads to is done by message
    # (its key still works there, and says so).
    on_call: bool = True


class NodeBase(Strict):
    text: str = Field(min_length=1)
    facts: tuple[str, ...] = ()
    spoken: str = ""  # what the voice line says instead of `text` (no "send" or "write")
    voice: str = ""  # where a caller on the voice line goes instead of this node


class MessageNode(NodeBase):
    type: Literal["message"]
    next: str = Field(min_length=1)


class MenuNode(NodeBase):
    type: Literal["menu"]
    options: tuple[Choice, ...] = Field(min_length=1, max_length=9)
    retry: str = ""
    save: str = Field(default="", pattern=r"^[a-z_][a-z0-9_]*$|^$")
    multiple: bool = False  # several choices at once, saved as a list


class AskNode(NodeBase):
    type: Literal["ask"]
    input: Literal["text", "yes_no", "date", "time", "number", "location", "media"]
    save: str = Field(default="", pattern=r"^[a-z_][a-z0-9_]*$|^$")
    retry: str = ""
    next: str = ""
    if_yes: str = ""
    if_no: str = ""
    min: int | None = None
    max: int | None = None
    allow_text: bool = False  # location: accept a typed place name too
    allow_media: bool = False  # text: accept a voice note or a file instead of words
    on_skip: str = ""  # offer "I am done" (1, or a done word); it leads here


class LanguageNode(NodeBase):
    type: Literal["language"]
    next: str = Field(min_length=1)


class ActionNode(Strict):
    type: Literal["action"]
    action: Action
    args: dict[str, str] = {}
    next: str = ""
    text: str = ""
    facts: tuple[str, ...] = ()
    spoken: str = ""
    voice: str = ""


class BranchNode(Strict):
    type: Literal["branch"]
    check: str = Field(pattern=r"^(facts|vars)\.[a-z0-9_.]+$")
    cases: dict[str, str] = Field(min_length=1)
    default: str = Field(min_length=1)
    text: str = ""
    facts: tuple[str, ...] = ()


class LookupNode(Strict):
    type: Literal["lookup"]
    lookup: LookupName
    args: dict[str, str] = {}
    text: str = ""
    item: str = ""  # empty: the lookup says nothing (it only saves its first result's id)
    empty: str = ""
    next: str = Field(min_length=1)
    if_empty: str = ""
    choose: bool = False
    save: str = Field(default="", pattern=r"^[a-z_][a-z0-9_]*$|^$")
    limit: int = Field(default=5, ge=1, le=9)
    more: bool = False  # page through results past `limit` ("More choices" last)
    retry: str = ""
    facts: tuple[str, ...] = ()
    spoken: str = ""
    voice: str = ""


Node = Annotated[
    MessageNode | MenuNode | AskNode | LanguageNode | ActionNode | BranchNode | LookupNode,
    Field(discriminator="type"),
]


class Flow(Strict):
    flow: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    spec_version: Literal[1] = 1
    title: str = ""
    start: str
    nodes: dict[str, Node] = Field(min_length=1)


def targets(node: Node) -> list[tuple[str, str]]:
    """Every (field, target) pair a node can lead to."""
    pairs: list[tuple[str, str]] = []
    if isinstance(node, MenuNode):
        pairs += [(f"option {i}", o.go) for i, o in enumerate(node.options, 1)]
    if isinstance(node, BranchNode):
        pairs += [(f"case {k!r}", v) for k, v in node.cases.items()] + [("default", node.default)]
    for name in ("next", "if_yes", "if_no", "if_empty", "on_skip", "voice"):
        value = getattr(node, name, "")
        if value:
            pairs.append((name, value))
    return pairs


def waits(node: Node) -> bool:
    """True when the node waits for the person's answer."""
    return isinstance(node, MenuNode | AskNode | LanguageNode) or (
        isinstance(node, LookupNode) and node.choose)
