"""The shelter directory in a real Redis: import, checks, search by distance and city."""

from __future__ import annotations

import copy
import csv
import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot import keys
from bot.cli import main
from bot.content import load_content
from bot.errors import ContentError
from bot.shelters import Directory, load_file

BUNDLED = Path(__file__).resolve().parents[1] / "flows" / "data" / "shelters.yaml"
TENOSIQUE = (17.4729, -91.4236)  # the town's centre, about 1.5 km from La 72
TIJUANA = (32.5027, -117.00371)
CDMX = (19.42847, -99.12766)


@pytest.fixture
def records() -> list[dict]:
    return load_file(BUNDLED)


@pytest.fixture
def directory(redis_client, records) -> Directory:
    found = Directory(redis_client)
    found.import_records(records)
    return found


def ids_with(records: list[dict], status: str) -> set[str]:
    return {r["id"] for r in records if r["status"] == status}


def record(**changes) -> dict:
    """A valid record, changed as asked."""
    base = {"id": "casa-prueba", "name": "Casa Prueba", "city": "Tijuana",
            "state": "Baja California", "lat": 32.5, "lon": -117.0,
            "coordinates_source": "test", "services": ["shelter"], "serves": ["everyone"],
            "source": [{"id": "S1", "url": "https://example.org", "date": "2026"}],
            "verified": dt.date(2026, 11, 29), "status": "verified"}
    return {**base, **changes}


# -- the bundled directory --------------------------------------------------------


def test_the_bundled_directory_imports_whole(directory, records, redis_client):
    assert len(records) == 39
    assert redis_client.scard(keys.shelter_ids()) == len(records)
    assert redis_client.zcard(keys.shelter_geo()) == len(ids_with(records, "verified")) == 21
    assert len(ids_with(records, "to_verify")) == 13
    assert ids_with(records, "retired") >= {"msf-reynosa", "msf-matamoros"}


def test_the_content_pack_still_loads_and_carries_the_directory(records):
    content = load_content()
    assert content.data["shelters"]["shelters"] == records
    assert "aliases" in content.data["places"]


def test_only_la_72_has_coordinates_from_a_source(records):
    sourced = [r["id"] for r in records if "GeoNames" not in (r["coordinates_source"] or "x")]
    assert [i for i in sourced if i != "asylum-access-mexico"] == ["la-72-tenosique"]


# -- search -----------------------------------------------------------------------


def test_from_tenosique_la_72_comes_first_and_close(directory):
    found = directory.near(*TENOSIQUE)
    assert found[0]["id"] == "la-72-tenosique"
    assert 1 <= found[0]["km"] <= 2
    assert found[0]["phone"] == "+52 934 342 1111"
    assert found[0]["services"] == ["shelter", "food", "medical", "legal", "psychological"]


def test_from_tijuana_the_tijuana_shelters_come_first(directory):
    found = directory.near(*TIJUANA)
    assert {r["id"] for r in found[:3]} == {
        "casa-del-migrante-tijuana", "al-otro-lado-tijuana", "agape-mision-mundial"}
    assert all(r["city"] == "Tijuana" and r["km"] == 1 for r in found[:3])
    assert [r["km"] for r in found] == sorted(r["km"] for r in found)


def test_a_result_carries_every_field_the_flows_use(directory):
    found = directory.near(*TENOSIQUE, limit=1)[0]
    assert set(found) >= {"id", "name", "city", "state", "km", "phone", "hours", "services",
                          "serves", "capacity_status", "capacity_updated", "verified"}
    assert found["capacity_status"] == "unknown" and found["capacity_updated"] == ""
    assert found["verified"] == "2026-11-29"


@pytest.mark.parametrize(("point", "need", "present", "absent"), [
    (TIJUANA, "legal", {"al-otro-lado-tijuana", "casa-del-migrante-tijuana"},
     {"agape-mision-mundial"}),
    (TIJUANA, "shelter", {"agape-mision-mundial"}, {"al-otro-lado-tijuana"}),
    (CDMX, "men", {"casa-tochan", "sin-fronteras-mexico-city"}, {"cafemin"}),
    (CDMX, "women_children", {"cafemin", "sin-fronteras-mexico-city"}, {"casa-tochan"}),
    (CDMX, "families", {"cafemin"}, {"casa-tochan"}),
    (CDMX, "minors", set(), {"cafemin", "casa-tochan", "sin-fronteras-mexico-city"}),
])
def test_the_need_filters_by_service_or_by_who_is_served(directory, point, need, present,
                                                         absent):
    found = {r["id"] for r in directory.near(*point, need=need, limit=50)}
    assert present <= found and not absent & found


def test_any_need_is_no_filter_and_an_unknown_need_is_a_content_mistake(directory):
    assert directory.near(*TIJUANA, need="any") == directory.near(*TIJUANA)
    with pytest.raises(ContentError, match="unknown need 'lawyer'"):
        directory.near(*TIJUANA, need="lawyer")


def test_to_verify_and_retired_entries_never_appear(directory, records):
    shown = {r["id"] for r in directory.near(*CDMX, limit=100, radius_km=0)}
    assert shown == ids_with(records, "verified")
    for lat, lon in [TENOSIQUE, (26.08, -98.28), (25.88, -97.50), (17.51, -91.98)]:
        found = {r["id"] for r in directory.near(lat, lon, limit=100)}
        assert not found & (ids_with(records, "to_verify") | ids_with(records, "retired"))


def test_the_radius_limits_the_search_and_zero_means_anywhere(directory):
    la_paz = (24.14, -110.31)  # Baja California Sur: nothing within 500 km
    assert directory.near(*la_paz) == []
    far = directory.near(*la_paz, radius_km=0, limit=2)
    assert len(far) == 2 and far[0]["km"] > 500


def test_a_point_outside_the_map_finds_nothing(directory):
    assert directory.near(89.9, 0.0) == []


def test_in_city_finds_the_ciudad_juarez_shelters_first(directory):
    place, found = directory.in_city("cd juarez", limit=10)
    assert place.name == "Ciudad Juárez"
    cities = [r["city"] for r in found]
    assert cities[:4] == ["Ciudad Juárez"] * 4
    assert "El Paso" in cities[4:]  # the legal-aid office across the border, after them


def test_in_city_puts_the_city_before_closer_neighbours(directory):
    place, found = directory.in_city("Santa Catarina")
    assert place.state == "Nuevo León" and found[0]["id"] == "casa-monarca"
    place, found = directory.in_city("Monterrey")
    assert found[0]["id"] == "casa-monarca" and found[0]["km"] > 5


@pytest.mark.parametrize("city", ["Mérida", "Oaxaca"])
def test_a_city_without_shelters_still_gets_the_nearest_with_distances(directory, city):
    place, found = directory.in_city(city)
    assert place.name == city
    assert found and all(r["km"] > 100 for r in found)
    assert [r["km"] for r in found] == sorted(r["km"] for r in found)


def test_in_city_with_nonsense_finds_no_place(directory):
    assert directory.in_city("asdfgh") == (None, [])


def test_searches_store_nothing_about_the_person(directory, redis_client):
    before = set(redis_client.keys("*"))
    directory.in_city("estoy en tijuana")
    directory.near(*TENOSIQUE, need="legal")
    assert set(redis_client.keys("*")) == before
    assert all(k.startswith(b"faro:sh:") for k in before)


# -- import, checks, capacity -----------------------------------------------------


def test_a_csv_with_the_same_columns_imports(redis_client, tmp_path):
    path = tmp_path / "shelters.csv"
    columns = ["id", "name", "city", "state", "lat", "lon", "coordinates_source", "services",
               "serves", "phone", "hours", "capacity_status", "source", "verified", "status"]
    rows = [
        ["casa-a", "Casa A", "Tijuana", "Baja California", "32.51", "-117.01", "survey",
         "shelter; food", "families,women_children", "664 123 4567", "24/7", "open",
         "S1 https://example.org/a; https://example.org/b", "2026-11-20", "verified"],
        ["casa-b", "Casa B", "Tijuana", "Baja California", "", "", "", "legal", "everyone",
         "", "", "", "https://example.org/c", "2026-11-20", "to_verify"],
    ]
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([columns, *rows])
    directory = Directory(redis_client)
    assert directory.import_records(directory.load_file(path)) == 2
    found = directory.near(*TIJUANA, radius_km=50)
    assert [r["id"] for r in found] == ["casa-a"]
    assert found[0]["services"] == ["shelter", "food"]
    assert found[0]["serves"] == ["families", "women_children"]
    assert found[0]["phone"] == "+52 664 123 4567" and found[0]["capacity_status"] == "open"


@pytest.mark.parametrize(("changes", "message"), [
    ({"name": ""}, "record 'casa-prueba': name: is missing"),
    ({"lat": -117.0, "lon": 32.5}, "record 'casa-prueba': lat: -117.0 is outside Mexico"),
    ({"lat": "north"}, "record 'casa-prueba': lat: 'north' is not a number"),
    ({"lat": None}, "record 'casa-prueba': lat: is missing"),
    ({"services": ["shelter", "wifi"]}, "record 'casa-prueba': services: unknown code 'wifi'"),
    ({"serves": []}, "record 'casa-prueba': serves: needs at least one"),
    ({"status": "maybe"}, "record 'casa-prueba': status: 'maybe' is not one of"),
    ({"verified": "yesterday"}, "record 'casa-prueba': verified: 'yesterday' is not a date"),
    ({"phone": "call us"}, "record 'casa-prueba': phone: 'call us' is not a phone number"),
    ({"source": []}, "record 'casa-prueba': source: needs at least one"),
    ({"source": [{"url": "example.org"}]}, "source: 'example.org' is not a web address"),
    ({"capacity": {"status": "half"}}, "capacity.status: 'half' is not one of"),
    ({"servces": ["food"]}, "record 'casa-prueba': servces: unknown field"),
    ({"id": "Casa Prueba"}, "record 'Casa Prueba': id: must be lower-case"),
    ({"id": "geo"}, "record 'geo': id: 'geo' is reserved"),
    ({"id": ""}, "record #2: id: must be lower-case"),
])
def test_a_bad_record_is_named_and_nothing_is_imported(redis_client, changes, message):
    directory = Directory(redis_client)
    with pytest.raises(ContentError, match=message.replace("(", r"\(")) as raised:
        directory.import_records([record(id="fine"), record(**changes)])
    assert "fine" not in str(raised.value)
    assert redis_client.keys("*") == []


def test_every_problem_is_reported_at_once(redis_client):
    with pytest.raises(ContentError) as raised:
        Directory(redis_client).import_records([record(name=""), record(id="b", lat=99)])
    assert str(raised.value).count("\n") == 1


def test_an_id_used_twice_is_refused(redis_client):
    with pytest.raises(ContentError, match="record 'casa-prueba': id: used by an earlier"):
        Directory(redis_client).import_records([record(), record(name="Other")])


def test_an_entry_to_verify_may_lack_a_place_but_a_shown_one_may_not(redis_client):
    directory = Directory(redis_client)
    waiting = record(status="to_verify", city="", state="", lat=None, lon=None, services=[])
    assert directory.import_records([waiting]) == 1
    with pytest.raises(ContentError, match="city: is missing"):
        directory.import_records([record(city="")])


def test_a_shelter_that_closes_leaves_the_search_on_reimport(directory, records):
    assert directory.near(*TENOSIQUE)[0]["id"] == "la-72-tenosique"
    changed = copy.deepcopy(records)
    next(r for r in changed if r["id"] == "la-72-tenosique")["status"] = "retired"
    directory.import_records(changed)
    assert "la-72-tenosique" not in {r["id"] for r in directory.near(*TENOSIQUE)}


def test_ensure_loaded_imports_only_records_it_has_not_imported_yet(redis_client, records):
    directory = Directory(redis_client)
    assert directory.ensure_loaded(records) == len(records)
    assert directory.ensure_loaded(records) == 0  # the same pack at the next start-up
    changed = [{**records[0], "phone": "+52 934 342 1112"}, *records[1:]]
    assert directory.ensure_loaded(changed) == len(records)  # a new content pack
    assert redis_client.scard(keys.shelter_ids()) == len(records)


def test_capacity_news_shows_in_results_and_survives_a_reimport(directory, records):
    directory.set_capacity("la-72-tenosique", "full", 0,
                           dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC))
    found = directory.near(*TENOSIQUE)[0]
    assert (found["capacity_status"], found["capacity_beds"], found["capacity_updated"]) == (
        "full", 0, "2026-12-01T09:30+00:00")
    directory.import_records(records)
    assert directory.near(*TENOSIQUE)[0]["capacity_status"] == "full"


@pytest.mark.parametrize(("sid", "status", "beds", "message"), [
    ("la-72-tenosique", "half", None, "capacity status must be one of"),
    ("la-72-tenosique", "open", -1, "beds must be a whole number"),
    ("nowhere", "open", 3, "no shelter 'nowhere'"),
])
def test_bad_capacity_news_is_refused(directory, sid, status, beds, message):
    with pytest.raises(ContentError, match=message):
        directory.set_capacity(sid, status, beds, dt.date(2026, 12, 1))


# -- the command line -------------------------------------------------------------


@pytest.fixture
def runner(redis_server, redis_client) -> CliRunner:
    return CliRunner(env={"REDIS_URL": redis_server.url, "FARO_ENV": "development"})


def test_faro_shelters_import_loads_the_bundled_file(runner, redis_client):
    result = runner.invoke(main, ["shelters", "import", str(BUNDLED)])
    assert result.exit_code == 0, result.output
    assert "Imported 39 shelters: 21 shown, 13 to verify, 5 retired." in result.output
    assert redis_client.zcard(keys.shelter_geo()) == 21
    listed = runner.invoke(main, ["shelters", "list"])
    assert listed.exit_code == 0
    line = next(x for x in listed.output.splitlines() if x.startswith("msf-reynosa"))
    assert line.split() == ["msf-reynosa", "Reynosa", "retired"]


def test_faro_shelters_import_refuses_a_bad_file_whole(runner, redis_client, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("shelters:\n  - {id: casa-x, name: Casa X, status: verified}\n",
                   encoding="utf-8")
    result = runner.invoke(main, ["shelters", "import", str(bad)])
    assert result.exit_code == 1
    assert "Nothing imported" in result.output and "record 'casa-x': lat: is missing" in (
        result.output)
    assert redis_client.keys("*") == []
