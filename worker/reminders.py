"""The reminder job: tell a person, in their language, about an appointment they saved."""

from __future__ import annotations

import logging

from babel.dates import format_date

from bot import keys
from bot.appointments import Appointment, Appointments
from bot.content import Content
from bot.engine import fill
from worker.jobs import _context, deliver, pack

log = logging.getLogger("faro.worker")




def remind(cid: str, appointment_id: str, hours: int) -> int:
    """Send the reminder due `hours` before an appointment; 0 when it or the contact is gone."""
    _settings, store = _context()
    data_key, lang = store.data_key(cid), store.redis.hget(keys.contact(cid), "l")
    if data_key is None:
        return 0
    item = Appointments(store.redis).get(cid, data_key, appointment_id)
    if item is None:
        log.info("reminder for a cancelled appointment skipped", extra={"contact": cid[:8]})
        return 0
    content = pack()
    return deliver(cid, [{"text": reminder_text(content, (lang or b"").decode(), item, hours)}])


def reminder_text(content: Content, lang: str, item: Appointment, hours: int) -> str:
    """The reminder message for `item`, `hours` before it, in `lang`."""
    lang = lang if lang in content.languages else content.languages[0]
    kinds = content.data.get("appointments", {}).get("kinds", {})
    kind = kinds.get(item.kind) or kinds.get("other", {})
    t = content.t
    date = format_date(item.starts().date(), "full",
                       locale=content.locale_for(lang))
    return fill(t(lang, content.messages["reminder"]), {
        "when": t(lang, content.messages.get(f"reminder_{hours}", "")) or "",
        "kind": t(lang, kind.get("say", "")), "bring": t(lang, kind.get("bring", "")),
        "date": date, "time": item.time, "place": item.place or "-"})
