"""The evidence kit end to end: consent, answers, media on every channel, recovery, erasure.

Through the real webhooks, store, engine, RQ worker and fakes of Twilio and Telegram.
"""

import datetime as dt
from pathlib import Path

import pytest
from rq import SimpleWorker

from bot import keys
from bot.message import Inbound
from bot.segments import to_gsm7 as gsm
from tests.conftest import twiml_messages
from worker import retention
from worker.queues import queue

PHONE = "+5215512345678"
CHAT = 700100200
WHATSAPP = "+5216641234567"
PDF = b"%PDF-1.7\n" + b"PDF-EVIDENCE-BYTES " * 50
JPEG = b"\xff\xd8\xff\xe0" + b"JFIF-EVIDENCE-PHOTO-BYTES-" * 40
STORY = "Me secuestraron en la central de autobuses de Reynosa el 18 de enero"
NOTE = "El comandante se llamaba Ortega"
ANSWERS = ["3", "1", "20/01/2025", "7", "ABC123", "1", "18/01/2025", "Reynosa", "1",
           "CI-FGR-2025-0042"]


@pytest.fixture
def config(config, tmp_path):
    return {**config, "FARO_MEDIA_DIR": str(tmp_path / "media")}


@pytest.fixture(autouse=True)
def fresh_worker(worker_env):
    """The worker's settings and content pack follow this test's config (worker_env)."""


def sms(channels, text, **extra):
    return gsm("\n".join(twiml_messages(channels.sms(text, sender=PHONE, **extra))))


def work(redis_client):
    SimpleWorker([queue(redis_client)], connection=redis_client).work(burst=True)


def cid_of(app, channel, address):
    return app.extensions["faro"].store.contact_id(Inbound(channel, address))


def record_on_sms(channels, fake_twilio, redis_client):
    for text in ["hola", *ANSWERS]:
        sms(channels, text)
    url = fake_twilio.add_media(JPEG, "image/jpeg")
    out = sms(channels, "", NumMedia="1", MediaUrl0=url, MediaContentType0="image/jpeg")
    assert gsm("Recibido. Lo estoy guardando.") in out
    work(redis_client)
    sms(channels, "1")
    return sms(channels, STORY)


def everything_stored(redis_client, media_dir: Path) -> list[bytes]:
    blobs = []
    for key in redis_client.scan_iter("*"):
        blobs.append(key)
        kind = redis_client.type(key)
        if kind == b"string":
            blobs.append(redis_client.get(key))
        elif kind == b"hash":
            blobs += [b for pair in redis_client.hgetall(key).items() for b in pair]
        elif kind == b"list":
            blobs += redis_client.lrange(key, 0, -1)
        elif kind in (b"set", b"zset"):
            blobs += list(redis_client.zrange(key, 0, -1) if kind == b"zset"
                          else redis_client.smembers(key))
        elif kind == b"stream":
            blobs += [b for _, f in redis_client.xrange(key) for pair in f.items() for b in pair]
    blobs += [p.read_bytes() for p in media_dir.rglob("*") if p.is_file()]
    return blobs


def test_declining_consent_stores_nothing(channels, redis_client, app):
    for text in ["hola", "3"]:
        sms(channels, text)
    assert gsm("No se guardó nada.") in sms(channels, "2")
    assert list(redis_client.scan_iter("faro:ev*")) == []
    assert not Path(app.extensions["faro"].settings.media_dir).exists() or not any(
        Path(app.extensions["faro"].settings.media_dir).iterdir())


def test_a_full_record_on_sms_is_saved_and_reviewable(channels, fake_twilio, redis_client,
                                                      app):
    out = record_on_sms(channels, fake_twilio, redis_client)
    assert gsm("Tu registro está guardado.") in out and gsm("Tu frase de recuperación es:") in out
    sms(channels, "2")  # do not share now
    review = sms(channels, "4")
    assert gsm("2. La cita: 2025-01-20 | Reynosa (Hidalgo) | ABC123") in review
    assert gsm("3. Qué pasó: Secuestro") in review
    assert gsm("6. Denuncia o queja hecha: Sí, denuncia en la Fiscalía (carpeta) | "
               "CI-FGR-2025-0042") in review
    assert gsm("7. Foto: image/jpeg") in review
    assert gsm(f"8. Lo que cuenta la persona: {STORY[:60]}…") in review
    told = [m["Body"] for m in fake_twilio.messages()]
    assert any("Guardado de forma segura en tu registro" in body for body in told)


def test_nothing_readable_is_stored_after_records_on_every_channel(
        channels, fake_twilio, fake_telegram, redis_client, app):
    record_on_sms(channels, fake_twilio, redis_client)
    for text in ["hola", "3", "1", "20/01/2025", "1", "1", "2", "18/01/2025", "Tijuana",
                 "4"]:
        channels.tg_text(text, chat=CHAT)
    fake_telegram.add_file("PHOTO1", JPEG + b"TG", "photos/file_1.jpg")
    photo = [{"file_id": "PHOTO1", "file_unique_id": "u1", "width": 800, "height": 600}]
    assert channels.tg_text("", chat=CHAT, photo=photo).status_code == 200
    work(redis_client)
    channels.tg_text("1", chat=CHAT)
    channels.tg_text(NOTE, chat=CHAT)
    for text in ["hello", "3", "yes", "20/01/2025", "2", "1", "3", "18/01/2025",
                 "Mexicali", "4"]:
        twiml_messages(channels.whatsapp(text, sender=WHATSAPP))
    url = fake_twilio.add_media(PDF, "application/pdf")
    twiml_messages(channels.whatsapp("", sender=WHATSAPP, NumMedia="1", MediaUrl0=url,
                                     MediaContentType0="application/pdf"))
    work(redis_client)
    stored = everything_stored(redis_client, Path(app.extensions["faro"].settings.media_dir))
    assert redis_client.llen(keys.case_items(cid_of(app, "whatsapp", WHATSAPP))) >= 6
    secrets = [PHONE, PHONE[1:], "5512345678", str(CHAT), STORY, NOTE, "ABC123",
               "CI-FGR-2025-0042", "Ana", WHATSAPP, WHATSAPP[1:]]
    for secret in secrets:
        assert not any(secret.encode() in blob for blob in stored), secret
    assert not any(b"JFIF-EVIDENCE-PHOTO-BYTES" in blob for blob in stored)
    assert not any(b"PDF-EVIDENCE-BYTES" in blob for blob in stored)


def test_deleting_my_data_leaves_no_key_and_no_file_of_the_contact(
        channels, fake_twilio, redis_client, app):
    record_on_sms(channels, fake_twilio, redis_client)
    cid = cid_of(app, "sms", PHONE)
    code = app.extensions["faro"].conversations.sources.cases.code(cid)
    media_dir = Path(app.extensions["faro"].settings.media_dir)
    assert any(media_dir.iterdir())
    sms(channels, "borrar mis datos")
    assert gsm("Borramos tus datos") in sms(channels, "1")
    for key in redis_client.scan_iter("*"):
        assert cid.encode() not in key, key
        assert code.replace("-", "").encode() not in key, key
    assert not any(p.is_file() for p in media_dir.rglob("*"))
    for key in redis_client.scan_iter("faro:rp:*"):
        raise AssertionError(f"recovery phrase left behind: {key!r}")


def phrase_in(text: str) -> str:
    lines = text.splitlines()
    return lines[lines.index(gsm("Tu frase de recuperación es:")) + 1]


def test_a_recovery_phrase_moves_the_record_to_a_new_phone(channels, fake_twilio,
                                                           redis_client, app):
    phrase = phrase_in(record_on_sms(channels, fake_twilio, redis_client))
    assert gsm("Escribe tu frase") in channels_tg(channels, "recuperar")
    assert gsm("Este teléfono ya tiene tu registro") in channels_tg(channels, phrase.upper())
    assert gsm("¿Qué necesitas?") in channels_tg(channels, "hola")
    assert gsm(": 8 cosas guardadas.") in channels_tg(channels, "3")
    # The old phone (perhaps in a kidnapper's hands) now gets a new, empty contact.
    assert gsm("Te voy a escribir en español.") in sms(channels, "hola")
    assert gsm("Faro puede guardar un registro privado") in sms(channels, "3")


def channels_tg(channels, text):
    response = channels.tg_text(text, chat=CHAT)
    assert response.status_code == 200
    return gsm(response.get_json().get("text", ""))


def test_a_wrong_phrase_is_refused_and_tries_are_limited(channels):
    channels_tg(channels, "hola")
    channels_tg(channels, "1")
    for _ in range(5):
        channels_tg(channels, "recuperar")
        assert gsm("no coinciden") in channels_tg(channels, "luna rio casa verde 07")
    channels_tg(channels, "recuperar")
    assert gsm("Demasiados intentos") in channels_tg(channels, "luna rio casa verde 07")


def test_retention_erases_contacts_idle_too_long_and_keeps_others(
        channels, fake_twilio, redis_client, app):
    record_on_sms(channels, fake_twilio, redis_client)
    channels.tg_text("hola", chat=CHAT)
    old = cid_of(app, "sms", PHONE)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=366)
    redis_client.hset(keys.contact(cid_of(app, "telegram", str(CHAT))), "t",
                      int(later.timestamp()))
    assert retention.sweep(later, reschedule=False) == {"contacts": 1, "cases": 0}
    assert not redis_client.exists(keys.contact(old))
    assert redis_client.exists(keys.contact(cid_of(app, "telegram", str(CHAT))))


def test_with_a_separate_keystore_a_backup_taken_before_deletion_stays_unreadable(
        config, redis_server, redis_client, fake_twilio, tmp_path):
    from bot import create_app
    from tests.conftest import Channels

    keystore_url = f"{redis_server.url}?db=1" if redis_server.url.startswith("unix") \
        else redis_server.url.rsplit("/", 1)[0] + "/1"
    app = create_app({**config, "FARO_KEYSTORE_URL": keystore_url})
    channels = Channels(app.test_client())
    record_on_sms(channels, fake_twilio, redis_client)
    cid = cid_of(app, "sms", PHONE)
    assert not list(redis_client.scan_iter("faro:k:*")), "no data key in the main Redis"
    backup = {key: redis_client.dump(key) for key in redis_client.scan_iter("*")}
    media_dir = Path(app.extensions["faro"].settings.media_dir)
    files = {p.name: p.read_bytes() for p in media_dir.rglob("*") if p.is_file()}
    sms(channels, "borrar mis datos")
    sms(channels, "1")
    # Restore the old backup and the old media files: the data is back, its key is not.
    for key, value in backup.items():
        redis_client.restore(key, 0, value, replace=True)
    for name, data in files.items():
        (media_dir / name).write_bytes(data)
    faro = app.extensions["faro"]
    assert faro.redis.exists(keys.case_items(cid))
    assert faro.store.data_key(cid) is None
    again = sms(channels, "hola")
    assert gsm("Te voy a escribir en español.") in again, "a new contact: the old cannot be read"
    assert ": 8 cosas guardadas." not in sms(channels, "3")


def test_a_person_who_stopped_half_way_continues_where_they_left(channels, redis_client, app):
    for text in ["hola", "3", "1", "20/01/2025", "7", "ABC123"]:
        sms(channels, text)
    redis_client.delete(keys.conversation(cid_of(app, "sms", PHONE)))  # days later
    sms(channels, "hola")
    menu = sms(channels, "3")
    assert gsm(": 2 cosas guardadas.") in menu and gsm("1. Seguir con mis respuestas") in menu
    assert gsm("¿Qué pasó?") in sms(channels, "1")


def test_a_person_shares_the_record_and_only_that_organization_opens_it(
        channels, fake_twilio, redis_client, app, monkeypatch):
    from tests.staff_helpers import Console, add_staff, quick_hashes

    quick_hashes(monkeypatch)
    add_staff(app, "abogada@alotrolado.test", "legal", org="Al Otro Lado")
    add_staff(app, "otra@asylum.test", "legal", org="Asylum Access")
    record_on_sms(channels, fake_twilio, redis_client)
    choices = sms(channels, "1")  # yes, share it
    assert gsm("¿Qué organización puede ver tu registro?") in choices
    number = next(line.split(".")[0] for line in choices.splitlines()
                  if line.endswith("Al Otro Lado"))
    assert gsm("Van a ver todo") in sms(channels, number)
    done = sms(channels, "1")
    assert gsm("Ya pueden abrir tu registro con su código:") in done
    code = done.split(gsm("con su código: "))[1].split()[0]

    lawyer = Console(app.test_client())
    lawyer.sign_in("abogada@alotrolado.test")
    page = lawyer.client.get(f"/staff/cases/{code}")
    assert page.status_code == 200
    assert STORY in page.get_data(as_text=True)
    other = Console(app.test_client())
    other.sign_in("otra@asylum.test")
    assert other.client.get(f"/staff/cases/{code}").status_code == 404
