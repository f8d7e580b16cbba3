"""Evidence cases a person shared with a legal-aid organization: open by code, read, export.

Only legal-aid staff of an organization the case is shared with may open it; everyone
else gets 404, so a code's existence is never confirmed. Every access is audited.
"""

from __future__ import annotations

import datetime as dt
import mimetypes
import re
from dataclasses import dataclass

from flask import Blueprint, Response, abort, redirect, render_template, url_for

from bot import keys
from bot.evidence import Cases, normalize_code, show_code, signing_key
from bot.evidence import export as bundle
from bot.media import LocalMediaStore
from bot.staff.access import current, faro, record, require
from bot.staff.accounts import org_names
from bot.staff.forms import OpenCase

bp = Blueprint("cases", __name__)
CODE = re.compile(r"^[A-Za-z0-9 -]{1,40}$")
INLINE = ("image/jpeg", "image/png", "image/gif", "image/webp")  # never SVG: it runs script
MEDIA_TYPE = re.compile(r"^[a-z]+/[a-z0-9.+-]+$")
SUMMARY_LANGS = ("es", "en")


@dataclass(frozen=True)
class Opened:
    """A case the signed-in account may read, with the key that opens it."""

    code: str  # as people see it: "K7QM-3XPA"
    cid: str
    data_key: bytes
    lang: str  # the person's language


@bp.route("/cases", methods=["GET", "POST"])
@require("legal", hide=True)
def find():
    """Ask for a case code; on a code, go to its page."""
    form = OpenCase()
    if form.validate_on_submit():
        return redirect(url_for(".view", code=tidy(form.code.data or "")))
    return render_template("staff/cases.html", form=form)


@bp.get("/cases/<code>")
@require("legal", hide=True)
def view(code: str):
    """The case: what it holds, labelled in Spanish, English and the person's language."""
    case, book = reach(code)
    items = book.items(case.cid, case.data_key)
    record("case.view", case.code, items=len(items))
    langs = summary_langs(case.lang)
    names = org_names(faro().redis)
    shared = sorted(names.get(o, o) for o in book.shared_with(case.cid))
    return render_template("staff/case.html", case=case, items=items, langs=langs,
                           label=labeller(langs), created=book.created(case.cid, case.data_key),
                           shared=shared)


@bp.get("/cases/<code>/media/<int:seq>")
@require("legal", hide=True)
def media(code: str, seq: int):
    """One photo, document or voice message of the case, decrypted."""
    case, book = reach(code)
    item = next((i for i in book.items(case.cid, case.data_key)
                 if i.seq == seq and i.is_media), None)
    if item is None:
        abort(404)
    try:
        data = book.media_bytes(case.cid, case.data_key, item)
    except KeyError:
        abort(404)  # the file is gone (deleted while the page was open)
    record("case.media", case.code, seq=seq)
    return attachment(data, item.content_type, f"faro-{case.code}-{seq}")


@bp.get("/cases/<code>/export")
@require("legal", hide=True)
def export(code: str):
    """The case as a ZIP: manifest with the hash chain, media, readable summaries."""
    case, book = reach(code)
    data = bundle(book, case.cid, case.data_key, summary_langs(case.lang), faro().content,
                  dt.datetime.now(dt.UTC))
    record("case.export", case.code, bytes=len(data))
    return attachment(data, "application/zip", f"faro-case-{case.code}", ext=".zip")


def casebook() -> Cases:
    """The evidence cases, with the media folder and the export signing key."""
    settings = faro().settings
    return Cases(faro().redis, LocalMediaStore(settings.media_dir),
                 signing_seed=signing_key(settings.data_key))


def reach(code: str) -> tuple[Opened, Cases]:
    """The case `code` and the casebook, or 404 unless it is shared with the account's org."""
    book = casebook()
    cid = book.cid_for_code(code) if CODE.match(code) else None
    shown = show_code(normalize_code(code)) if CODE.match(code) else "?"
    if cid is None or not book.is_shared(cid, current().org):
        record("case.denied", shown)
        abort(404)
    data_key, lang = faro().store.data_key(cid), faro().redis.hget(keys.contact(cid), "l")
    if data_key is None:
        record("case.denied", shown, reason="deleted")
        abort(404)  # the person deleted their data: nothing is left to read
    return Opened(shown, cid, data_key, lang.decode() if lang else ""), book


def summary_langs(lang: str) -> list[str]:
    """Spanish, English, and the person's language when it is another."""
    return list(dict.fromkeys([*SUMMARY_LANGS, *([lang] if lang else [])]))


def labeller(langs: list[str]):
    """A function naming an item kind in each of `langs` (repeats dropped)."""
    content = faro().content

    def label(name: str) -> list[str]:
        msgid = content.messages.get(f"evidence_{name}", name)
        return list(dict.fromkeys(content.t(lang, msgid) for lang in langs))

    return label


def tidy(code: str) -> str:
    """A typed code as it goes in a URL: upper case, no spaces."""
    return "".join(code.split()).upper()


def attachment(data: bytes, content_type: str, stem: str, ext: str = "") -> Response:
    """`data` as a download (an image may show inline), never cached, never sniffed."""
    kind = content_type.split(";")[0].strip().lower()
    kind = kind if MEDIA_TYPE.match(kind) else "application/octet-stream"
    name = stem + (ext or mimetypes.guess_extension(kind) or ".bin")
    how = "inline" if kind in INLINE else "attachment"
    response = Response(data, content_type=kind)
    response.headers["Content-Disposition"] = f'{how}; filename="{name}"'
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; frame-ancestors 'none'; sandbox")
    return response
