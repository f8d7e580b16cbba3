"""Alerts by area: a person subscribes for a Mexican state, by name or shared location."""

from bot import keys
from bot.message import Inbound
from bot.segments import to_gsm7 as gsm
from tests.conftest import twiml_messages

PHONE = "+5215512345678"


def sms(channels, text, **extra):
    return gsm("\n".join(twiml_messages(channels.sms(text, sender=PHONE, **extra))))


def cid_of(app):
    return app.extensions["faro"].store.contact_id(Inbound("sms", PHONE))


def test_a_typed_city_subscribes_to_its_state_and_topic(channels, app, redis_client):
    for text in ("hola", "6", "2"):
        sms(channels, text)
    assert gsm("¿Qué alertas quieres?") in sms(channels, "cd juarez")
    done = sms(channels, "3")  # space in shelters
    assert gsm("Vas a recibir alertas de Chihuahua. Manda ALTO") in done
    cid = cid_of(app)
    assert redis_client.hmget(keys.contact(cid), ["sr", "st", "o"]) == [
        b"Chihuahua", b"capacity", b"0"]
    assert redis_client.smembers(keys.subscribers("Chihuahua")) == {cid.encode()}


def test_a_shared_location_subscribes_to_the_nearest_state_and_moving_moves_it(
        channels, app, redis_client):
    for text in ("hello", "6", "2"):
        sms(channels, text)
    sms(channels, "", Latitude="32.5149", Longitude="-117.0382")  # Tijuana
    assert "alerts for Baja California" in sms(channels, "1")
    for text in ("6", "2", "Tapachula", "1"):
        out = sms(channels, text)
    assert "alerts for Chiapas" in out
    cid = cid_of(app).encode()
    assert cid not in redis_client.smembers(keys.subscribers("Baja California"))
    assert cid in redis_client.smembers(keys.subscribers("Chiapas"))


def test_an_unknown_place_is_asked_again(channels):
    for text in ("hello", "6", "2"):
        sms(channels, text)
    out = sms(channels, "asdfgh")
    assert "I could not find that place in Mexico" in out and "For which place" in out


def test_stop_opts_out_and_deleting_my_data_leaves_the_area(channels, app, redis_client):
    for text in ("hola", "6", "2", "Oaxaca", "1"):
        sms(channels, text)
    cid = cid_of(app)
    sms(channels, "ALTO")
    assert redis_client.hget(keys.contact(cid), "o") == b"1"
    sms(channels, "borrar mis datos")
    sms(channels, "1")
    assert redis_client.smembers(keys.subscribers("Oaxaca")) == set()
