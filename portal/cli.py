"""Command-line tasks: flask seed demo, flask users create."""

from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from portal.extensions import db
from portal.models import Role
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
def seed_demo_command(force: bool) -> None:
    """Create the demo DPS, lots, services, providers and sign-ins (idempotent)."""
    if current_app.config["PORTAL_ENV"] != "development" and not force:
        _fail("demo data has known passwords; it is seeded only when PORTAL_ENV=development (or with --force)")
    sign_ins = demo.seed_demo()
    click.echo("Demo sign-ins (password for every account: %s)" % demo.DEMO_PASSWORD)
    for sign_in in sign_ins:
        click.echo(f"  {sign_in.role.value:<9} {sign_in.email:<38} {sign_in.organisation}")


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


def register_cli(app: Flask) -> None:
    app.cli.add_command(seed_cli)
    app.cli.add_command(users_cli)
