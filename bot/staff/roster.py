"""Console accounts, for admins: list, add, change role, region and shelter, remove.

A change applies from the account's next request and a removal ends its sessions at once
(see access.load). No admin may remove or demote themselves, so one admin always stays.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from wtforms import SelectChoice

from bot import places
from bot.staff.access import accounts, current, directory, faro, record, require
from bot.staff.accounts import Account, AccountError, org_names
from bot.staff.forms import (
    NONE,
    AddAccount,
    ChangeAccount,
    Placement,
    RemoveAccount,
    first_error,
    shelter_choices,
)

bp = Blueprint("accounts", __name__, url_prefix="/accounts")
SELF = "You cannot {} your own account: ask another admin."


@bp.get("")
@require("admin")
def index():
    """Every account with its forms, and the form to add one."""
    return page(AddAccount())


@bp.post("/add")
@require("admin")
def add():
    """Create an account that can sign in at once with the password given."""
    form = choose(AddAccount())
    if not form.validate_on_submit():
        return page(form)
    try:
        account = accounts().add(form.email.data or "", form.name.data or "",
                                 form.org.data or "", form.role.data or "",
                                 form.password.data or "", *placed(form))
    except AccountError as exc:
        return page(form, problem=str(exc))
    record("account.add", account.sid, **facts(account), org=account.org)
    flash(f"Added {account.name}. They can sign in now.")
    return redirect(url_for(".index"))


@bp.post("/change")
@require("admin")
def change():
    """Give an account another role, region or shelter, from its next request on."""
    form = choose(ChangeAccount())
    if not form.validate_on_submit():
        return page(problem=first_error(form))
    sid, role = form.sid.data, form.role.data or ""
    if sid == current().sid and role != "admin":
        return page(problem=SELF.format("demote"))
    before = accounts().get(sid)
    try:
        account = accounts().change(sid, role, *placed(form))
    except AccountError as exc:
        return page(problem=str(exc))
    record("account.change", sid, **facts(account), was=before.role if before else "")
    flash(f"Saved {account.name}: {describe(account)}.")
    return redirect(url_for(".index"))


@bp.post("/remove")
@require("admin")
def remove():
    """Remove an account and sign it out everywhere."""
    form = RemoveAccount()
    if not form.validate_on_submit():
        return page(problem=first_error(form))
    if form.sid.data == current().sid:
        return page(problem=SELF.format("remove"))
    account = accounts().remove(form.sid.data)
    if account is None:
        return page(problem="That account was removed already.")
    record("account.remove", account.sid, role=account.role, org=account.org)
    flash(f"Removed {account.name} and ended their sessions.")
    return redirect(url_for(".index"))


def page(form: AddAccount | None = None, problem: str = "") -> str:
    """The accounts page, with `problem` said at the top when something was refused."""
    shelters = shelter_choices(directory().entries())
    rows = [(a, choose(ChangeAccount(formdata=None, obj=a), shelters),
             RemoveAccount(formdata=None, sid=a.sid)) for a in accounts().all()]
    return render_template("staff/accounts.html", rows=rows, problem=problem,
                           form=choose(form or AddAccount(formdata=None), shelters),
                           orgs=org_names(faro().redis),
                           shelters={c.value: c.label for c in shelters})


def choose(form: Placement, shelters: list[SelectChoice] | None = None) -> Placement:
    """`form` with the states and shelters to choose from."""
    form.region.choices = [NONE, *(SelectChoice(s, s) for s in places.states())]
    form.shelter.choices = shelters or shelter_choices(directory().entries())
    return form


def placed(form: Placement) -> tuple[str, str]:
    """The region and shelter a form names ("" for none)."""
    return form.region.data or "", form.shelter.data or ""


def facts(account: Account) -> dict[str, str]:
    """What the audit log keeps of an account's role and place."""
    return {"role": account.role, "region": account.region, "shelter": account.shelter}


def describe(account: Account) -> str:
    """An account's role and place in a few words: "shelter, Chihuahua, casa-del-migrante"."""
    return ", ".join(p for p in (account.role, account.region, account.shelter) if p)
