"""The two-factor keys at rest (portal.encryption): stored as Fernet tokens under DATA_ENCRYPTION_KEY, read back as
the key; a database read with the wrong key says so; `flask secrets rotate` moves every token to the first key."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from portal.encryption import UnreadableSecret
from portal.extensions import db
from portal.models import Role, User
from portal.secrets_cli import rotate_all
from tests.factories import make_user
from tests.helpers import TEST_TOTP_SECRET


def _stored(user_id: int) -> str:
    """The column as the database holds it, past the type that decrypts it."""
    return db.session.execute(sa.text("SELECT totp_secret FROM users WHERE id = :id"), {"id": user_id}).scalar_one()


def _read(user_id: int) -> str:
    db.session.expire_all()
    return db.session.scalar(sa.select(User.totp_secret).where(User.id == user_id))


def test_a_two_factor_key_is_stored_encrypted_and_read_back_as_it_was(app_context):
    first, second = make_user(Role.MANAGER, totp_secret=TEST_TOTP_SECRET), make_user(Role.PROVIDER)
    second.totp_secret = TEST_TOTP_SECRET
    db.session.commit()
    stored = {_stored(first.id), _stored(second.id)}
    assert len(stored) == 2, "the same key is stored as two different tokens (a fresh IV each time)"
    for token in stored:
        assert TEST_TOTP_SECRET not in token and token.startswith("gAAAAA")  # a Fernet token, version 0x80
    assert _read(first.id) == _read(second.id) == TEST_TOTP_SECRET
    assert db.session.scalar(sa.select(sa.func.count()).where(User.totp_secret.is_(None))) == 0


def test_read_with_a_key_it_was_not_written_with_it_says_which_setting_is_wrong(app_context, monkeypatch):
    user = make_user(Role.MANAGER, totp_secret=TEST_TOTP_SECRET)
    db.session.commit()
    monkeypatch.setitem(app_context.config, "DATA_ENCRYPTION_KEYS", [Fernet.generate_key().decode()])
    with pytest.raises(UnreadableSecret, match="DATA_ENCRYPTION_KEY"):
        _read(user.id)


def test_rotate_writes_every_key_again_under_the_first_key_so_the_old_one_can_go(app_context, monkeypatch):
    old = app_context.config["DATA_ENCRYPTION_KEYS"]
    users = [make_user(Role.MANAGER, totp_secret=TEST_TOTP_SECRET) for _ in range(3)]
    make_user(Role.OFFICER)  # no two-factor key: nothing to rotate
    db.session.commit()
    before = {user.id: _stored(user.id) for user in users}

    new = Fernet.generate_key().decode()
    monkeypatch.setitem(app_context.config, "DATA_ENCRYPTION_KEYS", [new, *old])
    assert _read(users[0].id) == TEST_TOTP_SECRET  # readable under either key until rotated
    result = app_context.test_cli_runner().invoke(args=["secrets", "rotate"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "3 secrets encrypted again under the first key"

    monkeypatch.setitem(app_context.config, "DATA_ENCRYPTION_KEYS", [new])  # the old key is dropped
    for user in users:
        assert _stored(user.id) != before[user.id]
        assert _read(user.id) == TEST_TOTP_SECRET


def test_rotate_without_the_key_a_secret_was_written_with_changes_nothing_and_says_so(app_context, monkeypatch):
    user_id = make_user(Role.MANAGER, totp_secret=TEST_TOTP_SECRET).id
    db.session.commit()
    before = _stored(user_id)
    monkeypatch.setitem(app_context.config, "DATA_ENCRYPTION_KEYS", [Fernet.generate_key().decode()])
    with pytest.raises(UnreadableSecret, match=f"users.totp_secret of row {user_id}"):
        rotate_all()
    db.session.rollback()
    result = app_context.test_cli_runner().invoke(args=["secrets", "rotate"])
    assert result.exit_code == 1 and "put back the key it was written with" in result.output
    assert _stored(user_id) == before
