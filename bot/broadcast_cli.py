"""`faro broadcast`: send, follow, list and cancel alerts from a terminal.

The operator's terminal is trusted like the server itself (it holds the keys), so an
alert sent here needs no second approval; each one is audited as the actor "cli".
"""

from __future__ import annotations

import datetime as dt
import sys
import time

import click

from bot.broadcasts import CHANNELS, TOPICS
from bot.errors import FaroError


@click.group()
def broadcast() -> None:
    """Alerts to the people who subscribed: send one, watch it, list, cancel."""


def _parts():
    from bot.connection import connect
    from bot.content import load_content
    from bot.settings import Settings

    try:
        settings = Settings.load()
        return connect(settings), load_content(settings.content_dir or None)
    except FaroError as exc:
        raise click.ClickException(str(exc)) from exc


def _texts(pairs: tuple[str, ...]) -> dict[str, str]:
    texts = {}
    for pair in pairs:
        lang, sep, text = pair.partition("=")
        if not sep or not text.strip():
            raise click.BadParameter(f"{pair!r}: write LANG=TEXT, such as es='Hoy cierra...'",
                                     param_hint="--text")
        texts[lang.strip()] = text.strip()
    return texts


@broadcast.command("send")
@click.option("--org", "org_name", required=True, help="The organization that sends it.")
@click.option("--state", "states", multiple=True, required=True,
              help='A Mexican state, such as "Baja California" (repeat for several).')
@click.option("--city", default="", help="Only this city of the (one) state.")
@click.option("--topic", required=True, type=click.Choice(TOPICS))
@click.option("--text", "pairs", multiple=True, required=True,
              help="LANG=TEXT, once per language; people whose language has none get --lang's.")
@click.option("--lang", default="es", show_default=True, help="The fallback language.")
@click.option("--channel", "channels", multiple=True, type=click.Choice(CHANNELS),
              help="Only these channels (default: all).")
@click.option("--only", "languages", multiple=True, help="Only people who speak these.")
@click.option("--at", "send_at", default="",
              help="Send at this Mexico City time, YYYY-MM-DDTHH:MM (default: now).")
@click.option("--yes", is_flag=True, help="Do not ask before sending.")
@click.option("--watch/--no-watch", default=True, show_default=True,
              help="Show a progress bar until it is done.")
def send(org_name: str, states: tuple[str, ...], city: str, topic: str, pairs: tuple[str, ...],
         lang: str, channels: tuple[str, ...], languages: tuple[str, ...], send_at: str,
         yes: bool, watch: bool) -> None:
    """Send an alert to everyone subscribed to the areas and topic."""
    from bot import audit, places
    from bot.broadcasts import Area, BroadcastError, Broadcasts, Spec, audience, send_time
    from bot.staff.accounts import AccountError, add_org
    from worker.broadcast import launch

    client, content = _parts()
    local = None
    if send_at:
        try:
            local = dt.datetime.fromisoformat(send_at)
        except ValueError as exc:
            raise click.BadParameter("use YYYY-MM-DDTHH:MM", param_hint="--at") from exc
    if city:
        place = places.match_city(city)
        if len(states) != 1 or place is None or place.state != states[0]:
            raise click.BadParameter(f"{city} is not a city of {states[0]} that Faro knows.",
                                     param_hint="--city")
        city = place.name
    try:
        when = send_time(local) if local else ""
        org = add_org(client, org_name)
        spec = Spec(org, " ".join(org_name.split()), "cli",
                    tuple(Area(s, city) for s in states), topic, _texts(pairs), lang,
                    channels or CHANNELS, languages, when)
        spec.check(content.languages)
    except (BroadcastError, AccountError) as exc:
        raise click.ClickException(str(exc)) from exc
    reach = audience(client, spec)
    click.echo(f"{reach.total} people ({reach.opted_out} more stopped alerts and will not "
               f"get it).")
    for title, counts in (("area", reach.areas), ("language", reach.languages),
                          ("channel", reach.channels)):
        click.echo(f"  by {title}: " + ", ".join(f"{k} {v}" for k, v in counts.most_common()))
    if reach.total == 0:
        raise click.ClickException("Nobody subscribed to this area and topic: nothing sent.")
    if not yes and not click.confirm("Send it?"):
        raise click.Abort()
    found = Broadcasts(client).create(spec, needs_approval=False, now=dt.datetime.now(dt.UTC),
                                      reach=reach.total)
    audit.record(client, "cli", "broadcast.create", found.id, audience=reach.total,
                 areas=[a.label() for a in spec.areas], topic=topic)
    launch(client, found.id)
    click.echo(f"Alert {found.id} " + (f"scheduled for {send_at} (Mexico City time)."
                                        if when else "is on its way."))
    if watch and not when:
        _watch(client, found.id)


@broadcast.command("watch")
@click.argument("bid")
def watch(bid: str) -> None:
    """Show the progress of alert BID until it is done or cancelled."""
    client, _content = _parts()
    _watch(client, bid)


def _watch(client, bid: str, every: float = 0.5) -> None:
    from bot.broadcasts import Broadcasts

    book = Broadcasts(client)
    found = book.get(bid)
    if found is None:
        raise click.ClickException(f"No alert {bid}.")
    width = 30
    while True:
        p = found.progress()
        filled = width * p["percent"] // 100
        line = (f"[{'#' * filled}{'.' * (width - filled)}] {p['percent']:3d}%  "
                f"sent {p['sent']}  delivered {p['delivered']}  failed {p['failed']}  "
                f"skipped {p['skipped']}  queued {p['queued']}  ({p['status']})")
        if sys.stdout.isatty():
            click.echo("\r" + line, nl=False)
        if p["status"] in ("done", "cancelled", "awaiting_approval"):
            click.echo(("\n" if sys.stdout.isatty() else "") + line)
            return
        time.sleep(every)
        found = book.get(bid)


@broadcast.command("list")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 500))
def list_(limit: int) -> None:
    """The newest alerts: id, created, status, progress, areas, organization."""
    from bot.broadcasts import Broadcasts

    client, _content = _parts()
    for b in Broadcasts(client).recent(limit):
        p = b.progress()
        areas = "; ".join(a.label() for a in b.spec.areas)
        click.echo(f"{b.id}  {b.times.get('created', '')[:16]}  {b.status:17} "
                   f"{p['percent']:3d}% of {p['total']:<7} {areas}  ({b.spec.org_name})")


@broadcast.command("cancel")
@click.argument("bid")
def cancel(bid: str) -> None:
    """Stop alert BID: whoever has not got it yet never will."""
    from bot import audit
    from bot.broadcasts import Broadcasts

    client, _content = _parts()
    if not Broadcasts(client).cancel(bid, dt.datetime.now(dt.UTC)):
        raise click.ClickException(f"Alert {bid} is not waiting or sending.")
    audit.record(client, "cli", "broadcast.cancel", bid)
    click.echo(f"Alert {bid} cancelled.")
