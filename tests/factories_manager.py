"""factory-boy factories for the manager's side of joining the DPS: arrangements, lots, lot questions, submitted
applications with lots and answers, admissions and suspensions. Objects are committed (a live server thread sees
them); call them inside an app context."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import factory

from portal.models import (
    Admission,
    Application,
    ApplicationAnswer,
    ApplicationLot,
    ApplicationStatus,
    Arrangement,
    Lot,
    LotQuestion,
    Provider,
    Regime,
    Suspension,
)
from portal.services.working_days import decision_due_on
from tests.factories import BaseFactory, ProviderFactory


class ArrangementFactory(BaseFactory):
    class Meta:
        model = Arrangement

    name = factory.Sequence(lambda n: f"Arrangement {n}")
    regime = Regime.PCR2015_DPS
    start_date = date(2024, 4, 1)
    end_date = date(2031, 3, 31)


class LotFactory(BaseFactory):
    class Meta:
        model = Lot

    arrangement = factory.SubFactory(ArrangementFactory)
    number = factory.Sequence(lambda n: n + 1)
    title = factory.Sequence(lambda n: f"Provision type {n}")


class LotQuestionFactory(BaseFactory):
    class Meta:
        model = LotQuestion

    lot_id = factory.LazyFunction(lambda: LotFactory().id)
    position = factory.Sequence(lambda n: n + 1)
    text = factory.Sequence(lambda n: f"Question {n}: how will you meet the need?")
    guidance = ""


class AdmissionFactory(BaseFactory):
    class Meta:
        model = Admission

    provider_id = factory.LazyFunction(lambda: ProviderFactory().id)
    lot_id = factory.LazyFunction(lambda: LotFactory().id)
    admitted_on = date(2025, 1, 6)


class SuspensionFactory(BaseFactory):
    class Meta:
        model = Suspension

    provider_id = factory.LazyFunction(lambda: ProviderFactory().id)
    lot_id = None
    starts_on = date(2026, 6, 1)
    ends_on = None
    reason = "Safeguarding concern under review"


def make_lots(count: int = 2, arrangement: Arrangement | None = None) -> list[Lot]:
    """``count`` lots numbered 1, 2, ... in one arrangement (a new one unless given)."""
    arrangement = arrangement or ArrangementFactory()
    return [LotFactory(arrangement=arrangement, number=n, title=f"Lot title {n}") for n in range(1, count + 1)]


def make_submitted_application(
    *,
    provider: Provider | None = None,
    lots: list[Lot],
    submitted_on: date = date(2026, 6, 1),
    questions_per_lot: int = 1,
    status: ApplicationStatus = ApplicationStatus.SUBMITTED,
) -> Application:
    """A submitted application for the lots, with ``questions_per_lot`` answered questions in each and the decision
    due 10 working days after ``submitted_on`` (as the provider's submission sets it)."""
    from portal.extensions import db

    provider = provider or ProviderFactory()
    application = Application(
        provider_id=provider.id,
        status=status,
        submitted_at=datetime.combine(submitted_on, time(10, 0), tzinfo=UTC),
        decision_due_on=decision_due_on(submitted_on),
    )
    application.lots = [ApplicationLot(lot_id=lot.id) for lot in lots]
    db.session.add(application)
    db.session.flush()
    for lot in lots:
        for n in range(questions_per_lot):
            question = LotQuestionFactory(lot_id=lot.id, text=f"{lot.title} question {n + 1}")
            db.session.add(
                ApplicationAnswer(
                    application_id=application.id,
                    question_id=question.id,
                    answer=f"Our answer for {lot.title}, question {n + 1}",
                )
            )
    db.session.commit()
    return application
