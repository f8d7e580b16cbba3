"""The pipeline every channel shares: de-duplicate, lock, load, step, save, apply effects."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from bot import engine
from bot.content import Content
from bot.lookups import Lookups, Sources
from bot.message import Inbound, Reply
from bot.scams import Reports
from bot.store import Session, Store

log = logging.getLogger("faro.conversation")
MEXICO = ZoneInfo("America/Mexico_City")


class Conversations:
    """Handles inbound messages for every channel, the simulator and the terminal."""

    def __init__(self, store: Store, content: Content, sources: Sources, reports: Reports,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(MEXICO)):
        self.store = store
        self.content = content
        self.sources = sources
        self.reports = reports
        self.clock = clock
        self.appointments = sources.appointments

    def handle(self, msg: Inbound) -> list[Reply] | None:
        """The replies to `msg`; None when the provider already delivered it once."""
        session = self.store.begin(msg)
        if session is None:
            log.info("duplicate message ignored", extra={"channel": msg.channel})
            return None
        now = self.clock()
        try:
            lookups = Lookups(self.content, self.sources, session.cid, session.data_key, now)
            result = engine.step(self.content, session.profile, session.state, msg, now.date(),
                                 lookups)
        except Exception:
            self.store.release(session.cid, session.token)
            raise
        self.store.commit(session, msg, result)
        self.apply(session, result.effects, now)
        log.info("message handled", extra={"channel": msg.channel, "contact": session.cid[:8],
                                           "replies": len(result.replies),
                                           "node": _where(result.state)})
        return result.replies

    def apply(self, session: Session, effects: list[dict[str, Any]], now: dt.datetime) -> None:
        """Carry out what the engine asked for beyond the contact record itself."""
        for effect in effects:
            kind = effect["type"]
            if kind == "save_appointment":
                self.appointments.add(session.cid, session.data_key, effect, now)
            elif kind == "cancel_appointment":
                self.appointments.cancel(session.cid, str(effect.get("id", "")))
            elif kind == "report_scam" and effect.get("text"):
                self.reports.add(str(effect["text"]), now)  # no contact id: reports are anonymous
            elif kind == "delete_contact":
                self.appointments.delete_all(session.cid)


def _where(state: engine.State | None) -> str:
    return f"{state.flow}.{state.node}" if state else "-"
