"""Deciding applications to join the DPS: the manager's queue with its 10-working-day clock, the assessment of each
lot applied for, and the decision that admits the passed lots and rejects the failed ones.

Plain arguments in, domain errors out. The status of an application moves only as TRANSITIONS allows, and only for
the role named there. An assessment or a decision made on a page older than the application (its ``version``) is
refused with a Conflict, never applied over someone else's change.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, lazyload
from sqlalchemy.orm.exc import StaleDataError

from portal.clock import LONDON
from portal.conflicts import changed_at
from portal.extensions import db
from portal.formatting import london_datetime, long_date
from portal.models import (
    Admission,
    Application,
    ApplicationLot,
    ApplicationStatus,
    ComplianceDocument,
    DocumentType,
    LotOutcome,
    Provider,
    Role,
    Sla,
    User,
)
from portal.models.base import utcnow
from portal.pagination import Page, paginate
from portal.services import audit, sla_terms, slas
from portal.services.audit import Events
from portal.services.errors import DomainError, NotFound
from portal.services.mail import notify, provider_users
from portal.services.working_days import working_days_between

PER_PAGE = 25
NOTE_MAX = 5000
DECISION_SUBJECT = "Decision on your application to join the dynamic purchasing system"


class IllegalTransition(DomainError):
    """The application is not in a status this change can be made from (a route answers 409)."""


class Conflict(DomainError):
    """Someone changed the application after the page was loaded (a route answers 409)."""


class NotAllowed(DomainError):
    """The acting user's role may not make this change (a route answers 403)."""


# ---- The status table ----------------------------------------------------------------------------------------------

# Who may move an application from one status to the next. Anything not listed is refused.
TRANSITIONS: dict[tuple[ApplicationStatus, ApplicationStatus], Role] = {
    (ApplicationStatus.DRAFT, ApplicationStatus.SUBMITTED): Role.PROVIDER,
    (ApplicationStatus.SUBMITTED, ApplicationStatus.DECIDED): Role.MANAGER,
}

_REFUSALS: dict[tuple[ApplicationStatus, ApplicationStatus], str] = {
    (
        ApplicationStatus.DRAFT,
        ApplicationStatus.DECIDED,
    ): "This application has not been submitted yet, so it cannot be decided.",
    (
        ApplicationStatus.DECIDED,
        ApplicationStatus.DECIDED,
    ): "This application has been decided already. A decision cannot be changed.",
    (ApplicationStatus.SUBMITTED, ApplicationStatus.SUBMITTED): "This application has been submitted already.",
    (ApplicationStatus.DECIDED, ApplicationStatus.SUBMITTED): (
        "This application has been decided already, so it cannot be submitted again. Start a new application to "
        "apply for more lots."
    ),
}


def allowed_transition(current: ApplicationStatus, new: ApplicationStatus) -> Role | None:
    """The role that may make this change, or None when no one may."""
    return TRANSITIONS.get((current, new))


def ensure_transition(application: Application, new: ApplicationStatus, by: User) -> None:
    """Raise unless ``by`` may move the application to ``new`` now."""
    role = allowed_transition(application.status, new)
    if role is None:
        raise IllegalTransition(
            _REFUSALS.get(
                (application.status, new),
                f"An application that is {application.status.value} cannot become {new.value}.",
            )
        )
    if by.role is not role:
        raise NotAllowed(
            "Only the commissioning manager can decide applications"
            if role is Role.MANAGER
            else "Only the provider can submit its application"
        )


# ---- The 10-working-day clock --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clock:
    """Where an application stands against its decision due date."""

    due_on: date | None
    working_days_left: int | None = None  # when not overdue
    overdue_by: int | None = None  # working days past the due date, when overdue

    @property
    def overdue(self) -> bool:
        return self.overdue_by is not None

    @property
    def text(self) -> str:
        if self.due_on is None:
            return "No due date"
        if self.overdue_by is not None:
            if self.overdue_by == 0:
                return "Overdue"
            return f"Overdue by {self.overdue_by} working day{'s' if self.overdue_by != 1 else ''}"
        if self.working_days_left == 0:
            return "Due today"
        return f"{self.working_days_left} working day{'s' if self.working_days_left != 1 else ''} left"


def clock(due_on: date | None, today: date) -> Clock:
    if due_on is None:
        return Clock(None)
    if due_on < today:
        return Clock(due_on, overdue_by=working_days_between(due_on, today))
    return Clock(due_on, working_days_left=working_days_between(today, due_on))


# ---- The queue -----------------------------------------------------------------------------------------------------


class QueueTab(enum.StrEnum):
    WAITING = "waiting"
    DECIDED = "decided"


@dataclass(frozen=True)
class QueueRow:
    application: Application
    clock: Clock

    @property
    def admitted_lots(self) -> list[ApplicationLot]:
        return [lot for lot in self.application.lots if lot.outcome is LotOutcome.PASS]

    @property
    def rejected_lots(self) -> list[ApplicationLot]:
        return [lot for lot in self.application.lots if lot.outcome is LotOutcome.FAIL]


def queue(tab: QueueTab | str, *, today: date, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """Applications waiting for a decision (overdue first, then by due date) or decided (newest first), a page of
    QueueRow at a time. Two statements: a COUNT, and one SELECT with the provider and the lots joined."""
    statement = queue_statement(tab, today=today).options(
        joinedload(Application.lots),  # each ApplicationLot's lot is joined by the model
    )
    result = paginate(statement, page=page, per_page=per_page)
    rows = [QueueRow(application, clock(application.decision_due_on, today)) for application in result.items]
    return replace(result, items=rows)


def queue_statement(tab: QueueTab | str, *, today: date) -> sa.Select:
    """The queue's SELECT of Application on a tab, in its order, with the provider joined (the caller chooses how the
    lots are loaded: joined for a page, ``selectinload`` for a CSV read in batches)."""
    tab = QueueTab(tab)
    statement = sa.select(Application).options(
        joinedload(Application.provider).lazyload("*"),
        lazyload(Application.answers),
    )
    if tab is QueueTab.WAITING:
        due = Application.decision_due_on
        statement = statement.where(Application.status == ApplicationStatus.SUBMITTED).order_by(
            sa.case((due < today, 0), else_=1),
            due.is_(None),
            due,
            Application.submitted_at,
            Application.id,
        )
    else:
        statement = statement.where(Application.status == ApplicationStatus.DECIDED).order_by(
            Application.decided_at.desc(), Application.id.desc()
        )
    return statement


# ---- One application -----------------------------------------------------------------------------------------------


def get_application(application_id: int) -> Application:
    application = db.session.get(Application, application_id)
    if application is None or application.status is ApplicationStatus.DRAFT:
        # A draft is the provider's own business until it is submitted.
        raise NotFound("No submitted application has that number")
    return application


@dataclass(frozen=True)
class AppliedLot:
    application_lot: ApplicationLot
    answers: list  # ApplicationAnswer, in the order of the lot's questions


@dataclass(frozen=True)
class LotUnderAssessment(AppliedLot):
    missing_documents: list[str]  # mandatory document types with no valid document today


@dataclass(frozen=True)
class DocumentRow:
    document: ComplianceDocument
    current: bool  # the newest of its type; older ones have been replaced


@dataclass(frozen=True)
class Assessment:
    """What the assessment page shows: the application, each lot with its answers, the provider's documents."""

    application: Application
    lots: list[LotUnderAssessment]
    documents: list[DocumentRow]
    clock: Clock
    decided_by: User | None


def _answers_by_lot(application: Application) -> dict[int, list]:
    by_lot: dict[int, list] = {lot.lot_id: [] for lot in application.lots}
    for answer in sorted(application.answers, key=lambda a: (a.question.position, a.question.id)):
        by_lot.setdefault(answer.question.lot_id, []).append(answer)
    return by_lot


def assessment(application: Application, today: date) -> Assessment:
    from portal.services.eligibility import standing

    by_lot = _answers_by_lot(application)
    lots = [
        LotUnderAssessment(
            application_lot=lot,
            answers=by_lot.get(lot.lot_id, []),
            missing_documents=standing(application.provider, lot.lot, today).missing_documents,
        )
        for lot in application.lots
    ]
    documents = list(
        db.session.scalars(
            sa.select(ComplianceDocument)
            .join(DocumentType, DocumentType.id == ComplianceDocument.document_type_id)
            .where(ComplianceDocument.provider_id == application.provider_id)
            .order_by(DocumentType.position, ComplianceDocument.uploaded_at.desc(), ComplianceDocument.id.desc())
        )
    )
    decided_by = db.session.get(User, application.decided_by_id) if application.decided_by_id else None
    seen: set[int] = set()
    rows = []
    for document in documents:
        rows.append(DocumentRow(document, current=document.document_type_id not in seen))
        seen.add(document.document_type_id)
    return Assessment(
        application=application,
        lots=lots,
        documents=rows,
        clock=clock(application.decision_due_on, today),
        decided_by=decided_by,
    )


@dataclass(frozen=True)
class ApplicationRecord:
    """What the read-only application page shows officers and the manager: no assessment form, no working notes."""

    application: Application
    lots: list[AppliedLot]
    clock: Clock
    decided_by: User | None


def application_record(application_id: int, today: date) -> ApplicationRecord:
    """A submitted or decided application to read (NotFound for a draft or none). A fixed number of statements
    whatever the number of lots: the application with its provider, then its lots, answers and profile lists."""
    application = get_application(application_id)
    by_lot = _answers_by_lot(application)
    decided_by = db.session.get(User, application.decided_by_id) if application.decided_by_id else None
    return ApplicationRecord(
        application=application,
        lots=[AppliedLot(lot, by_lot.get(lot.lot_id, [])) for lot in application.lots],
        clock=clock(application.decision_due_on, today),
        decided_by=decided_by,
    )


def provider_applications(provider_id: int) -> list[Application]:
    """A provider's submitted and decided applications, newest first, each with its lots (one SELECT)."""
    return list(
        db.session.scalars(
            sa.select(Application)
            .options(lazyload(Application.provider), lazyload(Application.answers), joinedload(Application.lots))
            .where(Application.provider_id == provider_id, Application.status != ApplicationStatus.DRAFT)
            .order_by(Application.submitted_at.desc(), Application.id.desc())
        ).unique()
    )


# ---- Assessing and deciding ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LotAssessment:
    outcome: LotOutcome | str
    notes: str = ""


def _check_version(application: Application, version: int | None) -> None:
    if version is None or version != application.version:
        if application.status is ApplicationStatus.DECIDED:
            who = db.session.get(User, application.decided_by_id) if application.decided_by_id else None
            raise Conflict(
                f"{who.name if who else 'Someone'} decided this application on "
                f"{london_datetime(application.decided_at)}, while you had it open. Nothing you sent was saved: "
                "the page now shows their decision."
            )
        raise Conflict(
            f"Someone else changed this application's assessment{changed_at(application.updated_at)} while you had "
            "it open. Nothing you sent was saved: the form keeps what you typed, and what is saved now is shown at the "
            "top. Check it, then send your changes again."
        )


def _apply_assessment(
    application: Application,
    lots: Mapping[int, LotAssessment],
    answer_notes: Mapping[int, str],
    rejection_reason: str | None,
) -> None:
    by_lot = {lot.lot_id: lot for lot in application.lots}
    for lot_id, assessed in lots.items():
        lot = by_lot.get(lot_id)
        if lot is None:
            raise DomainError("That lot is not part of this application", field=f"outcome_{lot_id}")
        try:
            outcome = LotOutcome(assessed.outcome)
        except ValueError:
            raise DomainError(
                f"Select pass, fail or not assessed yet for {lot.lot.label}", field=f"outcome_{lot_id}"
            ) from None
        notes = (assessed.notes or "").strip()
        if len(notes) > NOTE_MAX:
            raise DomainError(f"Notes must be {NOTE_MAX} characters or fewer", field=f"notes_{lot_id}")
        lot.outcome, lot.notes = outcome, notes
    by_question = {answer.question_id: answer for answer in application.answers}
    for question_id, note in answer_notes.items():
        answer = by_question.get(question_id)
        if answer is None:
            raise DomainError("That question was not answered in this application", field=f"note_{question_id}")
        note = (note or "").strip()
        if len(note) > NOTE_MAX:
            raise DomainError(f"A note must be {NOTE_MAX} characters or fewer", field=f"note_{question_id}")
        answer.assessor_note = note
    if rejection_reason is not None:
        reason = rejection_reason.strip()
        if len(reason) > NOTE_MAX:
            raise DomainError(f"The reason must be {NOTE_MAX} characters or fewer", field="rejection_reason")
        application.rejection_reason = reason
    # Touch the application itself, so its version moves on and a page loaded before this change is refused.
    application.updated_at = utcnow()


_RACE = (
    "Someone else changed or decided this application at the same moment. Nothing you sent was saved: the page now "
    "shows the latest version."
)


def save_assessment(
    application_id: int,
    by: User,
    *,
    version: int | None,
    lots: Mapping[int, LotAssessment],
    answer_notes: Mapping[int, str] | None = None,
    rejection_reason: str | None = None,
) -> Application:
    """Record pass / fail / not yet and notes per lot, and notes per answer, while the application waits for a
    decision. ``rejection_reason`` is kept as typed until the decision uses it."""
    if by.role is not Role.MANAGER:
        raise NotAllowed("Only the commissioning manager can assess applications")
    try:
        application = get_application(application_id)
        _check_version(application, version)
        if application.status is not ApplicationStatus.SUBMITTED:
            raise IllegalTransition("This application has been decided already: its assessment can no longer change.")
        _apply_assessment(application, lots, answer_notes or {}, rejection_reason)
        db.session.commit()
    except DomainError:
        db.session.rollback()
        raise
    except StaleDataError:
        # Another request committed between our read and our write: the version check in the UPDATE caught it.
        db.session.rollback()
        raise Conflict(_RACE) from None
    return application


@dataclass(frozen=True)
class Decision:
    application: Application
    admitted: list[ApplicationLot]
    rejected: list[ApplicationLot]


def decide(
    application_id: int,
    by: User,
    *,
    version: int | None,
    rejection_reason: str,
    today: date,
    lots: Mapping[int, LotAssessment] | None = None,
    answer_notes: Mapping[int, str] | None = None,
    ip: str | None = None,
) -> Decision:
    """Decide a submitted application: every lot must be assessed; the passed lots are admitted from ``today``, the
    failed ones rejected with the reason. The assessment sent with the decision (if any) is saved with it. The
    provider's users are emailed and notified, and everything is audited, in one transaction."""
    try:
        decision = _decide(application_id, by, version, rejection_reason, today, lots or {}, answer_notes or {}, ip)
        db.session.commit()
    except DomainError:
        db.session.rollback()  # nothing of a refused decision is kept, not even the assessment sent with it
        raise
    except StaleDataError:
        # Another request committed between our read and our write: the version check in the UPDATE caught it.
        db.session.rollback()
        raise Conflict(_RACE) from None
    return decision


def _decide(application_id, by, version, rejection_reason, today, lots, answer_notes, ip) -> Decision:
    application = get_application(application_id)
    _check_version(application, version)
    ensure_transition(application, ApplicationStatus.DECIDED, by)
    _apply_assessment(application, lots, answer_notes, rejection_reason)

    pending = [lot for lot in application.lots if lot.outcome is LotOutcome.PENDING]
    if pending:
        names = ", ".join(lot.lot.label for lot in pending)
        raise DomainError(
            f"Assess every lot before deciding: choose pass or fail for {names}", field=f"outcome_{pending[0].lot_id}"
        )
    if not application.lots:
        raise DomainError("This application names no lots, so there is nothing to decide")
    admitted = [lot for lot in application.lots if lot.outcome is LotOutcome.PASS]
    rejected = [lot for lot in application.lots if lot.outcome is LotOutcome.FAIL]
    reason = (rejection_reason or "").strip()
    if rejected and not reason:
        raise DomainError(
            "Enter the reason the application is rejected for " + ", ".join(lot.lot.label for lot in rejected),
            field="rejection_reason",
        )

    application.status = ApplicationStatus.DECIDED
    application.decided_at = utcnow()
    application.decided_by_id = by.id
    application.rejection_reason = reason if rejected else ""

    already = set(
        db.session.scalars(
            sa.select(Admission.lot_id).where(
                Admission.provider_id == application.provider_id,
                sa.or_(Admission.removed_on.is_(None), Admission.removed_on > today),
            )
        )
    )
    for lot in admitted:
        if lot.lot_id not in already:  # never two admissions in force to the same lot
            db.session.add(
                Admission(
                    provider_id=application.provider_id,
                    lot_id=lot.lot_id,
                    application_id=application.id,
                    admitted_on=today,
                )
            )
        audit.record(
            Events.PROVIDER_ADMITTED,
            actor=by,
            ip=ip,
            subject=application.provider,
            application_id=application.id,
            lot=lot.lot.label,
            admitted_on=today.isoformat(),
        )
    sla = _draft_sla(application.provider, {lot.lot_id for lot in admitted}, by, ip, today)
    for lot in rejected:
        audit.record(
            Events.APPLICATION_LOT_REJECTED,
            actor=by,
            ip=ip,
            subject=application,
            reason=reason,
            provider=application.provider.name,
            lot=lot.lot.label,
        )
    audit.record(
        Events.APPLICATION_DECIDED,
        actor=by,
        ip=ip,
        subject=application,
        reason=reason,
        provider=application.provider.name,
        admitted=", ".join(lot.lot.label for lot in admitted) or "none",
        rejected=", ".join(lot.lot.label for lot in rejected) or "none",
    )
    _tell_provider(application, admitted, rejected, reason, today, sla_drafted=sla is not None)
    return Decision(application=application, admitted=admitted, rejected=rejected)


def _draft_sla(provider: Provider, lot_ids: set[int], by: User, ip: str | None, today: date) -> Sla | None:
    """The SLA follows the admission (portal.services.slas.on_admission): a first SLA in draft, a variation of the
    approved one adding the lots, or the lots added to the version being worked on. Version 1 of the terms is written
    first if the manager has written none yet, so admitting never waits for it."""
    if not lot_ids:
        return None
    if slas.current_template() is None:
        sla_terms.new_version(by, now=utcnow(), ip=ip)  # the six standard sections
    working = slas.in_progress(provider.id)
    before = working.lot_ids if working is not None else set()
    sla = slas.on_admission(provider, lot_ids, by=by, today=today)
    if sla is None:
        return None
    db.session.flush()  # the new version's id, and its lots' names, for the trail
    if sla is not working:
        audit.record(
            Events.SLA_CREATED,
            actor=by,
            ip=ip,
            subject=sla,
            provider=provider.name,
            number=sla.number,
            lots=", ".join(lot.lot.label for lot in sla.lots),
            variation=sla.previous_id is not None,
        )
    elif sla.lot_ids != before:
        audit.record(
            Events.SLA_LOTS_ADDED,
            actor=by,
            ip=ip,
            subject=sla,
            provider=provider.name,
            number=sla.number,
            added=", ".join(lot.lot.label for lot in sla.lots if lot.lot_id not in before),
        )
    return sla


def _tell_provider(
    application: Application,
    admitted: list[ApplicationLot],
    rejected: list[ApplicationLot],
    reason: str,
    today: date,
    *,
    sla_drafted: bool = False,
) -> None:
    provider: Provider = application.provider
    submitted = (
        f", submitted on {long_date(application.submitted_at.astimezone(LONDON).date())}"
        if application.submitted_at
        else ""
    )
    parts = [f"We have decided {provider.name}'s application to join the dynamic purchasing system{submitted}."]
    if admitted:
        parts.append(
            "Admitted to:\n"
            + "\n".join(f"- {lot.lot.label}" for lot in admitted)
            + (
                "\n\nWe will send you a service level agreement (SLA) for these lots to accept. Once the council "
                f"has approved it (from {long_date(today)} at the earliest), you will be invited to call-offs in these "
                "lots, as long as your compliance documents are up to date and in date."
                if sla_drafted
                else f"\n\nFrom {long_date(today)} you will be invited to call-offs in these lots, under your service "
                "level agreement, as long as your compliance documents are up to date and in date."
            )
        )
    if rejected:
        parts.append(
            "Not admitted to:\n"
            + "\n".join(f"- {lot.lot.label}" + (f": {lot.notes}" if lot.notes else "") for lot in rejected)
            + f"\n\nThe reason:\n{reason}"
            "\n\nYou can apply again for these lots when you have addressed the reason."
        )
    parts.append("If you have a question about this decision, reply to the commissioning team.")
    for user in provider_users([application.provider_id]):
        notify(user, DECISION_SUBJECT, f"Dear {user.name},\n\n" + "\n\n".join(parts))
