"""The shelter and legal-aid directory, kept in Redis and searched by distance.

Each shelter is a hash of strings (`keys.shelter`); the ids of every stored shelter
form a set (`keys.shelter_ids`), and the shelters a person may be shown form a GEO
index (`keys.shelter_geo`). Only entries with status ``verified`` and coordinates
enter the GEO index, so a search never returns one that is ``to_verify`` or
``retired``. Nothing about a person is stored here: the place searched from is used
and forgotten.

Files (``flows/data/shelters.yaml`` describes the fields) are YAML, a list under
``shelters:``, or CSV with the same columns, where:

- ``services`` and ``serves`` hold codes separated by ";" or ",";
- ``capacity`` becomes ``capacity_status``, ``capacity_beds``, ``capacity_updated``;
- ``source`` holds entries separated by ";", each "URL" or "ID URL".
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import phonenumbers
import redis
import yaml

from bot import keys
from bot.content.pack import FACT_STATUSES
from bot.errors import ContentError
from bot.places import Place, match_city

SERVICES = ("shelter", "food", "medical", "legal", "psychological")
SERVES = ("women_children", "families", "lgbtqi", "minors", "men", "everyone")
# "everyone" answers for every group but children traveling alone: they need a place
# allowed to take them in, which a general shelter often is not.
EVERYONE_COVERS = frozenset({"women_children", "families", "lgbtqi", "men"})
NO_NEED = ("", "any")
CAPACITY = ("open", "full", "closed", "unknown")
RADIUS_KM = 500
ANYWHERE_KM = 20_000  # half the Earth's circumference: every shelter is within it
SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
RESERVED_IDS = ("geo", "ids", "digest")  # their keys would be the directory's own index keys
# Mexico and the U.S. border cities fit in this box; outside it, coordinates are
# mistyped or swapped.
LATITUDES, LONGITUDES = (14.0, 33.5), (-118.5, -86.0)
FIELDS = ("id", "name", "city", "state", "lat", "lon", "coordinates_source", "address",
          "services", "serves", "phone", "hours", "capacity", "source", "verified", "status",
          "note")


class Directory:
    """The shelters in Redis: import, search near a point or a city, capacity news."""

    def __init__(self, client: redis.Redis):
        self.client = client

    @staticmethod
    def load_file(path: str | Path) -> list[dict[str, Any]]:
        """The records of a YAML or CSV file, not yet checked (see `load_file`)."""
        return load_file(path)

    def import_records(self, records: Iterable[Any]) -> int:
        """Check every record, then store them all in one transaction; return how many.

        Raise ContentError naming each bad record and field; then nothing is stored.
        A capacity update newer than the record's (from staff) is kept.
        """
        cleaned = validate(list(records))
        pipe = self.client.pipeline(transaction=False)
        for sid, _ in cleaned:
            pipe.hget(keys.shelter(sid), "capacity_updated")
        stored = [_text(v) for v in pipe.execute()]
        pipe = self.client.pipeline(transaction=True)
        for (sid, fields), updated in zip(cleaned, stored, strict=True):
            self._write(pipe, sid, fields, updated)
        pipe.execute()
        return len(cleaned)

    def _write(self, pipe: Any, sid: str, fields: dict[str, str], updated: str) -> None:
        if updated and updated >= fields["capacity_updated"]:
            fields = {k: v for k, v in fields.items() if not k.startswith("capacity_")}
        pipe.hset(keys.shelter(sid), mapping=fields)
        pipe.sadd(keys.shelter_ids(), sid)
        if fields["status"] == "verified":
            pipe.geoadd(keys.shelter_geo(), (float(fields["lon"]), float(fields["lat"]), sid))
        else:
            pipe.zrem(keys.shelter_geo(), sid)

    def ensure_loaded(self, records: Iterable[Any]) -> int:
        """Import `records` unless these very records were imported last; return how many.

        Called at start-up, so a new content pack reaches Redis without a manual import,
        while staff's newer capacity updates survive (see `import_records`).
        """
        records = list(records)
        digest = hashlib.sha256(json.dumps(records, sort_keys=True, default=str).encode())
        if self.client.get(keys.shelter_digest()) == digest.hexdigest().encode():
            return 0
        count = self.import_records(records)
        self.client.set(keys.shelter_digest(), digest.hexdigest())
        return count

    def near(self, lat: float, lon: float, need: str = "", limit: int = 5,
             radius_km: float = RADIUS_KM) -> list[dict[str, Any]]:
        """Shown shelters within `radius_km` (0: any distance) that meet `need`, nearest first.

        `need` is a service code ("legal"), a group code ("women_children"), or ""/"any".
        """
        return self._search(lat, lon, need, radius_km)[:limit]

    def in_city(self, text: str, need: str = "", limit: int = 5,
                radius_km: float = RADIUS_KM) -> tuple[Place | None, list[dict[str, Any]]]:
        """The city `text` names and the shelters near it, those in the city first."""
        place = match_city(text)
        if place is None:
            return None, []
        found = self._search(place.lat, place.lon, need, radius_km)
        found.sort(key=lambda r: (place_of(r["city"]) != place, r["km"]))
        return place, found[:limit]

    def _search(self, lat: float, lon: float, need: str,
                radius_km: float) -> list[dict[str, Any]]:
        check_need(need)
        lat, lon, radius_km = float(lat), float(lon), float(radius_km)
        if not (-85.05 <= lat <= 85.05 and -180 <= lon <= 180):
            return []  # outside what Redis GEO can index; nothing of ours is there
        hits = self.client.geosearch(
            keys.shelter_geo(), longitude=lon, latitude=lat, unit="km", withdist=True,
            radius=radius_km if radius_km > 0 else ANYWHERE_KM, sort="ASC")
        rows = self._rows(_text(sid) for sid, _ in hits)
        return [result(sid, row, km) for (sid, row), (_, km) in zip(rows, hits, strict=True)
                if row.get("status") == "verified" and meets(row, need)]

    def _rows(self, ids: Iterable[str]) -> list[tuple[str, dict[str, str]]]:
        ids = list(ids)
        pipe = self.client.pipeline(transaction=False)
        for sid in ids:
            pipe.hgetall(keys.shelter(sid))
        return [(sid, _strings(row)) for sid, row in zip(ids, pipe.execute(), strict=True)]

    def entries(self) -> list[dict[str, Any]]:
        """Every stored shelter, shown or not, by id: id, name, city, state, status."""
        ids = sorted(_text(sid) for sid in self.client.smembers(keys.shelter_ids()))
        return [{"id": sid, **{k: row.get(k, "") for k in ("name", "city", "state", "status")}}
                for sid, row in self._rows(ids)]

    def shown_places(self) -> list[tuple[str, str]]:
        """The (state, city) of every shelter a person may be shown, once each."""
        return sorted({(e["state"], e["city"]) for e in self.entries()
                       if e["status"] == "verified" and e["state"] and e["city"]})

    def get(self, sid: str) -> dict[str, str] | None:
        """One stored shelter, shown or not, as its stored strings with its id; or None."""
        if not SLUG.fullmatch(sid) or sid in RESERVED_IDS:
            return None  # a reserved id's key is an index, not a shelter
        row = _strings(self.client.hgetall(keys.shelter(sid)))
        return {**row, "id": sid} if row else None

    def set_capacity(self, sid: str, status: str, beds: int | None,
                     when: dt.date | dt.datetime) -> None:
        """Record a shelter's latest news about space (from its staff)."""
        if status not in CAPACITY:
            raise ContentError(f"capacity status must be one of {', '.join(CAPACITY)}")
        if beds is not None and (isinstance(beds, bool) or not isinstance(beds, int)
                                 or beds < 0):
            raise ContentError("beds must be a whole number, 0 or more")
        if not self.client.sismember(keys.shelter_ids(), sid):
            raise ContentError(f"no shelter {sid!r}")
        # Staff give the time too (space changes within a day); an imported record, a day.
        stamp = (when.astimezone(dt.UTC).isoformat(timespec="minutes")
                 if isinstance(when, dt.datetime) else when.isoformat())
        self.client.hset(keys.shelter(sid), mapping={
            "capacity_status": status, "capacity_beds": "" if beds is None else str(beds),
            "capacity_updated": stamp})


@functools.lru_cache(maxsize=4096)
def place_of(city: str) -> Place | None:
    """The place a shelter's city names (few names, asked often: remembered)."""
    return match_city(city)


def check_need(need: str) -> None:
    """Raise ContentError unless `need` is a service or group code, "" or "any"."""
    if need not in NO_NEED + SERVICES + SERVES:
        raise ContentError(f"unknown need {need!r}; use one of "
                           f"{', '.join(SERVICES + SERVES)} or 'any'")


def meets(row: dict[str, str], need: str) -> bool:
    """True when a stored shelter offers the service or takes the group `need` names."""
    if need in NO_NEED:
        return True
    if need in SERVICES:
        return need in row.get("services", "").split(",")
    serves = row.get("serves", "").split(",")
    return need in serves or (need in EVERYONE_COVERS and "everyone" in serves)


def result(sid: str, row: dict[str, str], km: float) -> dict[str, Any]:
    """A stored shelter as a search result."""
    beds = row.get("capacity_beds", "")
    return {
        "id": sid, "name": row["name"], "city": row["city"], "state": row["state"],
        "km": max(1, round(km)), "phone": row["phone"], "hours": row["hours"],
        "address": row["address"], "services": _codes(row["services"]),
        "serves": _codes(row["serves"]), "capacity_status": row["capacity_status"],
        "capacity_beds": int(beds) if beds else None,
        "capacity_updated": row["capacity_updated"], "verified": row["verified"],
    }


def _codes(joined: str) -> list[str]:
    return [c for c in joined.split(",") if c]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else "" if value is None else str(value)


def _strings(row: dict[Any, Any]) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in row.items()}


# -- files -----------------------------------------------------------------------------


def load_file(path: str | Path) -> list[dict[str, Any]]:
    """The records of a YAML (list under ``shelters:``) or CSV file, not yet checked."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".csv":
            with path.open(encoding="utf-8-sig", newline="") as f:
                return [from_row(row) for row in csv.DictReader(f)]
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, csv.Error) as exc:
        raise ContentError(f"{path}: cannot be read: {exc}") from exc
    records = raw.get("shelters") if isinstance(raw, dict) else raw
    if not isinstance(records, list):
        raise ContentError(f"{path}: expected a list of shelters under 'shelters:'")
    return records


def from_row(row: dict[str | None, Any]) -> dict[str, Any]:
    """A CSV row in the shape of a YAML record."""
    rec = {k.strip(): (v or "").strip() for k, v in row.items() if k and isinstance(v, str)}
    rec["services"] = split_codes(rec.get("services", ""))
    rec["serves"] = split_codes(rec.get("serves", ""))
    rec["capacity"] = {"status": rec.pop("capacity_status", "") or "unknown",
                       "beds": rec.pop("capacity_beds", "") or None,
                       "updated": rec.pop("capacity_updated", "") or None}
    rec["source"] = [_source(s.split()) for s in rec.get("source", "").split(";") if s.strip()]
    for name in ("lat", "lon"):
        rec[name] = rec.get(name) or None
    return rec


def split_codes(cell: str) -> list[str]:
    """Codes from a CSV cell: "shelter; food" or "shelter,food"."""
    return [c.strip() for c in re.split(r"[;,]", cell) if c.strip()]


def _source(parts: list[str]) -> dict[str, str]:
    url = next((p for p in parts if p.startswith(("http://", "https://"))), "")
    other = [p for p in parts if p != url]
    return {"id": other[0] if other else "", "url": url, "date": ""}


# -- checking --------------------------------------------------------------------------


def validate(records: list[Any]) -> list[tuple[str, dict[str, str]]]:
    """Each record as (id, fields to store); ContentError listing every problem if any."""
    problems: list[str] = []
    cleaned: list[tuple[str, dict[str, str]]] = []
    seen: set[str] = set()
    for position, raw in enumerate(records, 1):
        check = Check(raw, position)
        fields = check.run()
        if check.id in seen:
            check.bad("id", "used by an earlier record too")
        seen.add(check.id)
        problems += check.problems
        cleaned.append((check.id, fields))
    if problems:
        raise ContentError("\n".join(problems))
    return cleaned


class Check:
    """One record being checked; `problems` names the record and field of each fault."""

    def __init__(self, raw: Any, position: int):
        self.raw = raw if isinstance(raw, dict) else {}
        self.id = str(self.raw.get("id") or "").strip()
        self.where = f"record {self.id!r}" if self.id else f"record #{position}"
        self.problems = [] if isinstance(raw, dict) else [f"{self.where}: must be a mapping"]

    def bad(self, field: str, why: str) -> None:
        """Note a problem with `field`."""
        self.problems.append(f"{self.where}: {field}: {why}")

    def run(self) -> dict[str, str]:
        """The fields to store, noting every problem on the way."""
        self.check_id()
        for name in sorted(set(self.raw) - set(FIELDS)):
            self.bad(str(name), "unknown field")
        status = self.choice("status", FACT_STATUSES)
        shown = status == "verified"
        return {"name": self.text("name", required=True), "status": status,
                **{f: self.text(f, required=shown) for f in ("city", "state")},
                "address": self.text("address"), "hours": self.text("hours"),
                "note": self.text("note", longest=1000),
                "services": self.codes("services", SERVICES, required=shown),
                "serves": self.codes("serves", SERVES, required=shown),
                "phone": self.phone(),
                "verified": self.day("verified", self.raw.get("verified"), required=True),
                "source": self.sources(), **self.capacity(), **self.position(shown)}

    def check_id(self) -> None:
        """The id must be a slug, and not one the index keys use."""
        if not SLUG.fullmatch(self.id):
            self.bad("id", "must be lower-case letters, digits and hyphens, like 'la-72'")
        elif self.id in RESERVED_IDS:
            self.bad("id", f"{self.id!r} is reserved")

    def text(self, name: str, required: bool = False, longest: int = 300) -> str:
        """A short text field."""
        value = self.raw.get(name)
        value = "" if value is None else value
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            self.bad(name, "must be text")
            return ""
        value = " ".join(str(value).split())
        if required and not value:
            self.bad(name, "is missing")
        elif len(value) > longest:
            self.bad(name, f"is longer than {longest} characters")
        return value

    def choice(self, name: str, allowed: tuple[str, ...]) -> str:
        """A field that must be one of `allowed`."""
        value = str(self.raw.get(name) or "")
        if value not in allowed:
            self.bad(name, f"{value!r} is not one of {', '.join(allowed)}")
        return value

    def codes(self, name: str, allowed: tuple[str, ...], required: bool) -> str:
        """A list of codes, stored comma-joined."""
        value = self.raw.get(name) or []
        if isinstance(value, str):
            value = split_codes(value)
        if not isinstance(value, list):
            self.bad(name, "must be a list of codes")
            return ""
        for code in value:
            if code not in allowed:
                self.bad(name, f"unknown code {code!r}; known: {', '.join(allowed)}")
        if required and not value:
            self.bad(name, f"needs at least one of {', '.join(allowed)}")
        return ",".join(dict.fromkeys(str(c) for c in value))

    def day(self, name: str, value: Any, required: bool = False) -> str:
        """A date (YYYY-MM-DD) as ISO text; "" when absent and allowed."""
        if isinstance(value, dt.date):
            return value.isoformat()[:10]
        if not value:
            if required:
                self.bad(name, "is missing")
            return ""
        try:
            return dt.date.fromisoformat(str(value)).isoformat()
        except ValueError:
            self.bad(name, f"{value!r} is not a date like 2026-11-29")
            return ""

    def phone(self) -> str:
        """A phone number in international form, "" when none; Mexico when no +code."""
        value = self.text("phone")
        if not value:
            return ""
        try:
            number = phonenumbers.parse(value, "MX")
        except phonenumbers.NumberParseException:
            number = None
        if number is None or not phonenumbers.is_possible_number(number):
            self.bad("phone", f"{value!r} is not a phone number")
            return value
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)

    def capacity(self) -> dict[str, str]:
        """The capacity fields: status, free beds, and the day of that news."""
        raw = self.raw.get("capacity") or {}
        if not isinstance(raw, dict):
            self.bad("capacity", "must be a mapping with status, beds, updated")
            raw = {}
        status = str(raw.get("status") or "unknown")
        if status not in CAPACITY:
            self.bad("capacity.status", f"{status!r} is not one of {', '.join(CAPACITY)}")
        beds = raw.get("beds")
        if beds not in (None, "") and not str(beds).isdigit():
            self.bad("capacity.beds", f"{beds!r} is not a whole number")
        updated = self.day("capacity.updated", raw.get("updated"))
        return {"capacity_status": status, "capacity_beds": "" if beds is None else str(beds),
                "capacity_updated": updated}

    def position(self, shown: bool) -> dict[str, str]:
        """lat, lon and where they come from; required before an entry is shown."""
        lat, lon = self.raw.get("lat"), self.raw.get("lon")
        if lat in (None, "") and lon in (None, "") and not shown:
            return {"lat": "", "lon": "", "coordinates_source": self.text("coordinates_source")}
        return {"lat": self.degrees("lat", lat, LATITUDES),
                "lon": self.degrees("lon", lon, LONGITUDES),
                "coordinates_source": self.text("coordinates_source", required=True)}

    def degrees(self, name: str, value: Any, bounds: tuple[float, float]) -> str:
        """One coordinate inside Mexico's box, as text."""
        if value in (None, ""):
            self.bad(name, "is missing")
            return ""
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.bad(name, f"{value!r} is not a number of degrees")
            return ""
        if not bounds[0] <= number <= bounds[1]:
            self.bad(name, f"{number} is outside Mexico and the U.S. border "
                           f"({bounds[0]} to {bounds[1]}); swapped with the other one?")
        return repr(number)

    def sources(self) -> str:
        """The source list as JSON; each needs a web address."""
        value = self.raw.get("source")
        if not isinstance(value, list) or not value:
            self.bad("source", "needs at least one {id, url, date}")
            return "[]"
        out = []
        for item in value:
            item = item if isinstance(item, dict) else {"url": item}
            url = str(item.get("url") or "")
            if not url.startswith(("http://", "https://")):
                self.bad("source", f"{url!r} is not a web address")
            out.append({"id": str(item.get("id") or ""), "url": url,
                        "date": self.day_text(item.get("date"))})
        return json.dumps(out, ensure_ascii=False)

    @staticmethod
    def day_text(value: Any) -> str:
        """A source's date as written ("2025-01", "undated")."""
        return value.isoformat() if isinstance(value, dt.date) else str(value or "")
