"""The simulator's API: the real pipeline, rendered as each channel would; closed in production."""

from bot import create_app
from tests.test_settings import PRODUCTION


def test_one_message_comes_back_in_all_three_renderings(client):
    out = client.post("/simulator/send", json={"text": "Nanga def"}).get_json()
    assert "1. Español" in out["sms"][0]["body"] and out["sms"][0]["segments"] >= 1
    assert "*1.* Español" in out["whatsapp"][0]["body"]
    keyboard = out["telegram"][0]["reply_markup"]["inline_keyboard"]
    assert keyboard[0][0] == {"text": "1. Español", "callback_data": "1"}


def test_the_browser_session_keeps_the_person_until_reset(client):
    client.post("/simulator/send", json={"text": "Nanga def"})
    menu = client.post("/simulator/send", json={"choice": "1"}).get_json()
    assert "¿Qué necesitas?" in menu["sms"][0]["body"]
    client.post("/simulator/reset")
    again = client.post("/simulator/send", json={"text": "Nanga def"}).get_json()
    assert "Elige tu idioma" in again["sms"][0]["body"]


def test_bad_simulator_input_is_a_400(client):
    assert client.post("/simulator/send", data="nope").status_code == 400
    assert client.post("/simulator/send", json={"text": 5}).status_code == 400
    assert client.post("/simulator/send", json={"text": "x", "location": {"lat": "n"}}
                       ).status_code == 400


def test_simulator_is_closed_in_production(config):
    app = create_app({**PRODUCTION, "REDIS_URL": config["REDIS_URL"]})
    client = app.test_client()
    assert client.get("/simulator").status_code == 403
    assert client.post("/simulator/send", json={"text": "Nanga def"}).status_code == 403


def test_signed_in_staff_may_use_the_simulator_in_production(config, monkeypatch):
    from tests.staff_helpers import Console, add_staff, quick_hashes

    quick_hashes(monkeypatch)
    app = create_app({**PRODUCTION, "REDIS_URL": config["REDIS_URL"]})
    add_staff(app, "coordinadora@faro.test", "coordinator")
    console = Console(app.test_client())
    assert console.client.get("/simulator").status_code == 403
    console.sign_in("coordinadora@faro.test")
    assert console.client.get("/simulator").status_code == 200
    assert console.client.post("/simulator/send", json={"text": "hola"}).status_code == 200
    assert console.client.post("/simulator/call", json={"action": "start"}).status_code == 200
    console.sign_out()
    assert console.client.get("/simulator").status_code == 403
