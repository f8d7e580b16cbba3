"""Carrying out what the engine asked for beyond the contact record itself.

Each effect is a dict from an `action` node ({"type": ..., **args}). Some produce a
reply the engine could not know (a new recovery phrase, whether a phrase matched); those
come back as extra replies, in the person's language.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from bot import audit, crypto, keys
from bot.appointments import Appointments
from bot.chain import TEXT_KINDS
from bot.content import Content
from bot.engine import fill
from bot.erasure import erase_contact
from bot.evidence import Cases, NoCase, stamp
from bot.message import Inbound, Media, Reply
from bot.recovery import Recovery
from bot.scams import Reports
from bot.store import Session, Store, normalize_address
from bot.subscriptions import parse_topics

log = logging.getLogger("faro.effects")
MEDIA_KINDS = {"photo": "photo", "document": "document", "voice": "voice", "audio": "voice",
               "video": "document", "file": "document"}


@dataclass
class Effects:
    """Applies effects for the conversation pipeline; one per app."""

    store: Store
    content: Content
    appointments: Appointments
    cases: Cases
    reports: Reports
    recovery: Recovery
    enqueue_media: Callable[..., Any]  # (cid, kind, media, received_at, notify=, via=)

    def apply(self, session: Session, msg: Inbound, effects: list[dict[str, Any]],
              lang: str, now: dt.datetime) -> list[Reply]:
        """Carry out `effects` in order; return any replies they produce (on the voice line,
        in the language the caller hears)."""
        replies: list[Reply] = []
        written = self.content.speech(lang) if msg.voice else lang
        for effect in effects:
            handler = getattr(self, f"_{effect['type']}", None)
            try:
                said = handler(session, msg, effect, now) if handler else None
            except Exception:
                # The conversation is already saved: tell the person rather than fail the
                # whole request, which a provider would retry into a duplicate.
                log.exception("effect failed", extra={"effect": effect["type"]})
                said = ("error", {})
            if said:
                replies.append(Reply(self.say(written, said[0], **said[1]), lang=lang))
        return replies

    def clear_leftovers(self, cid: str) -> None:
        """Erase unreadable records of a contact id that has no data key (a new contact)."""
        if self.store.redis.exists(*keys.records(cid)):  # one look first: almost always none
            erase_contact(self.store, self.cases, self.recovery, cid)

    def say(self, lang: str, name: str, **values: Any) -> str:
        """A named message of the content pack, in `lang`, filled in."""
        return fill(self.content.t(lang, self.content.messages[name]), values)

    def _save_appointment(self, session: Session, msg: Inbound, effect: dict, now) -> None:
        self.appointments.add(session.cid, session.data_key, effect, now)

    def _cancel_appointment(self, session: Session, msg: Inbound, effect: dict, now) -> None:
        self.appointments.cancel(session.cid, str(effect.get("id", "")))

    def _report_scam(self, session: Session, msg: Inbound, effect: dict, now) -> None:
        if effect.get("text"):
            self.reports.add(str(effect["text"]), now)  # no contact id: reports are anonymous

    def _delete_contact(self, session: Session, msg: Inbound, effect: dict, now) -> None:
        erase_contact(self.store, self.cases, self.recovery, session.cid)

    def _subscribe(self, session: Session, msg: Inbound, effect: dict, now) -> None:
        # The fields are what the alert sender reads: see bot/subscriptions.py.
        region, city = str(effect.get("region", "")), str(effect.get("city") or "")
        if not region:
            return
        key, redis = keys.contact(session.cid), self.store.redis
        old = redis.hget(key, "sr")
        pipe = redis.pipeline(transaction=True)
        if old and old.decode() != region:
            pipe.srem(keys.subscribers(old.decode()), session.cid)
        pipe.hset(key, mapping={"sr": region, "sc": city, "o": "0",
                                "st": parse_topics(effect.get("topics") or "all")})
        pipe.sadd(keys.subscribers(region), session.cid)
        pipe.execute()

    def _evidence_open(self, session: Session, msg: Inbound, effect: dict, now) -> None:
        self.cases.open(session.cid, session.data_key, now)
        # What was agreed to, and where: legal aid may need to show consent was informed.
        self.cases.add_text(session.cid, session.data_key, "consent",
                            f"yes | {session.profile.lang or '-'} | {msg.channel} | "
                            f"evidence.consent of {self.content.files.get('evidence', '-')}", now,
                            via=msg.channel)

    def _evidence_add(self, session: Session, msg: Inbound, effect: dict, now) -> None:
        kind, value = str(effect.get("kind", "note")), effect.get("value")
        media, text = _media_of(value), _text_of(value)
        if media or not text:
            self.cases.open(session.cid, session.data_key, now)
            for item in media:
                # A caller heard "saving it" in the call; an SMS after it would cost, and a
                # landline cannot get one.
                self.enqueue_media(session.cid, MEDIA_KINDS.get(item.kind, "document"), item,
                                   stamp(now), notify=not msg.voice, via=msg.channel)
            return
        add = partial(self.cases.add_text, session.cid, session.data_key, _text_kind(kind),
                      text, now, via=msg.channel)
        try:
            add()
        except NoCase:  # the case's first item: opened only now, so the usual add costs less
            self.cases.open(session.cid, session.data_key, now)
            add()

    def _evidence_share(self, session: Session, msg: Inbound, effect: dict, now) -> None:
        org = str(effect.get("org", ""))
        if org:
            self.cases.share(session.cid, org, now)
            audit.record(self.store.redis, "person", "case shared",
                         self.cases.code(session.cid) or "", org=org)

    def _evidence_delete(self, session: Session, msg: Inbound, effect: dict, now) -> None:
        self.cases.delete(session.cid)

    def _recovery_new(self, session: Session, msg: Inbound, effect: dict, now):
        return "recovery_phrase", {"phrase": self.recovery.issue(session.cid)}

    def _recover(self, session: Session, msg: Inbound, effect: dict, now):
        if not self.recovery.allowed(session.direct):
            return "recovery_wait", {}
        home = self.recovery.owner(str(effect.get("phrase", "")))
        data_key = self.store.data_key(home) if home else None
        if not home or data_key is None:
            return "not_recovered", {}
        address = normalize_address(msg.channel, msg.address)
        sealed = crypto.encrypt(data_key, address, home)
        self.recovery.link(session.direct, home, sealed, msg.key_space)
        self.store.redis.delete(keys.conversation(home))  # start afresh at the menu
        if session.new and session.cid != home:
            # The record this new phone started just to recover is not needed any more.
            self.store.redis.delete(keys.contact(session.cid), keys.conversation(session.cid))
        log.info("record recovered on another address", extra={"contact": home[:8]})
        return "recovered", {}


def _media_of(value: Any) -> list[Media]:
    raw = value.get("media") if isinstance(value, dict) else value
    if not isinstance(raw, list):
        return []
    return [Media(str(m.get("url", "")), str(m.get("type", "")), str(m.get("kind", "file")))
            for m in raw if isinstance(m, dict) and m.get("url")]


def _text_of(value: Any) -> str:
    if isinstance(value, dict) and "lat" in value:
        return f"{value['lat']:.5f}, {value['lon']:.5f} (shared location)"
    if isinstance(value, dict):
        return str(value.get("place", ""))
    return str(value or "").strip(" |")


def _text_kind(kind: str) -> str:
    return kind if kind in TEXT_KINDS else "note"
