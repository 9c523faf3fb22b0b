"""Deciding applications to join the DPS: the status table, the 10-working-day clock, the queue's order, the
assessment, and the decision (admissions, rejections, emails, notifications, audit, conflicts)."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import (
    Admission,
    Application,
    ApplicationStatus,
    AuditEvent,
    LotOutcome,
    Notification,
    OutboxMessage,
    Role,
)
from portal.services import decisions
from portal.services.audit import Events
from portal.services.decisions import Conflict, IllegalTransition, LotAssessment, NotAllowed, QueueTab
from portal.services.errors import DomainError
from portal.services.working_days import decision_due_on
from tests.factories import AdmissionFactory, ProviderFactory, make_lots, make_user
from tests.factories_dps import make_submitted_application

TODAY = date(2026, 6, 15)  # a Monday


@pytest.fixture
def manager(app_context):
    return make_user(Role.MANAGER, name="Morgan Manager")


def _events(event: str) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.event == event).order_by(AuditEvent.id)))


def _decide(application, by, *, outcomes: dict, reason: str = "", today: date = TODAY):
    return decisions.decide(
        application.id,
        by,
        version=application.version,
        rejection_reason=reason,
        today=today,
        lots={lot.id: LotAssessment(outcome) for lot, outcome in outcomes.items()},
    )


# ---- The status table ----------------------------------------------------------------------------------------------


def test_the_transition_table_names_who_moves_an_application_and_nothing_else():
    assert decisions.TRANSITIONS == {
        (ApplicationStatus.DRAFT, ApplicationStatus.SUBMITTED): Role.PROVIDER,
        (ApplicationStatus.SUBMITTED, ApplicationStatus.DECIDED): Role.MANAGER,
    }
    for current in ApplicationStatus:
        for new in ApplicationStatus:
            if (current, new) not in decisions.TRANSITIONS:
                assert decisions.allowed_transition(current, new) is None


def test_illegal_transitions_raise_a_clear_message(manager):
    draft = Application(status=ApplicationStatus.DRAFT)
    with pytest.raises(IllegalTransition, match="has not been submitted yet"):
        decisions.ensure_transition(draft, ApplicationStatus.DECIDED, manager)
    decided = Application(status=ApplicationStatus.DECIDED)
    with pytest.raises(IllegalTransition, match="decided already"):
        decisions.ensure_transition(decided, ApplicationStatus.DECIDED, manager)
    with pytest.raises(IllegalTransition, match="cannot be submitted again"):
        decisions.ensure_transition(decided, ApplicationStatus.SUBMITTED, manager)


def test_only_a_manager_decides_and_only_a_provider_submits(app_context):
    officer = make_user(Role.OFFICER)
    provider_user = make_user(Role.PROVIDER)
    with pytest.raises(NotAllowed):
        decisions.ensure_transition(Application(status=ApplicationStatus.SUBMITTED), ApplicationStatus.DECIDED, officer)
    with pytest.raises(NotAllowed):
        decisions.ensure_transition(
            Application(status=ApplicationStatus.SUBMITTED), ApplicationStatus.DECIDED, provider_user
        )
    with pytest.raises(NotAllowed):
        decisions.ensure_transition(Application(status=ApplicationStatus.DRAFT), ApplicationStatus.SUBMITTED, officer)
    decisions.ensure_transition(Application(status=ApplicationStatus.DRAFT), ApplicationStatus.SUBMITTED, provider_user)


# ---- The clock -----------------------------------------------------------------------------------------------------


def test_the_decision_is_due_ten_working_days_on_skipping_christmas_new_year_and_weekends():
    # Friday 18 December 2026: Christmas Day (Fri), Boxing Day's substitute (Mon 28th) and New Year's Day (Fri) and
    # two weekends do not count.
    assert decision_due_on(date(2026, 12, 18)) == date(2027, 1, 6)


@pytest.mark.parametrize(
    ("today", "text", "overdue"),
    [
        (date(2026, 12, 18), "10 working days left", False),
        (date(2026, 12, 24), "6 working days left", False),  # Christmas Eve: 29, 30, 31 Dec and 4, 5, 6 Jan
        (date(2027, 1, 1), "3 working days left", False),  # a bank holiday
        (date(2027, 1, 5), "1 working day left", False),
        (date(2027, 1, 6), "Due today", False),
        (date(2027, 1, 7), "Overdue by 1 working day", True),
        (date(2027, 1, 9), "Overdue by 2 working days", True),  # a Saturday
        (date(2027, 1, 11), "Overdue by 3 working days", True),
    ],
)
def test_the_clock_counts_working_days_left_or_overdue(today, text, overdue):
    clock = decisions.clock(date(2027, 1, 6), today)
    assert clock.text == text
    assert clock.overdue is overdue


def test_a_due_date_passed_at_the_weekend_is_overdue_without_a_working_day_count():
    clock = decisions.clock(date(2027, 1, 8), date(2027, 1, 9))  # due Friday, looked at on Saturday
    assert clock.overdue and clock.text == "Overdue"


# ---- The queue -----------------------------------------------------------------------------------------------------


def test_the_queue_puts_overdue_applications_first_then_orders_by_due_date(app_context, manager):
    lots = make_lots(1)
    on_time = make_submitted_application(
        provider=ProviderFactory(name="On time"), lots=lots, submitted_on=date(2026, 6, 10)
    )
    long_overdue = make_submitted_application(
        provider=ProviderFactory(name="Long overdue"), lots=lots, submitted_on=date(2026, 5, 18)
    )
    just_overdue = make_submitted_application(
        provider=ProviderFactory(name="Just overdue"), lots=lots, submitted_on=date(2026, 5, 28)
    )
    due_soon = make_submitted_application(
        provider=ProviderFactory(name="Due soon"), lots=lots, submitted_on=date(2026, 6, 3)
    )
    decided = make_submitted_application(
        provider=ProviderFactory(name="Decided"), lots=lots, submitted_on=date(2026, 5, 1)
    )
    _decide(decided, manager, outcomes={lots[0]: LotOutcome.PASS})

    page = decisions.queue(QueueTab.WAITING, today=TODAY)
    assert [row.application.provider.name for row in page.items] == [
        "Long overdue",
        "Just overdue",
        "Due soon",
        "On time",
    ]
    assert page.total == 4
    assert [row.clock.overdue for row in page.items] == [True, True, False, False]
    assert page.items[0].application.id == long_overdue.id
    # 18 May + 10 working days (Spring bank holiday 25 May) = 2 June; overdue on 15 June by 9 working days.
    assert page.items[0].clock.due_on == date(2026, 6, 2)
    assert page.items[0].clock.text == "Overdue by 9 working days"
    assert page.items[1].application.id == just_overdue.id
    assert page.items[2].application.id == due_soon.id and page.items[3].application.id == on_time.id

    decided_page = decisions.queue(QueueTab.DECIDED, today=TODAY)
    assert [row.application.provider.name for row in decided_page.items] == ["Decided"]
    assert [lot.lot_id for lot in decided_page.items[0].admitted_lots] == [lots[0].id]


# ---- Assessing -----------------------------------------------------------------------------------------------------


def test_saving_an_assessment_keeps_outcomes_and_notes_and_moves_the_version_on(app_context, manager):
    lots = make_lots(2)
    application = make_submitted_application(lots=lots)
    version = application.version
    question_id = application.answers[0].question_id
    decisions.save_assessment(
        application.id,
        manager,
        version=version,
        lots={lots[0].id: LotAssessment(LotOutcome.PASS, " Insurance checked "), lots[1].id: LotAssessment("pending")},
        answer_notes={question_id: "Strong answer"},
        rejection_reason="Draft reason",
    )
    db.session.expire_all()
    saved = db.session.get(Application, application.id)
    assert {lot.lot_id: (lot.outcome, lot.notes) for lot in saved.lots} == {
        lots[0].id: (LotOutcome.PASS, "Insurance checked"),
        lots[1].id: (LotOutcome.PENDING, ""),
    }
    assert next(a for a in saved.answers if a.question_id == question_id).assessor_note == "Strong answer"
    assert saved.status is ApplicationStatus.SUBMITTED and saved.version == version + 1
    assert saved.rejection_reason == "Draft reason"
    # The page the manager loaded before saving is now out of date.
    with pytest.raises(Conflict, match="changed this application's assessment"):
        decisions.save_assessment(application.id, manager, version=version, lots={})


def test_an_unknown_outcome_is_refused_next_to_the_lot(app_context, manager):
    lots = make_lots(1)
    application = make_submitted_application(lots=lots)
    with pytest.raises(DomainError) as caught:
        decisions.save_assessment(
            application.id, manager, version=application.version, lots={lots[0].id: LotAssessment("maybe")}
        )
    assert caught.value.field == f"outcome_{lots[0].id}"


# ---- Deciding ------------------------------------------------------------------------------------------------------


def test_a_decision_needs_every_lot_assessed_and_keeps_nothing_when_refused(app_context, manager):
    lots = make_lots(2)
    application = make_submitted_application(lots=lots)
    with pytest.raises(DomainError, match="Assess every lot before deciding") as caught:
        _decide(application, manager, outcomes={lots[0]: LotOutcome.PASS})
    assert caught.value.field == f"outcome_{lots[1].id}"
    db.session.expire_all()
    saved = db.session.get(Application, application.id)
    assert saved.status is ApplicationStatus.SUBMITTED
    assert all(lot.outcome is LotOutcome.PENDING for lot in saved.lots)  # the pass sent with it was not kept
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Admission)) == 0
    assert _events(Events.APPLICATION_DECIDED) == []


def test_a_failed_lot_needs_a_reason(app_context, manager):
    lots = make_lots(2)
    application = make_submitted_application(lots=lots)
    with pytest.raises(DomainError, match="Enter the reason") as caught:
        _decide(application, manager, outcomes={lots[0]: LotOutcome.PASS, lots[1]: LotOutcome.FAIL}, reason="  ")
    assert caught.value.field == "rejection_reason"
    assert db.session.get(Application, application.id).status is ApplicationStatus.SUBMITTED


def test_a_decision_admits_only_the_passed_lots_and_tells_the_provider_and_the_trail(app_context, manager):
    lots = make_lots(3)
    provider = ProviderFactory(name="Bright Futures")
    first = make_user(Role.PROVIDER, provider=provider, name="Pat One", email="pat@bright.example")
    second = make_user(
        Role.PROVIDER, provider=provider, name="Sam Two", email="sam@bright.example", manages_colleagues=False
    )
    make_user(Role.PROVIDER, provider=provider, email="gone@bright.example", active=False, manages_colleagues=False)
    make_user(Role.PROVIDER, email="other@elsewhere.example")  # another provider's user hears nothing
    application = make_submitted_application(provider=provider, lots=lots)

    decision = _decide(
        application,
        manager,
        outcomes={lots[0]: LotOutcome.PASS, lots[1]: LotOutcome.FAIL, lots[2]: LotOutcome.PASS},
        reason="No evidence of enhanced DBS checks for sessional staff",
    )
    assert [lot.lot_id for lot in decision.admitted] == [lots[0].id, lots[2].id]
    assert [lot.lot_id for lot in decision.rejected] == [lots[1].id]

    db.session.expire_all()
    saved = db.session.get(Application, application.id)
    assert saved.status is ApplicationStatus.DECIDED
    assert saved.decided_by_id == manager.id and saved.decided_at is not None
    assert saved.rejection_reason == "No evidence of enhanced DBS checks for sessional staff"
    admissions = db.session.scalars(sa.select(Admission).order_by(Admission.lot_id)).all()
    assert [(a.provider_id, a.lot_id, a.admitted_on, a.application_id) for a in admissions] == [
        (provider.id, lots[0].id, TODAY, application.id),
        (provider.id, lots[2].id, TODAY, application.id),
    ]

    mail = db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert sorted(m.to_address for m in mail) == ["pat@bright.example", "sam@bright.example"]
    body = mail[0].body
    assert lots[0].label in body.split("Not admitted to:")[0] and lots[2].label in body.split("Not admitted to:")[0]
    assert lots[1].label in body.split("Not admitted to:")[1]
    assert "No evidence of enhanced DBS checks" in body
    notified = db.session.scalars(sa.select(Notification.user_id)).all()
    assert sorted(notified) == sorted([first.id, second.id])

    decided_events = _events(Events.APPLICATION_DECIDED)
    assert len(decided_events) == 1 and decided_events[0].actor_id == manager.id
    assert decided_events[0].subject_type == "applications" and decided_events[0].subject_id == application.id
    admitted_events = _events(Events.PROVIDER_ADMITTED)
    assert [e.details["lot"] for e in admitted_events] == [lots[0].label, lots[2].label]
    rejected_events = _events(Events.APPLICATION_LOT_REJECTED)
    assert [e.details["lot"] for e in rejected_events] == [lots[1].label]
    assert rejected_events[0].reason.startswith("No evidence")


def test_a_lot_already_admitted_is_not_admitted_twice(app_context, manager):
    lots = make_lots(1)
    provider = ProviderFactory()
    AdmissionFactory(provider_id=provider.id, lot_id=lots[0].id, admitted_on=date(2025, 1, 6))
    application = make_submitted_application(provider=provider, lots=lots)
    _decide(application, manager, outcomes={lots[0]: LotOutcome.PASS})
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Admission)) == 1


def test_a_decision_on_a_stale_page_is_a_conflict_never_a_second_decision(app_context, manager):
    lots = make_lots(1)
    other_manager = make_user(Role.MANAGER, name="Alex Other")
    application = make_submitted_application(lots=lots)
    version = application.version
    _decide(application, other_manager, outcomes={lots[0]: LotOutcome.PASS})

    with pytest.raises(Conflict, match="Alex Other decided this application"):
        decisions.decide(
            application.id,
            manager,
            version=version,
            rejection_reason="Too late",
            today=TODAY,
            lots={lots[0].id: LotAssessment(LotOutcome.FAIL)},
        )
    db.session.expire_all()
    saved = db.session.get(Application, application.id)
    assert saved.decided_by_id == other_manager.id and saved.rejection_reason == ""
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Admission)) == 1
    assert len(_events(Events.APPLICATION_DECIDED)) == 1
    # Even with the current version, a decided application cannot be decided again.
    with pytest.raises(IllegalTransition):
        decisions.decide(application.id, manager, version=saved.version, rejection_reason="", today=TODAY)


def test_a_change_committed_between_reading_and_writing_is_caught_by_the_version_column(app_context, manager):
    lots = make_lots(1)
    application = make_submitted_application(lots=lots)
    loaded = decisions.get_application(application.id)  # this session now holds version 1
    version = loaded.version
    with db.engine.begin() as other:  # another manager's request commits meanwhile
        other.execute(sa.text("UPDATE applications SET version = version + 1 WHERE id = :id"), {"id": application.id})

    with pytest.raises(Conflict, match="at the same moment"):
        decisions.decide(
            application.id,
            manager,
            version=version,
            rejection_reason="",
            today=TODAY,
            lots={lots[0].id: LotAssessment(LotOutcome.PASS)},
        )
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Admission)) == 0
    assert db.session.get(Application, application.id).status is ApplicationStatus.SUBMITTED


def test_only_the_manager_may_assess(app_context):
    officer = make_user(Role.OFFICER)
    lots = make_lots(1)
    application = make_submitted_application(lots=lots)
    with pytest.raises(NotAllowed):
        decisions.save_assessment(application.id, officer, version=application.version, lots={})
    with pytest.raises(NotAllowed):
        decisions.decide(
            application.id,
            officer,
            version=application.version,
            rejection_reason="",
            today=TODAY,
            lots={lots[0].id: LotAssessment(LotOutcome.PASS)},
        )
