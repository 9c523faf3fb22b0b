"""flask backup create / restore / verify (portal.services.backup does the work).

Exit status: 0 done and verified, 1 a verification found a difference, 2 the command could not be carried out (a
damaged backup, a target that is not empty, a missing pg_dump ...), with one line saying why.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from portal.config import INSTANCE_DIR
from portal.services import backup

backup_cli = AppGroup("backup", help="Back up the database, restore a backup into an empty database, verify one.")

VERIFY_FAILED = 1
USAGE_ERROR = 2
DEFAULT_DIRECTORY = INSTANCE_DIR / "backups"


def _fail(error: backup.BackupError) -> None:
    click.echo(f"Error: {error}", err=True)
    sys.exit(USAGE_ERROR)


def _print_report(report: backup.Report) -> None:
    for line in backup.describe(report):
        click.echo(line)
    if not report.ok:
        sys.exit(VERIFY_FAILED)


def _configured_url() -> str:
    return current_app.config["SQLALCHEMY_DATABASE_URI"]


@backup_cli.command("create")
@click.option(
    "--to",
    "to_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The backup file to write (default: instance/backups/portal-<UTC time>.dump or .sqlite3).",
)
def backup_create_command(to_path: Path | None) -> None:
    """Back up the configured database (pg_dump -Fc, or SQLite's online backup) and write a manifest beside it."""
    url = _configured_url()
    try:
        to_path = to_path or DEFAULT_DIRECTORY / backup.default_backup_name(url)
        manifest = backup.create(url, to_path)
    except backup.BackupError as error:
        _fail(error)
    snapshot = manifest.snapshot
    click.echo(f"Backed up {backup.shown_url(url)} to {to_path} ({manifest.backup_bytes:,} bytes, {manifest.tool})")
    click.echo(
        f"Manifest {backup.manifest_path(to_path)}: {len(snapshot.tables)} tables, {snapshot.rows:,} rows, "
        f"alembic revision {snapshot.alembic_revision}, {snapshot.documents.count} uploaded document(s)"
    )
    if snapshot.documents.mismatched:
        click.echo(
            f"Warning: {len(snapshot.documents.mismatched)} uploaded document(s) in the database already do not match "
            f"the SHA-256 kept at upload (ids {', '.join(map(str, snapshot.documents.mismatched[:10]))})",
            err=True,
        )


@backup_cli.command("restore")
@click.argument("backup_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--into", "into_url", help="The empty database to restore into (default: the configured DATABASE_URL).")
def backup_restore_command(backup_path: Path, into_url: str | None) -> None:
    """Restore a backup into an empty database, then check every table against the backup's manifest."""
    url = into_url or _configured_url()
    try:
        report = backup.restore(backup_path, url)
    except backup.BackupError as error:
        _fail(error)
    click.echo(f"Restored {backup_path} into {backup.shown_url(url)}")
    _print_report(report)


@backup_cli.command("verify")
@click.argument("backup_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--against", "against_url", help="Also compare this database (a restored copy) with the manifest.")
def backup_verify_command(backup_path: Path, against_url: str | None) -> None:
    """Check a backup file against its manifest; with --against, check a database against it too."""
    try:
        report = backup.verify_database(backup_path, against_url) if against_url else backup.verify_file(backup_path)
    except backup.BackupError as error:
        _fail(error)
    _print_report(report)
