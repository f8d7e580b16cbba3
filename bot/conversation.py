"""The pipeline every channel shares: de-duplicate, lock, load, step, save, apply effects."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from bot import engine
from bot.content import Content
from bot.effects import Effects
from bot.language import detect
from bot.lookups import Lookups, Sources
from bot.message import Inbound, Reply
from bot.places import MEXICO
from bot.store import Store

log = logging.getLogger("faro.conversation")


class Conversations:
    """Handles inbound messages for every channel, the simulator and the terminal."""

    def __init__(self, store: Store, content: Content, sources: Sources, effects: Effects,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(MEXICO)):
        self.store = store
        self.content = content
        self.sources = sources
        self.effects = effects
        self.clock = clock

    def handle(self, msg: Inbound) -> list[Reply] | None:
        """The replies to `msg`; None when the provider already delivered it once."""
        session = self.store.begin(msg)
        if session is None:
            log.info("duplicate message ignored", extra={"channel": msg.channel})
            return None
        now = self.clock()
        if session.new:
            # Records left under this id with no key to read them (a backup restored after
            # the person erased their data) are noise: clear them before starting afresh.
            self.effects.clear_leftovers(session.cid)
        try:
            lookups = Lookups(self.content, self.sources, session.cid, session.data_key, now)
            result = engine.step(self.content, session.profile, session.state, msg, now.date(),
                                 lookups, detect)
        except Exception:
            self.store.release(session.cid, session.token)
            raise
        self.store.commit(session, msg, result)
        said = self.effects.apply(session, msg, result.effects,
                                  result.profile.lang or self.content.languages[0], now)
        log.info("message handled", extra={"channel": msg.channel, "contact": session.cid[:8],
                                           "replies": len(result.replies),
                                           "node": _where(result.state)})
        return _merge(result.replies, said, waiting=result.state is not None)


def _merge(replies: list[Reply], said: list[Reply], waiting: bool) -> list[Reply]:
    """Put what effects said before the question the conversation now waits on."""
    if not said:
        return replies
    if waiting and replies:
        return [*replies[:-1], *said, replies[-1]]
    return [*replies, *said]


def _where(state: engine.State | None) -> str:
    return f"{state.flow}.{state.node}" if state else "-"
