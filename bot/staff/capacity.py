"""Shelter capacity in two clicks: open with so many free beds, full, or closed.

Shelter staff set only their own shelter's (the one their account names); coordinators
and admins may set any shelter's, for a shelter that phones the news in. People who ask
Faro for shelters see the news with its date (bot/lookups.py).
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from bot.places import MEXICO
from bot.staff.access import current, directory, record, require
from bot.staff.forms import PickShelter, SetCapacity, shelter_choices

bp = Blueprint("capacity", __name__)
ANY_SHELTER = ("coordinator", "admin")
SAY = {"open": "Open", "full": "Full", "closed": "Closed", "unknown": "No news"}


@bp.get("/capacity")
@require("shelter", *ANY_SHELTER)
def show():
    """The shelter's news about space and the three buttons that change it."""
    sid = request.args.get("shelter", "") if current().role in ANY_SHELTER else current().shelter
    shelter = reach(sid) if sid else None
    return page(shelter, SetCapacity(formdata=None, shelter=sid, beds=beds_of(shelter)))


@bp.post("/capacity")
@require("shelter", *ANY_SHELTER)
def update():
    """Record the news a button sent, for the people searching from now on."""
    form = SetCapacity()
    shelter = reach(form.shelter.data or "")
    if not form.validate_on_submit():
        return page(shelter, form)
    status = form.status.data
    beds = {"full": 0, "closed": None}.get(status, form.beds.data)
    directory().set_capacity(shelter["id"], status, beds, dt.datetime.now(MEXICO))
    record("capacity.set", shelter["id"], status=status, beds=beds)
    said = SAY[status] + (f", {beds} free beds" if status == "open" and beds is not None else "")
    flash(f"Saved: {said}.")
    back = shelter["id"] if current().role in ANY_SHELTER else None
    return redirect(url_for(".show", shelter=back))


def page(shelter: dict[str, str] | None, form: SetCapacity) -> str:
    """The capacity page of `shelter` (None: none chosen yet, or none linked)."""
    stamp = (shelter or {}).get("capacity_updated") or ""
    return render_template("staff/capacity.html", shelter=shelter, form=form, pick=picker(
        shelter), say=SAY, updated=when(stamp) if stamp else "")


def when(stamp: str) -> str:
    """"2026-11-29 16:42 (today)" in Mexico City time; an imported record's day as it is."""
    today = dt.datetime.now(MEXICO).date()
    if "T" in stamp:
        moment = dt.datetime.fromisoformat(stamp).astimezone(MEXICO)
        day, label = moment.date(), moment.strftime("%Y-%m-%d %H:%M")
    else:
        day = dt.date.fromisoformat(stamp)
        label = stamp
    return label + (" (today)" if day == today else "")


def reach(sid: str) -> dict[str, str]:
    """The shelter `sid` if this account may set its capacity: 403 if not, 404 if unknown."""
    if current().role not in ANY_SHELTER and sid != current().shelter:
        record("access.denied", request.path, shelter=sid[:80])
        abort(403)
    shelter = directory().get(sid)
    if shelter is None:
        abort(404)
    return shelter


def beds_of(shelter: dict[str, str] | None) -> int | None:
    """The free beds last given while open, to fill the number in."""
    row = shelter or {}
    beds = row.get("capacity_beds", "") if row.get("capacity_status") == "open" else ""
    return int(beds) if beds.isdigit() else None


def picker(shelter: dict[str, str] | None) -> PickShelter | None:
    """The choice of every shelter, for coordinators and admins; None for shelter staff."""
    if current().role not in ANY_SHELTER:
        return None
    form = PickShelter(formdata=None, shelter=shelter["id"] if shelter else "")
    form.shelter.choices = shelter_choices(directory().entries())
    return form
