"""The pipeline every channel shares: de-duplicate, lock, load, limit, step, save, apply effects.

Limits (bot/limits.py): past FARO_CONTACT_RATE messages in a minute, or the same message
answered 20 times in a row within 5 minutes, a person gets one notice in their language
(when to write again, and 911), then silence until the window ends. An emergency keyword
is never silenced as a repeat: a person in danger may write "911" again and again, and
each time, up to the rate limit, gets the emergency numbers; past it, the notice names 911.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from bot import engine, limits
from bot.content import Content
from bot.effects import Effects
from bot.language import detect
from bot.lookups import Lookups, Sources
from bot.message import Inbound, Reply
from bot.places import MEXICO
from bot.store import Session, Store

log = logging.getLogger("faro.conversation")
EMERGENCY = "emergency"  # the keyword (flows/keywords.yaml) no repeat limit silences


class Conversations:
    """Handles inbound messages for every channel, the simulator and the terminal."""

    def __init__(self, store: Store, content: Content, sources: Sources, effects: Effects,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(MEXICO),
                 rate: int = 0):
        self.store = store
        self.content = content
        self.sources = sources
        self.effects = effects
        self.clock = clock
        self.rate = rate  # messages a minute per contact (FARO_CONTACT_RATE); 0: no limit

    def handle(self, msg: Inbound) -> list[Reply] | None:
        """The replies to `msg`; None when the provider already delivered it once."""
        # A call is paced by its own speech, so key presses are never limited: a caller paging
        # through a menu must not be cut off by a notice meant for floods of messages.
        limited = msg.channel != "voice"
        session = self.store.begin(msg, count=limited and self.rate > 0)
        if session is None:
            log.info("duplicate message ignored", extra={"channel": msg.channel})
            return None
        now = self.clock()
        held = self._held(session, msg, now) if limited else None
        if held is not None:
            return held
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

    def _held(self, session: Session, msg: Inbound, now: dt.datetime) -> list[Reply] | None:
        """A limit's answer instead of the conversation's: one notice, then nothing; None
        when no limit holds the message back."""
        notice, said = self._limit(session, msg, now)
        if said == limits.ANSWER:
            return None
        self.store.hold(session)
        log.info("message held back", extra={"channel": msg.channel, "limit": notice,
                                             "contact": session.cid[:8], "verdict": said})
        if said == limits.SILENT:
            return []
        return [Reply(self.effects.say(session.profile.lang or self.content.languages[0],
                                       notice))]

    def _limit(self, session: Session, msg: Inbound, now: dt.datetime) -> tuple[str, str]:
        """The limit `msg` meets (named by its notice) and its verdict; counts a repeat."""
        said = limits.verdict(session.sent, self.rate)
        if said != limits.ANSWER or self._emergency(msg):
            return "too_many", said
        digest = limits.fingerprint(session.data_key, msg)
        session.repeats = session.repeats.then(digest, int(now.timestamp()))
        return "repeated", limits.verdict(session.repeats.count, limits.REPEATS)

    def _emergency(self, msg: Inbound) -> bool:
        keyword = None if msg.choice else self.content.keyword(msg.text)
        return keyword is not None and keyword[0] == EMERGENCY


def _merge(replies: list[Reply], said: list[Reply], waiting: bool) -> list[Reply]:
    """Put what effects said before the question the conversation now waits on."""
    if not said:
        return replies
    if waiting and replies:
        return [*replies[:-1], *said, replies[-1]]
    return [*replies, *said]


def _where(state: engine.State | None) -> str:
    return f"{state.flow}.{state.node}" if state else "-"
