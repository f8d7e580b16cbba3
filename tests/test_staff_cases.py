"""Cases in the console: only legal aid of an organization the person chose may open one."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zipfile

import pytest

from bot import audit, create_app, keys
from bot.evidence import Cases
from tests.staff_helpers import ACCOUNT, PDF, PNG, add_staff, make_case, quick_hashes, signed_in


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch):
    quick_hashes(monkeypatch)


@pytest.fixture
def app(config, tmp_path):
    return create_app({**config, "FARO_MEDIA_DIR": str(tmp_path / "media")})


@pytest.fixture
def case(app) -> str:
    """A case with text, a photo and a document, shared with Al Otro Lado; its code."""
    return make_case(app)


@pytest.fixture
def staff(app) -> dict[str, str]:
    """Accounts that may and may not open the case: name -> email."""
    people = {"legal": ("legal", "Al Otro Lado"), "other_legal": ("legal", "Asylum Access"),
              "coordinator": ("coordinator", "Al Otro Lado"), "admin": ("admin", "Al Otro Lado")}
    for name, (role, org) in people.items():
        add_staff(app, f"{name}@example.org", role, org=org)
    return {name: f"{name}@example.org" for name in people}


def test_a_shared_case_opens_for_legal_aid_of_that_organization(app, case, staff,
                                                                 redis_client):
    page = signed_in(app, staff["legal"]).client.get(f"/staff/cases/{case}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and case in body
    assert "Registro de una cita perdida" in body and "Record of a missed appointment" in body
    assert "Qué pasó · What happened" in body and "Foto · Photo" in body
    assert "Me retuvieron tres días en Reynosa" in body
    assert f"/staff/cases/{case}/media/3" in body and "Al Otro Lado" in body
    [entry] = audit.read(redis_client, 1, action="case.view")
    assert entry.target == case and entry.details == {"items": 4}
    assert ACCOUNT not in json.dumps([e.__dict__ for e in audit.read(redis_client, 50)],
                                     default=str)


def test_an_item_received_in_a_call_is_marked_as_unverified(app, case, staff, redis_client):
    # A caller id can be faked: legal aid is told which items came by a call.
    faro = app.extensions["faro"]
    cid = faro.store.keyring.contact_id("sms", "+5215512345678")
    cases = Cases(redis_client, faro.conversations.sources.cases.media)
    key = faro.store.data_key(cid)
    cases.add_media(cid, key, "voice", b"\xff\xf3 recorded in a call", "audio/mpeg",
                    dt.datetime(2026, 1, 6, 10, 0, tzinfo=dt.UTC), via="voice")
    body = signed_in(app, staff["legal"]).client.get(f"/staff/cases/{case}").get_data(
        as_text=True)
    marks = re.findall(r'data-testid="via-call">([^<]*)<', body)
    assert len(marks) == 1, "only the item from the call, not the four sent by message"
    assert marks[0].startswith("Recibido en una llamada.")
    assert "Received in a phone call. A caller&#39;s number can be faked" in marks[0]


@pytest.mark.parametrize("who", ["other_legal", "coordinator", "admin"])
def test_anyone_else_gets_404_as_for_a_code_that_does_not_exist(app, case, staff, who,
                                                                  redis_client):
    console = signed_in(app, staff[who])
    paths = (f"/staff/cases/{case}", f"/staff/cases/{case}/media/3",
             f"/staff/cases/{case}/export")
    for path in paths:
        assert console.client.get(path).status_code == 404, path
    tried = audit.read(redis_client, 3, action="access" if who != "other_legal" else "case")
    assert [e.action for e in tried] == ["access.denied" if who != "other_legal"
                                         else "case.denied"] * 3


def test_an_unshared_code_and_an_unknown_code_look_the_same(app, case, staff, redis_client):
    legal, other = signed_in(app, staff["legal"]), signed_in(app, staff["other_legal"])
    unknown = legal.client.get("/staff/cases/ZZZZ-ZZZZ")
    hidden = other.client.get(f"/staff/cases/{case}")
    assert unknown.status_code == hidden.status_code == 404
    assert without_token(unknown) == without_token(hidden)
    denied = audit.read(redis_client, 5, action="case.denied")
    assert {e.target for e in denied} == {"ZZZZ-ZZZZ", case}


def without_token(response) -> str:
    return re.sub(r'name="csrf_token" type="hidden" value="[^"]+"', "", response.get_data(
        as_text=True))


def test_the_case_form_finds_a_code_typed_loosely(app, case, staff):
    legal = signed_in(app, staff["legal"])
    typed = case.lower().replace("-", " ")
    response = legal.post("/staff/cases", {"code": typed}, page="/staff/cases")
    assert response.status_code == 302
    assert legal.client.get(response.location).status_code == 200


def test_media_comes_decrypted_uncached_and_audited(app, case, staff, redis_client):
    legal = signed_in(app, staff["legal"])
    photo = legal.client.get(f"/staff/cases/{case}/media/3")
    assert photo.status_code == 200 and photo.data == PNG
    assert photo.mimetype == "image/png"
    assert photo.headers["Content-Disposition"].startswith("inline")
    document = legal.client.get(f"/staff/cases/{case}/media/4")
    assert document.data == PDF and document.mimetype == "application/pdf"
    assert document.headers["Content-Disposition"].startswith("attachment;")
    for response in (photo, document):
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in response.headers["Content-Security-Policy"]
    assert legal.client.get(f"/staff/cases/{case}/media/1").status_code == 404  # text item
    assert legal.client.get(f"/staff/cases/{case}/media/9").status_code == 404
    seen = audit.read(redis_client, 10, action="case.media")
    assert [e.details["seq"] for e in seen] == [4, 3]


def test_the_export_downloads_as_a_zip_and_is_audited(app, case, staff, redis_client):
    response = signed_in(app, staff["legal"]).client.get(f"/staff/cases/{case}/export")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["case"] == case and len(manifest["items"]) == 4
    assert {"summary-es.txt", "summary-en.txt"} <= set(archive.namelist())
    [entry] = audit.read(redis_client, 1, action="case.export")
    assert entry.target == case


def test_a_deleted_contact_leaves_nothing_to_open(app, case, staff, redis_client):
    cid = Cases(redis_client, None).cid_for_code(case)
    redis_client.delete(keys.data_key(cid))  # the data key is gone: crypto-shredded
    assert signed_in(app, staff["legal"]).client.get(f"/staff/cases/{case}").status_code == 404
