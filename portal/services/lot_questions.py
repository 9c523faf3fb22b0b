"""The manager keeps each lot's application questions and the compliance documents the lot requires.

Questions are asked in ``position`` order. A retired question is no longer asked, but stays (with its answers) for
the applications that answered it; its wording cannot change once a submitted application has answered it, so an
answer is always read against the question that was asked. Every change is audited as "lot questions changed".
Plain arguments in, domain errors out.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from portal.extensions import db
from portal.models import (
    Admission,
    Application,
    ApplicationAnswer,
    ApplicationStatus,
    DocumentType,
    Lot,
    LotDocumentRequirement,
    LotQuestion,
    Role,
    User,
)
from portal.models.base import utcnow
from portal.pagination import Page, paginate
from portal.services import audit
from portal.services.audit import Events
from portal.services.errors import DomainError, NotFound

PER_PAGE = 50
TEXT_MAX = 1000
GUIDANCE_MAX = 2000


class NotAllowed(DomainError):
    """Only the commissioning manager keeps the lots' questions (a route answers 403)."""


def _require_manager(by: User) -> None:
    if by.role is not Role.MANAGER:
        raise NotAllowed("Only the commissioning manager can change a lot's questions")


# ---- Reading -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LotRow:
    lot: Lot
    questions: int = 0  # asked now (not retired)
    required_documents: int = 0
    admitted: int = 0  # providers admitted today


def lots_page(*, today: date, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """Every lot (its arrangement joined), with how many questions it asks, documents it requires and providers it
    has today. Three statements: a COUNT, the lots, and one SELECT of the counts for the lots on the page."""
    statement = sa.select(Lot).options(joinedload(Lot.arrangement)).order_by(Lot.arrangement_id, Lot.number, Lot.id)
    result = paginate(statement, page=page, per_page=per_page)
    ids = [lot.id for lot in result.items]
    counts: dict[int, tuple[int, int, int]] = {}
    if ids:
        questions = (
            sa.select(sa.func.count())
            .where(LotQuestion.lot_id == Lot.id, LotQuestion.retired_at.is_(None))
            .scalar_subquery()
        )
        documents = sa.select(sa.func.count()).where(LotDocumentRequirement.lot_id == Lot.id).scalar_subquery()
        admitted = (
            sa.select(sa.func.count(sa.distinct(Admission.provider_id)))
            .where(
                Admission.lot_id == Lot.id,
                Admission.admitted_on <= today,
                sa.or_(Admission.removed_on.is_(None), Admission.removed_on > today),
            )
            .scalar_subquery()
        )
        for lot_id, q, d, a in db.session.execute(
            sa.select(Lot.id, questions, documents, admitted).where(Lot.id.in_(ids))
        ):
            counts[lot_id] = (q, d, a)
    rows = [LotRow(lot, *counts.get(lot.id, (0, 0, 0))) for lot in result.items]
    return replace(result, items=rows)


def get_lot(lot_id: int) -> Lot:
    lot = db.session.get(Lot, lot_id, options=[joinedload(Lot.arrangement)])
    if lot is None:
        raise NotFound("No lot has that number")
    return lot


def get_question(lot: Lot, question_id: int) -> LotQuestion:
    """A question of this lot (never another lot's)."""
    question = db.session.scalar(
        sa.select(LotQuestion).where(LotQuestion.id == question_id, LotQuestion.lot_id == lot.id)
    )
    if question is None:
        raise NotFound("This lot has no question with that number")
    return question


@dataclass(frozen=True)
class LotQuestions:
    lot: Lot
    asked: list[LotQuestion]  # in the order applicants see them
    retired: list[LotQuestion]
    answered: set[int]  # ids of questions a submitted application has answered (their wording is fixed)
    document_types: list[DocumentType]
    required: set[int]  # document type ids the lot requires


def _asked(lot_id: int) -> list[LotQuestion]:
    return list(
        db.session.scalars(
            sa.select(LotQuestion)
            .where(LotQuestion.lot_id == lot_id, LotQuestion.retired_at.is_(None))
            .order_by(LotQuestion.position, LotQuestion.id)
        )
    )


def _answered_ids(question_ids: list[int]) -> set[int]:
    if not question_ids:
        return set()
    return set(
        db.session.scalars(
            sa.select(ApplicationAnswer.question_id)
            .join(Application, Application.id == ApplicationAnswer.application_id)
            .where(
                ApplicationAnswer.question_id.in_(question_ids),
                Application.status != ApplicationStatus.DRAFT,
            )
            .distinct()
        )
    )


def is_answered(question: LotQuestion) -> bool:
    """Whether a submitted (or decided) application has answered the question: its wording is then fixed."""
    return bool(_answered_ids([question.id]))


def lot_questions(lot: Lot) -> LotQuestions:
    asked = _asked(lot.id)
    retired = list(
        db.session.scalars(
            sa.select(LotQuestion)
            .where(LotQuestion.lot_id == lot.id, LotQuestion.retired_at.is_not(None))
            .order_by(LotQuestion.retired_at.desc(), LotQuestion.id)
        )
    )
    return LotQuestions(
        lot=lot,
        asked=asked,
        retired=retired,
        answered=_answered_ids([q.id for q in asked]),
        document_types=list(
            db.session.scalars(sa.select(DocumentType).order_by(DocumentType.position, DocumentType.id))
        ),
        required=set(
            db.session.scalars(
                sa.select(LotDocumentRequirement.document_type_id).where(LotDocumentRequirement.lot_id == lot.id)
            )
        ),
    )


# ---- Changing ------------------------------------------------------------------------------------------------------


def _clean(text: str | None, guidance: str | None) -> tuple[str, str]:
    text = (text or "").strip()
    guidance = (guidance or "").strip()
    if not text:
        raise DomainError("Enter the question", field="text")
    if len(text) > TEXT_MAX:
        raise DomainError(f"The question must be {TEXT_MAX} characters or fewer", field="text")
    if len(guidance) > GUIDANCE_MAX:
        raise DomainError(f"The guidance must be {GUIDANCE_MAX} characters or fewer", field="guidance")
    return text, guidance


def _record(lot: Lot, by: User, ip: str | None, change: str, **details) -> None:
    audit.record(Events.LOT_QUESTIONS_CHANGED, actor=by, ip=ip, subject=lot, lot=lot.label, change=change, **details)


def add_question(lot_id: int, by: User, *, text: str, guidance: str = "", ip: str | None = None) -> LotQuestion:
    """Add a question at the end of the lot's list. Applications submitted from now on answer it."""
    _require_manager(by)
    lot = get_lot(lot_id)
    text, guidance = _clean(text, guidance)
    last = db.session.scalar(sa.select(sa.func.max(LotQuestion.position)).where(LotQuestion.lot_id == lot.id))
    question = LotQuestion(lot_id=lot.id, text=text, guidance=guidance, position=(last or 0) + 1)
    db.session.add(question)
    db.session.flush()
    _record(lot, by, ip, "question added", question_id=question.id, question=text)
    db.session.commit()
    return question


def fingerprint(question: LotQuestion) -> str:
    """What the question says now, in short: an edit form carries it, so an edit made on a stale page is refused."""
    return hashlib.sha256(f"{question.text}\0{question.guidance}".encode()).hexdigest()[:16]


def edit_question(
    lot_id: int,
    question_id: int,
    by: User,
    *,
    text: str,
    guidance: str = "",
    seen: str | None = None,
    ip: str | None = None,
) -> LotQuestion:
    """Change a question's wording or guidance. Once a submitted application has answered it, only the guidance
    can change: retire it and add a new question instead. ``seen`` is the fingerprint of the question the editor
    started from: if another manager changed it since, nothing is saved."""
    _require_manager(by)
    lot = get_lot(lot_id)
    question = get_question(lot, question_id)
    if seen is not None and seen != fingerprint(question):
        raise DomainError(
            "Another manager changed this question while you were editing it. Check the question as it is now, "
            "then make your change again.",
            field="text",
        )
    if question.retired_at is not None:
        raise DomainError("This question is retired: it cannot be changed")
    text, guidance = _clean(text, guidance)
    if text != question.text and is_answered(question):
        raise DomainError(
            "Providers have answered this question in submitted applications, so its wording cannot change. "
            "Retire it and add a new question instead.",
            field="text",
        )
    if text == question.text and guidance == question.guidance:
        return question
    before = question.text
    question.text, question.guidance = text, guidance
    _record(lot, by, ip, "question edited", question_id=question.id, question=text, was=before)
    db.session.commit()
    return question


def move_question(lot_id: int, question_id: int, by: User, *, direction: str, ip: str | None = None) -> None:
    """Move a question one place up or down among the questions asked (positions are renumbered 1, 2, 3 ...)."""
    _require_manager(by)
    if direction not in {"up", "down"}:
        raise DomainError("Choose to move the question up or down")
    lot = get_lot(lot_id)
    question = get_question(lot, question_id)
    if question.retired_at is not None:
        raise DomainError("This question is retired: it is not asked, so it has no place to move to")
    asked = _asked(lot.id)
    index = next(i for i, q in enumerate(asked) if q.id == question.id)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(asked):
        raise DomainError(f"This question is {'first' if direction == 'up' else 'last'} already")
    asked[index], asked[other] = asked[other], asked[index]
    for position, q in enumerate(asked, start=1):
        q.position = position
    _record(lot, by, ip, f"question moved {direction}", question_id=question.id, position=other + 1)
    db.session.commit()


def retire_question(lot_id: int, question_id: int, by: User, *, ip: str | None = None) -> LotQuestion:
    """Stop asking a question. Applications that answered it keep their answers, and the manager still sees them."""
    _require_manager(by)
    lot = get_lot(lot_id)
    question = get_question(lot, question_id)
    if question.retired_at is not None:
        raise DomainError("This question has been retired already")
    question.retired_at = utcnow()
    _record(lot, by, ip, "question retired", question_id=question.id, question=question.text)
    db.session.commit()
    return question


def required_fingerprint(required: set[int] | list[int]) -> str:
    """The required document types as the form saw them ("3,5,9"), so a save made on a stale page is refused."""
    return ",".join(str(type_id) for type_id in sorted(required))


def set_required_documents(
    lot_id: int, by: User, *, document_type_ids: list[int], seen: str | None = None, ip: str | None = None
) -> None:
    """Make exactly these document types mandatory for the lot. A provider admitted to the lot without a valid
    document of each is not invited to its call-offs until it uploads one. ``seen`` is required_fingerprint() of
    the list the manager started from: if another manager changed it since, nothing is saved."""
    _require_manager(by)
    lot = get_lot(lot_id)
    types = {t.id: t for t in db.session.scalars(sa.select(DocumentType))}
    wanted = set(document_type_ids)
    unknown = wanted - types.keys()
    if unknown:
        raise DomainError("Select document types from the list", field="document_types")
    current = set(
        db.session.scalars(
            sa.select(LotDocumentRequirement.document_type_id).where(LotDocumentRequirement.lot_id == lot.id)
        )
    )
    if seen is not None and seen != required_fingerprint(current):
        saved = ", ".join(sorted(types[i].name for i in current)) or "none"
        raise DomainError(
            f"Another manager changed the required documents while you were choosing: saved now are {saved}. "
            "Check your choice, then save it again.",
            field="document_types",
        )
    added, dropped = wanted - current, current - wanted
    if not added and not dropped:
        return
    if dropped:
        db.session.execute(
            sa.delete(LotDocumentRequirement).where(
                LotDocumentRequirement.lot_id == lot.id, LotDocumentRequirement.document_type_id.in_(dropped)
            )
        )
    for type_id in sorted(added):
        db.session.add(LotDocumentRequirement(lot_id=lot.id, document_type_id=type_id))
    _record(
        lot,
        by,
        ip,
        "required documents changed",
        now_required=", ".join(sorted(types[i].name for i in added)) or "none",
        no_longer_required=", ".join(sorted(types[i].name for i in dropped)) or "none",
    )
    db.session.commit()
