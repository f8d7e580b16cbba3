"""The console's forms. Each one that changes something carries a CSRF token."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from bot.staff.accounts import MAX_PASSWORD


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
