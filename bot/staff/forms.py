"""The console's forms. Each one that changes something carries a CSRF token."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
)
from wtforms.validators import AnyOf, DataRequired, Length, NumberRange, Optional, Regexp

from bot.staff.accounts import MAX_PASSWORD, ROLES

NONE = SelectChoice("", "—")
SID = Regexp(r"^[0-9a-f]{32}$", message="Not an account")


class SignIn(FlaskForm):
    """Email and password."""

    email = StringField("Email", [DataRequired(), Length(max=254)],
                        render_kw={"autocomplete": "username", "inputmode": "email"})
    password = PasswordField("Password", [DataRequired(), Length(max=MAX_PASSWORD)],
                             render_kw={"autocomplete": "current-password"})
    submit = SubmitField("Sign in")


class SignOut(FlaskForm):
    """Nothing but the CSRF token: signing out is a POST."""

    submit = SubmitField("Sign out")


class OpenCase(FlaskForm):
    """The code a person gave to open their case."""

    code = StringField("Case code", [DataRequired(), Length(max=40),
                                     Regexp(r"^[A-Za-z0-9 -]+$", message="Letters and digits")],
                       render_kw={"autocomplete": "off", "autocapitalize": "characters",
                                  "spellcheck": "false"})
    submit = SubmitField("Open")


class ShowTexts(FlaskForm):
    """Reveal the reported scam texts of the last weeks (audited)."""

    weeks = IntegerField("Weeks", [NumberRange(1, 8)], default=2)
    submit = SubmitField("Show texts")


class AuditFilter(FlaskForm):
    """Who and what to show from the audit log."""

    class Meta:
        csrf = False  # a GET that changes nothing; a token would only clutter the URL

    actor = SelectField("Who", [Optional()], choices=[SelectChoice("", "anyone")],
                        validate_choice=False)
    action = StringField("Action", [Optional(), Length(max=40)],
                         render_kw={"list": "actions", "placeholder": "case, signin.failed…"})
    submit = SubmitField("Filter")


class Placement(FlaskForm):
    """What an account may do and where; the view fills the region and shelter choices."""

    role = SelectField("Role", choices=ROLES)
    region = SelectField("Region", [Optional()], choices=[NONE])
    shelter = SelectField("Shelter", [Optional()], choices=[NONE])


class AddAccount(Placement):
    """A new account, with the password the person signs in with first."""

    email = StringField("Email", [DataRequired(), Length(max=254)],
                        render_kw={"autocomplete": "off", "inputmode": "email"})
    name = StringField("Name", [DataRequired(), Length(max=100)])
    org = StringField("Organization", [DataRequired(), Length(max=100)])
    password = PasswordField("Initial password", [DataRequired(), Length(max=MAX_PASSWORD)],
                             render_kw={"autocomplete": "new-password"})
    submit = SubmitField("Add account")


class ChangeAccount(Placement):
    """Another role, region or shelter for one account."""

    sid = HiddenField(validators=[DataRequired(), SID])
    submit = SubmitField("Save")


class RemoveAccount(FlaskForm):
    """Remove one account, once the box is ticked."""

    sid = HiddenField(validators=[DataRequired(), SID])
    confirm = BooleanField("Yes, remove this account", [DataRequired("Tick the box first")])
    submit = SubmitField("Remove")


class PickShelter(FlaskForm):
    """Which shelter's capacity to show (coordinators and admins)."""

    class Meta:
        csrf = False  # a GET that changes nothing

    shelter = SelectField("Shelter", [Optional()], choices=[NONE], validate_choice=False)
    submit = SubmitField("Show")


class SetCapacity(FlaskForm):
    """One shelter's news about space: open (with free beds), full or closed."""

    shelter = HiddenField(validators=[DataRequired(), Length(max=80)])
    status = HiddenField(validators=[AnyOf(("open", "full", "closed"))])
    beds = IntegerField("Free beds", [Optional(), NumberRange(0, 9999)])


def shelter_choices(entries: list[dict[str, Any]]) -> list[SelectChoice]:
    """Shelters (as `Directory.entries` gives them) as choices by name, after "none"."""
    ordered = sorted(entries, key=lambda e: e["name"].casefold())
    return [NONE, *(SelectChoice(e["id"], shelter_label(e)) for e in ordered)]


def shelter_label(entry: dict[str, Any]) -> str:
    """A shelter's name, with its city unless the name says it already."""
    where = entry["city"] or entry["state"]
    return entry["name"] if not where or where in entry["name"] else f"{entry['name']} ({where})"


def first_error(form: FlaskForm) -> str:
    """The first problem a refused form has, for the top of the page."""
    for name, errors in form.errors.items():
        return f"{getattr(form, name).label.text}: {errors[0]}"
    return "The form was not complete."
