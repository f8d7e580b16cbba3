"""Finding the Mexican city a person typed: typos, accents, common names, states."""

from __future__ import annotations

import pytest
import yaml

from bot.places import PLACES_FILE, Place, match_city, sound, words

FOUND = [
    # (what a person typed, city, state)
    ("tapachula", "Tapachula", "Chiapas"),
    ("TIJUANA", "Tijuana", "Baja California"),
    ("Tijuana", "Tijuana", "Baja California"),
    ("tijuna", "Tijuana", "Baja California"),
    ("tiuana", "Tijuana", "Baja California"),
    ("tj", "Tijuana", "Baja California"),
    ("cd juarez", "Ciudad Juárez", "Chihuahua"),
    ("Cd. Juárez", "Ciudad Juárez", "Chihuahua"),
    ("ciudad juares", "Ciudad Juárez", "Chihuahua"),
    ("Juárez", "Ciudad Juárez", "Chihuahua"),
    ("monterey", "Monterrey", "Nuevo León"),
    ("mty", "Monterrey", "Nuevo León"),
    ("reinosa", "Reynosa", "Tamaulipas"),
    ("piedras negras", "Piedras Negras", "Coahuila"),
    ("Piedras  Negras!", "Piedras Negras", "Coahuila"),
    ("saltiyo", "Saltillo", "Coahuila"),
    ("CDMX", "Ciudad de México", "Ciudad de México"),
    ("D.F.", "Ciudad de México", "Ciudad de México"),
    ("mexico city", "Ciudad de México", "Ciudad de México"),
    ("ciudad de mexico", "Ciudad de México", "Ciudad de México"),
    ("nuevo laredo", "Nuevo Laredo", "Tamaulipas"),
    ("Matamoros", "Matamoros", "Tamaulipas"),
    ("Nogales", "Nogales", "Sonora"),
    ("tenosike", "Tenosique", "Tabasco"),
    ("vilahermoza", "Villahermosa", "Tabasco"),
    ("guadalajra", "Guadalajara", "Jalisco"),
    ("gdl", "Guadalajara", "Jalisco"),
    ("san cristobal", "San Cristóbal de las Casas", "Chiapas"),
    ("acuña", "Ciudad Acuña", "Coahuila"),
    ("Frontera Comalapa", "Frontera Comalapa", "Chiapas"),
    ("Santa Catarina", "Santa Catarina", "Nuevo León"),
    ("Mérida", "Mérida", "Yucatán"),
    ("merida", "Mérida", "Yucatán"),
    ("Oaxaca", "Oaxaca", "Oaxaca"),
    # the answer around the name
    ("en tijuana", "Tijuana", "Baja California"),
    ("estoy en reynosa", "Reynosa", "Tamaulipas"),
    ("Tijuana, BC", "Tijuana", "Baja California"),
    ("Tijuana BC", "Tijuana", "Baja California"),
    ("tijuana baja california", "Tijuana", "Baja California"),
    ("Reynosa (Tamaulipas)", "Reynosa", "Tamaulipas"),
    # a state finds its city of the same name, else its most populous city
    ("Chiapas", "Tuxtla Gutiérrez", "Chiapas"),
    ("chiapas", "Tuxtla Gutiérrez", "Chiapas"),
    ("Tabasco", "Villahermosa", "Tabasco"),
    ("Nuevo León", "Monterrey", "Nuevo León"),
    ("nuevo leon", "Monterrey", "Nuevo León"),
    ("Baja California", "Tijuana", "Baja California"),
    ("Chihuahua", "Chihuahua", "Chihuahua"),
    ("Zacatecas", "Zacatecas", "Zacatecas"),
    ("Tamaulipas", "Reynosa", "Tamaulipas"),
]

NOT_PLACES = ["asdfgh", "hola", "gracias", "1", "", "   ", "?", "si", "no", "ayuda",
              "necesito ayuda", "buenos dias", "thank you", "merci", "obrigado",
              "mwen bezwen ed", "comida", "refugio", "El Paso", "San Diego", "Guatemala",
              "Honduras", "estados unidos", "sin", "son"]


@pytest.mark.parametrize(("typed", "city", "state"), FOUND)
def test_a_typed_city_is_found_however_it_is_spelled(typed, city, state):
    place = match_city(typed)
    assert place is not None, typed
    assert (place.name, place.state) == (city, state)


@pytest.mark.parametrize("typed", NOT_PLACES)
def test_words_that_are_not_a_mexican_city_find_nothing(typed):
    assert match_city(typed) is None


def test_a_place_has_coordinates_and_population():
    place = match_city("Tenosique")
    assert isinstance(place, Place)
    assert abs(place.lat - 17.47) < 0.05 and abs(place.lon + 91.42) < 0.05
    assert place.population > 10_000


def test_on_a_tie_the_bigger_city_wins():
    assert match_city("Guadalupe").population > 100_000
    assert match_city("Nogales").state == "Sonora"  # not the smaller one in Veracruz


def test_spellings_that_sound_alike_fold_to_one_key():
    assert sound("saltiyo") == sound("saltillo")
    assert sound("reinosa") == sound("reynosa")
    assert sound("monterey") == sound("monterrey")
    assert words("Cd. Juárez, Chih.") == ["cd", "juarez", "chih"]


def test_every_alias_names_a_known_city():
    spec = yaml.safe_load(PLACES_FILE.read_text(encoding="utf-8"))
    for alias in spec["aliases"]:
        assert match_city(alias) is not None, alias


def test_a_long_message_is_not_a_problem():
    assert match_city("hola " * 500) is None
    assert match_city("Tijuana" + "!" * 5000).name == "Tijuana"
