"""The `faro` command."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import click

from bot.broadcast_cli import broadcast
from bot.errors import FaroError


@click.group()
def main() -> None:
    """Faro: a messaging assistant for people on the move in Mexico."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--data", default=".faro", show_default=True,
              help="Folder for the embedded Redis server's data.")
def serve(host: str, port: int, data: str) -> None:
    """Run everything for development: Redis (embedded when REDIS_URL is unset), web, worker."""
    from werkzeug.serving import run_simple

    from bot.embedded import EmbeddedRedis
    from bot.web import create_app

    os.environ.setdefault("FARO_ENV", "development")
    os.environ.setdefault("FARO_PUBLIC_URL", f"http://{host}:{port}")
    # Stop cleanly on SIGTERM too, so the worker and the embedded server stop with us.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = None
    if not os.environ.get("REDIS_URL"):
        server = EmbeddedRedis(Path(data) / "redis", prefer="valkey", persist=True).start()
        os.environ["REDIS_URL"] = server.url
    worker = subprocess.Popen([sys.executable, "-m", "bot.cli", "worker"], env=os.environ.copy())
    try:
        app = create_app()
        base = f"http://{host}:{port}"
        logins = demo_logins(app)
        click.echo(f"\nFaro is running (development).\n  Simulator: {base}/simulator\n"
                   f"  Console:   {base}/staff/\n{logins}"
                   f"  Health:    {base}/healthz\n  Redis:     {os.environ['REDIS_URL']}\n"
                   "Press Ctrl+C to stop.\n")
        run_simple(host, port, app, threaded=True, use_reloader=False)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=15)
        if server is not None:
            server.stop()


DEMO_PASSWORD = "faro-demo-password"  # development only: `serve` refuses to run otherwise
DEMO_ACCOUNTS = (("admin@faro.test", "Demo admin", "Faro demo", "admin"),
                 ("legal@faro.test", "Demo legal aid", "Faro demo legal aid", "legal"))


def demo_logins(app) -> str:
    """Create the demo console accounts if missing; the lines that tell how to sign in."""
    from bot.errors import FaroError
    from bot.staff.accounts import Accounts

    faro = app.extensions["faro"]
    if not faro.settings.development:
        return ""
    book = Accounts(faro.redis, faro.settings.data_key)
    lines = []
    for email, name, org, role in DEMO_ACCOUNTS:
        if book.get(book.sid_for(email)) is None:
            try:
                book.add(email, name, org, role, DEMO_PASSWORD)
            except FaroError:
                continue
        lines.append(f"             {role}: {email} / {DEMO_PASSWORD}\n")
    return "".join(lines)


@main.command()
@click.option("--bind", default="0.0.0.0:8000", show_default=True, envvar="FARO_BIND")
@click.option("--workers", default=2, show_default=True, type=int, envvar="WEB_CONCURRENCY")
def web(bind: str, workers: int) -> None:
    """Run the web app under gunicorn (production)."""
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_folder())
    args = gunicorn_command(bind, workers)
    os.execvp(args[0], args)


# The access log: the request id (X-Request-ID, also in the app's own records), method,
# path without its query, status, milliseconds. No client address and no query string.
ACCESS_LOG = '%({x-request-id}o)s "%(m)s %(U)s" %(s)s %(M)sms'


def gunicorn_command(bind: str, workers: int, app: str = "bot:create_app()") -> list[str]:
    """How `faro web` runs gunicorn (scripts/bench_webhook.py serves its baseline the same)."""
    return ["gunicorn", "--bind", bind, "--workers", str(workers), "--access-logfile", "-",
            "--access-logformat", ACCESS_LOG, app]


def metrics_folder() -> Path:
    """An empty folder where each gunicorn worker keeps its metrics, so that a scrape of
    any worker adds up all of them (prometheus_client's multiprocess mode)."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    folder = Path(given) if given else Path(tempfile.mkdtemp(prefix="faro-metrics-"))
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.db"):  # an earlier run's counts
        old.unlink()
    return folder


@main.command()
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
def worker(burst: bool) -> None:
    """Run an RQ worker on Faro's queues, with the scheduler."""
    from bot.connection import connect
    from bot.logs import configure_logging
    from bot.settings import Settings
    from worker import retention
    from worker.queues import all_queues, queue
    from worker.runner import FaroWorker

    settings = Settings.load()
    # JSON lines for RQ's own records too; each record in a job carries the job's id.
    configure_logging(settings.log_level, ("faro", "rq"))
    client = connect(settings)
    retention.schedule(queue(client), dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5))
    # Its first maintenance, at start, revives broadcasts a dead worker left unfinished.
    FaroWorker(all_queues(client), connection=client).work(burst=burst, with_scheduler=True)


@main.command()
@click.option("--channel", type=click.Choice(["sms", "whatsapp", "telegram"]), default="sms",
              show_default=True, help="Show replies as this channel would.")
@click.option("--as", "who", default="", help="A name for the simulated person (keeps state).")
def chat(channel: str, who: str) -> None:
    """Chat with Faro in the terminal, through the same pipeline as the channels."""
    from bot.channels.simulator import render
    from bot.embedded import EmbeddedRedis
    from bot.message import Inbound
    from bot.settings import Settings
    from bot.web import build

    os.environ.setdefault("FARO_ENV", "development")
    server = None if os.environ.get("REDIS_URL") else EmbeddedRedis().start()
    if server:
        os.environ["REDIS_URL"] = server.url
    faro = build(Settings.load())
    address = f"cli-{who or uuid.uuid4().hex}"
    click.echo("Write a message (Ctrl+D to quit).")
    try:
        while True:
            try:
                text = input("> ")
            except EOFError:
                break
            replies = faro.conversations.handle(Inbound("simulator", address, text=text))
            click.echo(show(render(replies), channel))
    finally:
        if server:
            server.stop()


def show(rendered: dict, channel: str) -> str:
    """One channel's rendering as terminal text."""
    if channel == "telegram":
        out = []
        for call in rendered["telegram"]:
            out.append(call["text"])
            for row in call.get("reply_markup", {}).get("inline_keyboard", []):
                out.append("  " + "  ".join(f"[{b['text']}]" for b in row))
        return "\n\n".join(out)
    parts = rendered[channel]
    if channel == "sms":
        return "\n\n".join(f"{p['body']}\n  ({_segments(p['segments'])})" for p in parts)
    return "\n\n".join(p["body"] for p in parts)


def _segments(count: int) -> str:
    return "1 SMS segment" if count == 1 else f"{count} SMS segments"


@main.group()
def content() -> None:
    """Check and draw the content pack."""


@content.command("check")
@click.option("--dir", "folder", envvar="FARO_CONTENT_DIR", default="",
              help="An operator's content folder laid over the bundled pack.")
@click.option("--max-age-days", default=180, show_default=True, type=int,
              help="Report facts last checked longer ago than this.")
@click.option("--sizes/--no-sizes", default=True, help="Print the SMS size of each message.")
def content_check(folder: str, max_age_days: int, sizes: bool) -> None:
    """Validate every flow and data file; report stale facts and SMS sizes."""
    from bot.content import load_content
    from bot.content.check import check

    try:
        pack = load_content(folder or None)
    except FaroError as exc:
        click.echo(f"Content has problems:\n{exc}", err=True)
        sys.exit(1)
    report = check(pack, max_age_days, dt.date.today())
    if sizes:
        click.echo(f"{'message':34} lang  chars  segments  by SMS")
        for where, lang, chars, seg, sent in report.sizes:
            click.echo(f"{where:34} {lang:4} {chars:6} {seg:9} {sent:7}")
    for line in report.stale:
        click.echo(f"stale: {line}", err=True)
    for line in report.recordings:
        click.echo(f"audio: {line}", err=True)
    for lang, lacking in report.missing.items():
        state = "offered" if lang in pack.languages else "not offered"
        click.echo(f"catalog {lang}: {len(lacking)} strings missing ({state})")
        for msgid in lacking[:20]:
            click.echo(f"  missing: {msgid[:70]!r}")
    nodes = sum(len(f.nodes) for f in pack.flows.values())
    click.echo(f"OK: {len(pack.flows)} flows, {nodes} nodes, {len(pack.facts)} facts, "
               f"languages offered: {', '.join(pack.languages)}; {len(report.stale)} stale; "
               f"{len(pack.audio)} recordings, {len(report.recordings)} audio warnings")
    sys.exit(2 if report.stale else 0)


@content.command("phone-audio")
@click.option("--dir", "folder", envvar="FARO_CONTENT_DIR", default="",
              help="An operator's content folder laid over the bundled pack.")
@click.option("--all", "every", is_flag=True,
              help="Make every copy again (after recording one again), not only the missing.")
def content_phone_audio(folder: str, every: bool) -> None:
    """Make the MP3 copies the voice line plays of recordings in languages Twilio cannot
    speak (needs opusdec and lame: apt-get install opus-tools lame)."""
    from bot.content import load_content
    from bot.content.phone import make_copies

    for path in make_copies(load_content(folder or None), every):
        click.echo(f"wrote {path}")


@content.command("diagram")
@click.argument("flow")
@click.option("--dir", "folder", envvar="FARO_CONTENT_DIR", default="")
def content_diagram(flow: str, folder: str) -> None:
    """Print a Mermaid diagram of FLOW."""
    from bot.content import load_content
    from bot.content.diagram import mermaid

    pack = load_content(folder or None)
    if flow not in pack.flows:
        raise click.BadParameter(f"no flow {flow!r}; flows: {', '.join(sorted(pack.flows))}")
    click.echo(mermaid(pack, flow), nl=False)


@main.group()
def scams() -> None:
    """Review the scam messages people reported."""


@scams.command("list")
@click.option("--weeks", "count", default=4, show_default=True, type=click.IntRange(1, 60),
              help="How many ISO weeks to show, newest first.")
@click.option("--show", is_flag=True, help="Also print the reported texts, decrypted.")
def scams_list(count: int, show: bool) -> None:
    """Per ISO week: how many scam reports came in, and how often each warning sign."""
    from bot.connection import connect
    from bot.scams import Reports
    from bot.settings import Settings

    try:
        settings = Settings.load()
        reports = Reports(connect(settings), settings.data_key)
    except FaroError as exc:
        raise click.ClickException(str(exc)) from exc
    now = dt.datetime.now(dt.UTC)
    texts = dict(reports.weeks(count, now)) if show else {}
    for week, total, signs in reports.tally(count, now):
        counts = ", ".join(f"{code} {n}" for code, n in signs.items())
        noun = "report" if total == 1 else "reports"
        click.echo(f"{week}: {total} {noun}" + (f" ({counts})" if counts else ""))
        for report in texts.get(week, []):
            _echo_report(report)


def _echo_report(report) -> None:
    click.echo(f"  {report.received_at:%Y-%m-%d %H:%M} UTC  "
               f"[{', '.join(report.signs) or 'no signs'}]")
    click.echo("    " + report.text.replace("\n", "\n    "))


@main.group()
def shelters() -> None:
    """Load and list the shelter directory."""


def _directory():
    from bot.connection import connect
    from bot.settings import Settings
    from bot.shelters import Directory

    try:
        return Directory(connect(Settings.load()))
    except FaroError as exc:
        raise click.ClickException(str(exc)) from exc


@shelters.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def shelters_import(file: str) -> None:
    """Check and store the shelters of FILE (YAML or CSV): all of them, or none."""
    from redis.exceptions import RedisError

    directory = _directory()
    try:
        records = directory.load_file(file)
        count = directory.import_records(records)
    except FaroError as exc:
        click.echo(f"Nothing imported. Problems:\n{exc}", err=True)
        sys.exit(1)
    except RedisError as exc:
        raise click.ClickException(f"Redis did not answer: {exc}") from exc
    statuses = [str(r.get("status")) for r in records]
    click.echo(f"Imported {count} shelters: {statuses.count('verified')} shown, "
               f"{statuses.count('to_verify')} to verify, {statuses.count('retired')} retired.")


@shelters.command("list")
def shelters_list() -> None:
    """Print every stored shelter: id, city, status."""
    from redis.exceptions import RedisError

    try:
        entries = _directory().entries()
    except RedisError as exc:
        raise click.ClickException(f"Redis did not answer: {exc}") from exc
    for entry in entries:
        click.echo(f"{entry['id']:40} {entry['city'] or '-':24} {entry['status']}")


@main.group()
def evidence() -> None:
    """Check evidence records exported for legal aid."""


@evidence.command("verify")
@click.argument("export_file", metavar="EXPORT", type=click.Path(exists=True, dir_okay=False))
@click.option("--key", default="", envvar="FARO_EVIDENCE_KEY",
              help="The public key (hex) the export must be signed with; "
                   "see `faro evidence key`.")
def evidence_verify(export_file: str, key: str) -> None:
    """Check that EXPORT is intact: nothing changed, removed, reordered or added."""
    from bot.casefile import describe, verify_export

    try:
        trusted = bytes.fromhex(key) if key else None
    except ValueError as exc:
        raise click.BadParameter("the key is 64 hexadecimal digits", param_hint="--key") from exc
    problems = verify_export(export_file, trusted_key=trusted)
    for problem in problems:
        click.echo(problem)
    if problems:
        sys.exit(1)
    facts = describe(export_file)
    click.echo(f"intact: {facts['count']} items, head {facts['head']}")
    click.echo(f"case {facts['case']}, signed by key {facts['public_key']}")


@evidence.command("key")
def evidence_key() -> None:
    """Print the public key this server signs evidence exports with (to publish)."""
    from bot.casefile import public_key, signing_key
    from bot.settings import Settings

    try:
        settings = Settings.load()
    except FaroError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(public_key(signing_key(settings.data_key)).hex())


@main.group()
def staff() -> None:
    """Console accounts for shelter, legal-aid and coordinating staff."""


@staff.command("add")
@click.option("--email", required=True, help="The email the person signs in with.")
@click.option("--name", required=True, help="Their name, as colleagues see it in the console.")
@click.option("--org", "org_name", required=True,
              help='Their organization, such as "Al Otro Lado"; created when new.')
@click.option("--role", required=True,
              type=click.Choice(["admin", "coordinator", "shelter", "legal"]),  # accounts.ROLES
              help="admin: accounts and audit; coordinator: alerts anywhere, scam reports; "
                   "shelter: their shelter; legal: cases shared with their organization.")
@click.option("--region", default="",
              help='The Mexican state they work in, such as "Chihuahua"; shelter staff '
                   "get their shelter's state when this is left out.")
@click.option("--shelter", default="",
              help="The id of their shelter (see `faro shelters list`), for shelter staff.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from standard input instead of asking twice.")
def staff_add(email: str, name: str, org_name: str, role: str, region: str, shelter: str,
              password_stdin: bool) -> None:
    """Create a console account (password of 12 characters or more); print the org id."""
    from bot import audit
    from bot.staff.accounts import Accounts

    password = (sys.stdin.readline().rstrip("\r\n") if password_stdin else
                click.prompt("Password", hide_input=True, confirmation_prompt=True))
    client, settings = _staff_redis()
    try:
        if shelter:
            _load_shelters(client, settings)
        account = Accounts(client, settings.data_key).add(email, name, org_name, role, password,
                                                          region, shelter)
    except FaroError as exc:
        raise click.ClickException(str(exc)) from exc
    placed = {k: v for k, v in {"region": account.region, "shelter": account.shelter}.items()
              if v}
    audit.record(client, "cli", "staff.add", account.sid, role=role, org=account.org, **placed)
    click.echo(f"Added {account.name} as {role} of {org_name.strip()}.")
    click.echo(f"Organization id: {account.org}")
    if account.region or account.shelter:
        click.echo(f"Region: {account.region or '-'}; shelter: {account.shelter or '-'}")


def _load_shelters(client, settings) -> None:
    """Import the content pack's shelters unless this very pack was imported last."""
    from bot.content import load_content
    from bot.shelters import Directory

    pack = load_content(settings.content_dir or None)
    Directory(client).ensure_loaded(pack.data.get("shelters", {}).get("shelters", []))


@staff.command("list")
def staff_list() -> None:
    """Print every console account: name, email, organization id, role, region, shelter."""
    from bot.staff.accounts import Accounts

    client, settings = _staff_redis()
    book = Accounts(client, settings.data_key)
    for account in book.all():
        click.echo(f"{account.name:28} {book.email(account.sid):36} {account.org:24} "
                   f"{account.role:12} {account.region or '-':20} {account.shelter or '-'}")


def _staff_redis():
    from bot.connection import connect
    from bot.settings import Settings

    try:
        settings = Settings.load()
        return connect(settings), settings
    except FaroError as exc:
        raise click.ClickException(str(exc)) from exc


if __name__ == "__main__":
    main()


main.add_command(broadcast)
