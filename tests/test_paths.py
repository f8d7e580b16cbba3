"""Walk every path of the bundled pack: each choice ends back at a question, never nowhere.

The walk answers every question with a valid answer of its kind, under both appointment
policies and with lookups that find something and that find nothing; by SMS, and on the
voice line, where only keys and a recording can answer.
"""

import dataclasses
import datetime as dt
import itertools

import pytest

from bot.content import load_content
from bot.content.flow import AskNode, LookupNode, waits
from bot.content.pack import ENDINGS
from bot.engine import Profile, State, step
from bot.message import Inbound, Media

TODAY = dt.date(2026, 11, 29)
ANSWERS = {"text": ["Tijuana"], "date": ["15/01/2027", "01/06/2026"], "time": ["10:00"],
           "number": ["2"], "location": ["Tapachula"], "media": ["x", "1"], "yes_no": ["1", "2"]}
# What a caller can do instead: keys, or speak (a recording) where words are welcome.
KEYS = {"date": ["15012027", "01062026"], "time": ["1000"], "number": ["2"],
        "yes_no": ["1", "2"]}
RECORDING = Media("https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1.mp3",
                  "audio/mpeg", "voice")


class Finds:
    """Lookups that find one thing, or nothing."""

    def __init__(self, found: bool):
        self.found = found

    def lookup(self, name, args, lang):
        item = {"id": "x", "summary": "A place", "explain": "A sign", "kind": "COMAR",
                "date": "1 Jan", "time": "10:00", "place": "Here", "org": "Org",
                "text": "An alert"}
        return [item] if self.found or name == "states" else []  # Mexico always has states


def walk(content, lang, lookups, channel="sms"):
    starts = [("menu", content.flows["menu"].start)]
    if channel == "sms":  # a caller cannot say a keyword: they start at the menu
        starts += [content.resolve(target, "") for _kw, target in content.keywords.values()]
    todo = [State(*start) for start in starts if waits(content.node(*start))]
    seen, endings = set(), []
    while todo:
        state = todo.pop()
        if (state.flow, state.node) in seen:
            continue
        seen.add((state.flow, state.node))
        said = answers(content, state) if channel == "sms" else keyed(content, state)
        assert said, f"{state.flow}.{state.node} asks a caller for what no key can give"
        for answer in said:
            result = step(content, Profile(lang=lang), state,
                          Inbound(channel, "+5215500000000", **answer), TODAY, lookups)
            assert result.replies, f"{state.flow}.{state.node} answered {answer!r} with nothing"
            if result.state is None:
                endings += [e["type"] for e in result.effects]
                continue
            node = content.node(result.state.flow, result.state.node)
            assert waits(node), f"{result.state} does not wait for an answer"
            todo.append(result.state)
    return seen, endings


def answers(content, state):
    node = content.node(state.flow, state.node)
    if isinstance(node, AskNode):
        return [{"text": text} for text in ANSWERS[node.input]]
    if isinstance(node, LookupNode):
        return [{"text": "1"}]
    count = len(getattr(node, "options", ())) or len(content.languages)
    return [{"text": str(i)} for i in range(1, count + 1)]


def keyed(content, state):
    """What a caller can answer: keys, a recording where words are welcome, 1 to skip."""
    node = content.node(state.flow, state.node)
    if not isinstance(node, AskNode):
        return answers(content, state)
    out = [{"text": keys} for keys in KEYS.get(node.input, [])]
    if node.input == "media" or node.allow_media:
        out.append({"media": (RECORDING,)})
    return out + ([{"text": "1"}] if node.on_skip else [])


@pytest.mark.parametrize("lang", ["es", "en"])
def test_every_choice_leads_to_a_question_or_a_chosen_ending(lang):
    content = load_content()
    seen, endings = set(), []
    for policy in ("suspended", "open"):
        facts = dict(content.facts)
        facts["appointments_policy"] = {**facts["appointments_policy"], "state": policy}
        pack = dataclasses.replace(content, facts=facts)
        for found, channel in itertools.product((True, False), ("sms", "voice")):
            more_seen, more_endings = walk(pack, lang, Finds(found), channel)
            seen |= more_seen
            endings += more_endings
    waiting = {(f, n) for f, flow in content.flows.items() for n, node in flow.nodes.items()
               if waits(node)}
    assert waiting - {("welcome", "language")} <= seen
    # Only erasing one's data and stopping alerts end a conversation: silence was asked for.
    assert sorted(set(endings)) == sorted(ENDINGS)
