"""`flask secrets rotate`: every secret kept encrypted (portal.encryption) written again under the first key of
DATA_ENCRYPTION_KEY, so the keys after it can be dropped."""

from __future__ import annotations

import click
import sqlalchemy as sa
from cryptography.fernet import InvalidToken
from flask.cli import AppGroup

from portal.encryption import EncryptedString, UnreadableSecret, cipher
from portal.extensions import db
from portal.models import Base

secrets_cli = AppGroup("secrets", help="The secrets kept encrypted in the database (DATA_ENCRYPTION_KEY).")


def encrypted_columns() -> list[sa.Column]:
    return [
        column
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, EncryptedString)
    ]


def rotate_all() -> int:
    """Re-encrypt every stored secret under the first key; returns how many. The tokens are read and written as they
    are stored (type_coerce to a plain string), so no secret is held in the clear here."""
    rotated = 0
    for column in encrypted_columns():
        [key] = column.table.primary_key.columns
        raw = sa.type_coerce(column, sa.String)
        for row_id, token in db.session.execute(sa.select(key, raw).where(column.is_not(None))).all():
            try:
                fresh = cipher().rotate(token.encode("ascii")).decode("ascii")
            except InvalidToken:
                raise UnreadableSecret(
                    f"{column.table.name}.{column.name} of row {row_id} cannot be decrypted with any key in "
                    "DATA_ENCRYPTION_KEY: put back the key it was written with"
                ) from None
            db.session.execute(
                sa.update(column.table).where(key == row_id).values({column.name: sa.type_coerce(fresh, sa.String)})
            )
            rotated += 1
    return rotated


@secrets_cli.command("rotate")
def rotate_command() -> None:
    try:
        count = rotate_all()
    except UnreadableSecret as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"{count} secret{'s' if count != 1 else ''} encrypted again under the first key")
