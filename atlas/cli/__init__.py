"""The `atlas` command: Flask's CLI group with the atlas's own commands."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from atlas.resources import PROJECTS_FILE
from atlas.store import STATUSES


def _echo_json(obj: dict) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False))


def _store():
    from atlas.web.extensions import get_store

    return get_store()


def get_geocode():
    from atlas.web.extensions import get_geocode as configured

    return configured()


#: What `atlas init --update-curated` takes from the curated file into a record already
#: stored: its texts and place as the sources state them, never its status, confirmation or
#: what an office recorded about it.
CURATED_TEXT = (
    "name",
    "organisation",
    "description",
    "location_note",
    "source",
    "source_date",
    "website",
    "tags",
    "fields",
    "street",
    "postcode",
    "city",
)


@click.command("init")
@click.option(
    "--update-curated",
    is_flag=True,
    help="Also take the curated file's texts into curated projects already stored (after a "
    "release corrected them).",
)
@with_appcontext
def init_command(update_curated: bool):
    """Create the schema and load the curated projects (running it again changes nothing)."""
    from atlas.core.projects import clean_rows, read_rows

    store = _store()
    store.create_schema()
    records, errors = clean_rows(
        read_rows(PROJECTS_FILE.read_text(encoding="utf-8"), PROJECTS_FILE.name)
    )
    for err in errors:
        click.echo(f"{PROJECTS_FILE.name}, {err}", err=True)
    if errors:
        raise click.ClickException("the curated data has errors; nothing loaded")
    counts = store.save_all(records, replace=False)
    click.echo(
        f"Database ready ({_safe_url(store.url)}): {counts['added']} curated projects "
        f"added, {counts['unchanged']} already present."
    )
    texts = [{k: v for k, v in r.items() if k in ("id", *CURATED_TEXT)} for r in records]
    outcomes: dict = {}
    changed = store.save_all(texts, outcomes=outcomes, dry_run=not update_curated)["updated"]
    if changed and update_curated:
        click.echo(f"{changed} curated projects took the corrected texts of {PROJECTS_FILE.name}.")
    elif changed:
        ids = ", ".join(sorted(i for i, (outcome, _) in outcomes.items() if outcome == "updated"))
        click.echo(
            f"{changed} curated projects stored here differ from {PROJECTS_FILE.name} ({ids}); "
            "`atlas init --update-curated` takes the file's texts."
        )


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@click.command("migrate")
@with_appcontext
def migrate_command():
    """Apply the schema migrations (Alembic) to the configured database."""
    store = _store()
    state = store.create_schema()
    if state.status == "newer":
        click.echo(
            f"Schema of {_safe_url(store.url)} is at revision {state.revision}, newer than this "
            f"release knows ({state.head}); left as it is."
        )
        return
    click.echo(f"Schema of {_safe_url(store.url)} is up to date (revision {state.head}).")


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--sheet", help="The sheet (or GeoPackage layer) to read; default: the first.")
@click.option("--dry-run", is_flag=True, help="Check and report every row; change nothing.")
@click.option(
    "--skip-invalid",
    is_flag=True,
    help="Import the valid rows even if others fail (they are still reported).",
)
@click.option(
    "--region",
    type=click.Choice(["braunschweig", "leine-weser", "lueneburg", "weser-ems"]),
    help="The office whose list it is: rows whose point lies in another region are refused.",
)
@with_appcontext
def import_command(
    file: Path, sheet: str | None, dry_run: bool, skip_invalid: bool, region: str | None
):
    """Import a list of projects: .xlsx, .ods, CSV (any common dialect), GeoJSON or GeoPackage,
    with German or English column headers; rows without coordinates are geocoded.

    Reports every row (added, updated, unchanged, refused with every reason; an ambiguous place
    with its candidates). A file with any refused row imports nothing unless --skip-invalid is
    given. Importing the same list again changes nothing.
    """
    from atlas.core import importing

    store = _store()
    store.create_schema()
    try:
        sheet_ = importing.read_file(file.read_bytes(), file.name, sheet)
    except importing.FileError as exc:
        raise click.ClickException(str(exc)) from None
    if sheet_.unknown:
        click.echo(
            f"{file.name}: columns not imported (unknown): {', '.join(sheet_.unknown)}", err=True
        )

    def progress(items):
        with click.progressbar(items, label=f"Prüfe {file.name}", file=sys.stderr) as bar:
            yield from bar

    planned = importing.plan(
        sheet_.rows,
        geocode=get_geocode(),
        region=region,
        progress=progress if len(sheet_.rows) > 50 else None,
    )
    refused = [p for p in planned if p.status != importing.OK]
    for p in refused:
        click.echo(f"{file.name}, {sheet_.unit} {p.row}: " + "; ".join(p.reasons), err=True)
        for c in p.candidates:
            click.echo(
                f"    candidate: {c['label']} ({c['district']}), {c['lat']:.5f}, {c['lon']:.5f}",
                err=True,
            )
    if refused and not skip_invalid:
        raise click.ClickException(
            f"{len(refused)} of {len(planned)} rows are invalid; nothing "
            f"imported (use --skip-invalid to import the valid rows)"
        )
    result = importing.apply(
        store,
        planned,
        file_name=file.name,
        sheet=sheet_.sheet,
        region=region,
        actor="atlas import",
        dry_run=dry_run,
    )
    for p in planned:
        if p.status == importing.OK:
            click.echo(
                f"{file.name}, row {p.row}: {result.outcomes[p.record['id']]} ({p.record['id']})"
            )
    counts = result.counts
    if result.import_id:
        click.echo(
            f"Import {result.import_id}; undo it within 24 hours with: "
            f"atlas import-undo {result.import_id}"
        )
    click.echo(
        f"{'Dry run, nothing changed' if dry_run else 'Imported'} {file.name}: "
        f"{counts['added']} added, {counts['updated']} updated, "
        f"{counts['unchanged']} unchanged, {len(refused)} skipped as invalid."
    )


@click.command("import-undo")
@click.argument("import_id")
@with_appcontext
def import_undo_command(import_id: str):
    """Undo an import as a whole within 24 hours (its id is printed by `atlas import`)."""
    from atlas.core import importing

    try:
        counts = importing.undo(_store(), import_id, "atlas import-undo")
    except importing.UndoError as exc:
        raise click.ClickException(
            {
                "missing": f"there is no import '{import_id}'",
                "undone": f"import '{import_id}' was undone already",
                "too_late": f"import '{import_id}' is older than 24 hours",
            }[exc.code]
        ) from None
    click.echo(
        f"Import {import_id} undone: {counts['removed']} removed, {counts['restored']} restored."
    )


@click.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["geojson", "csv", "excel"]),
    default="geojson",
    help="csv: what `atlas import` reads back; excel: CSV for German spreadsheets "
    "(';', German column names, decimal comma). Both neutralise cells a spreadsheet would "
    "run as formulas.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (default: standard output).",
)
@click.option(
    "--status", type=click.Choice(list(STATUSES) + ["all"]), default="published", show_default=True
)
@with_appcontext
def export_command(fmt: str, output: Path | None, status: str):
    """Export projects as GeoJSON or CSV (UTF-8 with byte order mark)."""
    from atlas.core.projects import write_csv, write_geojson
    from atlas.core.tables import FLAVOURS

    store = _store()
    store.create_schema()
    projects = store.projects(None if status == "all" else status)
    if fmt == "geojson":
        write = write_geojson
    else:

        def write(items, out):
            write_csv(items, out, FLAVOURS[fmt])

    if output is None:
        write(projects, sys.stdout)
    else:
        with open(output, "w", encoding="utf-8", newline="") as out:
            write(projects, out)
        click.echo(f"Wrote {len(projects)} projects to {output}.", err=True)


@click.command("geocode")
@click.argument("query")
@with_appcontext
def geocode_command(query: str):
    """Geocode QUERY, or one query per line from standard input with "-".

    Exit status in single mode: 0 found, 1 not found, 3 ambiguous.
    """
    resolve = get_geocode()
    if query == "-":
        for line in sys.stdin:
            if line.strip():
                _echo_json(resolve(line.rstrip("\n")))
        return
    answer = resolve(query)
    _echo_json(answer)
    sys.exit({"ok": 0, "ambiguous": 3}.get(answer["status"], 1))


@click.command("locate")
@click.argument("lat")
@click.argument("lon", required=False)
def locate_command(lat: str, lon: str | None):
    """District and region of LAT LON, or of one "lat,lon" per line from standard input with "-".

    Exit status in single mode: 0 inside Lower Saxony, 1 outside, 2 malformed.
    """
    from atlas.geo import regions

    if lat == "-":
        _locate_stream(sys.stdin)
        return
    try:
        if lon is None:
            raise ValueError("give LAT and LON (or - to read lines from standard input)")
        answer = regions.locate_one(_number(lat, "lat"), _number(lon, "lon"))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    _echo_json(answer)
    sys.exit(1 if answer.get("error") else 0)


def _number(text: str, name: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise ValueError(f"{name} '{text}' is not a number") from None


def _locate_stream(lines) -> None:
    """All well-formed lines are located in one vectorised call; a bad line gets its own error."""
    import numpy as np

    from atlas.geo import regions

    parsed = []
    for line in lines:
        if not line.strip():
            continue
        parts = line.replace(";", ",").split(",")
        try:
            if len(parts) != 2:
                raise ValueError(f"line '{line.strip()}' is not 'lat,lon'")
            lat, lon = _number(parts[0], "lat"), _number(parts[1], "lon")
            if not (
                np.isfinite(lat) and np.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180
            ):
                raise ValueError(f"line '{line.strip()}' is not a valid coordinate")
            parsed.append((lat, lon, None))
        except ValueError as exc:
            parsed.append((None, None, str(exc)))
    ok = [i for i, p in enumerate(parsed) if p[2] is None]
    codes = (
        regions.locate(
            np.array([parsed[i][0] for i in ok], dtype=float),
            np.array([parsed[i][1] for i in ok], dtype=float),
        )
        if ok
        else []
    )
    code_at = dict(zip(ok, codes))
    for i, (lat, lon, error) in enumerate(parsed):
        if error:
            _echo_json(
                {
                    "lat": None,
                    "lon": None,
                    "district_code": None,
                    "district": None,
                    "region": None,
                    "region_name": None,
                    "error": error,
                }
            )
        else:
            _echo_json(regions.describe(lat, lon, code_at[i]))


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int, help="Threads per process.")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Processes; more than one runs under gunicorn, all sharing the store.",
)
@with_appcontext
def serve_command(host: str, port: int, threads: int, workers: int):
    """Serve the atlas with a production WSGI server (waitress; gunicorn for several workers)."""
    from sqlalchemy.exc import OperationalError

    from atlas.config import ConfigurationProblem
    from atlas.core.retention import purge
    from atlas.web.instances import startup_checks

    for notice in startup_checks(current_app, workers):
        click.echo(notice, err=True)
    try:
        _store().create_schema()
    except OperationalError as exc:
        # An unreachable database: one line, not a traceback.
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise ConfigurationProblem(
            f"ATLAS_DATABASE_URL={_safe_url(_store().url)}: cannot reach the database ({reason})"
        ) from None
    purge(_store(), current_app.config["RETENTION_DAYS"])
    if workers == 1:  # issue 21: due reminders once a day (several workers: `atlas reminders`)
        from atlas.web.confirm import start_daily

        start_daily(current_app._get_current_object())
    from atlas.web.alerts import start_runner

    start_runner(current_app._get_current_object())  # issue 22: the alert digests
    # Everything loaded so far lives as long as the process: keep it out of the collector's
    # full passes, which would otherwise walk it all again during large searches.
    import gc

    gc.collect()
    gc.freeze()
    click.echo(f"Gemeinsame Sache läuft auf http://{host}:{port}/ (Strg+C beendet)")
    if workers == 1:
        from waitress import serve

        serve(
            current_app._get_current_object(), host=host, port=port, threads=threads, ident="atlas"
        )
        return
    _gunicorn(f"{host}:{port}", workers, threads)


def _freeze_after_load(_worker) -> None:
    """What a worker loaded lives as long as it does: out of the collector's full passes."""
    import gc

    gc.collect()
    gc.freeze()


def _gunicorn(bind: str, workers: int, threads: int) -> None:
    """Each worker builds its own app (and database pool) after the fork."""
    from gunicorn.app.base import BaseApplication

    from atlas.web.app import create_app

    class Server(BaseApplication):
        def load_config(self):
            # keepalive 5 s (gunicorn's default is 2): a browser or a load balancer that asks
            # every few seconds keeps its connection instead of opening a new one each time.
            for key, value in {
                "bind": bind,
                "workers": workers,
                "threads": threads,
                "worker_class": "gthread",
                "accesslog": None,
                "graceful_timeout": 10,
                "keepalive": 5,
                "post_worker_init": _freeze_after_load,
            }.items():
                self.cfg.set(key, value)

        def load(self):
            return create_app()

    Server().run()


@click.command("reminders")
@click.option("--dry-run", is_flag=True, help="List the projects due, send nothing.")
@with_appcontext
def reminders_command(dry_run: bool):
    """Ask the contacts of projects not confirmed for ATLAS_CONFIRM_AFTER_DAYS whether they still
    run (only contacts who agreed to be asked; `atlas serve` does this once a day by itself)."""
    from atlas.web.confirm import send_due

    due = send_due(current_app._get_current_object(), dry_run=dry_run)
    for project in due:
        click.echo(f"{project.id}\t{project.contact_email}")
    verb = "due" if dry_run else "sent"
    click.echo(f"{len(due)} reminder(s) {verb}.", err=True)


@click.command("purge")
@click.option(
    "--days",
    type=click.IntRange(1),
    help="Retention period in days (default: ATLAS_RETENTION_DAYS, 90).",
)
@with_appcontext
def purge_command(days: int | None):
    """Delete what is no longer needed: contact data and mails of rejected submissions and sent
    mails older than the retention period, and ended login sessions. `atlas serve` runs it when
    it starts; run it daily (cron, systemd timer) on a server that runs for long."""
    from atlas.core.retention import purge

    store = _store()
    store.create_schema()
    days = days or current_app.config["RETENTION_DAYS"]
    done = purge(store, days)
    click.echo(
        f"Purged (older than {days} days): contact data of {done['contacts']} rejected "
        f"submission(s), {done['mails']} mail(s), {done['sessions']} ended session(s), "
        f"{done['alerts']} unconfirmed alert sign-up(s)."
    )


@click.group("alerts")
def alerts_group():
    """E-mail alerts without an account (issue 22)."""


@alerts_group.command("send")
@click.option("--dry-run", is_flag=True, help="Only say what would be sent.")
@with_appcontext
def alerts_send_command(dry_run: bool):
    """Send the due digests now: daily and weekly sign-ups with new projects (`atlas serve`
    does it by itself every ATLAS_ALERTS_INTERVAL seconds)."""
    from atlas.web.alerts import send_due

    _store().create_schema()
    report = send_due(current_app._get_current_object(), dry_run=dry_run)
    digests = [r for r in report if r["projects"]]
    for entry in digests:
        click.echo(f"alert {entry['id']}: {len(entry['projects'])} new project(s)")
    verb = "would send" if dry_run else "sent"
    click.echo(f"{len(report)} alert(s) due, {verb} {len(digests)} digest(s).")


@click.command("erase")
@click.argument("project_id")
@with_appcontext
def erase_command(project_id: str):
    """Delete a project or submission with all personal data (its mails, the texts in its audit
    entries), e.g. on a request for erasure (DSGVO Art. 17); the audit log keeps that it went."""
    from atlas.core.retention import erase

    store = _store()
    store.create_schema()
    if not erase(store, project_id, "atlas erase"):
        raise click.ClickException(f"there is no project '{project_id}'")
    click.echo(f"Erased {project_id} with its mails and the texts of its audit entries.")


@click.command("demo-data")
@click.option(
    "--count",
    "-n",
    type=click.IntRange(0, 1_000_000),
    required=True,
    help="How many synthetic projects (0 removes them).",
)
@click.option("--seed", type=int, default=0, show_default=True)
@with_appcontext
def demo_data_command(count: int, seed: int):
    """Fill the store with synthetic projects for tests and benchmarks (flagged as synthetic).

    Earlier synthetic projects are replaced; curated and submitted ones stay untouched.
    """
    from atlas.core.demo import synthetic_projects

    store = _store()
    store.create_schema()
    n = store.replace_synthetic(synthetic_projects(count, seed))
    click.echo(
        f"{n} synthetic projects in the store (seed {seed}); they are marked "
        f"'Testdaten' everywhere."
    )


@click.group("users")
def users_group():
    """Accounts of the regional offices."""


def _read_password() -> str:
    """From a prompt (asked twice), or the first line of standard input when that is not a
    terminal; never from the command line, where other users of the machine could read it."""
    if sys.stdin.isatty():
        return click.prompt("Passwort", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\n")


@users_group.command("add")
@click.argument("email")
@click.option(
    "--region",
    type=click.Choice(["braunschweig", "leine-weser", "lueneburg", "weser-ems"]),
    help="The officer's regional office.",
)
@click.option("--admin", is_flag=True, help="A statewide administrator (all regions).")
@with_appcontext
def users_add_command(email: str, region: str | None, admin: bool):
    """Add an account; the password is asked for (or read from standard input), never an argument."""
    from atlas.core.accounts import AccountError, add_user

    password = _read_password()
    store = _store()
    store.create_schema()
    try:
        user = add_user(store, email, password, region, admin)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Added {user.email} ({'administrator' if user.is_admin else user.region}).")


@users_group.command("list")
@with_appcontext
def users_list_command():
    """List the accounts: e-mail, region (or admin), last login (UTC)."""
    from atlas.core.accounts import users

    store = _store()
    store.create_schema()
    for user in users(store):
        last = user.last_login_at.strftime("%Y-%m-%d %H:%M") if user.last_login_at else "never"
        click.echo(f"{user.email}\t{'admin' if user.is_admin else user.region}\t{last}")


def _on_account(change, email: str, *args):
    """`change(store, email, *args)` from atlas.core.accounts; its AccountError as the message."""
    from atlas.core.accounts import AccountError

    store = _store()
    store.create_schema()
    try:
        return change(store, email, *args)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None


@users_group.command("passwd")
@click.argument("email")
@with_appcontext
def users_passwd_command(email: str):
    """Set a new password (asked for, or read from standard input); ends every session of the
    account."""
    from atlas.core.accounts import change_password

    ended = _on_account(change_password, email, _read_password())
    click.echo(f"New password for {email.strip().lower()}; {ended} session(s) ended.")


@users_group.command("remove")
@click.argument("email")
@with_appcontext
def users_remove_command(email: str):
    """Delete an account and end its sessions at once."""
    from atlas.core.accounts import remove_user

    _on_account(remove_user, email)
    click.echo(f"Removed {email.strip().lower()}; its sessions have ended.")


@users_group.command("logout")
@click.argument("email")
@with_appcontext
def users_logout_command(email: str):
    """End every session of an account (a lost or shared device), keeping the account."""
    from atlas.core.accounts import end_all_sessions

    ended = _on_account(end_all_sessions, email)
    click.echo(f"{ended} session(s) of {email.strip().lower()} ended.")


@users_group.command("totp")
@click.argument("email")
@click.option("--off", is_flag=True, help="Remove the account's two-factor login instead.")
@with_appcontext
def users_totp_command(email: str, off: bool):
    """Enrol an account in two-factor login: prints the otpauth:// URI and the secret for an
    authenticator app (a new secret replaces an old one). Officers can also enrol themselves
    at /verwaltung/zwei-faktor."""
    from atlas.core.accounts import enrol_totp, new_totp_secret, remove_totp, totp_uri

    email = email.strip().lower()
    if off:
        _on_account(remove_totp, email)
        click.echo(f"Two-factor login of {email} removed.")
        return
    secret = new_totp_secret()
    _on_account(enrol_totp, email, secret)
    click.echo(f"Two-factor login of {email} enrolled. Add it to an authenticator app:")
    click.echo(totp_uri(email, secret))
    click.echo(f"Secret: {secret}")


COMMANDS = [
    migrate_command,
    users_group,
    purge_command,
    reminders_command,
    alerts_group,
    erase_command,
    serve_command,
    demo_data_command,
    init_command,
    import_command,
    import_undo_command,
    export_command,
    geocode_command,
    locate_command,
]


def group() -> FlaskGroup:
    """Flask's CLI group with the atlas's commands; the app is built only when a command runs."""
    from atlas.web.app import create_app

    cli = FlaskGroup(create_app=create_app, help=__doc__)
    for command in COMMANDS:
        cli.add_command(command)
    return cli


def main() -> None:
    from atlas.config import ConfigurationProblem

    try:
        group()(prog_name="atlas")
    except ConfigurationProblem as problem:
        # Bad configuration: one line saying what to change, not a traceback.
        click.echo(f"atlas: {problem}", err=True)
        sys.exit(2)
