"""The case file: one evidence case as a ZIP for legal aid, and its verification.

The ZIP holds ``manifest.json`` (every item's facts, digest and link, and the head),
the original files (``media/<seq>-<kind>.<ext>``, ``text/<seq>-<kind>.txt``), a
plain-language summary per language, and ``signature.json``: an Ed25519 signature by
this Faro server over the case code, the item count, the head and the manifest's
digest. The chain shows an item changed, removed or reordered; the signature shows
one added at the end, or a summary edited. Nothing in it says who the person is: no
phone number, no Telegram id, no contact id.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from bot import crypto
from bot.chain import RULE, Item, digest, link, stamp

if TYPE_CHECKING:
    import datetime as dt

    from bot.content import Content
    from bot.evidence import Cases

FORMAT = "faro-evidence"
VERSION = 1
MANIFEST = "manifest.json"
SIGNATURE = "signature.json"
EXTENSIONS = {
    "image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif",
    "image/heic": "heic", "application/pdf": "pdf", "audio/ogg": "ogg", "audio/mpeg": "mp3",
    "audio/mp4": "m4a", "audio/amr": "amr", "audio/aac": "aac", "audio/wav": "wav",
    "video/mp4": "mp4", "video/3gpp": "3gp", "text/plain": "txt",
}
FIELDS = {"seq": int, "kind": str, "received_at": str, "digest": str, "prev": str, "link": str,
          "content_type": str, "size": int, "file": str}


def signing_key(master: bytes) -> bytes:
    """The Ed25519 seed this server signs exports with, derived from the master key."""
    return crypto.derive(master, b"faro evidence signing v1")


def public_key(seed: bytes) -> bytes:
    """The raw public key of an Ed25519 seed, for legal aid to check signatures against."""
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw)


def canonical(value: Any) -> bytes:
    """Stable JSON bytes: sorted keys, no spaces, ASCII."""
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def file_name(item: Item) -> str:
    """Where an item's content sits in the ZIP."""
    if not item.is_media:
        return f"text/{item.seq}-{item.kind}.txt"
    ext = EXTENSIONS.get(item.content_type.split(";")[0].strip().lower(), "bin")
    return f"media/{item.seq}-{item.kind}.{ext}"


def export(cases: Cases, cid: str, data_key: bytes, summary_langs: list[str],
           content: Content, now: dt.datetime) -> bytes:
    """The whole case as a signed ZIP, with a summary in each of `summary_langs`."""
    created, code = cases.created(cid, data_key), cases.code(cid) or ""
    items = cases.items(cid, data_key)
    files = {file_name(i): _content(cases, cid, data_key, i) for i in items}
    summaries = {f"summary-{lang}.txt": summary(content, lang, code, created, items).encode()
                 for lang in summary_langs}
    manifest = manifest_bytes(code, created, stamp(now), items, summaries)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MANIFEST, manifest)
        if cases.signing_seed:
            archive.writestr(SIGNATURE, signature(cases.signing_seed, manifest, items, code))
        for name, data in {**summaries, **files}.items():
            archive.writestr(name, data)
    return out.getvalue()


def _content(cases: Cases, cid: str, data_key: bytes, item: Item) -> bytes:
    return cases.media_bytes(cid, data_key, item) if item.is_media else item.text.encode()


def manifest_bytes(code: str, created: str, exported_at: str, items: list[Item],
                       summaries: dict[str, bytes]) -> bytes:
    """The manifest of an export, as indented JSON a person can read."""
    entries = [{"seq": i.seq, "kind": i.kind, "received_at": i.received_at, "digest": i.digest,
                "prev": i.prev, "link": i.link, "content_type": i.content_type,
                "size": i.size, "file": file_name(i), "via": i.via} for i in items]
    manifest = {"format": FORMAT, "version": VERSION, "case": code, "created": created,
                "exported_at": exported_at, "chain": RULE, "items": entries,
                "count": len(items), "head": items[-1].link if items else "",
                "summaries": {name: digest(data) for name, data in summaries.items()}}
    return json.dumps(manifest, indent=2, ensure_ascii=False).encode()


def signature(seed: bytes, manifest: bytes, items: list[Item], code: str) -> bytes:
    """signature.json: what is signed, the signature, and the key that checks it."""
    signed = {"case": code, "count": len(items), "head": items[-1].link if items else "",
              "manifest": digest(manifest)}
    sig = Ed25519PrivateKey.from_private_bytes(seed).sign(canonical(signed))
    return json.dumps({"algorithm": "Ed25519", "public_key": public_key(seed).hex(),
                       "signed": signed, "signature": sig.hex()}, indent=2).encode()


def summary(content: Content, lang: str, code: str, created: str, items: list[Item]) -> str:
    """A plain-language account of the case in `lang`, for a reader without tools."""
    def label(name: str, fallback: str = "") -> str:
        source = content.messages.get(name, fallback or name)
        return content.t(lang, source)

    lines = [label("evidence_title"), f"{label('evidence_code')}: {code}",
             f"{label('evidence_created')}: {_human(created)}", ""]
    for item in items:
        lines.append(f"{item.seq}. {label(f'evidence_{item.kind}', item.kind)} "
                     f"({label('evidence_received')} {_human(item.received_at)})")
        body = file_name(item) if item.is_media else item.text
        lines += [f"   {line}" for line in body.splitlines() or [""]]
        if item.via == "voice":
            lines.append(f"   {label('evidence_via_call')}")
        lines += [f"   {label('evidence_digest')}: {item.digest}", ""]
    lines.append(label("evidence_disclaimer"))
    return "\n".join(lines) + "\n"


def _human(iso: str) -> str:
    return iso.replace("T", " ").replace("Z", " UTC")


def verify_export(source: str | os.PathLike[str] | bytes, *,
                  trusted_key: bytes | None = None) -> list[str]:
    """Every problem found in an export; [] when it is intact.

    Give `trusted_key` (the raw public key Faro publishes) to also refuse an export
    signed by anyone else.
    """
    try:
        archive = _zip(source)
    except (OSError, zipfile.BadZipFile) as exc:
        return [f"not a readable ZIP file: {exc}"]
    with archive:
        manifest, problems = read_manifest(archive)
        if manifest is None:
            return problems
        entries = _entries(manifest["items"], problems)
        problems += check_order(entries) + check_links(entries)
        problems += check_files(archive, manifest, entries) + check_summaries(archive, manifest)
        problems += check_head(manifest, entries)
        problems += check_signature(archive, manifest, entries, trusted_key)
    return problems


def describe(source: str | os.PathLike[str] | bytes) -> dict[str, Any]:
    """The count, head and signing key of an export (check it with verify_export first)."""
    with _zip(source) as archive:
        manifest = json.loads(archive.read(MANIFEST))
        signed = json.loads(archive.read(SIGNATURE)) if SIGNATURE in archive.namelist() else {}
    return {"count": len(manifest["items"]), "head": manifest["head"],
            "case": manifest["case"], "public_key": signed.get("public_key", "")}


def _zip(source: str | os.PathLike[str] | bytes) -> zipfile.ZipFile:
    if isinstance(source, bytes | bytearray):
        return zipfile.ZipFile(io.BytesIO(source))
    return zipfile.ZipFile(Path(source))


def read_manifest(archive: zipfile.ZipFile) -> tuple[dict | None, list[str]]:
    """The parsed manifest, or None and why it cannot be read."""
    try:
        manifest = json.loads(archive.read(MANIFEST))
    except KeyError:
        return None, [f"{MANIFEST} is missing"]
    except ValueError:
        return None, [f"{MANIFEST} is not valid JSON"]
    if not isinstance(manifest, dict) or not isinstance(manifest.get("items"), list):
        return None, [f"{MANIFEST} has no list of items"]
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        return None, [f"{MANIFEST} is not a {FORMAT} version {VERSION} manifest"]
    return manifest, []


def _entries(raw: list, problems: list[str]) -> list[dict]:
    good = []
    for n, entry in enumerate(raw, 1):
        if isinstance(entry, dict) and all(
                type(entry.get(k)) is t for k, t in FIELDS.items()):
            good.append(entry)
        else:
            problems.append(f"entry {n} of {MANIFEST} is malformed (edited by hand?)")
    return good


def _name(entry: dict) -> str:
    return f"item {entry['seq']} ({entry['kind']})"


def check_order(entries: list[dict]) -> list[str]:
    """Items missing from the sequence, listed twice, or out of order."""
    seqs = [e["seq"] for e in entries]
    problems = [f"item {s}: missing (removed)" for s in range(1, max(seqs, default=0) + 1)
                if s not in seqs]
    problems += [f"item {s}: listed more than once" for s in sorted(set(seqs))
                 if seqs.count(s) > 1]
    ordered = sorted(entries, key=lambda e: e["seq"])
    problems += [f"{_name(e)}: out of order (reordered)"
                 for e, want in zip(entries, ordered, strict=True) if e is not want]
    return problems


def check_links(entries: list[dict]) -> list[str]:
    """Items whose link does not match their facts, or that do not follow the one before."""
    links = {e["seq"]: e["link"] for e in entries}
    problems = []
    for entry in entries:
        seq = entry["seq"]
        if link(entry["prev"], entry) != entry["link"]:
            problems.append(f"{_name(entry)}: record changed (its link does not match)")
        expected = "" if seq == 1 else links.get(seq - 1)
        if expected is not None and entry["prev"] != expected:
            problems.append(f"{_name(entry)}: does not follow item {seq - 1} "
                            "(reordered or forged)")
    return problems


def check_files(archive: zipfile.ZipFile, manifest: dict, entries: list[dict]) -> list[str]:
    """Item files changed or missing, and files that are not part of the record."""
    names = archive.namelist()
    problems = [f"file {n}: appears more than once" for n in sorted(set(names))
                if names.count(n) > 1]
    for entry in entries:
        if entry["file"] not in names:
            problems.append(f"{_name(entry)}: file {entry['file']} is missing (removed)")
        elif not _matches(archive.read(entry["file"]), entry["digest"], entry["size"]):
            problems.append(f"{_name(entry)}: content changed")
    known = {MANIFEST, SIGNATURE, *(manifest.get("summaries") or {}), *(e["file"] for e in entries)}
    problems += [f"file {n}: not part of the record (added)" for n in sorted(set(names) - known)]
    return problems


def check_summaries(archive: zipfile.ZipFile, manifest: dict) -> list[str]:
    """Summaries edited or removed since the export."""
    names, problems = archive.namelist(), []
    for name, expected in (manifest.get("summaries") or {}).items():
        if name not in names:
            problems.append(f"{name}: missing (removed)")
        elif digest(archive.read(name)) != expected:
            problems.append(f"{name}: changed")
    return problems


def _matches(data: bytes, expected: str, size: int) -> bool:
    return len(data) == size and digest(data) == expected


def check_head(manifest: dict, entries: list[dict]) -> list[str]:
    """A head that is not the last item's link."""
    last = max(entries, key=lambda e: e["seq"], default=None)
    if manifest.get("head") != (last["link"] if last else ""):
        return ["head does not match the last item (items removed or added at the end)"]
    return []


def check_signature(archive: zipfile.ZipFile, manifest: dict, entries: list[dict],
                    trusted_key: bytes | None) -> list[str]:
    """Whether Faro's signature covers this manifest, its count and its head."""
    try:
        sealed = json.loads(archive.read(SIGNATURE))
        signed, key = sealed["signed"], bytes.fromhex(sealed["public_key"])
        Ed25519PublicKey.from_public_bytes(key).verify(bytes.fromhex(sealed["signature"]),
                                                       canonical(signed))
    except KeyError:
        return ["not signed: items added or removed at the end cannot be ruled out"]
    except (ValueError, TypeError, InvalidSignature):
        return [f"{SIGNATURE}: the signature does not match (the signed facts were changed)"]
    problems = [] if trusted_key in (None, key) else [
        f"signed by another key ({key.hex()}) than the one given"]
    return problems + _against_signed(signed, archive.read(MANIFEST), manifest, entries)


def _against_signed(signed: dict, raw: bytes, manifest: dict, entries: list[dict]) -> list[str]:
    count = signed.get("count", 0)
    seqs = {e["seq"] for e in entries}
    problems = [f"{_name(e)}: added after export (not in the signed record)"
                for e in entries if e["seq"] > count]
    problems += [f"item {s}: missing (removed; the signed record has {count} items)"
                 for s in range(max(seqs, default=0) + 1, count + 1)]
    if signed.get("case") != manifest.get("case"):
        problems.append("the case code differs from the signed one")
    if signed.get("head") != manifest.get("head") and not problems:
        problems.append("the head differs from the signed one (items changed)")
    if signed.get("manifest") != digest(raw):
        problems.append(f"{MANIFEST}: changed after export (it no longer matches the signature)")
    return problems
