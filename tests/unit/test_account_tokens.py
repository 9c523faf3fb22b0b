"""Single-use emailed links: only a hash is stored, they expire (invitation 72 hours, reset 1 hour), a changed
character or a second use is refused, and a newer link retires the older one."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from portal.extensions import db
from portal.models import AccountToken, Role, TokenPurpose
from portal.services import account_tokens
from portal.services.account_tokens import LinkExpired, LinkNotValid, LinkUsed
from tests.factories import make_user

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
INVITATION, RESET = TokenPurpose.INVITATION, TokenPurpose.PASSWORD_RESET


def _issue(user, purpose=INVITATION, created_by=None) -> str:
    raw = account_tokens.issue(user, purpose, created_by=created_by)
    db.session.commit()
    return raw


def test_only_a_hash_of_the_token_is_stored(app_context):
    manager = make_user(Role.MANAGER)
    user = make_user(Role.OFFICER, password_hash=None)
    raw = _issue(user, created_by=manager)
    stored = db.session.scalars(sa.select(AccountToken)).one()
    assert len(raw) >= 43
    assert stored.token_hash == account_tokens.hash_token(raw) != raw
    assert raw not in stored.token_hash
    assert stored.created_by_id == manager.id and stored.purpose is INVITATION


def test_the_link_is_the_base_url_and_the_token(app_context, monkeypatch):
    monkeypatch.setitem(app_context.config, "BASE_URL", "https://ap.council.example")
    assert account_tokens.link("abc") == "https://ap.council.example/set-password/abc"


@pytest.mark.parametrize(("purpose", "lifetime"), [(INVITATION, timedelta(hours=72)), (RESET, timedelta(hours=1))])
def test_a_link_works_until_it_expires(app_context, purpose, lifetime):
    user = make_user(Role.OFFICER)
    with time_machine.travel(NOW, tick=False):
        raw = _issue(user, purpose)
    with time_machine.travel(NOW + lifetime - timedelta(seconds=1), tick=False):
        assert account_tokens.find_valid(raw, purpose).user_id == user.id
    with time_machine.travel(NOW + lifetime + timedelta(seconds=1), tick=False):
        with pytest.raises(LinkExpired, match="expired"):
            account_tokens.find_valid(raw, purpose)


def test_a_link_is_used_once(app_context):
    raw = _issue(make_user(Role.OFFICER, password_hash=None))
    token = account_tokens.find_valid(raw, INVITATION)
    account_tokens.use(token)
    db.session.commit()
    assert token.used_at is not None
    with pytest.raises(LinkUsed, match="used already"):
        account_tokens.find_valid(raw, INVITATION)


def test_a_double_submit_cannot_use_a_link_twice(app_context):
    """Both submissions found the token valid; the atomic UPDATE lets only the first one through."""
    raw = _issue(make_user(Role.OFFICER, password_hash=None))
    first = account_tokens.find_valid(raw, INVITATION)
    account_tokens.use(first)
    db.session.commit()
    with pytest.raises(LinkUsed):
        account_tokens.use(first)  # the stale copy a second request would hold


@pytest.mark.parametrize("wrong", ["", "not-a-token", "x" * 500])
def test_an_unknown_token_is_not_valid(app_context, wrong):
    _issue(make_user(Role.OFFICER))
    with pytest.raises(LinkNotValid, match="not valid"):
        account_tokens.find_valid(wrong, INVITATION)


def test_a_token_with_one_character_changed_is_not_valid(app_context):
    raw = _issue(make_user(Role.OFFICER))
    tampered = raw[:10] + ("A" if raw[10] != "A" else "B") + raw[11:]
    with pytest.raises(LinkNotValid):
        account_tokens.find_valid(tampered, INVITATION)
    assert account_tokens.find_valid(raw, INVITATION)  # the real one still works


def test_a_token_of_another_purpose_is_not_valid(app_context):
    raw = _issue(make_user(Role.OFFICER), RESET)
    with pytest.raises(LinkNotValid):
        account_tokens.find_valid(raw, INVITATION)
    assert account_tokens.find_valid(raw).purpose is RESET  # no purpose given: either kind


def test_a_newer_link_supersedes_the_older_one(app_context):
    user = make_user(Role.OFFICER, password_hash=None)
    older = _issue(user)
    reset = _issue(user, RESET)
    newer = _issue(user)
    with pytest.raises(LinkUsed):
        account_tokens.find_valid(older, INVITATION)
    assert account_tokens.find_valid(newer, INVITATION)
    assert account_tokens.find_valid(reset, RESET)  # another purpose is left alone


def test_another_users_link_is_untouched_by_a_new_one(app_context):
    one, other = make_user(Role.OFFICER), make_user(Role.OFFICER)
    raw = _issue(one)
    _issue(other)
    assert account_tokens.find_valid(raw, INVITATION).user_id == one.id


def test_a_deactivated_users_link_is_not_valid(app_context):
    user = make_user(Role.OFFICER, password_hash=None)
    raw = _issue(user)
    user.active = False
    db.session.commit()
    with pytest.raises(LinkNotValid):
        account_tokens.find_valid(raw, INVITATION)
