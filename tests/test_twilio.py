"""The Twilio webhook as Twilio drives it: signatures, real payload shapes, retries, junk."""

from __future__ import annotations

import itertools

import pytest
from twilio.request_validator import RequestValidator

from bot import create_app, keys
from bot.message import Inbound
from tests.conftest import PUBLIC_URL, TWILIO_TOKEN, twilio_signature, twiml_messages

PATH = "/webhooks/twilio/messages"
PHONE = "+5215512345678"
ACCOUNT = "AC" + "1" * 32
_sids = itertools.count(1)

LANGUAGE_MENU = ("Elige tu idioma", "Choose your language")


def sid() -> str:
    return f"SM{next(_sids):032x}"


def sms(**fields: str) -> dict[str, str]:
    """An inbound SMS as Twilio posts it (fields override)."""
    return {"MessageSid": sid(), "SmsSid": "", "AccountSid": ACCOUNT, "From": PHONE,
            "To": "+15005550006", "Body": "Nanga def", "NumMedia": "0", "NumSegments": "1",
            "FromCountry": "MX", "ToCountry": "US", "ApiVersion": "2010-04-01", **fields}


def whatsapp(**fields: str) -> dict[str, str]:
    """An inbound WhatsApp message as Twilio posts it (fields override)."""
    return sms(**{"From": f"whatsapp:{PHONE}", "To": "whatsapp:+14155238886",
                  "ProfileName": "Ana", "WaId": PHONE.lstrip("+"), "MessageType": "text",
                  **fields})


SIGNED = object()  # the default: signed as Twilio signs


def post(client, form: dict[str, str], signature: object = SIGNED, path: str = PATH):
    """Post `form` with `signature` in X-Twilio-Signature; None sends no header."""
    if signature is SIGNED:
        signature = twilio_signature(path, form)
    headers = {} if signature is None else {"X-Twilio-Signature": signature}
    return client.post(path, data=form, headers=headers)


def contacts(redis_client) -> list[bytes]:
    return list(redis_client.scan_iter("faro:c:*"))


# -- signatures -----------------------------------------------------------------------

def _other_body(form):
    return twilio_signature(PATH, {**form, "Body": "something else"})


def _field_added(form):
    signature = twilio_signature(PATH, form)
    form["Latitude"], form["Longitude"] = "32.5", "-117.0"
    return signature


def _field_changed(form):
    signature = twilio_signature(PATH, form)
    form["From"] = "+5215587654321"
    return signature


SIGNATURES = [
    # label, how to sign (gets the form, may change it after signing), path posted, status
    ("signed", lambda f: twilio_signature(PATH, f), PATH, 200),
    ("unsigned", lambda f: None, PATH, 403),
    ("empty signature", lambda f: "", PATH, 403),
    ("garbage signature", lambda f: "bm90IGEgc2lnbmF0dXJl", PATH, 403),
    ("another account's token",
     lambda f: RequestValidator("other-token").compute_signature(PUBLIC_URL + PATH, f), PATH, 403),
    ("signature of a different body", _other_body, PATH, 403),
    ("a field added after signing", _field_added, PATH, 403),
    ("the sender changed after signing", _field_changed, PATH, 403),
    ("signed for http://localhost (the URL Flask sees)",
     lambda f: RequestValidator(TWILIO_TOKEN).compute_signature("http://localhost" + PATH, f),
     PATH, 403),
    ("signed for http:// instead of https://",
     lambda f: RequestValidator(TWILIO_TOKEN).compute_signature(
         PUBLIC_URL.replace("https://", "http://") + PATH, f), PATH, 403),
    ("query string signed", lambda f: twilio_signature(PATH + "?src=wa&x=%20y", f),
     PATH + "?src=wa&x=%20y", 200),
    ("query string added after signing", lambda f: twilio_signature(PATH, f),
     PATH + "?src=wa", 403),
    ("query string changed after signing", lambda f: twilio_signature(PATH + "?src=wa", f),
     PATH + "?src=sms", 403),
    ("query string dropped after signing", lambda f: twilio_signature(PATH + "?src=wa", f),
     PATH, 403),
]


@pytest.mark.parametrize(("label", "sign", "path", "status"), SIGNATURES,
                         ids=[case[0] for case in SIGNATURES])
def test_signature(client, redis_client, label, sign, path, status):
    form = sms()
    signature = sign(form)
    response = post(client, form, signature, path)
    assert response.status_code == status
    if status == 200:
        assert any(LANGUAGE_MENU[0] in m for m in twiml_messages(response))
        assert len(contacts(redis_client)) == 1
    else:
        assert response.mimetype == "application/json"
        assert contacts(redis_client) == [], "a forged request must not create a contact"


def test_signature_checked_against_public_url_with_trailing_slash(config):
    client = create_app({**config, "FARO_PUBLIC_URL": PUBLIC_URL + "/"}).test_client()
    assert post(client, sms()).status_code == 200


# -- real payload shapes ------------------------------------------------------------------

SHAPES = [
    # label, form, how the menu is numbered
    ("SMS text", sms(Body="Nanga def"), "1. Español"),
    ("WhatsApp text", whatsapp(Body="Nanga def, dama soxla ndimbal"), "*1.* Español"),
    ("WhatsApp location", {
        k: v for k, v in whatsapp(MessageType="location", Latitude="32.5149",
                                  Longitude="-117.0382", Address="Tijuana, B.C.",
                                  Label="Albergue").items() if k != "Body"}, "*1.* Español"),
    ("MMS with two media", sms(
        Body="", NumMedia="2",
        MediaUrl0=f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages/MM1/Media/ME1",
        MediaContentType0="image/jpeg",
        MediaUrl1=f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages/MM1/Media/ME2",
        MediaContentType1="application/pdf"), "1. Español"),
    ("WhatsApp button", whatsapp(MessageType="button", Body="Español", ButtonText="Español",
                                 ButtonPayload="1"), "*1.* Español"),
]


@pytest.mark.parametrize(("label", "form", "option"), SHAPES, ids=[s[0] for s in SHAPES])
def test_new_contact_gets_bilingual_language_menu(client, label, form, option):
    messages = twiml_messages(post(client, form))
    assert len(messages) == 1
    for words in (*LANGUAGE_MENU, option):
        assert words in messages[0]


def test_whatsapp_button_payload_chooses_from_the_menu(client):
    twiml_messages(post(client, whatsapp(Body="Nanga def")))
    chosen = twiml_messages(post(client, whatsapp(MessageType="button", Body="English",
                                                  ButtonText="English", ButtonPayload="2")))
    text = "\n".join(chosen)
    assert "What do you need?" in text
    assert "*1.* Appointments at the border" in text
    assert "Elige" not in text


def test_sms_and_whatsapp_from_one_number_are_two_contacts(client, redis_client):
    """WhatsApp and SMS are different key spaces: each gets its own conversation."""
    twiml_messages(post(client, sms(Body="Nanga def")))
    twiml_messages(post(client, sms(Body="2")))
    first_whatsapp = twiml_messages(post(client, whatsapp(Body="Nanga def")))
    assert LANGUAGE_MENU[0] in first_whatsapp[0]
    assert len(contacts(redis_client)) == 2


# -- retries from Twilio --------------------------------------------------------------

def _conversation(client, texts: list[str], replay_after: int | None = None,
                  sender: str = PHONE) -> list[list[str]]:
    """Send `texts`; after message number `replay_after`, Twilio retries that one."""
    out = []
    for i, text in enumerate(texts, 1):
        form = sms(Body=text, From=sender)
        out.append(twiml_messages(post(client, form)))
        if i == replay_after:
            out.append(twiml_messages(post(client, form)))
    return out


def test_replayed_message_sid_gets_no_second_reply_and_does_not_advance(app, client,
                                                                        redis_client):
    # "1" chooses Spanish; if the retry of "1" were handled too, it would open the first
    # entry of the main menu and the next "2" would land somewhere else.
    replayed = _conversation(client, ["Nanga def", "1", "2"], replay_after=2)
    expected = _conversation(client, ["Nanga def", "1", "2"], sender="+5215511111111")
    advanced = _conversation(client, ["Nanga def", "1", "1", "2"], sender="+5215522222222")

    assert replayed[1] and "¿Qué necesitas?" in replayed[1][-1]
    assert replayed[2] == [], "the retry must be answered with an empty <Response>"
    assert replayed[3] == expected[2]
    assert expected[2] != advanced[3]
    cid = app.extensions["faro"].store.contact_id(Inbound("sms", PHONE))
    assert redis_client.hget(keys.contact(cid), "n") == b"3"


def test_replay_of_first_message_counts_once(client, redis_client):
    form = sms(Body="Nanga def")
    assert len(twiml_messages(post(client, form))) == 1
    assert twiml_messages(post(client, form)) == []
    [key] = contacts(redis_client)
    assert redis_client.hget(key, "n") == b"1"


# -- malformed requests ---------------------------------------------------------------

def _without(form: dict[str, str], *names: str) -> dict[str, str]:
    return {k: v for k, v in form.items() if k not in names}


MALFORMED = [
    # label, form, signed?, status
    ("empty body, signed", {}, True, 400),
    ("empty body, unsigned", {}, False, 403),
    ("missing From", _without(sms(), "From"), True, 400),
    ("empty From", sms(From=""), True, 400),
    ("NumMedia not a number", sms(NumMedia="x"), True, 400),
    ("NumMedia negative", sms(NumMedia="-1"), True, 400),
    ("NumMedia 50", sms(NumMedia="50"), True, 400),
    ("NumMedia 2 with one MediaUrl", sms(NumMedia="2", MediaUrl0="https://x/1",
                                         MediaContentType0="image/jpeg"), True, 400),
    ("Latitude abc", whatsapp(Latitude="abc", Longitude="-117.0"), True, 400),
    ("Latitude nan", whatsapp(Latitude="nan", Longitude="-117.0"), True, 400),
    ("Latitude out of range", whatsapp(Latitude="91", Longitude="-117.0"), True, 400),
    ("Longitude inf", whatsapp(Latitude="32.5", Longitude="inf"), True, 400),
    ("From is a word", sms(From="hello"), True, 400),
    ("From is whatsapp:word", sms(From="whatsapp:hello"), True, 400),
    ("From is only whatsapp:", sms(From="whatsapp:"), True, 400),
    ("From is too short", sms(From="+1"), True, 400),
    ("From is too long", sms(From="+52" + "1" * 30), True, 400),
    ("From has letters", sms(From=PHONE + "abc"), True, 400),
    ("From without country code", sms(From="5512345678"), True, 400),
]


@pytest.mark.parametrize(("label", "form", "signed", "status"), MALFORMED,
                         ids=[m[0] for m in MALFORMED])
def test_malformed_request_is_refused_not_crashed(client, redis_client, label, form, signed,
                                                  status):
    response = post(client, form, SIGNED if signed else None)
    assert response.status_code == status
    assert response.get_json()["error"]
    assert contacts(redis_client) == []


def test_body_over_the_limit_is_413(client, redis_client):
    form = sms(Body="x" * (256 * 1024 + 1))
    response = post(client, form)
    assert response.status_code == 413
    assert contacts(redis_client) == []


def test_body_limit_follows_the_setting(config, redis_client):
    client = create_app({**config, "FARO_MAX_BODY_BYTES": "2048"}).test_client()
    assert post(client, sms(Body="x" * 1000)).status_code == 200
    assert post(client, sms(Body="x" * 3000)).status_code == 413


@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
def test_non_form_body_is_refused(client, redis_client, content_type):
    response = client.post(PATH, data=b'{"From": "+5215512345678"}', content_type=content_type,
                           headers={"X-Twilio-Signature": twilio_signature(PATH, {})})
    assert 400 <= response.status_code < 500
    assert contacts(redis_client) == []


# -- delivery status callbacks --------------------------------------------------------------

STATUS_PATH = "/webhooks/twilio/status"


def status_form(**extra: str) -> dict[str, str]:
    return {"MessageSid": "SM" + "7" * 32, "MessageStatus": "delivered",
            "AccountSid": ACCOUNT, "To": PHONE, "From": "+15005550006", **extra}


def post_status(client, form, *, sign=True):
    headers = {"X-Twilio-Signature": twilio_signature(STATUS_PATH, form)} if sign else {}
    return client.post(STATUS_PATH, data=form, headers=headers)


def test_status_callbacks_must_be_signed(client):
    assert post_status(client, status_form(), sign=False).status_code == 403
    form = status_form()
    tampered = {**form, "MessageStatus": "failed"}
    headers = {"X-Twilio-Signature": twilio_signature(STATUS_PATH, form)}
    assert client.post(STATUS_PATH, data=tampered, headers=headers).status_code == 403


def test_a_stop_error_opts_the_contact_out_of_alerts(client, app, redis_client):
    post(client, sms(Body="Nanga def"))
    cid = app.extensions["faro"].store.contact_id(Inbound("sms", PHONE))
    assert redis_client.hget(keys.contact(cid), "o") == b"0"
    assert post_status(client, status_form(MessageStatus="delivered")).status_code == 204
    assert redis_client.hget(keys.contact(cid), "o") == b"0"
    failed = status_form(MessageStatus="failed", ErrorCode="21610")
    assert post_status(client, failed).status_code == 204
    assert redis_client.hget(keys.contact(cid), "o") == b"1"


def test_a_status_for_an_unknown_number_creates_no_contact(client, redis_client):
    failed = status_form(MessageStatus="failed", ErrorCode="21610", To="+5215599990000")
    assert post_status(client, failed).status_code == 204
    assert list(redis_client.scan_iter("faro:c:*")) == []


def test_a_malformed_status_is_a_400(client):
    assert post_status(client, {"AccountSid": ACCOUNT}).status_code == 400
