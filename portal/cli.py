"""Command-line tasks: flask seed demo, flask users create."""

from __future__ import annotations

import sys

import click
import pyotp
from flask import Flask, current_app
from flask.cli import AppGroup

from portal import submissions
from portal.backup_cli import backup_cli
from portal.extensions import db
from portal.models import Role
from portal.secrets_cli import secrets_cli
from portal.services import accounts, demo
from portal.services.errors import DomainError

seed_cli = AppGroup("seed", help="Load data.")
users_cli = AppGroup("users", help="Manage user accounts.")

USAGE_ERROR = 2


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(USAGE_ERROR)


@seed_cli.command("demo")
@click.option("--force", is_flag=True, help="Seed even outside development (never on a live council system).")
@click.option("--small", is_flag=True, help="Leave out the academic year of history behind the oversight dashboard.")
def seed_demo_command(force: bool, small: bool) -> None:
    """Create the demo DPS, lots, services, providers and sign-ins (idempotent)."""
    if current_app.config["PORTAL_ENV"] != "development" and not force:
        _fail("demo data has known passwords; it is seeded only when PORTAL_ENV=development (or with --force)")
    sign_ins = demo.seed_demo(full_year=not small)
    click.echo("Demo sign-ins (password for every account: %s)" % demo.DEMO_PASSWORD)
    for sign_in in sign_ins:
        click.echo(f"  {sign_in.role.value:<9} {sign_in.email:<38} {sign_in.organisation}")
    click.echo(
        f"Managers and providers also need a two-factor code: add the key {demo.DEMO_TOTP_SECRET} to an "
        "authenticator app, or run: PORTAL_ENV=development .venv/bin/flask --app wsgi seed code"
    )


@seed_cli.command("scale")
@click.option("--size", "size_name", type=click.Choice(["S", "M", "L"]), required=True, help="S, M or L (see the README).")
@click.option("--seed", default=2026, show_default=True, help="The random seed: the same seed writes the same rows.")
@click.option("--force", is_flag=True, help="Seed even outside development (never on a live council system).")
def seed_scale_command(size_name: str, seed: int, force: bool) -> None:
    """Load a large, realistic data set for measuring performance, into a database with no providers yet."""
    import time

    from portal.services import scale_seed

    if current_app.config["PORTAL_ENV"] != "development" and not force:
        _fail("scale data has known passwords; it is seeded only when PORTAL_ENV=development (or with --force)")
    size = scale_seed.SIZES[size_name]
    started = time.monotonic()
    with click.progressbar(length=size.referrals, label=f"Size {size_name}: referrals", file=sys.stderr) as bar:
        shown = 0

        def progress(done: int, total: int) -> None:
            nonlocal shown
            bar.update(done - shown)
            shown = done

        try:
            counts = scale_seed.generate(size, seed=seed, progress=progress)
        except scale_seed.AlreadyHasData as error:
            db.session.rollback()
            _fail(str(error))
    for table, count in counts.items():
        click.echo(f"  {table:<28} {count:>10,}")
    click.echo(f"{sum(counts.values()):,} rows in {time.monotonic() - started:.1f} s (size {size_name}, seed {seed})")
    click.echo(
        f"Sign in as {scale_seed.MANAGER_EMAIL}, officer1@scale.invalid or provider1@scale.invalid with the password "
        f"{scale_seed.SCALE_PASSWORD} (two-factor key {scale_seed.SCALE_TOTP_SECRET})"
    )


@seed_cli.command("code")
def demo_code_command() -> None:
    """Print the current two-factor code of the demo managers and providers (development only)."""
    if current_app.config["PORTAL_ENV"] != "development":
        _fail("demo two-factor codes are printed only when PORTAL_ENV=development")
    click.echo(pyotp.TOTP(demo.DEMO_TOTP_SECRET).now())


@users_cli.command("create")
@click.argument("email")
@click.option("--name", required=True, help="The person's full name.")
@click.option("--role", required=True, help="officer, provider or manager.")
@click.option("--service", "service_name", help="An officer's council service, e.g. SEND.")
@click.option("--provider", "provider_name", help="A provider user's organisation.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input instead of a prompt.")
def create_user_command(email, name, role, service_name, provider_name, password_stdin) -> None:
    """Create a user who can sign in with a password."""
    if role not in {r.value for r in Role}:
        _fail(f"unknown role {role!r}: choose officer, provider or manager")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = accounts.create_user(
            email=email,
            name=name,
            role=role,
            password=password,
            service_name=service_name,
            provider_name=provider_name,
        )
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        _fail(error.message)
    click.echo(f"Created {user.role.value} {user.email} ({user.organisation_name})")


outbox_cli = AppGroup("outbox", help="Send the mail waiting in the outbox.")


@outbox_cli.command("send")
@click.option("--watch", is_flag=True, help="Keep sending until interrupted (for development; use cron in production).")
@click.option("--interval", default=10, show_default=True, type=click.IntRange(min=1), help="Seconds between passes.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(min=1), help="Most messages a pass sends.")
def outbox_send_command(watch: bool, interval: int, limit: int) -> None:
    """Send the messages that are due; print "sent N, failed M, given up G, waiting K"."""
    import logging
    import time

    from sqlalchemy.exc import SQLAlchemyError

    from portal.services import outbox

    logger = current_app.logger
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)  # MAIL_TO_LOG writes the mail at INFO
    if not watch:
        report = outbox.send_due(current_app.config, limit=limit)
        click.echo(_outbox_summary(report))
        return
    where = "to the log" if current_app.config["MAIL_TO_LOG"] else "by SMTP"
    every = "second" if interval == 1 else f"{interval} seconds"
    click.echo(f"Sending mail from the outbox {where} every {every} (Ctrl-C to stop).")
    try:
        while True:
            try:
                report = outbox.send_due(current_app.config, limit=limit)
            except SQLAlchemyError as error:
                db.session.rollback()
                click.echo(f"Error: the database could not be read ({type(error).__name__}); trying again", err=True)
            else:
                if report.sent or report.failed:
                    click.echo(_outbox_summary(report))
            db.session.remove()
            time.sleep(interval)
    except KeyboardInterrupt:
        click.echo("Stopped sending mail.")


def _outbox_summary(report) -> str:
    """One run in a line; "failed" counts every failed try, "given up" those of them that will not be tried again."""
    return f"sent {report.sent}, failed {report.failed}, given up {report.given_up}, waiting {report.waiting}"


compliance_cli = AppGroup("compliance", help="Keep providers' compliance documents current.")


@compliance_cli.command("check")
@click.option(
    "--date", "on_date", type=click.DateTime(formats=["%Y-%m-%d"]), help="Check as on this day (default: today, UK)."
)
def compliance_check_command(on_date) -> None:
    """Remind providers 30 and 7 days before a document expires, tell the manager when a mandatory one has expired
    (each once: safe to run again); print a one-line summary."""
    from portal.clock import london_today
    from portal.services import compliance

    report = compliance.check(on_date.date() if on_date else london_today())
    click.echo(report.summary)


attendance_cli = AppGroup("attendance", help="Placement attendance.")


@attendance_cli.command("alerts")
def attendance_alerts_command() -> None:
    """Raise today's attendance alerts (an unexplained absence, no morning mark by 11:00, no afternoon mark by 15:00)
    and tell the officer and the safeguarding lead; each alert once, so cron runs it every 30 minutes."""
    from portal import clock
    from portal.services import attendance

    raised = attendance.raise_alerts(clock.now())
    db.session.commit()
    click.echo(f"{raised} attendance alert{'s' if raised != 1 else ''} raised")


audit_cli = AppGroup("audit", help="The tamper-evident audit trail.")


def _anchors(_context, _parameter, values: tuple[str, ...]):
    from portal.services import audit_chain

    try:
        return [audit_chain.parse_anchor(value) for value in values]
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@audit_cli.command("verify")
@click.option(
    "--anchor", "anchors", multiple=True, callback=_anchors, metavar="SEQ:HASH",
    help="An anchor printed earlier by flask audit anchor: the event at SEQ must still have HASH. Repeatable.",
)  # fmt: skip
def audit_verify_command(anchors) -> None:
    """Check the audit trail's hash chain, and any anchors given: print "Audit chain intact: N events" (exit 0), or
    the first broken link or rewritten anchor (exit 1)."""
    from portal.services import audit_chain

    result = audit_chain.verify()
    problems = [problem for anchor in anchors if (problem := audit_chain.check_anchor(anchor))] if result.intact else []
    db.session.rollback()
    if not result.intact:
        click.echo(result.message, err=True)
        sys.exit(1)
    if problems:
        for problem in problems:
            click.echo(f"Audit chain rewritten: {problem}", err=True)
        sys.exit(1)
    held = f", and {len(anchors)} anchor{'s' if len(anchors) != 1 else ''} held" if anchors else ""
    click.echo(result.message + held)


@audit_cli.command("anchor")
def audit_anchor_command() -> None:
    """Print the chain's head as "audit anchor SEQ:HASH at TIME", to be kept away from the database (a log shipped
    elsewhere, an email) and given back to flask audit verify --anchor."""
    from portal import clock
    from portal.services import audit_chain

    anchor = audit_chain.take_anchor()
    db.session.rollback()
    if anchor is None:
        click.echo("The audit trail is empty: there is nothing to anchor yet")
        return
    click.echo(f"audit anchor {anchor} at {clock.now().isoformat(timespec='seconds')}")


forms_cli = AppGroup("forms", help="The single-use tokens of the forms that create something.")


@forms_cli.command("forget-tokens")
@click.option(
    "--days", default=submissions.KEEP_CLAIMS.days, show_default=True, type=click.IntRange(min=1),
    help="Keep the tokens of this many days.",
)
def forms_forget_tokens_command(days: int) -> None:
    """Delete the claimed form tokens older than --days (no form that old can be sent again: its CSRF token ended with
    its sign-in session); print how many. Cron runs it once a day."""
    from datetime import timedelta

    forgotten = submissions.forget_old_claims(keep=timedelta(days=days))
    db.session.commit()
    tokens = "form token" if forgotten == 1 else "form tokens"
    click.echo(f"{forgotten} {tokens} older than {days} day{'' if days == 1 else 's'} deleted")


def register_cli(app: Flask) -> None:
    app.cli.add_command(forms_cli)
    app.cli.add_command(seed_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(outbox_cli)
    app.cli.add_command(compliance_cli)
    app.cli.add_command(attendance_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(backup_cli)
    app.cli.add_command(secrets_cli)
