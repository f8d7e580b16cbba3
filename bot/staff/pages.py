"""The dashboard, the audit log (admins) and the scam reports (coordinators, admins)."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, render_template, request
from wtforms import SelectChoice

from bot import audit
from bot.scams import Reports
from bot.staff.access import accounts, current, faro, record, require
from bot.staff.accounts import org_names
from bot.staff.forms import AuditFilter, ShowTexts

bp = Blueprint("pages", __name__)
AUDIT_ROWS = 200
WEEKS = 12


@bp.get("/")
@require()
def dashboard():
    """What this role can do, with the account's name and organization."""
    org = org_names(faro().redis).get(current().org, current().org)
    return render_template("staff/dashboard.html", org=org)


@bp.get("/audit")
@require("admin")
def audit_log():
    """The newest audit entries, filtered by who and what."""
    names = {a.sid: a.name for a in accounts().all()}
    form = AuditFilter(formdata=request.args)
    form.actor.choices = [SelectChoice("", "anyone"), SelectChoice("cli", "the faro command"),
                          *(SelectChoice(sid, name) for sid, name in
                            sorted(names.items(), key=lambda item: item[1].casefold()))]
    actor, action = form.actor.data or None, (form.action.data or "").strip() or None
    record("audit.view", who=actor or "", filter=action or "")
    entries = audit.read(faro().redis, AUDIT_ROWS, actor=actor, action=action)
    return render_template("staff/audit.html", form=form, entries=entries, names=names,
                           actions=audit.ACTIONS)


@bp.route("/scams", methods=["GET", "POST"])
@require("coordinator", "admin")
def scams():
    """Scam reports per ISO week and per sign; the texts of the last weeks on request."""
    reports, now = Reports(faro().redis, faro().settings.data_key), dt.datetime.now(dt.UTC)
    form = ShowTexts()
    texts = {}
    if form.validate_on_submit():
        record("scams.texts", weeks=form.weeks.data)
        texts = dict(reports.weeks(form.weeks.data, now))
    else:
        record("scams.view", weeks=WEEKS)
    rules = faro().content.data.get("scams") or {}
    signs = {s.get("code"): s.get("explain", "") for s in rules.get("signs") or []}
    return render_template("staff/scams.html", tally=reports.tally(WEEKS, now), texts=texts,
                           signs=signs, form=form)
