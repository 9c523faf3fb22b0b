"""Staying compliant (portal.services.compliance and `flask compliance check`): reminders 30 and 7 days before a
document expires, each sent once; a replaced document stops them; an expired mandatory document is reported to the
manager once and makes the provider non-compliant (eligibility) in the lots that require it until a new one comes."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import ExpiryReminder, Notification, OutboxMessage, Role
from portal.services import compliance
from portal.services.eligibility import eligible_providers
from tests.factories import make_lot, make_user
from tests.factories_dps import TODAY, admit, days, make_provider, require, suspend, upload


def mail_to(address: str) -> list[OutboxMessage]:
    return list(
        db.session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.to_address == address).order_by(OutboxMessage.id)
        )
    )


def reminders() -> set[tuple[int, int]]:
    return set(db.session.execute(sa.select(ExpiryReminder.document_id, ExpiryReminder.days_before)).all())


@pytest.fixture
def world(app_context):
    """A lot that requires public liability insurance, an admitted provider with two users (one deactivated), and
    a manager."""
    lot = make_lot(1)
    require(lot, "public-liability")
    provider = make_provider("Brookfield Learning")
    admit(provider, lot)
    user = make_user(Role.PROVIDER, provider=provider, email="pat@brookfield.example")
    gone = make_user(Role.PROVIDER, provider=provider, email="gone@brookfield.example", active=False)
    manager = make_user(Role.MANAGER, email="morgan@council.example")
    return {"lot": lot, "provider": provider, "user": user, "gone": gone, "manager": manager}


def test_the_30_day_reminder_goes_to_the_providers_users_once(world):
    document = upload(world["provider"], "public-liability", expires_on=TODAY + days(30))
    report = compliance.check(TODAY)
    assert (report.first_reminders, report.last_reminders, report.expired_notices) == (1, 0, 0)
    [message] = mail_to("pat@brookfield.example")
    assert message.subject == "Your public liability insurance expires on 15 July 2026"
    assert "in 30 days" in message.body and "/provider/" in message.body
    assert db.session.scalar(sa.select(Notification.subject).where(Notification.user_id == world["user"].id)) == (
        message.subject
    )
    assert mail_to("gone@brookfield.example") == []  # a deactivated user gets nothing
    assert reminders() == {(document.id, 30)}

    again = compliance.check(TODAY)
    assert (again.first_reminders, again.last_reminders) == (0, 0)
    assert compliance.check(TODAY + days(1)).first_reminders == 0
    assert len(mail_to("pat@brookfield.example")) == 1


def test_nothing_is_sent_more_than_30_days_before(world):
    upload(world["provider"], "public-liability", expires_on=TODAY + days(31))
    report = compliance.check(TODAY)
    assert (report.first_reminders, report.last_reminders) == (0, 0)
    assert mail_to("pat@brookfield.example") == [] and reminders() == set()


def test_the_7_day_reminder_follows_the_30_day_one(world):
    document = upload(world["provider"], "public-liability", expires_on=TODAY + days(30))
    compliance.check(TODAY)
    assert compliance.check(TODAY + days(22)).last_reminders == 0  # 8 days left
    report = compliance.check(TODAY + days(23))  # 7 days left
    assert (report.first_reminders, report.last_reminders) == (0, 1)
    assert compliance.check(TODAY + days(23)).last_reminders == 0
    assert compliance.check(TODAY + days(29)).last_reminders == 0
    assert reminders() == {(document.id, 30), (document.id, 7)}
    last = mail_to("pat@brookfield.example")[-1]
    assert "in 7 days" in last.body and len(mail_to("pat@brookfield.example")) == 2


def test_a_document_that_arrives_inside_7_days_gets_only_the_7_day_reminder(world):
    document = upload(world["provider"], "public-liability", expires_on=TODAY + days(5))
    report = compliance.check(TODAY)
    assert (report.first_reminders, report.last_reminders) == (0, 1)
    assert reminders() == {(document.id, 7)}
    assert compliance.check(TODAY + days(1)).first_reminders == 0
    assert len(mail_to("pat@brookfield.example")) == 1


def test_a_document_that_arrives_inside_30_days_gets_the_30_day_reminder_then_the_7_day_one(world):
    document = upload(world["provider"], "public-liability", expires_on=TODAY + days(20))
    assert compliance.check(TODAY).first_reminders == 1
    assert compliance.check(TODAY + days(13)).last_reminders == 1
    assert reminders() == {(document.id, 30), (document.id, 7)}


def test_a_missed_day_is_caught_up_the_next_run(world):
    upload(world["provider"], "public-liability", expires_on=TODAY + days(30))
    # The timer did not run on the 30th day before; the next day's run still sends the 30-day reminder.
    assert compliance.check(TODAY + days(1)).first_reminders == 1


def test_a_replaced_document_stops_the_reminders(world):
    old = upload(world["provider"], "public-liability", expires_on=TODAY + days(30))
    compliance.check(TODAY)
    new = upload(world["provider"], "public-liability", expires_on=TODAY + days(395))
    report = compliance.check(TODAY + days(23))
    assert (report.first_reminders, report.last_reminders, report.expired_notices) == (0, 0, 0)
    report = compliance.check(TODAY + days(40))  # the old one has expired, but it is no longer current
    assert report.expired_notices == 0
    assert reminders() == {(old.id, 30)}
    assert compliance.check(TODAY + days(365)).first_reminders == 1  # the new one, 30 days before its expiry
    assert reminders() == {(old.id, 30), (new.id, 30)}


def test_documents_without_an_expiry_date_are_never_reminded(world):
    upload(world["provider"], "data-protection")
    report = compliance.check(TODAY + days(3650))
    assert (report.first_reminders, report.last_reminders, report.expired_notices) == (0, 0, 0)
    assert reminders() == set()


def test_an_expired_mandatory_document_is_reported_once_and_makes_the_provider_non_compliant(world):
    lot, provider = world["lot"], world["provider"]
    other_lot = make_lot(2)  # does not require the document
    admit(provider, other_lot)
    upload(provider, "public-liability", expires_on=TODAY + days(5))
    compliance.check(TODAY)  # the 7-day reminder
    assert [p.name for p in eligible_providers(lot, TODAY + days(5))] == ["Brookfield Learning"]

    expired_day = TODAY + days(6)
    report = compliance.check(expired_day)
    assert report.expired_notices == 1
    [notice] = mail_to("morgan@council.example")
    assert notice.subject == "Brookfield Learning: public liability insurance has expired"
    assert "Lot 1: Test lot 1" in notice.body and "Lot 2" not in notice.body
    assert f"/directory/{provider.id}" in notice.body
    assert mail_to("pat@brookfield.example")[-1].subject == "Your public liability insurance has expired"
    assert eligible_providers(lot, expired_day) == []
    assert [p.name for p in eligible_providers(other_lot, expired_day)] == ["Brookfield Learning"]

    assert compliance.check(expired_day).expired_notices == 0
    assert compliance.check(expired_day + days(10)).expired_notices == 0
    assert len(mail_to("morgan@council.example")) == 1

    fresh = upload(provider, "public-liability", expires_on=TODAY + days(400))
    assert [p.name for p in eligible_providers(lot, expired_day + days(10))] == ["Brookfield Learning"]
    assert compliance.check(expired_day + days(10)).expired_notices == 0
    assert (fresh.id, 0) not in reminders()


def test_expired_documents_nobody_requires_or_of_providers_not_admitted_are_not_reported(world):
    upload(world["provider"], "employers-liability", expires_on=TODAY - days(1))  # no lot requires it
    applicant = make_provider("Applicant")
    upload(applicant, "public-liability", expires_on=TODAY - days(1))
    removed = make_provider("Removed")
    admit(removed, world["lot"], removed_on=TODAY - days(10))
    upload(removed, "public-liability", expires_on=TODAY - days(1))
    assert compliance.check(TODAY).expired_notices == 0
    assert mail_to("morgan@council.example") == []


def test_a_suspended_provider_is_still_reported(world):
    suspend(world["provider"], None, starts_on=TODAY - days(10))
    upload(world["provider"], "public-liability", expires_on=TODAY - days(1))
    assert compliance.check(TODAY).expired_notices == 1


def test_a_provider_with_no_users_yet_is_reminded_once_it_has_one(app_context):
    provider = make_provider("No Users Yet")
    document = upload(provider, "public-liability", expires_on=TODAY + days(20))
    assert compliance.check(TODAY).first_reminders == 0 and reminders() == set()
    make_user(Role.PROVIDER, provider=provider, email="first@nousers.example")
    assert compliance.check(TODAY + days(1)).first_reminders == 1
    assert reminders() == {(document.id, 30)}


def test_every_active_user_of_the_provider_and_every_manager_is_told(world):
    make_user(Role.PROVIDER, provider=world["provider"], email="sam@brookfield.example", manages_colleagues=False)
    make_user(Role.MANAGER, email="second@council.example")
    upload(world["provider"], "public-liability", expires_on=TODAY - days(1))
    upload(world["provider"], "safeguarding-policy", expires_on=TODAY + days(7))
    compliance.check(TODAY)
    for address in ("pat@brookfield.example", "sam@brookfield.example"):
        assert sorted(m.subject for m in mail_to(address)) == [
            "Your public liability insurance has expired",
            "Your safeguarding policy expires on 22 June 2026",
        ]
    for address in ("morgan@council.example", "second@council.example"):
        assert [m.subject for m in mail_to(address)] == ["Brookfield Learning: public liability insurance has expired"]


def test_the_summary_is_one_line():
    report = compliance.CheckReport(on_date=TODAY, first_reminders=2, last_reminders=1, expired_notices=1)
    assert report.summary == (
        "compliance check for 2026-06-15: 2 reminders 30 days before expiry, 1 7 days before, "
        "1 expired mandatory document reported"
    )


# ---- flask compliance check ------------------------------------------------------------------------------------


def test_the_command_checks_the_date_given_and_a_second_run_sends_nothing(app, runner, world):
    upload(world["provider"], "public-liability", expires_on=TODAY + days(30))
    db.session.remove()  # the command runs in its own app context
    result = runner.invoke(args=["compliance", "check", "--date", TODAY.isoformat()])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines() == [
        "compliance check for 2026-06-15: 1 reminder 30 days before expiry, 0 7 days before, "
        "0 expired mandatory documents reported"
    ]
    again = runner.invoke(args=["compliance", "check", "--date", TODAY.isoformat()])
    assert "0 reminders 30 days before expiry, 0 7 days before" in again.output
    assert len(mail_to("pat@brookfield.example")) == 1


def test_the_command_defaults_to_today_and_refuses_a_bad_date(runner, app_context):
    result = runner.invoke(args=["compliance", "check"])
    assert result.exit_code == 0, result.output
    from portal.clock import london_today

    assert f"compliance check for {london_today().isoformat()}:" in result.output
    bad = runner.invoke(args=["compliance", "check", "--date", "15/06/2026"])
    assert bad.exit_code == 2 and "Invalid value for '--date'" in bad.output
