"""Records in the states the small demo has none of, made on top of it for tests/fuzz/test_hostile_forms_in_states.py.

Each maker makes one record in its state and returns its id: through the services (the real transitions: publishing,
scoring, awarding, assessing, proposing an erasure, deactivating, inviting, setting up a successor, turning two-factor
on), on records made by the factories (tests/factories*.py) where no service makes them (a child, a draft referral, a
submitted application, an offer). The fuzz calls a maker again when an accepted example has ended the state of the
record it was sending to (a decision made, a site removed), so the next examples reach a form too. Call them inside an
app context; each commits.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from portal import clock
from portal.extensions import db
from portal.models import (
    Application,
    ApplicationAnswer,
    ApplicationLot,
    ApplicationStatus,
    Arrangement,
    DeliveryMode,
    Invitation,
    Lot,
    LotOutcome,
    LotQuestion,
    Offer,
    OutboxMessage,
    Placement,
    PlacementStatus,
    Provider,
    Referral,
    Regime,
    Role,
    User,
)
from portal.services import (
    applications,
    arrangements,
    decisions,
    evaluation,
    retention,
    scoring,
    sla_terms,
    two_factor,
    users,
)
from portal.services.children import upn_check_letter
from portal.services.decisions import LotAssessment
from portal.services.evaluation import ScoreEntry
from portal.services.working_days import decision_due_on
from tests.factories import ProviderFactory, make_user
from tests.factories_calloff import make_child, make_offer, make_referral, publish
from tests.helpers import totp_code

MANAGER = "manager@council.example"
OFFICER = "send.officer@council.example"
# The second manager proposes the erasures (the one who proposes one may not approve it).
SECOND_MANAGER = "second.manager@council.example"
DRAFT_PROVIDER = "Yiewsley Preparation for Adulthood"  # provider 8: the demo's draft application
PLACING_PROVIDER = "Brookfield Learning Centre"  # provider 1: placements, and admissions a successor carries over
OFFER_LOT = 3  # the lot of the demo's referral past its deadline: Colne Valley and Pinewood are invited
DRAFT_LOT = 2  # three providers eligible: publishing invites them
APPLICATION_LOTS = (1, 2)  # two questions each: the same field names whichever application

_numbers = itertools.count(1)


def _user(email: str) -> User:
    return db.session.scalar(sa.select(User).where(User.email == email))


def _first_arrangement_id() -> int:
    """The demo's arrangement: the one no other precedes."""
    return db.session.scalar(sa.select(Arrangement.id).where(Arrangement.predecessor_id.is_(None)))


def _lot(number: int) -> Lot:
    """Lot ``number`` of the demo's arrangement (the first one: successors have lots with the same numbers)."""
    return db.session.scalar(
        sa.select(Lot).where(Lot.arrangement_id == _first_arrangement_id(), Lot.number == number)
    )


def _provider(name: str) -> Provider:
    return db.session.scalar(sa.select(Provider).where(Provider.name == name))


def _child(*, created_at: datetime | None = None):
    """A child with a UPN of its own (the factory's child always has the same one, and UPNs are unique)."""
    digits = f"41{next(_numbers):010d}"
    upn = upn_check_letter("?" + digits) + digits
    fields = {"created_at": created_at} if created_at else {}
    return make_child(_user(OFFICER), upn=upn, first_name=f"Child{next(_numbers)}", **fields)


# ---- People ---------------------------------------------------------------------------------------------------------


def officer_with_two_factor() -> tuple[str, str]:
    """An officer (for whom two-factor is a choice) who turned it on: set up and confirmed with a code, as the
    account pages do. Returns the email and the secret (the password is tests.helpers.DEFAULT_PASSWORD)."""
    officer = make_user(Role.OFFICER, email=f"two.factor.officer{next(_numbers)}@council.example")
    secret = two_factor.start_set_up(officer)
    two_factor.confirm_set_up(officer, totp_code(secret), ip=None)
    return officer.email, secret


def second_manager() -> str:
    """A manager besides the demo's (a factory user: tests.helpers.DEFAULT_PASSWORD, TEST_TOTP_SECRET)."""
    if _user(SECOND_MANAGER) is None:
        make_user(Role.MANAGER, email=SECOND_MANAGER, name="Sasha Second")
    return SECOND_MANAGER


def deactivated_user(user_id: int | None = None) -> int:
    """An account the manager deactivated (a new officer's, or the one given, again)."""
    user = db.session.get(User, user_id) if user_id else make_user(Role.OFFICER, name="Dee Activated")
    users.deactivate(_user(MANAGER), user, "Left the council", ip=None, version=user.version)
    return user.id


def invited_user() -> int:
    """An officer the manager invited, who has not set a password yet."""
    number = next(_numbers)
    user = users.invite(
        _user(MANAGER),
        email=f"invited{number}@council.example",
        name=f"Ivy Invited {number}",
        role=Role.OFFICER,
        service_name="SEND",
        ip=None,
    )
    return user.id


# ---- The DPS ------------------------------------------------------------------------------------------------------


def assessed_application() -> int:
    """A new provider's submitted application to two lots, answering each lot's questions, with every lot assessed
    (pass) by the manager: offered to be decided."""
    lots = [_lot(number) for number in APPLICATION_LOTS]
    today = clock.london_today()
    application = Application(
        provider_id=ProviderFactory(name=f"Applying provider {next(_numbers)}").id,
        status=ApplicationStatus.SUBMITTED,
        submitted_at=clock.now() - timedelta(days=2),
        decision_due_on=decision_due_on(today - timedelta(days=2)),
    )
    application.lots = [ApplicationLot(lot_id=lot.id) for lot in lots]
    questions = db.session.scalars(
        sa.select(LotQuestion)
        .where(LotQuestion.lot_id.in_([lot.id for lot in lots]), LotQuestion.retired_at.is_(None))
        .order_by(LotQuestion.id)
    )
    application.answers = [
        ApplicationAnswer(question_id=question.id, answer="A key worker for each child and a weekly plan.")
        for question in questions
    ]
    db.session.add(application)
    db.session.commit()
    decisions.save_assessment(
        application.id,
        _user(MANAGER),
        version=application.version,
        lots={lot.id: LotAssessment(LotOutcome.PASS, "Meets the lot's requirements.") for lot in lots},
        answer_notes={},
        rejection_reason="",
    )
    return application.id


def draft_with_on_site_provision() -> int:
    """The demo's draft application (provider 8), which offers provision on site, given one more site through the
    application (so removing one leaves one). Returns the new site's id."""
    provider = _provider(DRAFT_PROVIDER)
    application = db.session.scalar(
        sa.select(Application).where(
            Application.provider_id == provider.id, Application.status == ApplicationStatus.DRAFT
        )
    )
    assert application is not None and DeliveryMode.ON_SITE in {m.mode for m in provider.delivery_modes}, (
        "the demo's draft application no longer offers provision on site"
    )
    site = applications.add_site(
        application,
        application.version,
        applications.SiteDetails(name=f"Site {next(_numbers)}", address="2 Station Road\nYiewsley", postcode="UB7 7AA"),
    )
    return site.id


def successor(predecessor_id: int | None = None) -> int:
    """A successor to the demo's arrangement (or to the one given), starting next month: the admitted providers'
    admissions are carried over, waiting for them to re-confirm."""
    today = clock.london_today()
    predecessor_id = predecessor_id or _first_arrangement_id()
    made = arrangements.set_up_successor(
        predecessor_id,
        arrangements.SuccessorDetails(
            name=f"Hillingdon AP dynamic market {next(_numbers)}",
            regime=Regime.PA2023_DYNAMIC_MARKET.value,
            start_date=today + timedelta(days=30),
            end_date=today + timedelta(days=4 * 365),
        ),
        _user(MANAGER),
        now=clock.now(),
    )
    db.session.commit()
    return made.id


def draft_terms() -> int:
    """A new version of the SLA terms no SLA uses yet (its sections can still change)."""
    template = sla_terms.new_version(_user(MANAGER), now=clock.now())
    db.session.commit()
    return template.id


def undelivered_email() -> int:
    """An email the outbox gave up: refused for good by the mail server at its first try (the row as the worker
    leaves it; no service makes one without an SMTP server)."""
    now = clock.now()
    message = OutboxMessage(
        to_address=f"gone{next(_numbers)}@school.example",
        subject="A concern was raised",
        body="Not shown on the undelivered mail page.",
        created_at=now - timedelta(minutes=5),
        next_attempt_at=now + timedelta(minutes=1),
        attempts=1,
        last_error="SMTPRecipientsRefused: {'gone@school.example': (550, b'5.1.1 No such mailbox here')}",
        failed_at=now,
    )
    db.session.add(message)
    db.session.commit()
    return message.id


# ---- Retention ------------------------------------------------------------------------------------------------------


def child_past_retention() -> int:
    """A child recorded eight years ago, with nothing since: past the seven years (no service makes an old record:
    its creation time is written as the years would have left it)."""
    return _child(created_at=datetime.now(UTC) - timedelta(days=8 * 366)).id


def erasure_proposed() -> int:
    """A child past its period whose erasure the second manager proposed: the demo manager may decide it."""
    child_id = child_past_retention()
    request = retention.propose_erasure(
        child_id, _user(second_manager()), reason="Past the retention period; no case needs it.", now=clock.now(),
        ip=None,
    )
    db.session.commit()
    return request.id


# ---- The call-off ---------------------------------------------------------------------------------------------------


def complete_draft() -> int:
    """A draft referral with every section complete, in a lot with eligible providers: offered to be published."""
    referral = make_referral(_user(OFFICER), _lot(DRAFT_LOT), child=_child())
    return referral.id


def _offers(referral_id: int) -> list[Offer]:
    return list(db.session.scalars(sa.select(Offer).where(Offer.referral_id == referral_id).order_by(Offer.id)))


def _past_deadline(*, offers: bool) -> Referral:
    """A referral published twelve days ago, its deadline passed two days ago (so being evaluated), with an offer from
    each invited provider if ``offers``."""
    officer = _user(OFFICER)
    referral = make_referral(officer, _lot(OFFER_LOT), child=_child())
    published = clock.now() - timedelta(days=12)
    publish(referral, officer, now=published, days=10)
    if offers:
        invited = db.session.scalars(
            sa.select(Invitation).where(Invitation.referral_id == referral.id).order_by(Invitation.id)
        ).all()
        assert invited, "no provider is invited to the lot any more"
        for invitation in invited:
            user = db.session.scalar(
                sa.select(User).where(User.provider_id == invitation.provider_id).order_by(User.id)
            )
            make_offer(referral, invitation.provider, user, submitted_at=published + timedelta(days=1))
    db.session.refresh(referral)
    return referral


def off_dps_request() -> int:
    """A referral past its deadline the officer asked the manager to commission off the DPS."""
    referral = _past_deadline(offers=False)
    request = evaluation.request_off_dps(
        referral.id, _user(OFFICER), version=referral.version, reason="No provider can meet the child's needs.",
        now=clock.now(),
    )
    db.session.commit()
    return request.id


def scored_referral() -> int:
    """A referral past its deadline whose every offer the officer has scored: offered to be awarded."""
    referral = _past_deadline(offers=True)
    officer = _user(OFFICER)
    for offer in _offers(referral.id):
        evaluation.save_scores(
            referral.id,
            offer.id,
            officer,
            offer_version=offer.version,
            entries={criterion.key: ScoreEntry(4, "Meets it well") for criterion in scoring.criteria(referral)},
            now=clock.now(),
        )
        db.session.commit()
    return referral.id


def awarded_referral() -> int:
    """A referral the officer awarded, whose placement is not set up yet."""
    referral_id = scored_referral()
    referral = db.session.get(Referral, referral_id)
    best = min(_offers(referral_id), key=lambda offer: offer.total)
    evaluation.award(
        referral_id, best.id, _user(OFFICER), version=referral.version, rationale="Best value for money",
        now=clock.now(),
    )
    db.session.commit()
    return referral_id


def active_placement() -> int:
    """The demo's oldest active placement with provider 1 (attendance marked for every past session)."""
    return db.session.scalar(
        sa.select(Placement.id)
        .where(Placement.provider_id == _provider(PLACING_PROVIDER).id, Placement.status == PlacementStatus.ACTIVE)
        .order_by(Placement.start_date, Placement.id)
    )
