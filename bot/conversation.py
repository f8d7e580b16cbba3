"""The pipeline every channel shares: de-duplicate, lock, load, step, save."""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from bot import engine
from bot.content import Content
from bot.message import Inbound, Reply
from bot.store import Store

log = logging.getLogger("faro.conversation")
MEXICO = ZoneInfo("America/Mexico_City")


class Conversations:
    """Handles inbound messages for every channel, the simulator and the terminal."""

    def __init__(self, store: Store, content: Content):
        self.store = store
        self.content = content

    def handle(self, msg: Inbound) -> list[Reply] | None:
        """The replies to `msg`; None when the provider already delivered it once."""
        session = self.store.begin(msg)
        if session is None:
            log.info("duplicate message ignored", extra={"channel": msg.channel})
            return None
        try:
            today = dt.datetime.now(MEXICO).date()
            result = engine.step(self.content, session.profile, session.state, msg, today)
        except Exception:
            self.store.release(session.cid, session.token)
            raise
        self.store.commit(session, msg, result)
        log.info("message handled", extra={"channel": msg.channel, "contact": session.cid[:8],
                                           "replies": len(result.replies),
                                           "node": _where(result.state)})
        return result.replies


def _where(state: engine.State | None) -> str:
    return f"{state.flow}.{state.node}" if state else "-"
