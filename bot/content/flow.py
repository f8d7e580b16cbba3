"""The schema of a flow file, validated on load.

A flow is a named graph of nodes. Each node has a ``type``:

- ``message``: say ``text``, then go on to ``next`` at once.
- ``menu``: say ``text`` and list ``options``; each option's ``go`` is where a choice leads.
- ``ask``: say ``text`` and wait for one answer of kind ``input`` (text, yes_no, date,
  number, location, media); a valid answer is saved under ``save`` and leads to
  ``next`` (``if_yes``/``if_no`` for yes_no); anything else gets ``retry`` and the question again.
- ``language``: the language menu; the choice sets the contact's language.
- ``action``: do a named action (an effect the caller applies), then go on to ``next``.

A target is a node of the same flow (``kidnap``), another flow's start (``menu``),
or another flow's node (``settings.language``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

ACTIONS = ("set_language", "opt_out", "opt_in", "delete_contact")
INPUTS = ("text", "yes_no", "date", "number", "location", "media")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Choice(Strict):
    label: str = Field(min_length=1)
    go: str = Field(min_length=1)


class NodeBase(Strict):
    text: str = Field(min_length=1)
    facts: tuple[str, ...] = ()


class MessageNode(NodeBase):
    type: Literal["message"]
    next: str = Field(min_length=1)


class MenuNode(NodeBase):
    type: Literal["menu"]
    options: tuple[Choice, ...] = Field(min_length=1, max_length=9)
    retry: str = ""


class AskNode(NodeBase):
    type: Literal["ask"]
    input: Literal["text", "yes_no", "date", "number", "location", "media"]
    save: str = Field(default="", pattern=r"^[a-z_][a-z0-9_]*$|^$")
    retry: str = ""
    next: str = ""
    if_yes: str = ""
    if_no: str = ""
    min: int | None = None
    max: int | None = None
    allow_text: bool = False  # location: accept a typed place name too


class LanguageNode(NodeBase):
    type: Literal["language"]
    next: str = Field(min_length=1)


class ActionNode(Strict):
    type: Literal["action"]
    action: Literal["set_language", "opt_out", "opt_in", "delete_contact"]
    args: dict[str, str] = {}
    next: str = ""
    text: str = ""
    facts: tuple[str, ...] = ()


Node = Annotated[
    MessageNode | MenuNode | AskNode | LanguageNode | ActionNode, Field(discriminator="type")
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
    for name in ("next", "if_yes", "if_no"):
        value = getattr(node, name, "")
        if value:
            pairs.append((name, value))
    return pairs


def waits(node: Node) -> bool:
    """True when the node waits for the person's answer."""
    return isinstance(node, MenuNode | AskNode | LanguageNode)
