"""Walk every menu path of the bundled pack: each choice ends back at a menu, never nowhere."""

import datetime as dt

import pytest

from bot.content import load_content
from bot.content.flow import ActionNode, AskNode
from bot.content.pack import ENDINGS
from bot.engine import Profile, State, step
from bot.message import Inbound

TODAY = dt.date(2026, 11, 29)


@pytest.mark.parametrize("lang", ["es", "en"])
def test_every_choice_leads_to_a_question_or_a_chosen_ending(lang):
    content = load_content()
    start = State("menu", content.flows["menu"].start)
    todo, seen = [start], set()
    endings = []
    while todo:
        state = todo.pop()
        if (state.flow, state.node) in seen:
            continue
        seen.add((state.flow, state.node))
        for answer in _answers(content, state):
            result = step(content, Profile(lang=lang), state,
                          Inbound("sms", "+5215500000000", text=answer), TODAY)
            assert result.replies, f"{state.flow}.{state.node} answered {answer!r} with nothing"
            if result.state is None:
                endings += [e["type"] for e in result.effects]
                continue
            assert content.has(result.state.flow, result.state.node)
            todo.append(State(result.state.flow, result.state.node))
    reachable = {(f, n) for f, flow in content.flows.items() for n, node in flow.nodes.items()
                 if not isinstance(node, ActionNode) and node.type != "message"}
    assert reachable - {("welcome", "language")} <= seen
    # Only erasing one's data and stopping alerts end a conversation: silence was asked for.
    assert sorted(set(endings)) == sorted(ENDINGS)


def _answers(content, state):
    node = content.node(state.flow, state.node)
    if isinstance(node, AskNode) and node.input == "yes_no":
        return ["1", "2"]
    if hasattr(node, "options"):
        return [str(i) for i in range(1, len(node.options) + 1)]
    return [str(i) for i in range(1, len(content.languages) + 1)]
