"""Alerts from the console: compose with a live preview, approve, watch, cancel.

Coordinators send anywhere; shelter staff send only to their account's region (a state).
An alert whose audience is larger than FARO_APPROVAL_ABOVE waits for a second person
(never its author) before it goes. Shelter staff see their organization's alerts;
coordinators see all. Every step is audited.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, abort, jsonify, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import (
    DateTimeLocalField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
    widgets,
)
from wtforms.validators import Length, Optional

from bot import places
from bot.broadcasts import (
    CHANNELS,
    MAX_TEXT,
    TOPICS,
    Area,
    Broadcast,
    BroadcastError,
    Broadcasts,
    Spec,
    audience,
    render,
    send_time,
)
from bot.places import MEXICO
from bot.segments import is_gsm7, segments
from bot.staff.access import current, faro, record, require
from bot.staff.accounts import Account, org_names
from bot.staff.forms import first_error
from worker.broadcast import launch

bp = Blueprint("broadcasts", __name__)
SENDERS = ("coordinator", "shelter")
TOPIC_LABELS = {"security": "Safety", "capacity": "Space in shelters",
                "port": "News from the border", "scams": "Scams"}
CHANNEL_LABELS = {"sms": "SMS", "whatsapp": "WhatsApp", "telegram": "Telegram"}


class MultiCheckbox(SelectMultipleField):
    """A set of checkboxes: easier on a phone than a multiple select."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class Decide(FlaskForm):
    """Approve or cancel a broadcast: nothing but the CSRF token."""

    submit = SubmitField("Confirm")


def compose_form(languages: list[str], names: dict[str, str]) -> FlaskForm:
    """The compose form, with one text box per language Faro speaks."""

    speaks = [SelectChoice(c, names.get(c, c)) for c in languages]

    class Compose(FlaskForm):
        states = SelectMultipleField("States", choices=[SelectChoice(s, s)
                                                        for s in places.states()])
        city = StringField("Only this city (optional)", [Optional(), Length(max=80)])
        topic = SelectField("Topic", choices=[SelectChoice(t, TOPIC_LABELS[t]) for t in TOPICS])
        lang = SelectField("Your language (people whose language has no text get this one)",
                           choices=speaks)
        channels = MultiCheckbox("Channels", choices=[SelectChoice(c, CHANNEL_LABELS[c])
                                                      for c in CHANNELS],
                                 default=list(CHANNELS))
        only = MultiCheckbox("Only people who speak (optional)", choices=speaks, default=[])
        send_at = DateTimeLocalField("Send at (Mexico City time; empty: now)", [Optional()],
                                     format="%Y-%m-%dT%H:%M")
        submit = SubmitField("Send alert")

    for code in languages:
        setattr(Compose, f"text_{code}", TextAreaField(
            names.get(code, code), [Optional(), Length(max=MAX_TEXT)],
            render_kw={"maxlength": MAX_TEXT, "rows": 4, "data-lang": code}))
    return Compose()


def spec_of(form: Any, account: Account, languages: list[str]) -> Spec:
    """The Spec the form describes; BroadcastError when its area or time is not allowed
    (`Spec.check` then says whether it can be sent)."""
    chosen = [s for s in (form.states.data or []) if s]
    if account.role == "shelter":
        region = getattr(account, "region", "")
        if not region:
            raise BroadcastError("Your account has no region yet. Ask an admin to set it.")
        if any(s != region for s in chosen):
            raise BroadcastError(f"You can send alerts only to {region}.")
        chosen = chosen or [region]
    city = " ".join((form.city.data or "").split())
    if city:
        if len(chosen) != 1:
            raise BroadcastError("Choose one state to send to a single city.")
        place = places.match_city(city)
        if place is None or place.state != chosen[0]:
            raise BroadcastError(f"{city} is not a city of {chosen[0]} that Faro knows.")
        city = place.name
    when = ""
    if form.send_at.data:
        local = form.send_at.data.replace(tzinfo=MEXICO)
        if local < dt.datetime.now(MEXICO) - dt.timedelta(minutes=1):
            raise BroadcastError("The send time is in the past.")
        when = send_time(local)
    texts = {c: (getattr(form, f"text_{c}").data or "").strip() for c in languages}
    return Spec(org=account.org, org_name=org_names(faro().redis).get(account.org, account.org),
                author=account.sid, areas=tuple(Area(s, city) for s in chosen),
                topic=form.topic.data or "", texts={c: t for c, t in texts.items() if t},
                lang=form.lang.data or "", channels=tuple(form.channels.data or ()),
                languages=tuple(form.only.data or ()), send_at=when)


def visible(found: Broadcast | None) -> Broadcast:
    """`found` if the signed-in account may see it; 404 otherwise."""
    if found is None or (current().role != "coordinator" and found.spec.org != current().org):
        abort(404)
    return found


def may_approve(found: Broadcast, account: Account) -> bool:
    """A second person: a coordinator, or shelter staff of the same org and region."""
    if found.status != "awaiting_approval" or found.spec.author == account.sid:
        return False
    if account.role == "coordinator":
        return True
    region = getattr(account, "region", "")
    return (account.org == found.spec.org and bool(region)
            and all(a.state == region for a in found.spec.areas))


@bp.get("/broadcasts")
@require(*SENDERS)
def index():
    """Recent alerts: status, audience, progress."""
    shown = [b for b in Broadcasts(faro().redis).recent(100)
             if current().role == "coordinator" or b.spec.org == current().org]
    return render_template("staff/broadcasts.html", broadcasts=shown, labels=TOPIC_LABELS)


@bp.route("/broadcasts/new", methods=["GET", "POST"])
@require(*SENDERS)
def compose():
    """Write an alert; on send, store it and start it (or wait for approval)."""
    content = faro().content
    form = compose_form(content.languages, content.names)
    if request.method == "GET":
        form.lang.data = "es" if "es" in content.languages else content.languages[0]
        region = getattr(current(), "region", "")
        if region:
            form.states.data = [region]
    error = ""
    if form.validate_on_submit():
        try:
            spec = spec_of(form, current(), content.languages)
            spec.check(content.languages)
        except BroadcastError as exc:
            error = str(exc)
        else:
            reach = audience(faro().redis, spec)
            if reach.total == 0:
                error = "Nobody subscribed to this area and topic yet: the alert was not sent."
            else:
                return start(spec, reach.total)
    elif request.method == "POST":
        error = first_error(form)
    return render_template("staff/compose.html", form=form, error=error,
                           languages=content.languages, names=content.names,
                           threshold=faro().settings.approval_above)


def start(spec: Spec, reach: int):
    """Store a composed alert; start it now, at its time, or after approval."""
    settings, client = faro().settings, faro().redis
    book, now = Broadcasts(client), dt.datetime.now(dt.UTC)
    needs = reach > settings.approval_above
    found = book.create(spec, needs, now, reach)
    record("broadcast.create", found.id, audience=reach, approval=needs,
           areas=[a.label() for a in spec.areas], topic=spec.topic)
    if not needs:
        launch(client, found.id)
    return redirect(url_for(".show", bid=found.id))


@bp.post("/broadcasts/preview")
@require(*SENDERS)
def preview():
    """The audience now and the SMS segments per language, for the compose page."""
    content = faro().content
    form = compose_form(content.languages, content.names)
    form.validate()  # only to parse the fields; the spec check below says what is wrong
    out: dict[str, Any] = {"segments": {}}
    for code in content.languages:
        text = (getattr(form, f"text_{code}").data or "").strip()
        if text:
            probe = Spec("", _org_name(), "", (), "", {code: text}, code)
            body = render(probe, content, code, "sms")
            out["segments"][code] = {"segments": segments(body), "chars": len(body),
                                     "encoding": "GSM-7" if is_gsm7(body) else "UCS-2"}
    try:
        spec = spec_of(form, current(), content.languages)
        if spec.areas:  # who it reaches, before the text is written
            reach = audience(faro().redis, spec).as_dict()
            out["audience"] = reach
            out["needs_approval"] = reach["total"] > faro().settings.approval_above
        spec.check(content.languages)
    except BroadcastError as exc:
        out["error"] = str(exc)
    return jsonify(out)


def _org_name() -> str:
    return org_names(faro().redis).get(current().org, current().org)


@bp.get("/broadcasts/<bid>")
@require(*SENDERS)
def show(bid: str):
    """One alert: its texts, audience and a live progress bar; approve or cancel."""
    found = visible(Broadcasts(faro().redis).get(bid))
    record("broadcast.view", bid)
    return render_template("staff/broadcast.html", b=found, form=Decide(),
                           approvable=may_approve(found, current()), labels=TOPIC_LABELS,
                           names=faro().content.names,
                           local=_local(found.spec.send_at) if found.spec.send_at else "")


@bp.get("/broadcasts/<bid>/progress")
@require(*SENDERS)
def progress(bid: str):
    """The counts, as JSON, for the progress bar."""
    return jsonify(visible(Broadcasts(faro().redis).get(bid)).progress())


@bp.post("/broadcasts/<bid>/approve")
@require(*SENDERS)
def approve(bid: str):
    """The second person agrees; the alert starts (now or at its time)."""
    book = Broadcasts(faro().redis)
    found = visible(book.get(bid))
    if not Decide().validate_on_submit() or not may_approve(found, current()):
        abort(403)
    if book.approve(bid, current().sid, dt.datetime.now(dt.UTC)):
        record("broadcast.approve", bid)
        launch(faro().redis, bid)
    return redirect(url_for(".show", bid=bid))


@bp.post("/broadcasts/<bid>/cancel")
@require(*SENDERS)
def cancel(bid: str):
    """Stop an alert: whoever has not got it yet never will."""
    book = Broadcasts(faro().redis)
    visible(book.get(bid))
    if Decide().validate_on_submit() and book.cancel(bid, dt.datetime.now(dt.UTC)):
        record("broadcast.cancel", bid)
    return redirect(url_for(".show", bid=bid))


def _local(iso: str) -> str:
    return dt.datetime.fromisoformat(iso).astimezone(MEXICO).strftime("%Y-%m-%d %H:%M")
