"""The scam shield: warning signs in five languages, sealed reports, real-alert checks, CLI."""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from bot import keys
from bot.alerts import AlertLog, claims_official, claims_to_come_from
from bot.cli import main
from bot.content import load_content
from bot.content.catalog import missing
from bot.errors import ContentError, FaroError
from bot.scams import Reports, check_rules, compile_rules, find_signs, fold, links, week_of
from bot.settings import Settings

RULES = load_content().data["scams"]
NOW = dt.datetime(2026, 11, 27, 15, 30, tzinfo=dt.UTC)  # a Friday, ISO week 2026-W48
KEY = os.urandom(32)

SIGNS = [
    # Spanish: the appointment sellers and fake officials of content-facts.md §3.
    ("Te consigo tu cita CBP One garantizada en 48 horas, solo deposita 200 dólares a esta "
     "cuenta", ["money", "guaranteed", "cbp_one"]),
    ("URGENTE: últimos lugares para la nueva app de citas. Regístrate hoy mismo en "
     "https://cbp-citas.com", ["link", "urgency", "cbp_one"]),
    ("Le habla el oficial de migración. Usted tiene una multa de 1,000 pesos, pague en OXXO "
     "o será deportado", ["money", "official"]),
    ("Hola, soy agente de CBP. Para confirmar su cita mándeme el código que le llegó por SMS "
     "y una foto de su pasaporte", ["official", "codes"]),
    ("CITA PROGRAMADA 14:00 hrs, garita El Chaparral. Presentar esta hoja.", ["guaranteed"]),
    ("¡Nueva app para citas de asilo! Cupo limitado", ["urgency", "cbp_one"]),
    # English: the fake CBP callers (F3.14) and appointment sellers.
    ("This is U.S. Customs and Border Protection. Your case has a problem. Pay the fine with "
     "gift cards immediately or you will be deported.", ["money", "urgency", "official"]),
    ("Guaranteed CBP One appointment in 48 hours! Only today: send $300 by Western Union",
     ["money", "guaranteed", "urgency", "cbp_one"]),
    ("I can get you an appointment with the new app. Just send me the verification code.",
     ["guaranteed", "codes", "cbp_one"]),
    # French.
    ("Rendez-vous garanti à la frontière en 48 heures. Envoyez 250 dollars par MoneyGram, "
     "dernière chance !", ["money", "guaranteed", "urgency"]),
    ("Je suis avocat en immigration. Envoyez-moi une photo de votre passeport et le code reçu "
     "par SMS.", ["official", "codes"]),
    # Haitian Creole.
    ("Mwen ka jwenn yon randevou pou ou nan 48 èdtan. Voye lajan an kounye a menm, 200 dola.",
     ["money", "guaranteed", "urgency"]),
    ("Nou se imigrasyon. Voye kòd ou resevwa a ak foto paspò ou.", ["official", "codes"]),
    ("Randevou CBP One garanti! Peye 150 dola sou MonCash", ["money", "guaranteed", "cbp_one"]),
    # Portuguese.
    ("Agendamento garantido pelo CBP One em 48 horas. Faça o pagamento de 300 dólares via Pix.",
     ["money", "guaranteed", "cbp_one"]),
    ("Sou advogado de imigração. Me envie a senha do seu e-mail e uma foto do passaporte. "
     "Urgente!", ["urgency", "official", "codes"]),
    # Forwarded messages with links: shorteners and look-alikes warn, official sites do not.
    ("Reenviado\nCitas disponibles aquí: bit.ly/3xCitas", ["link"]),
    ("Forwarded: check your status at https://tinyurl.com/cbp-status", ["link"]),
    ("Regístrate en cbp-citas.com", ["link"]),
    ("Entra a cbp.gov.citas-online.com para tu trámite", ["link"]),
    ("Más información: https://cbp.gov@pagos-cbp.com/cita", ["link"]),
    ("Descarga la aplicación en http://cbp-one.app/descarga", ["link"]),
    ("Información oficial: https://www.cbp.gov/travel/cbp-home", []),
    ("Para pedir refugio en México: www.gob.mx/comar", []),
    ("Reporta fraudes en https://reportfraud.ftc.gov/", []),
    # Ordinary messages, and real warnings that say "never pay": no sign.
    ("hola, ¿dónde hay un albergue?", []),
    ("Necesito ayuda", []),
    ("¿Cuánto tiempo puedo quedarme en la Casa del Migrante?", []),
    ("Gracias, ya llegué bien a Tijuana. Mañana voy a la oficina.", []),
    ("No tengo dinero para comer", []),
    ("ok.gracias nos vemos", []),
    ("Hello, where can I sleep tonight? Can I get an appointment?", []),
    ("Bonjour, j'ai besoin d'aide pour ma fille", []),
    ("Bonjou, mwen bezwen èd. Eske m ka jwenn yon randevou?", []),
    ("Olá, onde fica o abrigo? Eu consigo um agendamento?", []),
    ("Las citas siempre fueron gratis. Nunca pagues y no compartas tu código con nadie.", []),
    ("CBP will never ask you for money. Don't share your verification code.", []),
    ("Mándame tu pin de ubicación para llegar", []),
]


@pytest.mark.parametrize(("text", "expected"), SIGNS, ids=[t[:40] for t, _ in SIGNS])
def test_find_signs_names_the_warning_signs_in_file_order(text, expected):
    assert find_signs(text, RULES) == expected


def test_signs_match_whole_words_without_case_or_accents():
    assert find_signs("DEPOSITO de 500", RULES) == ["money"]
    assert find_signs("mira la página", RULES) == []  # "pago" is not inside "página"
    assert find_signs("Dépôt immédiat", RULES) == ["money", "urgency"]


def test_a_trusted_host_such_as_farós_own_is_not_a_warning():
    text = "Mira la alerta en https://alertas.faro.example.org/a/12"
    assert find_signs(text, RULES) == ["link"]
    assert find_signs(text, RULES, trusted=("faro.example.org",)) == []


@given(st.text(max_size=300))
def test_find_signs_never_fails_and_keeps_file_order(text):
    codes = [s["code"] for s in RULES["signs"]]
    found = find_signs(text, RULES)
    assert found == [c for c in codes if c in found]
    assert find_signs(fold(text), RULES) == found  # folding is already done


def test_links_drop_scheme_www_and_trailing_punctuation():
    assert links("Ve a https://www.CBP.gov/x. O a bit.ly/a1, o escribe a x@citas.com") == [
        "cbp.gov/x", "bit.ly/a1"]


def test_the_bundled_rules_are_complete_and_compile_once():
    assert check_rules(RULES) == []
    assert compile_rules(RULES) is compile_rules(RULES)
    codes = [s["code"] for s in RULES["signs"]]
    assert codes == ["money", "guaranteed", "link", "urgency", "official", "codes", "cbp_one"]
    for sign in RULES["signs"]:
        assert sign["verified"] == dt.date(2026, 11, 29)
        assert all(s["id"].startswith("S") and s["url"].startswith("http")
                   for s in sign["source"])
        if "patterns" in sign:
            assert {"es", "en", "fr", "ht", "pt"} <= set(sign["patterns"]), sign["code"]


def test_a_bad_pattern_is_a_content_error_naming_the_sign():
    bad = {"signs": [{"code": "money", "patterns": {"es": ["pago("]}}]}
    with pytest.raises(ContentError, match=r"sign 'money' \(es\)"):
        find_signs("hola", bad)
    assert any("has no explain" in p for p in check_rules(bad))


def test_explanations_are_offered_for_translation_and_spanish_has_them():
    content = load_content()
    explains = {s["explain"] for s in RULES["signs"]}
    assert explains <= content.msgids()
    assert missing(content.catalogs["es"], explains) == []
    assert content.t("es", RULES["signs"][0]["explain"]).startswith("Te piden dinero.")


# -- reports -----------------------------------------------------------------------------
SCAM = "Soy el licenciado Pérez, te consigo tu cita CBP One por 300 dólares. Llama al 6641234567"


def test_reports_are_grouped_by_week_newest_first_and_decrypted_for_staff(redis_client):
    reports = Reports(redis_client, KEY, RULES)
    reports.add(SCAM, NOW)
    reports.add("Tu código es 1234, mándamelo", NOW - dt.timedelta(hours=2))
    reports.add("URGENTE deposita hoy", NOW - dt.timedelta(days=7))
    weeks = reports.weeks(3, NOW)
    assert [w for w, _ in weeks] == ["2026-W48", "2026-W47", "2026-W46"]
    latest = weeks[0][1]
    assert [r.text for r in latest] == [SCAM, "Tu código es 1234, mándamelo"]
    assert latest[0].received_at == NOW
    assert latest[0].signs == ("money", "guaranteed", "official", "cbp_one")
    assert [r.signs for r in weeks[1][1]] == [("money", "urgency")]
    assert weeks[2][1] == []


def test_sign_counts_per_week_need_no_decryption(redis_client):
    reports = Reports(redis_client, KEY, RULES)
    reports.add(SCAM, NOW)
    reports.add("Deposita 100 pesos y te doy tu cita", NOW)
    tally = Reports(redis_client, os.urandom(32)).tally(2, NOW)  # another key reads counts
    assert tally[0] == ("2026-W48", 2, {"money": 2, "guaranteed": 2, "official": 1,
                                        "cbp_one": 1})
    assert tally[1] == ("2026-W47", 0, {})


def test_reports_are_sealed_at_rest_and_carry_no_sender(redis_client):
    Reports(redis_client, KEY, RULES).add(SCAM, NOW)
    stored = [k.decode() for k in redis_client.scan_iter(keys.pattern_all())]
    assert stored == [keys.scam_reports("2026-W48")]
    raw = redis_client.lrange(stored[0], 0, -1)
    for fragment in (b"Perez", "Pérez".encode(), b"6641234567", b"licenciado", b"300"):
        assert all(fragment not in value for value in raw)
    assert set(json.loads(raw[0])) == {"signs", "sealed"}
    assert 360 * 86400 < redis_client.ttl(stored[0]) <= 371 * 86400


def test_reports_cannot_be_read_with_another_key_or_in_another_week(redis_client):
    Reports(redis_client, KEY).add(SCAM, NOW)
    with pytest.raises(FaroError):
        Reports(redis_client, os.urandom(32)).weeks(1, NOW)
    entry = redis_client.lpop(keys.scam_reports("2026-W48"))
    redis_client.rpush(keys.scam_reports("2026-W47"), entry)  # moved to another week
    with pytest.raises(FaroError):
        Reports(redis_client, KEY).weeks(2, NOW)


def test_without_rules_a_report_keeps_no_signs(redis_client):
    reports = Reports(redis_client, KEY)
    assert reports.add("Deposita 200 dólares", NOW).signs == ()
    assert reports.tally(1, NOW) == [("2026-W48", 1, {})]


def test_weeks_are_iso_weeks_in_utc():
    assert week_of(dt.datetime(2026, 1, 1, tzinfo=dt.UTC)) == "2026-W01"
    assert week_of(dt.datetime(2027, 1, 1, tzinfo=dt.UTC)) == "2026-W53"
    mexico = dt.timezone(dt.timedelta(hours=-6))
    assert week_of(dt.datetime(2026, 11, 29, 20, 0, tzinfo=mexico)) == "2026-W49"  # Mon UTC


# -- real alerts -------------------------------------------------------------------------
# Alerts expire in real time (60 days after they were sent), so these tests use the clock.
SENT = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=2)
ALERT = ("Alerta de Casa del Migrante Tijuana: el albergue está lleno hoy. Para ayuda llama "
         "al 664 123 4567. Más información en https://faro.example.org/a/7. Nunca pagues por "
         "una cita.")


@pytest.fixture
def log(redis_client):
    log = AlertLog(redis_client)
    log.record("a7", "Casa del Migrante Tijuana", ALERT, SENT)
    return log


COPIES = [
    ALERT,
    ALERT.replace(". ", "!! ").replace("Tijuana:", "Tijuana -").replace("á", "a").upper(),
    "*ALERTA* de casa del migrante tijuana\n\nEl albergue esta lleno hoy!! Para ayuda llama al "
    "664-123-4567 ... Mas informacion en faro.example.org/a/7 . Nunca pagues por una cita",
    "Reenviado: " + ALERT,
    "Forwarded many times\n" + ALERT,
    "Fwd: Mensaje reenviado - " + ALERT,
]


@pytest.mark.parametrize("copy", COPIES)
def test_copies_of_a_real_alert_match_it(log, copy):
    found = log.match(copy, SENT + dt.timedelta(days=2))
    assert [(a["id"], a["org"], a["date"]) for a in found] == [
        ("a7", "Casa del Migrante Tijuana", SENT.date().isoformat())]
    assert found[0]["score"] >= 95
    assert found[0]["text"] == ALERT  # the flow shows the real text to compare


EDITS = [
    ALERT.replace("664 123 4567", "664 765 4321"),  # the scammer's phone
    ALERT.replace("https://faro.example.org/a/7", "https://faro-example.org/a/7"),
    ALERT.replace("/a/7", "/a/8"),
    "Faro: el albergue está lleno. Deposita 200 pesos para apartar tu lugar.",
    "Hola, soy de Faro. Mándame tu código de verificación.",
    ALERT.replace("Nunca pagues por una cita.", "Paga tu cita hoy mismo en la caseta."),
]


@pytest.mark.parametrize("edited", EDITS)
def test_an_edited_number_or_link_or_another_text_does_not_match(log, edited):
    assert log.match(edited, SENT + dt.timedelta(days=2)) == []


def test_a_changed_amount_does_not_match(redis_client):
    log = AlertLog(redis_client)
    text = "Faro: el comedor cobra 20 pesos desde el lunes. Nadie puede venderte una cita."
    log.record("m1", "Faro", text, SENT)
    assert log.match(text, SENT)[0]["score"] == 100
    assert log.match(text.replace("20 pesos", "200 pesos"), SENT) == []


def test_alerts_older_than_the_window_do_not_match(log):
    assert log.match(ALERT, SENT + dt.timedelta(days=29))
    assert log.match(ALERT, SENT + dt.timedelta(days=29), days=20) == []
    assert log.match(ALERT, SENT + dt.timedelta(days=40)) == []
    assert log.match(ALERT, SENT + dt.timedelta(days=40), days=60)


def test_alerts_are_kept_sixty_days(redis_client, log):
    assert 57 * 86400 < redis_client.ttl(keys.alert("a7")) <= 58 * 86400  # sent 2 days ago
    log.record("b1", "Faro", "Nueva alerta de Faro", SENT + dt.timedelta(days=61))
    assert redis_client.zrange(keys.alerts(), 0, -1) == [b"b1"]  # a7 pruned


def test_best_and_newest_match_first(redis_client):
    log = AlertLog(redis_client)
    log.record("old", "Faro", ALERT, SENT - dt.timedelta(days=9))
    log.record("new", "Faro", ALERT, SENT - dt.timedelta(days=1))
    log.record("near", "Faro", ALERT.replace("hoy", "hoy mismo"), SENT)
    assert [a["id"] for a in log.match(ALERT, SENT)] == ["new", "old", "near"]


@pytest.mark.parametrize(("text", "claims"), [
    ("Faro: alerta importante", True),
    ("Aviso del albergue Juventud 2000", True),
    ("Mensaje de la Casa del Migrante", True),
    ("Notice from the shelter", True),
    ("Mesaj sant akèy la", True),
    ("Aviso do abrigo", True),
    ("Hola, ¿cómo estás?", False),
    ("Deposita 200 dólares", False),
])
def test_claims_official_spots_messages_that_say_they_come_from_faro_or_a_shelter(text,
                                                                                   claims):
    assert claims_official(text, RULES) is claims


# -- staff command ------------------------------------------------------------------------
def cli_env(redis_server) -> dict[str, str]:
    return {"REDIS_URL": redis_server.url, "FARO_ENV": "development"}


def test_scams_list_counts_reports_per_week_and_shows_texts_on_request(redis_server,
                                                                       redis_client):
    env = cli_env(redis_server)
    reports = Reports(redis_client, Settings.load(env).data_key, RULES)
    now = dt.datetime.now(dt.UTC)
    reports.add(SCAM, now)
    reports.add("Deposita 100 pesos\ny te doy tu cita", now)
    result = CliRunner().invoke(main, ["scams", "list", "--weeks", "2"], env=env)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == (f"{week_of(now)}: 2 reports (money 2, guaranteed 2, official 1, "
                        "cbp_one 1)")
    assert lines[1] == f"{week_of(now - dt.timedelta(weeks=1))}: 0 reports"
    assert "Pérez" not in result.output
    shown = CliRunner().invoke(main, ["scams", "list", "--weeks", "1", "--show"], env=env)
    assert shown.exit_code == 0, shown.output
    assert SCAM in shown.output
    assert "    Deposita 100 pesos\n    y te doy tu cita" in shown.output
    assert "[money, guaranteed]" in shown.output


def test_scams_list_names_a_missing_redis_url():
    result = CliRunner().invoke(main, ["scams", "list"], env={"REDIS_URL": "",
                                                              "FARO_ENV": "development"})
    assert result.exit_code == 1
    assert "REDIS_URL is not set" in result.output


@pytest.mark.parametrize(("text", "claims"), [
    ("Aviso del albergue: hay camas para quien llame al 664 999 0000 hoy.", True),
    ("Albergue Juan Diego: hoy ya no hay camas.", True),
    ("Reenviado: Faro: hay lugar", True),
    ("Somos de Faro, deposita 100 pesos", True),
    ("Message from the shelter: beds available", True),
    ("Where is the shelter in Tijuana?", False),
    ("¿Dónde hay un albergue para mujeres?", False),
    ("El albergue me dijo que fuera mañana", False),
])
def test_a_message_claims_a_sender_only_when_it_presents_itself_as_one(text, claims):
    assert claims_to_come_from(text, RULES) is claims
