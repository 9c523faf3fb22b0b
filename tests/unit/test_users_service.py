"""The manager's user administration, provider colleagues, and passwords set through emailed links."""

import re
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import AccountToken, AuditEvent, Notification, OutboxMessage, Role, TokenPurpose, User, UserSession
from portal.services import account_tokens, passwords, sessions, users
from portal.services.account_tokens import LinkNotValid, LinkUsed
from portal.services.audit import Events
from portal.services.errors import DomainError
from tests.factories import CouncilServiceFactory, ProviderFactory, make_user
from tests.helpers import DEFAULT_PASSWORD

NEW_PASSWORD = "a brand new password for me"
LINK = re.compile(r"/set-password/([A-Za-z0-9_\-]+)")


def _outbox(to=None) -> list[OutboxMessage]:
    statement = sa.select(OutboxMessage).order_by(OutboxMessage.id)
    if to:
        statement = statement.where(OutboxMessage.to_address == to)
    return list(db.session.scalars(statement))


def _events(event) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.event == event).order_by(AuditEvent.id)))


def _token_in(message: OutboxMessage) -> str:
    match = LINK.search(message.body)
    assert match, message.body
    return match.group(1)


def _invite_officer(manager, email="olu@council.example", name="Olu Officer"):
    CouncilServiceFactory(name="SEND")
    return users.invite(manager, email=email, name=name, role="officer", service_name="SEND", ip="192.0.2.9")


def _start_session(user) -> str:
    token = sessions.start_session(user, ip="192.0.2.1", user_agent="Test").token
    db.session.commit()
    return token


def _load(token):
    return sessions.load_session(token, idle=timedelta(minutes=30), absolute=timedelta(hours=12))


# ---- Inviting ------------------------------------------------------------------------------------------------------


def test_invite_makes_a_user_without_a_password_and_emails_a_72_hour_link(app_context):
    manager = make_user(Role.MANAGER, name="Morgan Manager")
    user = _invite_officer(manager, email=" Olu@Council.EXAMPLE ")
    db.session.expire_all()
    user = db.session.get(User, user.id)
    assert user.email == "olu@council.example" and user.role is Role.OFFICER and user.service.name == "SEND"
    assert user.password_hash is None and user.active and users.status_of(user) is users.UserStatus.INVITED

    [message] = _outbox()
    assert message.to_address == "olu@council.example"
    assert message.subject == "You have been invited to Alternative provision commissioning"
    assert f"{app_context.config['BASE_URL']}/set-password/" in message.body
    assert "72 hours" in message.body and "Morgan Manager" in message.body
    token = account_tokens.find_valid(_token_in(message), TokenPurpose.INVITATION)
    assert token.user_id == user.id and token.created_by_id == manager.id
    assert token.expires_at - token.created_at == timedelta(hours=72)

    [notification] = db.session.scalars(sa.select(Notification)).all()
    assert notification.user_id == user.id and notification.subject == message.subject
    assert "set-password" not in notification.body and _token_in(message) not in notification.body

    [event] = _events(Events.USER_INVITED)
    assert (event.actor_id, event.subject_type, event.subject_id) == (manager.id, "users", user.id)
    assert event.ip_address == "192.0.2.9" and event.details["role"] == "officer"


def test_the_invitation_tells_providers_and_managers_about_two_factor(app_context):
    manager = make_user(Role.MANAGER)
    ProviderFactory(name="Acme Learning")
    users.invite(manager, email="pat@acme.example", name="Pat", role="provider", provider_name="Acme Learning", ip=None)
    _invite_officer(manager)
    provider_mail, officer_mail = _outbox()
    assert "two-factor" in provider_mail.body and "two-factor" not in officer_mail.body


def test_a_providers_first_invited_user_looks_after_its_colleagues(app_context):
    manager = make_user(Role.MANAGER)
    ProviderFactory(name="Acme Learning")
    acme = {"role": "provider", "provider_name": "Acme Learning", "ip": None}
    first = users.invite(manager, email="a@acme.example", name="A", **acme)
    second = users.invite(manager, email="b@acme.example", name="B", **acme)
    assert first.manages_colleagues and not second.manages_colleagues


def test_an_invitation_to_an_email_in_use_is_refused_and_sends_nothing(app_context):
    manager = make_user(Role.MANAGER)
    make_user(Role.OFFICER, email="taken@council.example")
    with pytest.raises(DomainError) as error:
        _invite_officer(manager, email="TAKEN@council.example")
    assert error.value.field == "email"
    db.session.rollback()
    assert _outbox() == [] and _events(Events.USER_INVITED) == []


def test_only_a_manager_invites_through_the_manager_route(app_context):
    officer = make_user(Role.OFFICER)
    with pytest.raises(users.NotAllowed):
        users.invite(officer, email="x@council.example", name="X", role="manager", ip=None)


def test_resending_an_invitation_retires_the_old_link(app_context):
    manager = make_user(Role.MANAGER)
    user = _invite_officer(manager)
    users.resend_invitation(manager, user, ip=None)
    old, new = _outbox()
    with pytest.raises(LinkUsed):
        account_tokens.find_valid(_token_in(old), TokenPurpose.INVITATION)
    assert account_tokens.find_valid(_token_in(new), TokenPurpose.INVITATION).user_id == user.id
    [event] = _events(Events.INVITATION_RESENT)
    assert event.actor_id == manager.id and event.subject_id == user.id


def test_no_invitation_is_resent_to_someone_with_a_password(app_context):
    manager = make_user(Role.MANAGER)
    user = make_user(Role.OFFICER)
    with pytest.raises(DomainError, match="set a password already"):
        users.resend_invitation(manager, user, ip=None)
    assert _outbox() == []


# ---- Deactivating --------------------------------------------------------------------------------------------------


def test_deactivation_ends_every_session_at_once(app_context):
    manager = make_user(Role.MANAGER)
    user = make_user(Role.OFFICER)
    tokens = [_start_session(user) for _ in range(3)]
    ended = users.deactivate(manager, user, "Left the council", ip="192.0.2.9")
    assert ended == 3
    rows = db.session.scalars(sa.select(UserSession).where(UserSession.user_id == user.id)).all()
    assert all(row.ended_at is not None and row.ended_reason == sessions.EndReason.DEACTIVATED for row in rows)
    for token in tokens:
        assert _load(token) == (None, sessions.EndReason.DEACTIVATED)
    db.session.refresh(user)
    assert not user.active and users.status_of(user) is users.UserStatus.DEACTIVATED
    [event] = _events(Events.USER_DEACTIVATED)
    assert (event.actor_id, event.subject_id, event.reason) == (manager.id, user.id, "Left the council")
    assert event.details["sessions_ended"] == 3


def test_deactivation_retires_unused_links(app_context):
    manager = make_user(Role.MANAGER)
    user = _invite_officer(manager)
    raw = _token_in(_outbox()[0])
    users.deactivate(manager, user, ip=None)
    users.reactivate(manager, user, ip=None)
    with pytest.raises(LinkUsed):
        account_tokens.find_valid(raw, TokenPurpose.INVITATION)


def test_a_manager_cannot_deactivate_themself(app_context):
    manager = make_user(Role.MANAGER)
    with pytest.raises(DomainError, match="cannot deactivate your own account"):
        users.deactivate(manager, manager, ip=None)
    db.session.refresh(manager)
    assert manager.active and _events(Events.USER_DEACTIVATED) == []


def test_deactivating_twice_is_refused(app_context):
    manager = make_user(Role.MANAGER)
    user = make_user(Role.OFFICER, active=False)
    with pytest.raises(DomainError, match="deactivated already"):
        users.deactivate(manager, user, ip=None)


def test_reactivation_lets_the_user_sign_in_again(app_context):
    manager = make_user(Role.MANAGER)
    user = make_user(Role.OFFICER, active=False)
    users.reactivate(manager, user, ip=None)
    db.session.refresh(user)
    assert user.active
    assert _load(_start_session(user))[0].id == user.id
    [event] = _events(Events.USER_REACTIVATED)
    assert event.actor_id == manager.id and event.subject_id == user.id
    with pytest.raises(DomainError, match="active already"):
        users.reactivate(manager, user, ip=None)


def test_only_a_manager_deactivates(app_context):
    provider = make_user(Role.PROVIDER)
    with pytest.raises(users.NotAllowed):
        users.deactivate(provider, make_user(Role.OFFICER), ip=None)


# ---- Searching -----------------------------------------------------------------------------------------------------


def test_search_matches_name_or_email_in_any_case_and_filters_by_role(app_context):
    make_user(Role.OFFICER, name="Alice Archer", email="alice@council.example")
    make_user(Role.PROVIDER, name="Bob Baker", email="bob@acme.example")
    make_user(Role.MANAGER, name="Carol Cook", email="carol.archer@council.example")

    def names(**kwargs):
        return [user.name for user in users.search(**kwargs).items]

    assert names(query="ARCHER") == ["Alice Archer", "Carol Cook"]
    assert names(query="acme") == ["Bob Baker"]
    assert names(query="archer", role="manager") == ["Carol Cook"]
    assert names(role=Role.PROVIDER) == ["Bob Baker"]
    assert names() == ["Alice Archer", "Bob Baker", "Carol Cook"]
    assert names(query="%") == [] and names(query="_") == []  # wildcards are matched literally
    assert names(role="wizard") == ["Alice Archer", "Bob Baker", "Carol Cook"]


def test_search_pages_through_users_with_a_total(app_context):
    for n in range(7):
        make_user(Role.OFFICER, name=f"Person {n:02d}")
    first = users.search(page=1, per_page=3)
    last = users.search(page=3, per_page=3)
    assert first.total == 7 and first.pages == 3
    assert [u.name for u in first.items] == ["Person 00", "Person 01", "Person 02"]
    assert [u.name for u in last.items] == ["Person 06"] and (last.first_number, last.last_number) == (7, 7)
    assert users.search(page=99, per_page=3).page == 3  # past the end: the last page
    assert users.search(page=-1, per_page=3).page == 1


# ---- Provider colleagues -------------------------------------------------------------------------------------------


def test_colleagues_are_only_the_same_organisations_users(app_context):
    lead = make_user(Role.PROVIDER, name="Lead A")
    make_user(Role.PROVIDER, provider=lead.provider, name="Colleague A", manages_colleagues=False)
    make_user(Role.PROVIDER, name="Lead B")
    assert [u.name for u in users.colleagues(lead).items] == ["Colleague A", "Lead A"]
    with pytest.raises(users.NotAllowed):
        users.colleagues(make_user(Role.OFFICER))


def test_the_first_provider_user_invites_a_colleague_into_their_organisation(app_context):
    lead = make_user(Role.PROVIDER, name="Lead A")
    colleague = users.invite_colleague(lead, email="new@a.example", name="New Colleague", ip="192.0.2.5")
    assert colleague.role is Role.PROVIDER and colleague.provider_id == lead.provider_id
    assert not colleague.manages_colleagues and not colleague.has_password
    [message] = _outbox()
    assert message.to_address == "new@a.example" and "72 hours" in message.body and "Lead A" in message.body
    [event] = _events(Events.USER_INVITED)
    assert event.actor_id == lead.id and event.subject_id == colleague.id


def test_other_provider_users_cannot_invite_colleagues(app_context):
    lead = make_user(Role.PROVIDER)
    member = make_user(Role.PROVIDER, provider=lead.provider, manages_colleagues=False)
    with pytest.raises(users.NotAllowed):
        users.invite_colleague(member, email="new@a.example", name="New", ip=None)
    with pytest.raises(users.NotAllowed):
        users.invite_colleague(make_user(Role.MANAGER), email="new@a.example", name="New", ip=None)
    assert _outbox() == []


# ---- Setting a password through a link -----------------------------------------------------------------------------


def test_accepting_an_invitation_sets_the_password_and_uses_the_link(app_context):
    manager = make_user(Role.MANAGER)
    user = _invite_officer(manager)
    raw = _token_in(_outbox()[0])
    users.set_password_with_token(raw, TokenPurpose.INVITATION, NEW_PASSWORD, ip="192.0.2.7")
    db.session.refresh(user)
    assert passwords.verify_password(user.password_hash, NEW_PASSWORD) and user.password_changed_at is not None
    assert users.status_of(user) is users.UserStatus.ACTIVE
    with pytest.raises(LinkUsed):
        users.set_password_with_token(raw, TokenPurpose.INVITATION, "another new password here", ip=None)
    db.session.refresh(user)
    assert passwords.verify_password(user.password_hash, NEW_PASSWORD)
    [event] = _events(Events.INVITATION_ACCEPTED)
    assert event.actor_id == user.id and event.ip_address == "192.0.2.7"
    assert _events(Events.PASSWORD_RESET) == []


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("password1234", "on a list of common passwords"),
        ("short", "12 characters or more"),
        ("olu@council.example", "must not contain your email address"),
        ("Olu Officer the Second", None),  # fine: not the name itself
    ],
)
def test_the_password_policy_applies_and_a_refusal_leaves_the_link_usable(app_context, password, message):
    user = _invite_officer(make_user(Role.MANAGER), email="olu@council.example", name="Olu Officer")
    raw = _token_in(_outbox()[0])
    if message is None:
        users.set_password_with_token(raw, TokenPurpose.INVITATION, password, ip=None)
        return
    with pytest.raises(DomainError, match=message) as error:
        users.set_password_with_token(raw, TokenPurpose.INVITATION, password, ip=None)
    assert error.value.field == "password"
    db.session.rollback()
    db.session.refresh(user)
    assert user.password_hash is None
    assert account_tokens.find_valid(raw, TokenPurpose.INVITATION)


def test_a_reset_link_cannot_accept_an_invitation(app_context):
    user = make_user(Role.OFFICER)
    users.request_password_reset(user.email, ip=None)
    raw = _token_in(_outbox()[0])
    with pytest.raises(LinkNotValid):
        users.set_password_with_token(raw, TokenPurpose.INVITATION, NEW_PASSWORD, ip=None)


# ---- Password reset ------------------------------------------------------------------------------------------------


def test_a_reset_request_emails_a_one_hour_link_to_an_active_user(app_context):
    user = make_user(Role.PROVIDER, email="pat@acme.example")
    assert users.request_password_reset("  PAT@acme.example ", ip="192.0.2.3") is True
    [message] = _outbox()
    assert message.to_address == "pat@acme.example" and "1 hour" in message.body
    token = account_tokens.find_valid(_token_in(message), TokenPurpose.PASSWORD_RESET)
    assert token.user_id == user.id and token.expires_at - token.created_at == timedelta(hours=1)
    [notification] = db.session.scalars(sa.select(Notification)).all()
    assert "set-password" not in notification.body
    [event] = _events(Events.PASSWORD_RESET_REQUESTED)
    assert event.actor_label == "pat@acme.example" and event.subject_id == user.id and event.details["link_sent"]


@pytest.mark.parametrize("case", ["unknown", "deactivated", "invited"])
def test_no_reset_link_for_unknown_deactivated_or_invited_users(app_context, case):
    if case == "deactivated":
        make_user(Role.OFFICER, email="who@council.example", active=False)
    elif case == "invited":
        make_user(Role.OFFICER, email="who@council.example", password_hash=None)
    assert users.request_password_reset("Who@council.example", ip="192.0.2.3") is False
    assert _outbox() == [] and db.session.scalars(sa.select(AccountToken)).all() == []
    [event] = _events(Events.PASSWORD_RESET_REQUESTED)  # audited either way, with what was typed
    assert event.actor_label == "who@council.example" and event.actor_id is None and not event.details["link_sent"]


def test_a_reset_sets_the_password_and_ends_every_session(app_context):
    user = make_user(Role.MANAGER)
    old_sessions = [_start_session(user) for _ in range(2)]
    users.request_password_reset(user.email, ip=None)
    raw = _token_in(_outbox()[0])
    users.set_password_with_token(raw, TokenPurpose.PASSWORD_RESET, NEW_PASSWORD, ip="192.0.2.4")
    for token in old_sessions:
        assert _load(token) == (None, sessions.EndReason.PASSWORD_CHANGED)
    db.session.refresh(user)
    assert passwords.verify_password(user.password_hash, NEW_PASSWORD)
    assert not passwords.verify_password(user.password_hash, DEFAULT_PASSWORD)
    assert user.two_factor_enabled  # a reset leaves two-factor as it was: the next sign-in asks for a code
    [event] = _events(Events.PASSWORD_RESET)
    assert event.actor_id == user.id and event.ip_address == "192.0.2.4"
    assert _outbox(user.email)[-1].subject == "Your password was reset"


def test_a_newer_reset_link_retires_the_older_one(app_context):
    user = make_user(Role.OFFICER)
    users.request_password_reset(user.email, ip=None)
    users.request_password_reset(user.email, ip=None)
    older, newer = _outbox()
    with pytest.raises(LinkUsed):
        users.set_password_with_token(_token_in(older), TokenPurpose.PASSWORD_RESET, NEW_PASSWORD, ip=None)
    users.set_password_with_token(_token_in(newer), TokenPurpose.PASSWORD_RESET, NEW_PASSWORD, ip=None)


def test_racing_submissions_of_one_link_set_one_password(app):
    """Five browsers submit the same link at the same moment: exactly one password is set; the others are told the
    link was used, and nothing fails with a database error."""
    with app.app_context():
        user = make_user(Role.OFFICER, password_hash=None)
        raw = account_tokens.issue(user, TokenPurpose.INVITATION)
        db.session.commit()
        user_id = user.id
    barrier = threading.Barrier(5)
    outcomes, errors = [], []

    def submit(n):
        try:
            with app.app_context():
                barrier.wait(timeout=10)
                try:
                    users.set_password_with_token(raw, TokenPurpose.INVITATION, f"racing password number {n}", ip=None)
                    outcomes.append(n)
                except LinkUsed:
                    outcomes.append("used")
                finally:
                    db.session.remove()
        except Exception as error:  # surfaced below: a thread's exception would otherwise vanish
            errors.append(error)

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    winners = [o for o in outcomes if o != "used"]
    assert len(winners) == 1 and outcomes.count("used") == 4
    with app.app_context():
        stored = db.session.get(User, user_id).password_hash
        assert passwords.verify_password(stored, f"racing password number {winners[0]}")
        accepted = sa.select(AuditEvent).where(AuditEvent.event == Events.INVITATION_ACCEPTED)
        assert len(db.session.scalars(accepted).all()) == 1
