"""Evidence cases: an encrypted hash chain per contact, exports legal aid can verify."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import stat
import threading
import zipfile

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bot import chain, keys
from bot.casefile import public_key, signature, signing_key
from bot.cli import main
from bot.content import load_content
from bot.crypto import Keyring
from bot.errors import FaroError
from bot.evidence import Cases, Item, NoCase, export, show_code, verify_export
from bot.media import LocalMediaStore, padded_size

PHONE = "+5215512345678"
KEYRING = Keyring(b"test-master-key-for-evidence-32b")
CID = KEYRING.contact_id("sms", PHONE)
OTHER = KEYRING.contact_id("sms", "+5215598765432")
SEED = signing_key(b"test-master-key-for-evidence-32b")
NOW = dt.datetime(2026, 1, 5, 14, 3, 22, tzinfo=dt.UTC)
SECRET = "Me secuestraron cerca de la central de autobuses de Reynosa"
PHOTO = b"\xff\xd8\xff\xe0" + b"FARO-PHOTO-BYTES-0123456789" * 300
CODE = re.compile(r"[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}")


@pytest.fixture(scope="module")
def content():
    return load_content()


@pytest.fixture
def folder(tmp_path):
    return tmp_path / "media"


@pytest.fixture
def cases(redis_client, folder):
    return Cases(redis_client, LocalMediaStore(folder), signing_seed=SEED)


@pytest.fixture
def key():
    return AESGCM.generate_key(bit_length=256)


@pytest.fixture
def filled(cases, key):
    """A case with a text item, a photo and the person's own account."""
    cases.open(CID, key, NOW)
    cases.add_text(CID, key, "event", "kidnapping", NOW)
    cases.add_media(CID, key, "photo", PHOTO, "image/jpeg", NOW + dt.timedelta(minutes=1))
    cases.add_text(CID, key, "account", SECRET, NOW + dt.timedelta(minutes=2))
    return cases


def unbroken(items: list[Item]) -> bool:
    """True when the items form one chain from seq 1 with every link recomputable."""
    prev = ""
    for seq, item in enumerate(items, 1):
        facts = {name: getattr(item, name) for name in chain.LINKED}
        if item.seq != seq or item.prev != prev or chain.link(prev, facts) != item.link:
            return False
        prev = item.link
    return True


def test_items_chain_across_text_and_media(filled, key):
    items = filled.items(CID, key)
    assert [(i.seq, i.kind) for i in items] == [(1, "event"), (2, "photo"), (3, "account")]
    assert unbroken(items)
    assert items[0].prev == ""
    assert items[1].digest == chain.digest(PHOTO)
    assert (items[1].size, items[1].content_type) == (len(PHOTO), "image/jpeg")
    assert items[2].digest == chain.digest(SECRET.encode())
    assert items[2].text == SECRET and items[2].received_at == "2026-01-05T14:05:22Z"
    assert filled.media_bytes(CID, key, items[1]) == PHOTO


def test_concurrent_appends_keep_one_chain(cases, key):
    cases.open(CID, key, NOW)

    def append(worker: int) -> None:
        for n in range(6):
            cases.add_text(CID, key, "note", f"{worker}-{n}", NOW)

    threads = [threading.Thread(target=append, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    items = cases.items(CID, key)
    assert len(items) == 48 and unbroken(items)
    assert sorted(i.text for i in items) == sorted(f"{w}-{n}" for w in range(8) for n in range(6))


def redis_values(client) -> list[bytes]:
    """Every key and value in the database, as bytes."""
    found = []
    for name in client.scan_iter("*"):
        kind = client.type(name).decode()
        found.append(name)
        if kind == "string":
            found.append(client.get(name))
        elif kind == "hash":
            found += [b for pair in client.hgetall(name).items() for b in pair]
        elif kind == "list":
            found += client.lrange(name, 0, -1)
        elif kind == "set":
            found += list(client.smembers(name))
        elif kind == "zset":
            found += [m for m, _ in client.zrange(name, 0, -1, withscores=True)]
    return found


def test_nothing_readable_at_rest(filled, key, redis_client, folder):
    items = filled.items(CID, key)
    secrets = [SECRET.encode(), b"kidnapping", PHOTO[:64], PHOTO[100:164], PHONE.encode()]
    for item in items:  # a digest or a link in the clear would confirm a known photo
        secrets += [item.digest.encode(), bytes.fromhex(item.digest), item.link.encode()]
    stored = redis_values(redis_client) + [p.read_bytes() for p in folder.iterdir()]
    assert len(list(folder.iterdir())) == 1
    for blob in stored:
        for secret in secrets:
            assert secret not in blob
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in folder.iterdir())


def test_blob_ids_are_random_not_derived_from_content(cases, key):
    cases.open(CID, key, NOW)
    first = cases.add_media(CID, key, "photo", PHOTO, "image/jpeg", NOW)
    again = cases.add_media(CID, key, "photo", PHOTO, "image/jpeg", NOW)
    assert first.media_id != again.media_id
    assert re.fullmatch(r"[a-z0-9]{32}", first.media_id)


def test_stored_sizes_do_not_give_away_a_known_file(cases, key, folder):
    cases.open(CID, key, NOW)
    for extra in (b"", b"x", b"xy" * 40):
        cases.add_media(CID, key, "photo", PHOTO + extra, "image/jpeg", NOW)
    sizes = {p.stat().st_size for p in folder.iterdir()}
    assert len(sizes) == 1 and sizes.pop() not in (len(PHOTO), len(PHOTO) + 28)
    assert [cases.media_bytes(CID, key, i)[len(PHOTO):] for i in cases.items(CID, key)] == [
        b"", b"x", b"xy" * 40]


def test_stored_records_do_not_give_away_the_length_of_a_text(cases, key, redis_client):
    cases.open(CID, key, NOW)
    cases.add_text(CID, key, "note", "no", NOW)
    cases.add_text(CID, key, "note", "a longer note about what happened" * 3, NOW)
    assert len({len(v) for v in redis_client.lrange(keys.case_items(CID), 0, -1)}) == 1


@pytest.mark.parametrize("size", [0, 1, 2, 3, 9, 100, 1000, 4097, 65_537, 10**7 + 3])
def test_padding_grows_a_file_by_at_most_an_eighth(size):
    padded = padded_size(size)
    assert size <= padded <= size + max(1, size // 8)


def test_a_wrong_data_key_reads_nothing(filled, key):
    wrong = AESGCM.generate_key(bit_length=256)
    with pytest.raises(FaroError):
        filled.items(CID, wrong)
    with pytest.raises(FaroError):
        filled.media_bytes(CID, wrong, filled.items(CID, key)[1])
    with pytest.raises(FaroError):  # appending needs the previous link, sealed too
        filled.add_text(CID, wrong, "note", "x", NOW)


def test_items_moved_in_redis_no_longer_open(filled, key, redis_client):
    name = keys.case_items(CID)
    first, second = redis_client.lindex(name, 0), redis_client.lindex(name, 1)
    redis_client.lset(name, 0, second)
    redis_client.lset(name, 1, first)
    with pytest.raises(FaroError):
        filled.items(CID, key)


def test_appending_needs_an_open_case(cases, key, folder):
    with pytest.raises(NoCase):
        cases.add_text(CID, key, "note", "hello", NOW)
    with pytest.raises(NoCase):
        cases.add_media(CID, key, "photo", PHOTO, "image/jpeg", NOW)
    assert list(folder.iterdir()) == []


def test_bad_kinds_and_naive_times_are_refused(cases, key):
    cases.open(CID, key, NOW)
    with pytest.raises(ValueError):
        cases.add_text(CID, key, "photo", "not a photo", NOW)
    with pytest.raises(ValueError):
        cases.add_media(CID, key, "selfie", PHOTO, "image/jpeg", NOW)
    with pytest.raises(ValueError):
        cases.add_text(CID, key, "note", "x", dt.datetime(2026, 1, 5))


def test_open_is_idempotent_and_codes_are_well_formed(cases, key, redis_client):
    code = cases.open(CID, key, NOW)
    assert CODE.fullmatch(code)
    assert cases.open(CID, key, NOW + dt.timedelta(days=1)) == code == cases.code(CID)
    assert cases.code(OTHER) is None
    assert show_code(code) == show_code(code.replace("-", "").lower()) == code
    assert len(list(redis_client.scan_iter(keys.case_code("*")))) == 1


def test_concurrent_opens_make_one_case(cases, key, redis_client):
    codes: list[str] = []
    threads = [threading.Thread(target=lambda: codes.append(cases.open(CID, key, NOW)))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(codes)) == 1
    assert len(list(redis_client.scan_iter(keys.case_code("*")))) == 1


def test_codes_are_unique(cases, key):
    codes = {cases.open(f"{n:032x}", key, NOW) for n in range(300)}
    assert len(codes) == 300 and all(CODE.fullmatch(c) for c in codes)


def test_a_taken_code_is_drawn_again(cases, key, redis_client, monkeypatch):
    redis_client.set(keys.case_code("AAAAAAAA"), OTHER)
    draws = iter("A" * 8 + "B" * 8)
    monkeypatch.setattr("bot.evidence.secrets.choice", lambda _: next(draws))
    assert cases.open(CID, key, NOW) == "BBBB-BBBB"
    assert cases.cid_for_code("AAAA-AAAA") == OTHER


@pytest.mark.parametrize("typed", ["K7QM-3XPA", "k7qm3xpa", " k7qm 3xpa ", "K7QM—3XPA"])
def test_codes_are_found_however_typed(cases, key, redis_client, monkeypatch, typed):
    draws = iter("K7QM3XPA")
    monkeypatch.setattr("bot.evidence.secrets.choice", lambda _: next(draws))
    cases.open(CID, key, NOW)
    assert cases.cid_for_code(typed) == CID


def test_misread_letters_and_unknown_codes(cases, key, monkeypatch):
    draws = iter("10K710QM")
    monkeypatch.setattr("bot.evidence.secrets.choice", lambda _: next(draws))
    cases.open(CID, key, NOW)
    assert cases.cid_for_code("lOk7-IOqm") == CID
    assert cases.cid_for_code("ZZZZ-ZZZZ") is None
    assert cases.cid_for_code("../../etc") is None
    assert cases.cid_for_code("") is None


def test_sharing(filled):
    assert filled.shared_with(CID) == set()
    filled.share(CID, "sin-fronteras", NOW)
    filled.share(CID, "al-otro-lado", NOW)
    assert filled.is_shared(CID, "sin-fronteras") and not filled.is_shared(CID, "other")
    assert filled.shared_with(CID) == {"sin-fronteras", "al-otro-lado"}
    assert filled.shared_cases("al-otro-lado") == {CID}
    filled.unshare(CID, "al-otro-lado")
    assert filled.shared_with(CID) == {"sin-fronteras"}
    assert filled.shared_cases("al-otro-lado") == set()
    with pytest.raises(NoCase):
        filled.share(OTHER, "sin-fronteras", NOW)


def test_delete_removes_every_key_and_file(filled, key, redis_client, folder):
    other_key = AESGCM.generate_key(bit_length=256)
    filled.open(OTHER, other_key, NOW)
    kept = filled.add_media(OTHER, other_key, "document", b"%PDF-1.7 other", "application/pdf",
                            NOW)
    filled.share(CID, "sin-fronteras", NOW)
    code = filled.code(CID)
    filled.delete(CID)
    assert all(CID.encode() not in value for value in redis_values(redis_client))
    assert filled.cid_for_code(code) is None
    assert filled.code(CID) is None and filled.items(CID, key) == []
    assert filled.touched(CID) is None and filled.shared_cases("sin-fronteras") == set()
    assert [p.name for p in folder.iterdir()] == [kept.media_id]
    assert filled.media_bytes(OTHER, other_key, kept) == b"%PDF-1.7 other"
    filled.delete(CID)  # deleting twice is harmless


def test_stale_finds_cases_untouched_since(cases, key):
    cases.open(CID, key, NOW)
    cases.open(OTHER, key, NOW + dt.timedelta(days=10))
    assert cases.stale(NOW + dt.timedelta(days=5)) == [CID]
    assert cases.stale(NOW) == []
    cases.add_text(CID, key, "note", "later", NOW + dt.timedelta(days=20))
    assert cases.touched(CID) == NOW + dt.timedelta(days=20)
    assert cases.stale(NOW + dt.timedelta(days=15)) == [OTHER]
    assert cases.touched("0" * 32) is None


def test_media_store_guards_its_folder(folder):
    store = LocalMediaStore(folder)
    for bad in ("../../etc/passwd", "short", "A" * 32, "a" * 65, ".tmp-abcdefabcdefabcdef"):
        with pytest.raises(ValueError):
            store.put(bad, b"x")
    with pytest.raises(KeyError):
        store.get("a" * 32)
    store.delete("a" * 32)
    store.put("a" * 32, b"one")
    store.put("a" * 32, b"two")
    assert store.get("a" * 32) == b"two"
    assert [p.name for p in folder.iterdir()] == ["a" * 32]  # no temporary file left


# Exports and their verification.


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def rezip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def tamper(data: bytes, edit) -> bytes:
    """The export with `edit(files, manifest)` applied; the manifest is re-serialized."""
    files = unzip(data)
    manifest = json.loads(files["manifest.json"])
    edit(files, manifest)
    files["manifest.json"] = json.dumps(manifest, indent=2).encode()
    return rezip(files)


@pytest.fixture
def exported(filled, key, content):
    return export(filled, CID, key, ["es", "en"], content, NOW + dt.timedelta(hours=1))


def test_export_holds_the_record_and_verifies(exported, filled, key, content):
    files = unzip(exported)
    manifest = json.loads(files["manifest.json"])
    items = filled.items(CID, key)
    assert verify_export(exported) == []
    assert manifest["case"] == filled.code(CID) and manifest["head"] == items[-1].link
    assert manifest["exported_at"] == "2026-01-05T15:03:22Z"
    assert [e["file"] for e in manifest["items"]] == [
        "text/1-event.txt", "media/2-photo.jpg", "text/3-account.txt"]
    assert files["media/2-photo.jpg"] == PHOTO
    assert files["text/3-account.txt"] == SECRET.encode()
    summary = files["summary-es.txt"].decode()
    for label in ("evidence_title", "evidence_photo", "evidence_disclaimer"):
        assert content.t("es", content.messages[label]) in summary
    assert "Registro de una cita perdida" in summary
    assert filled.code(CID) in summary and SECRET in summary and items[1].digest in summary
    assert "media/2-photo.jpg" in summary and "2026-01-05 14:04:22 UTC" in summary
    assert "Record of a missed appointment" in files["summary-en.txt"].decode()
    for data in files.values():
        assert PHONE.encode() not in data and CID.encode() not in data


def test_export_verifies_from_a_path(exported, tmp_path):
    path = tmp_path / "case.zip"
    path.write_bytes(exported)
    assert verify_export(path) == [] and verify_export(str(path)) == []


def test_a_changed_file_is_found(exported):
    def edit(files, manifest):
        files["media/2-photo.jpg"] = PHOTO.replace(b"FARO", b"FAKE", 1)

    assert verify_export(tamper(exported, edit)) == ["item 2 (photo): content changed"]


def test_a_removed_item_is_found(exported):
    def edit(files, manifest):
        del files["media/2-photo.jpg"]
        del manifest["items"][1]

    problems = verify_export(tamper(exported, edit))
    assert "item 2: missing (removed)" in problems
    assert any("manifest.json: changed after export" in p for p in problems)


def test_a_removed_file_is_found(exported):
    def edit(files, manifest):
        del files["text/3-account.txt"]

    assert verify_export(tamper(exported, edit)) == [
        "item 3 (account): file text/3-account.txt is missing (removed)"]


def test_reordered_items_are_found(exported):
    def edit(files, manifest):
        entries = manifest["items"]
        entries[1], entries[2] = entries[2], entries[1]

    problems = verify_export(tamper(exported, edit))
    assert "item 3 (account): out of order (reordered)" in problems
    assert "item 2 (photo): out of order (reordered)" in problems


def test_renumbered_items_are_found(exported):
    def edit(files, manifest):
        photo, account = manifest["items"][1], manifest["items"][2]
        photo["seq"], account["seq"] = 3, 2
        manifest["items"][1:] = [account, photo]

    problems = verify_export(tamper(exported, edit))
    assert "item 2 (account): record changed (its link does not match)" in problems
    assert "item 2 (account): does not follow item 1 (reordered or forged)" in problems


def test_edited_text_with_a_recomputed_digest_is_found(exported):
    forged = SECRET.replace("Reynosa", "Matamoros").encode()

    def edit(files, manifest):
        files["text/3-account.txt"] = forged
        manifest["items"][2].update(digest=chain.digest(forged), size=len(forged))

    problems = verify_export(tamper(exported, edit))
    assert "item 3 (account): record changed (its link does not match)" in problems
    assert not any("content changed" in p for p in problems)


def fake_note(files, manifest) -> None:
    """Append a well-formed item: right prev, recomputed link, new head."""
    text = b"I was never there"
    last = manifest["items"][-1]
    facts = {"seq": 4, "kind": "note", "received_at": "2026-01-05T14:06:00Z",
             "digest": chain.digest(text), "content_type": chain.TEXT_TYPE, "size": len(text)}
    entry = {**facts, "prev": last["link"], "link": chain.link(last["link"], facts),
             "file": "text/4-note.txt"}
    manifest["items"].append(entry)
    manifest["head"], manifest["count"] = entry["link"], 4
    files["text/4-note.txt"] = text


def test_an_appended_fake_item_is_found(exported):
    problems = verify_export(tamper(exported, fake_note))
    assert "item 4 (note): added after export (not in the signed record)" in problems


def test_an_appended_item_with_a_forged_signature_is_found(exported):
    def edit(files, manifest):
        fake_note(files, manifest)
        signed = json.loads(files["signature.json"])
        signed["signed"].update(count=4, head=manifest["head"])
        files["signature.json"] = json.dumps(signed).encode()

    problems = verify_export(tamper(exported, edit))
    assert problems == [
        "signature.json: the signature does not match (the signed facts were changed)"]


def test_an_export_forged_and_signed_by_someone_else_is_found(exported):
    other = signing_key(b"an-attackers-own-master-key-32by")
    files = unzip(exported)
    manifest = json.loads(files["manifest.json"])
    fake_note(files, manifest)
    files["manifest.json"] = raw = json.dumps(manifest).encode()
    items = [chain.Item(**{k: e[k] for k in (*chain.LINKED, "prev", "link")})
             for e in manifest["items"]]
    files["signature.json"] = signature(other, raw, items, manifest["case"])
    forged = rezip(files)
    assert verify_export(forged) == []  # consistent in itself: only a trusted key tells
    assert verify_export(exported, trusted_key=public_key(SEED)) == []
    assert verify_export(forged, trusted_key=public_key(SEED)) == [
        f"signed by another key ({public_key(other).hex()}) than the one given"]


def test_an_edited_summary_is_found(exported):
    def edit(files, manifest):
        files["summary-en.txt"] = files["summary-en.txt"].replace(b"Reynosa", b"Tijuana")

    assert verify_export(tamper(exported, edit)) == ["summary-en.txt: changed"]


def test_an_added_file_is_found(exported):
    def edit(files, manifest):
        files["media/9-photo.jpg"] = PHOTO

    assert verify_export(tamper(exported, edit)) == [
        "file media/9-photo.jpg: not part of the record (added)"]


def test_an_unsigned_export_says_so(redis_client, folder, key, content):
    cases = Cases(redis_client, LocalMediaStore(folder))
    cases.open(CID, key, NOW)
    cases.add_text(CID, key, "note", "hello", NOW)
    problems = verify_export(export(cases, CID, key, ["en"], content, NOW))
    assert problems == ["not signed: items added or removed at the end cannot be ruled out"]


def test_not_an_export():
    assert verify_export(b"not a zip")[0].startswith("not a readable ZIP file")
    assert verify_export(rezip({"x.txt": b"x"})) == ["manifest.json is missing"]


def test_cli_verify(exported, filled, key, tmp_path):
    good, bad = tmp_path / "good.zip", tmp_path / "bad.zip"
    good.write_bytes(exported)
    bad.write_bytes(tamper(exported, lambda files, manifest: files.update(
        {"media/2-photo.jpg": b"other"})))
    runner = CliRunner()
    result = runner.invoke(main, ["evidence", "verify", str(good)])
    assert result.exit_code == 0, result.output
    head = filled.items(CID, key)[-1].link
    assert result.output.splitlines()[0] == f"intact: 3 items, head {head}"
    assert public_key(SEED).hex() in result.output
    result = runner.invoke(main, ["evidence", "verify", str(bad)])
    assert result.exit_code == 1
    assert result.output.splitlines() == ["item 2 (photo): content changed"]
    result = runner.invoke(main, ["evidence", "verify", str(good), "--key", "00" * 32])
    assert result.exit_code == 1 and "signed by another key" in result.output
    result = runner.invoke(main, ["evidence", "verify", str(good), "--key", "zz"])
    assert result.exit_code == 2
