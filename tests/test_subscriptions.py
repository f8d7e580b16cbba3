"""Alerts by area: a person chooses topics (several at once), then a state or one city."""

import pytest

from bot import keys
from bot.message import Inbound
from bot.segments import to_gsm7 as gsm
from bot.subscriptions import TOPICS, parse_topics, wants
from tests.conftest import twiml_messages

PHONE = "+5215512345678"
CHAT = 700100200
FIELDS = ["sr", "sc", "st", "o"]


def sms(channels, text, **extra):
    return gsm("\n".join(twiml_messages(channels.sms(text, sender=PHONE, **extra))))


def say(channels, *texts):
    """Send each text by SMS; what Faro answered to the last one."""
    for text in texts:
        out = sms(channels, text)
    return out


def cid_of(app):
    return app.extensions["faro"].store.contact_id(Inbound("sms", PHONE))


def record(redis_client, cid):
    return [v.decode() if v is not None else None
            for v in redis_client.hmget(keys.contact(cid), FIELDS)]


def test_a_typed_city_can_be_chosen_alone(channels, app, redis_client):
    topics = say(channels, "hello", "6", "2")
    assert "Which alerts do you want?\nYou can choose several: write the numbers, like 1 3" \
        in topics and "3. Space in shelters" in topics
    assert "For which place" in sms(channels, "3")
    scope = sms(channels, "cd juarez")
    assert ("Do you want alerts only for Ciudad Juarez, or for all of Chihuahua?\n"
            "1. Only Ciudad Juarez\n2. All of Chihuahua") in scope
    done = sms(channels, "1")
    assert "Done. You will get alerts for Ciudad Juarez: Space in shelters. Send STOP" in done
    cid = cid_of(app)
    assert record(redis_client, cid) == ["Chihuahua", "Ciudad Juárez", "capacity", "0"]
    assert redis_client.smembers(keys.subscribers("Chihuahua")) == {cid.encode()}


def test_a_typed_state_means_the_whole_state_in_spanish(channels, app, redis_client):
    topics = say(channels, "hola", "6", "2")
    assert gsm("¿Qué alertas quieres?\nPuedes elegir varias: escribe los números") in topics
    assert gsm("¿De qué lugar") in sms(channels, "2 y 5")
    done = sms(channels, "Chihuahua")  # no question about a city: the state was named
    assert gsm("Listo. Vas a recibir alertas de todo el estado de Chihuahua: Seguridad, "
               "Estafas. Manda ALTO") in done
    assert record(redis_client, cid_of(app)) == ["Chihuahua", "", "scams,security", "0"]


@pytest.mark.parametrize("typed", ["2 4", "2,4", "4 2", "2 and 4", "2 y 4", "24", "2, 4."])
def test_several_topics_are_stored_sorted(channels, app, redis_client, typed):
    assert "For which place" in say(channels, "hello", "6", "2", typed)
    sms(channels, "", Latitude="32.5149", Longitude="-117.0382")  # Tijuana
    done = sms(channels, "2")  # all of the state
    assert "alerts for all of Baja California: Safety, News from the border." in done
    assert record(redis_client, cid_of(app)) == ["Baja California", "", "port,security", "0"]


def test_a_shared_location_asks_about_the_nearest_city(channels, app, redis_client):
    say(channels, "hello", "6", "2", "1")
    scope = sms(channels, "", Latitude="32.5149", Longitude="-117.0382")
    assert "1. Only Tijuana\n2. All of Baja California" in scope
    assert "alerts for Tijuana: All alerts." in sms(channels, "only tijuana")
    assert record(redis_client, cid_of(app)) == ["Baja California", "Tijuana", "all", "0"]


def test_running_it_again_replaces_the_place_and_the_topics(channels, app, redis_client):
    say(channels, "hello", "6", "2", "3 5", "Tijuana", "1")
    cid = cid_of(app)
    assert record(redis_client, cid) == ["Baja California", "Tijuana", "capacity,scams", "0"]
    assert "alerts for all of Chiapas: All alerts" in say(channels, "6", "2", "1", "Chiapas")
    assert record(redis_client, cid) == ["Chiapas", "", "all", "0"]
    assert cid.encode() not in redis_client.smembers(keys.subscribers("Baja California"))
    assert cid.encode() in redis_client.smembers(keys.subscribers("Chiapas"))


@pytest.mark.parametrize("typed", ["2 9", "67", "2 banana", "10"])
def test_a_topics_answer_it_cannot_read_is_asked_again_in_the_persons_language(
        channels, app, redis_client, typed):
    out = say(channels, "hola", "6", "2", typed)
    assert gsm("Perdón, no entendí") in out and gsm("Puedes elegir varias") in out
    assert "2. Seguridad" in out
    assert redis_client.hget(keys.contact(cid_of(app)), "st") is None


def test_an_unknown_place_is_asked_again(channels):
    out = say(channels, "hello", "6", "2", "1", "asdfgh")
    assert "I could not find that place in Mexico" in out and "For which place" in out


def test_stop_opts_out_and_deleting_my_data_leaves_the_area(channels, app, redis_client):
    say(channels, "hola", "6", "2", "1", "Oaxaca")
    cid = cid_of(app)
    assert gsm("Ya no vas a recibir alertas") in sms(channels, "ALTO")
    assert redis_client.hget(keys.contact(cid), "o") == b"1"
    say(channels, "borrar mis datos", "1")
    assert redis_client.smembers(keys.subscribers("Oaxaca")) == set()


def test_on_telegram_a_button_press_is_one_choice(channels, redis_client):
    def send(answer):
        return answer.get_json()

    send(channels.tg_text("hello"))
    send(channels.tg_button("6"))
    topics = send(channels.tg_button("2"))
    assert "You can choose several" in topics["text"]
    assert buttons(topics) == ["1. All alerts", "2. Safety", "3. Space in shelters",
                               "4. News from the border", "5. Scams"]
    assert "For which place" in send(channels.tg_button("5"))["text"]
    scope = send(channels.tg_text("Tijuana"))
    assert buttons(scope) == ["1. Only Tijuana", "2. All of Baja California"]
    assert "alerts for Tijuana: Scams." in send(channels.tg_button("1"))["text"]
    (cid,) = redis_client.smembers(keys.subscribers("Baja California"))
    assert record(redis_client, cid.decode()) == ["Baja California", "Tijuana", "scams", "0"]


def buttons(answer):
    return [b["text"] for row in answer["reply_markup"]["inline_keyboard"] for b in row]


@pytest.mark.parametrize("chosen,field", [
    (["security"], "security"),
    (["scams", "capacity"], "capacity,scams"),
    ("scams,port", "port,scams"),
    (["all", "port"], "all"),
    (list(TOPICS), "all"),
    (["weather"], "all"),
])
def test_topics_are_stored_as_sorted_codes_or_all(chosen, field):
    assert parse_topics(chosen) == field


def test_wants_reads_the_stored_topics():
    assert wants("all", "port") and wants("port,security", "security")
    assert not wants("port,security", "scams") and not wants("", "scams")
