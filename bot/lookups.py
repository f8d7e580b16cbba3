"""The read-only lookups the engine may ask for, answered from Redis and the content pack."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from babel.dates import format_date, format_time

from bot import places
from bot.alerts import AlertLog, claims_to_come_from
from bot.appointments import Appointments
from bot.content import Content
from bot.engine import fill
from bot.evidence import Cases, show_code
from bot.places import MEXICO
from bot.scams import find_signs
from bot.shelters import Directory, place_of

YEAR = re.compile(r"(19|20)\d\d")


class Shelters:
    """The shelter directory, filled from the content pack the first time it is needed."""

    def __init__(self, directory: Directory, records: list[dict[str, Any]]):
        self.directory = directory
        self.records = records
        self.loaded = False

    def ready(self) -> Directory:
        """The directory, after importing the pack's records if this process has not yet."""
        if not self.loaded:
            self.directory.ensure_loaded(self.records)
            self.loaded = True
        return self.directory


@dataclass(frozen=True)
class Sources:
    """Where lookups read from; built once per app."""

    appointments: Appointments
    alerts: AlertLog
    shelters: Shelters
    cases: Cases
    organizations: Callable[[], list[tuple[str, str]]]
    trusted_hosts: tuple[str, ...] = ()


class Lookups:
    """Answers the engine's lookups for one contact during one step."""

    def __init__(self, content: Content, sources: Sources, cid: str, data_key: bytes,
                 now: dt.datetime):
        self.content = content
        self.sources = sources
        self.cid = cid
        self.data_key = data_key
        self.now = now

    def lookup(self, name: str, args: dict[str, Any], lang: str) -> list[dict[str, Any]]:
        """Results of the lookup `name`; LookupError for a name we do not know."""
        handler = getattr(self, f"_{name}", None)
        if handler is None:
            raise LookupError(name)
        return handler(args, lang)

    def date(self, day: dt.date, lang: str) -> str:
        """A date as people of `lang` write it."""
        return format_date(day, "medium",
                           locale=self.content.locale_for(lang))

    def _appointments(self, args: dict[str, Any], lang: str) -> list[dict[str, Any]]:
        kinds = self.content.data.get("appointments", {}).get("kinds", {})
        out = []
        for item in self.sources.appointments.list(self.cid, self.data_key):
            say = kinds.get(item.kind, kinds.get("other", {})).get("say", item.kind)
            out.append({"id": item.id, "kind": self.content.t(lang, say),
                        "date": self.date(dt.date.fromisoformat(item.date), lang),
                        "time": item.time, "place": item.place or "-"})
        return out

    def _check_message(self, args: dict[str, Any], lang: str) -> list[dict[str, Any]]:
        rules, text = self.content.data.get("scams", {}), str(args.get("text", ""))
        signs = {s["code"]: s for s in rules.get("signs", [])}
        found = [{"id": code, "explain": self.content.t(lang, signs[code]["explain"])}
                 for code in find_signs(text, rules, self.sources.trusted_hosts)]
        if claims_to_come_from(text, rules) and not self.sources.alerts.match(text, self.now):
            # Claiming to be Faro or a shelter without matching a real alert is itself a sign.
            found.append({"id": "not_an_alert", "explain": self.content.t(
                lang, self.content.messages["claims_unmatched"])})
        return found

    def _match_alert(self, args: dict[str, Any], lang: str) -> list[dict[str, Any]]:
        found = self.sources.alerts.match(str(args.get("text", "")), self.now)
        return [{**m, "date": self.date(dt.date.fromisoformat(m["date"][:10]), lang)}
                for m in found]

    def _shelters_near(self, args: dict[str, Any], lang: str) -> list[dict[str, Any]]:
        where, need = args.get("where"), str(args.get("need") or "")
        radius = float(args.get("radius_km") or 0)
        directory = self.sources.shelters.ready()
        if isinstance(where, dict) and "lat" in where:
            found = directory.near(float(where["lat"]), float(where["lon"]), need, 9, radius)
        else:
            text = where.get("place", "") if isinstance(where, dict) else str(where or "")
            found = directory.in_city(text, need, 9, radius)[1]
        return [{"id": s["id"], "summary": self.shelter_line(s, lang)} for s in found]

    def shelter_line(self, shelter: dict[str, Any], lang: str) -> str:
        """One shelter in a few short sentences: what, where, how far, phone, space, age."""
        msg = self.content.messages
        t = self.content.t
        services = ", ".join(t(lang, msg[f"service_{c}"]) for c in shelter["services"])
        services = services[:1].upper() + services[1:]
        parts = [fill(t(lang, msg["shelter_line"]), {**shelter, "services": services})]
        for field in ("phone", "hours"):
            if shelter.get(field):
                parts.append(fill(t(lang, msg[f"shelter_{field}"]), shelter))
        if shelter.get("capacity_status") not in (None, "", "unknown"):
            parts.append(self.space(shelter, lang))
        year = self.source_year(shelter["id"])
        if year:
            parts.append(fill(t(lang, msg["shelter_source"]), {"year": year}))
        return " ".join(parts)

    def space(self, shelter: dict[str, Any], lang: str) -> str:
        """"Space: has space (12 free beds), Nov 29, 2026, 3:20 PM." with the time staff
        gave it (Mexico City time), or the day of an imported record."""
        msg, t = self.content.messages, self.content.t
        status = shelter["capacity_status"]
        capacity = t(lang, msg[f"capacity_{status}"])
        beds = str(shelter.get("capacity_beds") or "")
        if status == "open" and beds.isdigit():
            capacity += f" ({self.content.tn(lang, 'free_beds', int(beds))})"
        stamp = shelter.get("capacity_updated") or ""
        when = ""
        if "T" in stamp:
            moment = dt.datetime.fromisoformat(stamp).astimezone(MEXICO)
            locale = self.content.locale_for(lang)
            when = (f"{self.date(moment.date(), lang)}, "
                    f"{format_time(moment, 'short', tzinfo=MEXICO, locale=locale)}")
        elif stamp:
            when = self.date(dt.date.fromisoformat(stamp), lang)
        return fill(t(lang, msg["shelter_space"]), {"capacity": capacity, "date": when})

    def source_year(self, shelter_id: str) -> str:
        """The year of the newest source about a shelter, so people see how old the news is."""
        for record in self.content.data.get("shelters", {}).get("shelters", []):
            if record.get("id") == shelter_id:
                years = [m.group(0) for s in record.get("source", [])
                         for m in [YEAR.search(str(s.get("date", "")))] if m]
                return max(years, default="")
        return ""

    def _case(self, args: dict[str, Any], lang: str) -> list[dict[str, Any]]:
        code = self.sources.cases.code(self.cid)
        if not code:
            return []
        count = len(self.sources.cases.items(self.cid, self.data_key))
        return [{"id": code, "code": show_code(code), "count": count,
                 "saved": self.content.tn(lang, "things_saved", count)}]

    def _evidence_items(self, args: dict[str, Any], lang: str) -> list[dict[str, Any]]:
        out = []
        for item in self.sources.cases.items(self.cid, self.data_key):
            label = self.content.t(lang, self.content.messages.get(f"evidence_{item.kind}",
                                                                   item.kind))
            out.append({"id": str(item.seq), "seq": item.seq, "label": label,
                        "preview": self.preview(item, lang)})
        return out[-9:]

    def preview(self, item: Any, lang: str) -> str:
        """A few words about an item, with answers shown as the person chose them."""
        if item.kind == "consent":
            return self.content.t(lang, self.content.messages["yes"])
        if not item.text:
            return f"{item.content_type.split(';')[0]}, {max(1, item.size // 1024)} KB"
        parts = [self.choice_label(item.kind, part, lang) for part in item.text.split(" | ")]
        text = " | ".join(p for p in parts if p)
        return text[:60] + ("…" if len(text) > 60 else "")

    def choice_label(self, kind: str, value: str, lang: str) -> str:
        """The menu label an answer was chosen by, in `lang`; the answer itself otherwise."""
        for save in (kind, f"appt_{kind}", "appt_place"):
            label = self.content.labels(save).get(value)
            if label:
                return self.content.t(lang, label)
        return value

    def _organizations(self, args: dict[str, Any], lang: str) -> list[dict[str, Any]]:
        return [{"id": oid, "name": name} for oid, name in self.sources.organizations()]

    def _evidence_missing(self, args: dict[str, Any], lang: str) -> list[dict[str, Any]]:
        have = {item.kind for item in self.sources.cases.items(self.cid, self.data_key)}
        steps = ("appointment", "event", "when", "where", "report", "account")
        return [{"id": step} for step in steps if step not in have][:1]

    def _states(self, args: dict[str, Any], lang: str) -> list[dict[str, Any]]:
        """Every Mexican state, by name: a keypad menu for a caller who cannot type one."""
        return [{"id": state, "name": state} for state in places.states()]

    def _shelter_states(self, args: dict[str, Any], lang: str) -> list[dict[str, Any]]:
        """The Mexican states where the directory has shelters to show, by name (El Paso's
        Texas is not one: its shelters show up from Ciudad Juárez, nearby)."""
        found = {state for state, _city in self.sources.shelters.ready().shown_places()}
        return [{"id": state, "name": state} for state in places.states() if state in found]

    def _shelter_cities(self, args: dict[str, Any], lang: str) -> list[dict[str, Any]]:
        """The cities of state `state` that have shelters to show and that the city
        matcher knows, so that the search from them finds them, by name."""
        state = str(args.get("state") or "")
        cities = {city for where, city in self.sources.shelters.ready().shown_places()
                  if where == state and place_of(city) is not None}
        return [{"id": city, "name": city} for city in sorted(cities, key=places.words)]

    def _region(self, args: dict[str, Any], lang: str) -> list[dict[str, Any]]:
        found = _area(args.get("where"))
        return [{"id": found[0].state, "name": found[0].state}] if found else []

    def _city(self, args: dict[str, Any], lang: str) -> list[dict[str, Any]]:
        """The city an answer named; nothing when it named a whole state."""
        found = _area(args.get("where"))
        if not found or found[1]:
            return []
        return [{"id": found[0].name, "name": found[0].name}]


def _area(where: Any) -> tuple[places.Place, bool] | None:
    """The place a location answer names (typed, or the nearest to a shared point), and
    whether it named a whole state."""
    if isinstance(where, dict) and "lat" in where:
        place = places.nearest(float(where["lat"]), float(where["lon"]))
        return place, place.is_its_state()
    text = where.get("place", "") if isinstance(where, dict) else str(where or "")
    return places.match_area(text)
