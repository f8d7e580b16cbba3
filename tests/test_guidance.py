"""Guidance through the real pipeline: both policy branches, the scam shield end to end."""

import datetime as dt
from pathlib import Path

import yaml

from bot import create_app
from bot.alerts import AlertLog
from bot.message import Inbound
from bot.scams import Reports
from bot.segments import to_gsm7 as gsm
from tests.conftest import Channels, twiml_messages

ROOT = Path(__file__).parents[1]
SCAM = ("Te consigo tu cita CBP One garantizada en 48 horas, solo deposita 200 dólares "
        "a esta cuenta: bit.ly/cita-cbp")


def talk(channels, *texts, sender="+5215512345678"):
    return [gsm("\n".join(twiml_messages(channels.sms(t, sender=sender)))) for t in texts]


def open_policy_pack(tmp_path):
    policy = yaml.safe_load((ROOT / "flows" / "data" / "policy.yaml").read_text())
    policy["facts"]["appointments_policy"].update(state="open", since="2026-12-01")
    (tmp_path / "flows" / "data").mkdir(parents=True)
    (tmp_path / "flows" / "data" / "policy.yaml").write_text(yaml.safe_dump(policy))
    return tmp_path


def test_suspended_branch_is_the_default_and_says_so_with_the_date(channels):
    out = talk(channels, "hola", "1")[-1]
    assert gsm("Desde el 20 de enero de 2025 no se puede pedir cita") in out
    assert gsm("Si alguien te vende una cita, te está engañando.") in out
    assert gsm("Revisamos esta información el 29 nov 2026.") in out
    assert gsm("1. ¿Hay una aplicación nueva?") in out


def test_an_operator_opens_appointments_by_editing_one_data_file(config, tmp_path):
    app = create_app({**config, "FARO_CONTENT_DIR": str(open_policy_pack(tmp_path))})
    channels = Channels(app.test_client())
    out = talk(channels, "hi", "1")[-1]
    assert gsm("You can ask for appointments at the border again since 2026-12-01.") in out
    assert gsm("1. Making an account") in out
    steps = talk(channels, "1", "2", "3", "4")
    assert gsm("Login.gov account") in steps[0] and gsm("only one registration") in steps[0]
    assert gsm("from 12 noon to 11:59 at night, Eastern Time") in steps[1]
    assert gsm("Chiapas and Tabasco") in steps[1] and gsm("1,450 appointments a day") in steps[1]
    assert gsm("waited longest") in steps[1]
    assert gsm("23 hours to confirm") in steps[2] and gsm("live photo") in steps[2]
    assert gsm("passport or ID") in steps[3] and gsm("Nobody charges anything") in steps[3]


def test_a_checked_scam_can_be_reported_without_the_sender(app, channels, redis_client):
    out = talk(channels, "hola", "2", "1", SCAM)[-1]
    assert gsm("Cuidado. Encontré estas señales de alerta:") in out
    assert gsm("- Te piden dinero.") in out and gsm("no hay citas por CBP One") in out
    assert gsm("Gracias.") in talk(channels, "1")[-1]
    reports = Reports(redis_client, app.extensions["faro"].settings.data_key)
    [(_week, [report])] = [w for w in reports.weeks(1, dt.datetime.now(dt.UTC)) if w[1]]
    assert report.text == SCAM and gsm("money") in report.signs
    cid = app.extensions["faro"].store.contact_id(Inbound("sms", "+5215512345678"))
    for key in redis_client.scan_iter("faro:scam:*"):
        assert cid.encode() not in b"".join(redis_client.lrange(key, 0, -1))


def test_an_ordinary_message_is_not_called_a_scam(channels):
    out = talk(channels, "hi", "2", "1", "Where can I sleep tonight in Tijuana?")[-1]
    assert gsm("I did not find the usual warning signs") in out


def test_a_forwarded_real_alert_is_recognised_and_an_edited_one_is_not(redis_client, channels):
    real = "Albergue Juan Diego: hoy ya no hay camas. Llama al 664 123 4567 antes de venir."
    AlertLog(redis_client).record("a1", "Albergue Juan Diego", real, dt.datetime.now(dt.UTC))
    talk(channels, "hola", "2", "3")
    out = talk(channels, "Reenviado: " + real.lower())[-1]
    assert gsm("Este mensaje coincide con una alerta verdadera:") in out
    assert gsm("la mandó Albergue Juan Diego el") in out
    talk(channels, "3")
    edited = real.replace("664 123 4567", "664 999 0000") + " Deposita 100 pesos."
    assert gsm("no coincide con ninguna alerta") in talk(channels, edited)[-1]


def test_a_checked_message_posing_as_a_shelter_alert_is_compared_with_real_ones(
        redis_client, channels):
    real = "Albergue Juan Diego: hoy ya no hay camas. Llama al 664 123 4567 antes de venir."
    AlertLog(redis_client).record("a1", "Albergue Juan Diego", real, dt.datetime.now(dt.UTC))
    fake = "Aviso del albergue: hay camas para quien llame al 664 999 0000 hoy."
    out = talk(channels, "hola", "2", "1", fake)[-1]
    assert gsm("Dice que viene de Faro o de un albergue, pero no es una de las alertas") in out
    out = talk(channels, "2", "1", real)[-1]
    assert "no es una de las alertas" not in out


def test_a_location_shared_at_the_menu_shows_help_nearby(channels):
    for text in ("hola",):
        twiml_messages(channels.whatsapp(text))
    response = channels.whatsapp("", Latitude="32.5149",
                                 Longitude="-117.0382")
    out = gsm("\n".join(twiml_messages(response)))
    assert out.startswith("Lugares que pueden ayudar. Llama antes de ir")
    assert gsm("Ágape Misión Mundial, Tijuana, a unos 4 km.") in out
    assert gsm("Casa del Migrante en Tijuana (Scalabrini), Tijuana") in out


def test_shelter_replies_name_how_old_the_news_is_and_show_staff_updates(app, channels):
    directory = app.extensions["faro"].conversations.sources.shelters.ready()
    directory.set_capacity("la-72-tenosique", "full", 0,
                           dt.datetime(2026, 11, 28, 15, 5, tzinfo=dt.UTC))
    out = talk(channels, "hi", "4", "1", "Tenosique")[-1]
    assert gsm("La 72 – Hogar Refugio para Personas Migrantes, Tenosique, about 1 km.") in out
    assert gsm("Tel. +52 934 342 1111.") in out
    # Staff gave the time too; people read it on Mexico City's clock (UTC-6).
    assert gsm("Space: full, Nov 28, 2026, 9:05") in out and gsm("Info from 2021.") in out
    directory.set_capacity("la-72-tenosique", "open", 3, dt.date(2026, 11, 30))
    out = talk(channels, "menu", "4", "1", "Tenosique")[-1]
    assert gsm("Space: has space (3 free beds), Nov 30, 2026.") in out
