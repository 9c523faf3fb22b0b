"""Evaluation of a published referral: what the officer's live page shows, scoring each offer, the award (exactly one
per referral, even when two officers press at once), and commissioning off the DPS with the manager's approval.

The functions take plain arguments, the acting user and ``now``; they raise DomainError (or a subclass) and never
commit: the route does. No email or notification written here names the child or gives anything away about them.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import aliased, joinedload, lazyload
from sqlalchemy.orm.exc import StaleDataError

from portal.extensions import db
from portal.formatting import london_datetime
from portal.models import (
    Invitation,
    OffDpsRequest,
    OffDpsStatus,
    Offer,
    OfferStatus,
    Referral,
    ReferralStatus,
    Role,
    Score,
    User,
)
from portal.pagination import Page, paginate
from portal.services import audit, referrals, scoring
from portal.services.audit import Events
from portal.services.errors import Conflict, DomainError, FieldErrors, IllegalTransition, NotAllowed, NotFound
from portal.services.mail import active_users, managers, notify, provider_users
from portal.services.offers import LIVE, Response, response_state
from portal.services.referrals import Action, Stage, link, reference

COMMENT_MAX = 5000
RATIONALE_MAX = 5000
REASON_MAX = referrals.REASON_MAX
# A score this low needs the officer's comment saying why.
COMMENT_NEEDED_AT = frozenset({0, 1})
SCORE_LABELS = {
    0: "0: unacceptable",
    1: "1: poor",
    2: "2: weak",
    3: "3: satisfactory",
    4: "4: good",
    5: "5: excellent",
}
PER_PAGE = 25


def field_name(kind: str, criterion_key: str) -> str:
    """The form field of a criterion's score ("score") or comment ("comment"): "score_aim_12", "comment_delivery"."""
    return f"{kind}_{criterion_key.replace(':', '_')}"


# --- What the officer's page shows -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class InvitationRow:
    invitation: Invitation
    offer: Offer | None
    response: Response


@dataclass(frozen=True)
class RoundView:
    number: int
    invitations: list[InvitationRow]
    # Every offer of the round, withdrawn ones included (they are part of the record).
    offers: list[Offer]

    @property
    def considered(self) -> list[Offer]:
        return [offer for offer in self.offers if offer.status in LIVE]


@dataclass(frozen=True)
class LiveView:
    """Everything the live section of a referral's page shows, read in a fixed number of statements."""

    referral: Referral
    stage: Stage
    deadline_text: str
    current: RoundView
    earlier: list[RoundView]
    # The ranked table (scoring.rank) of the current round's offers, once evaluating or awarded.
    ranking: list[scoring.Result]
    awarded: Offer | None
    awarded_by: User | None
    off_dps_requests: list[OffDpsRequest]
    # The referral's officer (loaded here, so a template never loads it lazily).
    officer: User

    @property
    def pending_off_dps(self) -> OffDpsRequest | None:
        return next((r for r in self.off_dps_requests if r.status is OffDpsStatus.PENDING), None)

    @property
    def live_offers(self) -> list[Offer]:
        return self.current.considered

    @property
    def scored(self) -> list[scoring.Result]:
        return [result for result in self.ranking if result.scored]

    @property
    def all_scored(self) -> bool:
        return bool(self.ranking) and all(result.scored for result in self.ranking)

    @property
    def status_text(self) -> str:
        """The line read out (aria-live) as offers arrive."""
        offers = len(self.live_offers)
        invited = len(self.current.invitations)
        declined = sum(1 for row in self.current.invitations if row.response is Response.DECLINED)
        text = (
            f"{offers} offer{'s' if offers != 1 else ''} from {invited} invited provider{'s' if invited != 1 else ''}"
        )
        if declined:
            text += f", {declined} declined"
        return f"{text}. {self.stage.label}."


def rounds_of(referral: Referral) -> dict[int, RoundView]:
    """Every round's invitations (with each provider's response) and offers (with their scores, joined): two SELECTs,
    whatever the number of rows. The offers' aim responses are not read: the list does not show them."""
    invitations = db.session.scalars(
        sa.select(Invitation)
        .options(joinedload(Invitation.provider).lazyload("*"))
        .where(Invitation.referral_id == referral.id)
        .order_by(Invitation.round, Invitation.id)
    ).all()
    offers = (
        db.session.scalars(
            sa.select(Offer)
            .options(
                joinedload(Offer.provider).lazyload("*"),
                joinedload(Offer.scores),
                lazyload(Offer.aim_responses),
            )
            .where(Offer.referral_id == referral.id)
            .order_by(Offer.round, Offer.submitted_at, Offer.id)
        )
        .unique()
        .all()
    )
    by_provider = {(offer.round, offer.provider_id): offer for offer in offers}
    numbers = sorted({i.round for i in invitations} | {o.round for o in offers})
    found = {}
    for number in numbers:
        rows = []
        for invitation in (i for i in invitations if i.round == number):
            offer = by_provider.get((number, invitation.provider_id))
            rows.append(
                InvitationRow(
                    invitation, offer, response_state(invitation, offer.status if offer is not None else None)
                )
            )
        found[number] = RoundView(number=number, invitations=rows, offers=[o for o in offers if o.round == number])
    return found


def _awaiting_answers(current: RoundView) -> bool:
    """referrals.awaiting_answers() worked out from the rows already read: an invited provider of the current round
    has neither declined nor a live (submitted) offer."""
    return any(
        row.invitation.declined_at is None
        and not any(
            offer.provider_id == row.invitation.provider_id and offer.status is OfferStatus.SUBMITTED
            for offer in current.offers
        )
        for row in current.invitations
    )


def live_view(referral: Referral, now: datetime) -> LiveView:
    rounds = rounds_of(referral)
    current = rounds.get(referral.round, RoundView(number=referral.round, invitations=[], offers=[]))
    stage = referrals.stage_of(referral, now, awaiting=_awaiting_answers(current))
    ranking: list[scoring.Result] = []
    awarded = next((o for o in current.offers if o.status is OfferStatus.AWARDED), None)
    if stage in (Stage.EVALUATING, Stage.AWARDED):
        ranking = scoring.rank(referral, current.considered)
    awarded_by = db.session.get(User, referral.awarded_by_id) if referral.awarded_by_id else None
    requests = db.session.scalars(
        sa.select(OffDpsRequest)
        .options(joinedload(OffDpsRequest.requested_by))
        .where(OffDpsRequest.referral_id == referral.id)
        .order_by(OffDpsRequest.requested_at.desc(), OffDpsRequest.id.desc())
    ).all()
    return LiveView(
        referral=referral,
        stage=stage,
        deadline_text=referrals.describe_deadline(referral, now),
        current=current,
        earlier=[view for number, view in sorted(rounds.items(), reverse=True) if number != referral.round],
        ranking=ranking,
        awarded=awarded,
        awarded_by=awarded_by,
        off_dps_requests=list(requests),
        officer=db.session.get(User, referral.officer_id),
    )


def offer_for(referral: Referral, offer_id: int) -> Offer:
    """One of the referral's offers (any round); NotFound if it belongs to another referral."""
    offer = db.session.scalar(
        sa.select(Offer)
        .options(joinedload(Offer.provider).lazyload("*"))
        .where(Offer.id == offer_id, Offer.referral_id == referral.id)
    )
    if offer is None:
        raise NotFound("There is no such offer for this referral")
    return offer


def result_for(referral: Referral, offer: Offer) -> scoring.Result | None:
    """The offer's row of the ranked table of its round (quality, price and total), if it is in the running."""
    if offer.status not in LIVE:
        return None
    round_offers = db.session.scalars(
        sa.select(Offer).where(Offer.referral_id == referral.id, Offer.round == offer.round, Offer.status.in_(LIVE))
    ).all()
    return next((r for r in scoring.rank(referral, round_offers) if r.offer.id == offer.id), None)


# --- Scoring ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreEntry:
    score: int | None
    comment: str = ""


def _live_offer_in_round(referral: Referral, offer: Offer, field: str | None = None) -> None:
    if offer.round != referral.round or offer.status is not OfferStatus.SUBMITTED:
        raise IllegalTransition(
            "This offer is not in the running: it was withdrawn by the provider or belongs to an earlier round",
            field=field,
        )


def scores_fingerprint(offer: Offer) -> str:
    """What the offer's scores are now, in a short token a score form carries: a save made over scores someone else
    saved after the form was loaded is refused, never applied over theirs."""
    saved = sorted((score.criterion, score.score, score.comment) for score in offer.scores)
    return hashlib.sha256(repr(saved).encode()).hexdigest()[:16]


def save_scores(
    referral_id: int,
    offer_id: int,
    by: User,
    *,
    offer_version: int | None,
    entries: Mapping[str, ScoreEntry],
    now: datetime,
    scores_seen: str | None = None,
    ip: str | None = None,
) -> Offer:
    """Score every quality criterion of one live offer (0 to 5; a comment is needed for 0 or 1). ``entries`` is by
    criterion key. Scores saved earlier are replaced. Refused (Conflict) if the provider revised the offer since the
    officer's page was loaded: the scores would judge text the officer has not read."""
    referral = referrals.get_referral(referral_id)
    referrals.ensure_may_act(referral, by)
    offer = offer_for(referral, offer_id)
    referrals.ensure_stage(referral, Action.SCORE, now)
    _live_offer_in_round(referral, offer)
    if offer_version is None or offer_version != offer.version:
        raise Conflict(
            f"{offer.provider.name} changed this offer after you opened it. Nothing was saved: read the offer as it "
            "is now (what you typed is still in the form), then save your scores again."
        )
    if scores_seen is not None and scores_seen != scores_fingerprint(offer):
        latest = max(offer.scores, key=lambda score: score.scored_at)
        who = db.session.get(User, latest.scored_by_id)
        raise Conflict(
            f"{who.name if who else 'Someone'} saved scores for this offer at {london_datetime(latest.scored_at)}, "
            "while you had it open. Nothing you sent was saved: their scores are shown, and what you typed is still "
            "in the form. Check both, then save again."
        )
    criteria = scoring.criteria(referral)
    errors: dict[str, str] = {}
    for criterion in criteria:
        entry = entries.get(criterion.key) or ScoreEntry(None)
        comment = (entry.comment or "").strip()
        if entry.score is None:
            errors[field_name("score", criterion.key)] = f"Choose a score from 0 to 5 for {criterion.label}"
        elif not 0 <= entry.score <= scoring.MAX_SCORE:
            errors[field_name("score", criterion.key)] = f"The score for {criterion.label} must be from 0 to 5"
        elif entry.score in COMMENT_NEEDED_AT and not comment:
            errors[field_name("comment", criterion.key)] = (
                f"Say why you scored {criterion.label} {entry.score}: a score of 0 or 1 needs a comment"
            )
        if len(comment) > COMMENT_MAX:
            errors[field_name("comment", criterion.key)] = f"A comment must be {COMMENT_MAX} characters or fewer"
    if errors:
        raise FieldErrors(errors)

    existing = {score.criterion: score for score in offer.scores}
    keys = {criterion.key for criterion in criteria}
    for key, score in existing.items():
        if key not in keys:  # a criterion that no longer exists (never expected: criteria are fixed at publishing)
            offer.scores.remove(score)
    for criterion in criteria:
        entry = entries[criterion.key]
        comment = (entry.comment or "").strip()
        score = existing.get(criterion.key)
        if score is None:
            offer.scores.append(
                Score(criterion=criterion.key, score=entry.score, comment=comment, scored_by_id=by.id, scored_at=now)
            )
        elif score.score != entry.score or score.comment != comment:
            score.score, score.comment, score.scored_by_id, score.scored_at = entry.score, comment, by.id, now
    audit.record(
        Events.OFFER_SCORED,
        actor=by,
        ip=ip,
        subject=offer,
        referral=reference(referral),
        provider=offer.provider.name,
        scores={criterion.key: entries[criterion.key].score for criterion in criteria},
    )
    return offer


# --- The award -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Award:
    referral: Referral
    winner: Offer
    unsuccessful: list[Offer]


def _awarded_already(referral: Referral, by: User) -> Conflict:
    who = db.session.get(User, referral.awarded_by_id) if referral.awarded_by_id else None
    when = london_datetime(referral.awarded_at)
    if who is not None and who.id == by.id:
        return Conflict(f"You awarded this referral at {when}. It cannot be awarded again.")
    name = who.name if who is not None else "unknown"
    return Conflict(f"Another officer ({name}) awarded this referral at {when} while you had it open.")


def _claim_award(referral: Referral, by: User, rationale: str, now: datetime):
    """The guarded UPDATE only one transaction can win: open -> awarded, at the version the officer saw."""
    return (
        sa.update(Referral)
        .where(
            Referral.id == referral.id,
            Referral.status == ReferralStatus.OPEN,
            Referral.version == referral.version,
        )
        .values(
            status=ReferralStatus.AWARDED,
            award_rationale=rationale,
            awarded_at=now,
            awarded_by_id=by.id,
            updated_at=now,
            version=Referral.version + 1,
        )
        .execution_options(synchronize_session=False)
    )


def award(
    referral_id: int,
    offer_id: int | None,
    by: User,
    *,
    version: int | None,
    rationale: str,
    now: datetime,
    ip: str | None = None,
) -> Award:
    """Award the referral to one live, fully scored offer of the current round, with a written rationale. The others
    are unsuccessful and told their own scores; invited providers that did not offer are told it has closed.

    Exactly one award: the referral moves from open to awarded in one guarded UPDATE (... WHERE status = 'open'),
    which only one transaction can win; the unique index on awarded offers is the backstop."""
    referral = referrals.get_referral(referral_id)
    referrals.ensure_may_act(referral, by)
    if referral.status is ReferralStatus.AWARDED and version != referral.version:
        raise _awarded_already(referral, by)
    referrals.ensure_stage(referral, Action.AWARD, now)
    referrals.check_version(referral, version)
    rationale = (rationale or "").strip()
    if offer_id is None:
        raise DomainError("Choose the offer to award", field="offer_id")
    try:
        offer = offer_for(referral, offer_id)
    except NotFound:
        raise DomainError("Choose one of the offers listed", field="offer_id") from None
    _live_offer_in_round(referral, offer, field="offer_id")
    live = db.session.scalars(
        sa.select(Offer)
        .options(joinedload(Offer.provider).lazyload("*"))
        .where(Offer.referral_id == referral.id, Offer.round == referral.round, Offer.status == OfferStatus.SUBMITTED)
        .order_by(Offer.id)
    ).all()
    results = scoring.rank(referral, live)
    unscored = [r.offer.provider.name for r in results if not r.scored]
    if unscored:
        raise DomainError(
            f"Score every offer before you award. Not fully scored yet: {', '.join(unscored)}", field="offer_id"
        )
    if not rationale:
        raise DomainError("Write the rationale for the award: why this offer is the best value for money", "rationale")
    if len(rationale) > RATIONALE_MAX:
        raise DomainError(f"The rationale must be {RATIONALE_MAX} characters or fewer", field="rationale")

    try:
        claimed = db.session.execute(_claim_award(referral, by, rationale, now))
    except OperationalError:
        # SQLite refuses a write from a transaction whose snapshot another writer has moved past ("database is
        # locked"): the other officer's award committed first. Start again from what is saved now.
        db.session.rollback()
        referral = referrals.get_referral(referral_id)
        if referral.status is ReferralStatus.AWARDED:
            raise _awarded_already(referral, by) from None
        raise
    db.session.refresh(referral)
    if claimed.rowcount != 1:
        if referral.status is ReferralStatus.AWARDED:
            raise _awarded_already(referral, by)
        referrals.ensure_stage(referral, Action.AWARD, now)
        raise Conflict(
            "Someone else changed this referral while you had it open. Nothing you sent was saved: the page now "
            "shows the referral as it is."
        )

    # The referral's row is ours now, so no offer can come in (offers lock it first): one that came in since the
    # offers were read above has not been scored.
    arrived = db.session.scalar(
        sa.select(sa.func.count(Offer.id)).where(
            Offer.referral_id == referral.id,
            Offer.round == referral.round,
            Offer.status == OfferStatus.SUBMITTED,
            Offer.id.not_in([o.id for o in live]),
        )
    )
    if arrived:
        db.session.rollback()
        raise Conflict(
            "An offer came in while you were awarding. Nothing you sent was saved: score it, then award again."
        )
    losers = [o for o in live if o.id != offer.id]
    offer.status = OfferStatus.AWARDED
    for other in losers:
        other.status = OfferStatus.UNSUCCESSFUL
    try:
        db.session.flush()
    except (IntegrityError, StaleDataError):
        # Another award got in (the unique index on awarded offers), or a provider changed an offer meanwhile.
        db.session.rollback()
        raise Conflict(
            "This referral was awarded, or one of its offers changed, while you had it open. Nothing you sent was "
            "saved: the page now shows the referral as it is."
        ) from None

    result = next(r for r in results if r.offer.id == offer.id)
    audit.record(
        Events.OFFER_AWARDED,
        actor=by,
        ip=ip,
        subject=referral,
        reason=rationale,
        offer_id=offer.id,
        provider=offer.provider.name,
        quality=str(result.quality),
        price=str(result.price),
        total=str(result.total),
        offers=len(live),
    )
    _tell_winner(referral, offer)
    for loser in losers:
        _tell_unsuccessful(referral, next(r for r in results if r.offer.id == loser.id), len(live))
    invited = referrals.invited_providers(referral)
    offered = {o.provider_id for o in live}
    _tell_closed(
        referral,
        [p for p in invited if p not in offered],
        "It has been awarded to another provider. Thank you for looking at it.",
    )
    return Award(referral=referral, winner=offer, unsuccessful=losers)


def _opportunity_link(referral: Referral) -> str:
    return link(f"/provider/opportunities/{referral.id}")


def _tell_winner(referral: Referral, offer: Offer) -> None:
    subject = f"You have been awarded referral {reference(referral)}"
    body = (
        f"The council has awarded referral {reference(referral)} in {referral.lot.label} to {offer.provider.name}.\n\n"
        "Sign in to see the child's details and the referring officer's contact details, so you can plan the "
        f"placement together: {_opportunity_link(referral)}"
    )
    for user in provider_users([offer.provider_id]):
        notify(user, subject, f"Dear {user.name},\n\n{body}")


def _tell_unsuccessful(referral: Referral, result: scoring.Result, offers: int) -> None:
    """The provider's own scores only: never another provider's offer, price or score."""
    lines = []
    for criterion in scoring.criteria(referral):
        score = next((s for s in result.offer.scores if s.criterion == criterion.key), None)
        lines.append(f"- {criterion.label}: {score.score if score else '-'} out of {scoring.MAX_SCORE}")
        if score is not None and score.comment:
            lines.append(f"  Comment: {score.comment}")
    subject = f"Referral {reference(referral)}: your offer was not successful"
    body = (
        f"The council has awarded referral {reference(referral)} in {referral.lot.label} to another provider. Your "
        f"offer was one of {offers} and was not successful. These are your offer's scores.\n\n"
        "Quality criteria (each scored 0 to 5):\n"
        + "\n".join(lines)
        + f"\n\nQuality score: {result.quality} out of {referral.quality_weight}\n"
        f"Price score: {result.price} out of {referral.price_weight}\n"
        f"Total: {result.total} out of 100\n\n"
        f"You can read them in the portal too: {_opportunity_link(referral)}"
    )
    for user in provider_users([result.offer.provider_id]):
        notify(user, subject, f"Dear {user.name},\n\n{body}")


def _tell_closed(referral: Referral, provider_ids: list[int], why: str) -> None:
    subject = f"Referral {reference(referral)} has closed"
    body = f"Referral {reference(referral)} in {referral.lot.label} has closed. {why}"
    for user in provider_users(provider_ids):
        notify(user, subject, f"Dear {user.name},\n\n{body}")


# --- Off the DPS -----------------------------------------------------------------------------------------------------


def pending_request(referral_id: int) -> OffDpsRequest | None:
    return db.session.scalar(
        sa.select(OffDpsRequest).where(
            OffDpsRequest.referral_id == referral_id, OffDpsRequest.status == OffDpsStatus.PENDING
        )
    )


def request_off_dps(
    referral_id: int, by: User, *, version: int | None, reason: str, now: datetime, ip: str | None = None
) -> OffDpsRequest:
    """Ask the manager to approve commissioning the provision off the DPS (no offer, or none suitable)."""
    referral = referrals.get_referral(referral_id)
    referrals.ensure_may_act(referral, by)
    referrals.ensure_stage(referral, Action.REQUEST_OFF_DPS, now)
    referrals.check_version(referral, version)
    pending = pending_request(referral.id)
    if pending is not None:
        raise IllegalTransition(
            f"A request to commission this referral off the DPS is already waiting for the manager (sent "
            f"{london_datetime(pending.requested_at)})."
        )
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Enter why the provision should be commissioned off the DPS", field="reason")
    if len(reason) > REASON_MAX:
        raise DomainError(f"The reason must be {REASON_MAX} characters or fewer", field="reason")
    request = OffDpsRequest(referral_id=referral.id, reason=reason, requested_by_id=by.id, requested_at=now)
    db.session.add(request)
    try:
        db.session.flush()
    except IntegrityError:  # another officer's request got in first (one pending request per referral)
        db.session.rollback()
        raise IllegalTransition(
            "A request to commission this referral off the DPS is already waiting for the manager."
        ) from None
    audit.record(Events.OFF_DPS_REQUESTED, actor=by, ip=ip, subject=referral, reason=reason, request_id=request.id)
    subject = f"Approval needed: commission referral {reference(referral)} off the DPS"
    body = (
        f"{by.name} ({referral.service.name}) asks you to approve commissioning referral {reference(referral)} in "
        f"{referral.lot.label} off the DPS.\n\nTheir reason:\n{reason}\n\n"
        f"Approve or refuse it: {link(f'/manager/off-dps/{request.id}')}"
    )
    for manager in managers():
        notify(manager, subject, f"Dear {manager.name},\n\n{body}")
    return request


def get_request(request_id: int) -> OffDpsRequest:
    request = db.session.get(
        OffDpsRequest,
        request_id,
        options=[
            joinedload(OffDpsRequest.referral).joinedload(Referral.lot),
            joinedload(OffDpsRequest.referral).joinedload(Referral.service),
            joinedload(OffDpsRequest.requested_by),
        ],
    )
    if request is None:
        raise NotFound("There is no such request")
    return request


def decide_off_dps(
    request_id: int, by: User, *, approve: bool | None, note: str, now: datetime, ip: str | None = None
) -> OffDpsRequest:
    """The manager approves (the referral is commissioned off the DPS: only while it is being evaluated) or refuses
    (a note saying why is needed) a pending request. The officer is told either way; on approval, the providers
    invited to the round are told the referral closed without an award."""
    if by.role is not Role.MANAGER:
        raise NotAllowed("Only the manager can decide a request to commission off the DPS")
    request = get_request(request_id)
    referral = request.referral
    if request.status is not OffDpsStatus.PENDING:
        raise IllegalTransition(
            f"This request was {request.status.value} at {london_datetime(request.decided_at)}: it cannot be decided "
            "again."
        )
    note = (note or "").strip()
    if approve is None:
        raise DomainError("Choose whether to approve or refuse the request", field="decision")
    if not approve and not note:
        raise DomainError("Enter why you are refusing the request: the officer is told", field="note")
    if len(note) > REASON_MAX:
        raise DomainError(f"The note must be {REASON_MAX} characters or fewer", field="note")
    if approve:
        referrals.ensure_stage(referral, Action.DECIDE_OFF_DPS, now)

    decided = db.session.execute(
        sa.update(OffDpsRequest)
        .where(OffDpsRequest.id == request.id, OffDpsRequest.status == OffDpsStatus.PENDING)
        .values(
            status=OffDpsStatus.APPROVED if approve else OffDpsStatus.REFUSED,
            decided_by_id=by.id,
            decided_at=now,
            decision_note=note,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(request)
    if decided.rowcount != 1:
        raise IllegalTransition(
            f"This request was {request.status.value} at {london_datetime(request.decided_at)} while you had it "
            "open: it cannot be decided again."
        )
    if approve:
        referral.status = ReferralStatus.OFF_DPS
        try:
            db.session.flush()
        except StaleDataError:
            db.session.rollback()
            raise Conflict(
                "The referral changed while you had this request open. Nothing was saved: look at it again."
            ) from None
    audit.record(
        Events.OFF_DPS_APPROVED if approve else Events.OFF_DPS_REFUSED,
        actor=by,
        ip=ip,
        subject=referral,
        reason=note,
        request_id=request.id,
    )
    _tell_officers(referral, request, approve, note)
    if approve:
        _tell_closed(
            referral,
            referrals.invited_providers(referral),
            "It closed without an award: the council will arrange this provision outside the DPS. Any offer you "
            "made will not be taken forward. Thank you for looking at it.",
        )
    return request


def _tell_officers(referral: Referral, request: OffDpsRequest, approve: bool, note: str) -> None:
    if approve:
        subject = f"Approved: referral {reference(referral)} can be commissioned off the DPS"
        body = (
            f"The manager approved commissioning referral {reference(referral)} off the DPS. The providers invited "
            "to it have been told it closed without an award."
        )
    else:
        subject = f"Refused: referral {reference(referral)} stays on the DPS"
        body = (
            f"The manager refused the request to commission referral {reference(referral)} off the DPS. You can "
            "still award it, republish it or withdraw it."
        )
    if note:
        body += f"\n\nThe manager's note:\n{note}"
    body += f"\n\n{link(f'/officer/referrals/{referral.id}')}"
    officers = {request.requested_by_id, referral.officer_id}
    for user in active_users(User.id.in_(officers)):
        notify(user, subject, f"Dear {user.name},\n\n{body}")


class QueueTab(enum.StrEnum):
    PENDING = "pending"
    DECIDED = "decided"


@dataclass(frozen=True)
class QueueRow:
    request: OffDpsRequest
    decided_by_name: str | None


def off_dps_queue(tab: QueueTab, *, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """The manager's requests: waiting ones oldest first, or decided ones newest first. Two statements (the count
    and one SELECT joining the referral, its lot, service and officer, and who asked and decided)."""
    result = paginate(off_dps_queue_statement(tab), page=page, per_page=per_page, rows=True)
    return Page(
        items=[QueueRow(request=row[0], decided_by_name=row[1]) for row in result.items],
        total=result.total,
        page=result.page,
        per_page=result.per_page,
    )


def off_dps_queue_statement(tab: QueueTab) -> sa.Select:
    """The queue's SELECT on a tab, in its order: rows of (OffDpsRequest, the decider's name)."""
    decider = aliased(User)
    statement = (
        sa.select(OffDpsRequest, decider.name)
        .outerjoin(decider, decider.id == OffDpsRequest.decided_by_id)
        .options(
            joinedload(OffDpsRequest.referral).joinedload(Referral.lot),
            joinedload(OffDpsRequest.referral).joinedload(Referral.service),
            joinedload(OffDpsRequest.referral).joinedload(Referral.officer),
            joinedload(OffDpsRequest.requested_by),
        )
    )
    if tab is QueueTab.PENDING:
        statement = statement.where(OffDpsRequest.status == OffDpsStatus.PENDING).order_by(
            OffDpsRequest.requested_at, OffDpsRequest.id
        )
    else:
        statement = statement.where(OffDpsRequest.status != OffDpsStatus.PENDING).order_by(
            OffDpsRequest.decided_at.desc(), OffDpsRequest.id.desc()
        )
    return statement
