"""Setting up a placement from an awarded offer: the form's defaults, the safeguarding-responsibility prompt (the same
function serves the htmx fragment, the plain post and the save), the two guards, and the save itself.

The two guards:
- a child who already has an active placement: a second one needs a reason (two providers at once is unusual);
- an unregistered provider: a full-time placement is refused when the setting would then educate 5 or more pupils
  full time, or when the child is looked after or has an EHC plan (such a setting must be registered as an
  independent school).

The functions take plain arguments, the acting user and ``now``; they raise DomainError (or a subclass) and never
commit: the route does. No email or notification written here names the child.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from portal.clock import london_today
from portal.extensions import db
from portal.formatting import long_date
from portal.models import (
    Child,
    Commissioner,
    CouncilService,
    Offer,
    OfferStatus,
    OnRoll,
    OnRollStatus,
    Placement,
    PlacementSite,
    PlacementStatus,
    Provider,
    ProvisionRole,
    RateType,
    Referral,
    ReferralStatus,
    ResponsibleParty,
    Site,
    User,
)
from portal.services import audit, placements, referrals, review_schedule, safeguarding
from portal.services.audit import Events
from portal.services.errors import Conflict, FieldErrors, IllegalTransition
from portal.services.mail import notify, provider_users, queue_email
from portal.services.placements import ALL_SESSIONS
from portal.services.referrals import link

# The DfE's usual line for full-time education is 18 hours or more a week (about 25 hours is a full school week):
# below it, provision is part time. It is only the default: the officer can change the answer.
FULL_TIME_HOURS = Decimal("18")
MAX_HOURS = Decimal("40")
# An unregistered setting may not educate this many pupils full time (an independent school must be registered).
UNREGISTERED_FULL_TIME_LIMIT = 5

SESSIONS_MAX = 200
CRITERIA_MAX = 5000
EHC_REFERENCE_MAX = 500
SCHOOL_NAME_MAX = 200
DSL_NAME_MAX = 200
EMAIL_MAX = 254
PHONE_MAX = 40
STAFF_CHECKS_REFERENCE_MAX = 500
REASON_MAX = 2000

EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

REGISTRATION_RULE = (
    "a setting that educates 5 or more pupils full time, or one looked-after child or child with an EHC plan full "
    "time, must be registered as an independent school"
)


# --- What the form holds ---------------------------------------------------------------------------------------------


@dataclass
class PlacementTerms:
    """What the officer sent (the route fills it from the form). Numbers are the text typed, which the service reads
    (so a bad number gets its message next to its field); dates are dates (or None)."""

    version: int | None = None
    site_ids: list[int] = field(default_factory=list)
    hours_per_week: str = ""
    sessions: str = ""
    expected_sessions: list[str] = field(default_factory=list)
    full_time: bool | None = None
    rate_type: RateType | None = None
    rate: str = ""
    units_per_week: str = ""
    total_cost: str = ""
    start_date: date | None = None
    planned_end_date: date | None = None
    reintegration_criteria: str = ""
    ehc_plan_reference: str = ""
    first_review_date: date | None = None
    on_roll: OnRoll | None = None
    provision_role: ProvisionRole | None = None
    commissioner: Commissioner | None = None
    school_name: str = ""
    school_dsl_name: str = ""
    school_dsl_email: str = ""
    school_dsl_phone: str = ""
    staff_checks_confirmed_on: date | None = None
    staff_checks_reference: str = ""
    # The party the officer saw named when ticking the confirmation (a hidden field), and the tick.
    confirmed_party: ResponsibleParty | None = None
    confirmed: bool = False
    concurrent_reason: str = ""


def quantity_text(value: Decimal | None) -> str:
    """15.0 -> "15", 12.5 -> "12.5" (as the form shows a number)."""
    if value is None:
        return ""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


# --- Finding what the form works on ----------------------------------------------------------------------------------


def awarded_offer(referral: Referral) -> Offer:
    offer = db.session.scalar(
        sa.select(Offer)
        .options(joinedload(Offer.provider))
        .where(Offer.referral_id == referral.id, Offer.status == OfferStatus.AWARDED)
    )
    if offer is None:
        raise IllegalTransition("This referral has not been awarded: a placement is set up from the awarded offer.")
    return offer


def placement_for_referral(referral_id: int) -> Placement | None:
    return db.session.scalar(sa.select(Placement).where(Placement.referral_id == referral_id))


def ensure_can_set_up(referral: Referral) -> Offer:
    """The awarded offer, if a placement can be set up from it now (IllegalTransition saying why otherwise)."""
    existing = placement_for_referral(referral.id)
    if existing is not None:
        raise IllegalTransition(
            f"A placement has already been set up for this referral: placement {placements.reference(existing)}."
        )
    if referral.status is not ReferralStatus.AWARDED:
        raise IllegalTransition(
            "This referral has not been awarded, so there is no placement to set up yet. A placement is set up from "
            "the awarded offer."
        )
    return awarded_offer(referral)


def provider_sites(provider_id: int) -> list[Site]:
    return list(db.session.scalars(sa.select(Site).where(Site.provider_id == provider_id).order_by(Site.id)))


def active_placements_of_child(child_id: int) -> list[Placement]:
    """The child's active placements (guard 1), with their providers, oldest first."""
    return list(
        db.session.scalars(
            sa.select(Placement)
            .options(joinedload(Placement.provider))
            .where(Placement.child_id == child_id, Placement.status == PlacementStatus.ACTIVE)
            .order_by(Placement.start_date, Placement.id)
        )
    )


# --- The defaults ------------------------------------------------------------------------------------------------------


def _on_roll_default(child: Child | None) -> OnRoll | None:
    if child is None:
        return None
    return {
        OnRollStatus.HOME_SCHOOL: OnRoll.HOME_SCHOOL,
        OnRollStatus.OTHER_SCHOOL: OnRoll.OTHER_SCHOOL,
        OnRollStatus.DUAL: OnRoll.OTHER_SCHOOL,
        OnRollStatus.NOT_ON_ROLL: OnRoll.NONE,
    }[child.on_roll_status]


def default_end(start: date, weeks: int | None) -> date:
    """The last school day of the referral's weeks: start + weeks - 1 day, moved back to the Friday at a weekend."""
    end = start + timedelta(weeks=weeks or 1) - timedelta(days=1)
    while end.weekday() >= 5:
        end -= timedelta(days=1)
    return max(end, start)


def prefill(referral: Referral, offer: Offer, child: Child | None = None) -> PlacementTerms:
    """The form's defaults from the awarded offer and the referral. ``child`` is the record the route has already read
    (through children.read_child, audited) to show the child's name: it gives the on-roll answer and the school."""
    sites = provider_sites(offer.provider_id)
    start = offer.start_date
    end = default_end(start, referral.duration_weeks)
    return PlacementTerms(
        version=referral.version,
        site_ids=[sites[0].id] if len(sites) == 1 else [],
        hours_per_week=quantity_text(offer.hours_per_week),
        sessions=offer.sessions,
        # All ten ticked: the officer unticks the sessions the child does not attend.
        expected_sessions=list(ALL_SESSIONS),
        full_time=offer.hours_per_week >= FULL_TIME_HOURS,
        rate_type=offer.rate_type,
        rate=f"{offer.rate:.2f}",
        units_per_week=quantity_text(offer.units_per_week),
        total_cost=f"{offer.total:.2f}",
        start_date=start,
        planned_end_date=end,
        reintegration_criteria=referral.reintegration_criteria,
        first_review_date=min(review_schedule.default_next_review(start), end),
        on_roll=_on_roll_default(child),
        school_name=(
            child.home_school if child is not None and child.on_roll_status is not OnRollStatus.NOT_ON_ROLL else ""
        ),
    )


# --- The safeguarding-responsibility prompt -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Prompt:
    """What the form says about safeguarding responsibility for the answers given so far."""

    # All three answers are given.
    answered: bool
    party: ResponsibleParty | None
    why: str
    contact: safeguarding.Contact | None
    needs_staff_checks_confirmation: bool
    # The party's DSL is not recorded (or has no email): what to do about it. Empty when all is well.
    missing_dsl: str

    @property
    def organisation(self) -> str:
        return self.contact.organisation if self.contact is not None else ""

    @property
    def confirmation_text(self) -> str:
        if self.party is None:
            return ""
        return f"I confirm that {self.organisation} ({self.party.value}) holds safeguarding responsibility"


def responsibility_prompt(
    on_roll: OnRoll | None,
    provision_role: ProvisionRole | None,
    commissioner: Commissioner | None,
    *,
    provider: Provider,
    service: CouncilService,
    school_name: str = "",
    school_dsl_name: str = "",
    school_dsl_email: str = "",
    school_dsl_phone: str = "",
) -> Prompt:
    if on_roll is None or provision_role is None or commissioner is None:
        return Prompt(
            False,
            None,
            "Answer the three questions: the portal then names the party holding safeguarding responsibility.",
            None,
            False,
            "",
        )
    decided = safeguarding.responsibility(on_roll, provision_role, commissioner)
    if decided.party is None:
        return Prompt(True, None, decided.why, None, False, "")
    contact = safeguarding.contact_for(
        decided.party,
        provider=provider,
        service=service,
        school_name=school_name.strip(),
        school_dsl_name=school_dsl_name.strip(),
        school_dsl_email=school_dsl_email.strip(),
        school_dsl_phone=school_dsl_phone.strip(),
    )
    missing = ""
    if not contact.complete:
        if decided.party is ResponsibleParty.SERVICE:
            missing = (
                f"{service.name} has no Designated Safeguarding Lead recorded (a name and an email): ask the manager "
                "to record the service's DSL before you set up the placement."
            )
        elif decided.party is ResponsibleParty.PROVIDER:
            missing = (
                f"{provider.name} has no Designated Safeguarding Lead recorded (a name and an email): ask the "
                "provider to record its DSL before you set up the placement."
            )
        else:
            missing = "Enter the school's Designated Safeguarding Lead: their name and email address."
    return Prompt(True, decided.party, decided.why, contact, decided.needs_staff_checks_confirmation, missing)


def prompt_for(terms: PlacementTerms, provider: Provider, service: CouncilService) -> Prompt:
    return responsibility_prompt(
        terms.on_roll,
        terms.provision_role,
        terms.commissioner,
        provider=provider,
        service=service,
        school_name=terms.school_name,
        school_dsl_name=terms.school_dsl_name,
        school_dsl_email=terms.school_dsl_email,
        school_dsl_phone=terms.school_dsl_phone,
    )


# --- Guard 2: an unregistered provider ------------------------------------------------------------------------------


def full_time_pupils(provider_id: int, start: date, end: date, *, excluding_child: int) -> int:
    """How many other children the provider educates full time, in active placements whose dates overlap."""
    return (
        db.session.scalar(
            sa.select(sa.func.count(sa.distinct(Placement.child_id))).where(
                Placement.provider_id == provider_id,
                Placement.status == PlacementStatus.ACTIVE,
                Placement.full_time.is_(True),
                Placement.start_date <= end,
                Placement.planned_end_date >= start,
                Placement.child_id != excluding_child,
            )
        )
        or 0
    )


def registration_refusal(provider: Provider, child_id: int, start: date, end: date) -> str | None:
    """Why an unregistered provider may not take this child full time, or None when it may (the caller checks that
    the placement is full time). The child's flags are read in a query, never shown."""
    if provider.registered is True:
        return None
    # Two officers placing with this provider at once must not both pass the count. A write to its row (changing
    # nothing) holds the row on PostgreSQL and the database's one write lock on SQLite until the placement is saved,
    # so the second officer's count runs after the first placement is in.
    providers = Provider.__table__
    db.session.execute(sa.update(providers).where(providers.c.id == provider.id).values(name=providers.c.name))
    flags = db.session.execute(sa.select(Child.looked_after, Child.ehc_plan).where(Child.id == child_id)).one()
    intro = f"{provider.name} is not registered as an independent school"
    if flags.looked_after or flags.ehc_plan:
        which = "looked after" if flags.looked_after else "has an EHC plan"
        return (
            f"{intro}, and this child is {which}, so it cannot educate them full time: {REGISTRATION_RULE}. "
            "Make the placement part time, or choose a registered provider."
        )
    pupils = full_time_pupils(provider.id, start, end, excluding_child=child_id) + 1
    if pupils >= UNREGISTERED_FULL_TIME_LIMIT:
        return (
            f"{intro}, and this placement would make it educate {pupils} pupils full time: {REGISTRATION_RULE}. "
            "Make the placement part time, or choose a registered provider."
        )
    return None


# --- Checking what was sent --------------------------------------------------------------------------------------------


def _read_decimal(text: str, places: int) -> Decimal | None:
    """A number typed in the form with at most ``places`` decimal places, or None if it is not one."""
    cleaned = (text or "").strip().replace(",", "").removeprefix("£")
    if not cleaned:
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    if not value.is_finite() or value.as_tuple().exponent < -places:
        return None
    return value


def _too_long(errors: dict[str, str], name: str, value: str, limit: int, what: str) -> None:
    if len(value or "") > limit:
        errors.setdefault(name, f"{what} must be {limit} characters or fewer")


def validate(referral: Referral, offer: Offer, terms: PlacementTerms, *, today: date) -> dict[str, str]:
    """Every problem with what was sent, by form field, in the order the form shows them (an empty dict: none)."""
    provider = offer.provider
    errors: dict[str, str] = {}

    sites = {site.id for site in provider_sites(provider.id)}
    if sites and not terms.site_ids:
        errors["sites"] = "Choose at least one site the child will attend"
    elif any(site_id not in sites for site_id in terms.site_ids):
        errors["sites"] = f"Choose only {provider.name}'s sites"

    hours = _read_decimal(terms.hours_per_week, 1)
    if not (terms.hours_per_week or "").strip():
        errors["hours_per_week"] = "Enter the hours per week"
    elif hours is None:
        errors["hours_per_week"] = "Enter the hours per week as a number, for example 15 or 12.5"
    elif not 0 < hours <= MAX_HOURS:
        errors["hours_per_week"] = f"The hours per week must be more than 0 and no more than {MAX_HOURS}"

    if not (terms.sessions or "").strip():
        errors["sessions"] = "Say which days and times the child attends, for example Monday to Friday, 9am to 12pm"
    _too_long(errors, "sessions", terms.sessions, SESSIONS_MAX, "The sessions")

    if not terms.expected_sessions:
        errors["expected_sessions"] = "Tick at least one session the child is expected at"
    elif any(key not in ALL_SESSIONS for key in terms.expected_sessions):
        errors["expected_sessions"] = "Tick only the morning and afternoon sessions listed"

    if terms.full_time is None:
        errors["full_time"] = "Say whether this is full-time education"

    if terms.rate_type is None:
        errors["rate_type"] = "Choose how the provider charges: a day, session or hourly rate"
    for name, what, places, example, cap in (
        ("rate", "the rate", 2, "120.00", Decimal("9999999999.99")),
        ("units_per_week", "how many a week", 1, "5", Decimal("999.9")),
        ("total_cost", "the total cost", 2, "7200.00", Decimal("9999999999.99")),
    ):
        text = getattr(terms, name)
        value = _read_decimal(text, places)
        if not (text or "").strip():
            errors[name] = f"Enter {what}"
        elif value is None:
            money = " in pounds and pence" if places == 2 else " as a number"
            errors[name] = f"Enter {what}{money}, for example {example}"
        elif not 0 < value <= cap:
            errors[name] = f"{what.capitalize()} must be more than 0 and no more than {cap}"

    if terms.start_date is None:
        errors["start_date"] = "Enter the start date"
    if terms.planned_end_date is None:
        errors["planned_end_date"] = "Enter the planned end date"
    elif terms.start_date is not None and terms.planned_end_date < terms.start_date:
        errors["planned_end_date"] = "The planned end date must be the same as or after the start date"

    _too_long(
        errors, "reintegration_criteria", terms.reintegration_criteria, CRITERIA_MAX, "The reintegration criteria"
    )
    _too_long(errors, "ehc_plan_reference", terms.ehc_plan_reference, EHC_REFERENCE_MAX, "The EHC plan reference")

    if terms.first_review_date is None:
        errors["first_review_date"] = "Enter the date of the first review"
    elif (
        terms.start_date is not None
        and terms.planned_end_date is not None
        and not (terms.start_date < terms.first_review_date <= terms.planned_end_date)
    ):
        errors["first_review_date"] = "The first review must be after the start date and no later than the planned end"

    if terms.on_roll is None:
        errors["on_roll"] = "Say who the child is on roll with during the placement"
    if terms.provision_role is None:
        errors["provision_role"] = "Say whether the placement is the main provision or supplementary support"
    if terms.commissioner is None:
        errors["commissioner"] = "Say who commissions the placement"

    at_school = terms.on_roll in {OnRoll.HOME_SCHOOL, OnRoll.OTHER_SCHOOL}
    if at_school and not terms.school_name.strip():
        errors["school_name"] = "Enter the name of the school the child is on roll with"
    _too_long(errors, "school_name", terms.school_name, SCHOOL_NAME_MAX, "The school's name")

    prompt = prompt_for(terms, provider, referral.service)
    if prompt.answered and prompt.party is None:
        errors.setdefault("commissioner", prompt.why)
    if prompt.party is ResponsibleParty.SCHOOL:
        if not terms.school_dsl_name.strip():
            errors["school_dsl_name"] = "Enter the name of the school's Designated Safeguarding Lead"
        if not terms.school_dsl_email.strip():
            errors["school_dsl_email"] = "Enter the email address of the school's Designated Safeguarding Lead"
        elif not EMAIL_SHAPE.match(terms.school_dsl_email.strip()):
            errors["school_dsl_email"] = "Enter an email address in the correct format, like name@example.org"
        if terms.staff_checks_confirmed_on is None:
            errors["staff_checks_confirmed_on"] = (
                "Enter the date the school received the provider's written confirmation of its staff checks"
            )
        elif terms.staff_checks_confirmed_on > today:
            errors["staff_checks_confirmed_on"] = "The date the confirmation was received must be today or earlier"
        if not terms.staff_checks_reference.strip():
            errors["staff_checks_reference"] = "Enter a reference for the written confirmation of staff checks"
    _too_long(errors, "school_dsl_name", terms.school_dsl_name, DSL_NAME_MAX, "The DSL's name")
    _too_long(errors, "school_dsl_email", terms.school_dsl_email, EMAIL_MAX, "The DSL's email address")
    _too_long(errors, "school_dsl_phone", terms.school_dsl_phone, PHONE_MAX, "The DSL's phone number")
    _too_long(
        errors, "staff_checks_reference", terms.staff_checks_reference, STAFF_CHECKS_REFERENCE_MAX, "The reference"
    )

    if prompt.party is not None:
        if prompt.missing_dsl and prompt.party is not ResponsibleParty.SCHOOL:
            errors["confirm_responsibility"] = prompt.missing_dsl
        elif not terms.confirmed:
            errors["confirm_responsibility"] = f"Confirm that {prompt.organisation} holds safeguarding responsibility"
        elif terms.confirmed_party is not prompt.party:
            errors["confirm_responsibility"] = (
                f"Your answers now name {prompt.organisation} ({prompt.party.value}) as holding safeguarding "
                "responsibility: read the prompt again and confirm it"
            )

    if active_placements_of_child(referral.child_id) and not terms.concurrent_reason.strip():
        errors["concurrent_reason"] = (
            "The child already has an active placement: say why a second placement runs alongside it"
        )
    _too_long(errors, "concurrent_reason", terms.concurrent_reason, REASON_MAX, "The reason")

    if (
        terms.full_time
        and terms.start_date is not None
        and terms.planned_end_date is not None
        and terms.planned_end_date >= terms.start_date
    ):
        refusal = registration_refusal(provider, referral.child_id, terms.start_date, terms.planned_end_date)
        if refusal:
            errors["full_time"] = refusal

    # The order the form shows the fields in (the error summary follows it).
    order = list(FIELD_ORDER)
    return dict(sorted(errors.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order)))


FIELD_ORDER = (
    "sites",
    "hours_per_week",
    "sessions",
    "expected_sessions",
    "full_time",
    "rate_type",
    "rate",
    "units_per_week",
    "total_cost",
    "start_date",
    "planned_end_date",
    "reintegration_criteria",
    "ehc_plan_reference",
    "first_review_date",
    "on_roll",
    "school_name",
    "provision_role",
    "commissioner",
    "school_dsl_name",
    "school_dsl_email",
    "school_dsl_phone",
    "staff_checks_confirmed_on",
    "staff_checks_reference",
    "confirm_responsibility",
    "concurrent_reason",
)


# --- The save ---------------------------------------------------------------------------------------------------------


def create(referral_id: int, by: User, terms: PlacementTerms, *, now: datetime, ip: str | None = None) -> Placement:
    """Set up the placement from the referral's awarded offer. Officers of the referral's service only; once per
    referral (the unique constraint on placements.referral_id is the backstop)."""
    referral = referrals.get_referral(referral_id)
    referrals.ensure_may_act(referral, by)
    offer = ensure_can_set_up(referral)
    referrals.check_version(referral, terms.version)
    errors = validate(referral, offer, terms, today=london_today(now))
    if errors:
        raise FieldErrors(errors)

    prompt = prompt_for(terms, offer.provider, referral.service)
    school = prompt.party is ResponsibleParty.SCHOOL
    at_school = terms.on_roll in {OnRoll.HOME_SCHOOL, OnRoll.OTHER_SCHOOL}
    concurrent = active_placements_of_child(referral.child_id)
    placement = Placement(
        referral_id=referral.id,
        offer_id=offer.id,
        child_id=referral.child_id,
        provider_id=offer.provider_id,
        service_id=referral.service_id,
        lot_id=referral.lot_id,
        officer_id=referral.officer_id,
        created_at=now,
        created_by_id=by.id,
        start_date=terms.start_date,
        planned_end_date=terms.planned_end_date,
        hours_per_week=_read_decimal(terms.hours_per_week, 1),
        sessions=terms.sessions.strip(),
        expected_sessions=" ".join(key for key in ALL_SESSIONS if key in set(terms.expected_sessions)),
        full_time=bool(terms.full_time),
        rate_type=terms.rate_type,
        rate=_read_decimal(terms.rate, 2).quantize(Decimal("0.01")),
        units_per_week=_read_decimal(terms.units_per_week, 1),
        total_cost=_read_decimal(terms.total_cost, 2).quantize(Decimal("0.01")),
        reintegration_criteria=terms.reintegration_criteria.strip(),
        ehc_plan_reference=terms.ehc_plan_reference.strip(),
        next_review_due=terms.first_review_date,
        on_roll=terms.on_roll,
        provision_role=terms.provision_role,
        commissioner=terms.commissioner,
        responsible_party=prompt.party,
        school_name=terms.school_name.strip() if at_school or school else "",
        school_dsl_name=terms.school_dsl_name.strip() if school else "",
        school_dsl_email=terms.school_dsl_email.strip().lower() if school else "",
        school_dsl_phone=terms.school_dsl_phone.strip() if school else "",
        staff_checks_confirmed_on=terms.staff_checks_confirmed_on if school else None,
        staff_checks_reference=terms.staff_checks_reference.strip() if school else "",
        responsibility_confirmed_by_id=by.id,
        responsibility_confirmed_at=now,
        concurrent_reason=terms.concurrent_reason.strip() if concurrent else "",
    )
    placement.sites = [PlacementSite(site_id=site_id) for site_id in sorted(set(terms.site_ids))]
    db.session.add(placement)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(
            "A placement has already been set up for this referral (another officer saved it while you had the form "
            "open). Nothing you sent was saved."
        ) from None

    audit.record(
        Events.PLACEMENT_CREATED,
        actor=by,
        ip=ip,
        subject=placement,
        reason=placement.concurrent_reason,
        referral_id=referral.id,
        offer_id=offer.id,
        provider=offer.provider.name,
        responsible_party=prompt.party.value,
        full_time=placement.full_time,
        concurrent_with=[placements.reference(p) for p in concurrent],
    )
    _tell(placement, referral, offer.provider, safeguarding.placement_contact(placement))
    return placement


def _tell(placement: Placement, referral: Referral, provider: Provider, contact: safeguarding.Contact) -> None:
    """The provider's users, and the responsible party's DSL when it is not the provider's. Never the child's name:
    the placement's reference and a link."""
    ref = placements.reference(placement)
    path = f"/placements/{placement.id}"
    subject = f"Placement {ref} has been set up"
    body = (
        f"The council has set up placement {ref} (referral {referrals.reference(referral)}) with {provider.name}, "
        f"starting {long_date(placement.start_date)}.\n\n"
        f"Safeguarding responsibility: {contact.organisation} ({placement.responsible_party.value}).\n\n"
        f"Sign in to see the placement, record attendance and send progress reports: {link(path)}"
    )
    for user in provider_users([provider.id]):
        notify(user, subject, f"Dear {user.name},\n\n{body}")
    if placement.responsible_party is not ResponsibleParty.PROVIDER and contact.dsl_email:
        queue_email(
            contact.dsl_email,
            f"Safeguarding responsibility for placement {ref}",
            f"Dear {contact.dsl_name or 'Designated Safeguarding Lead'},\n\n"
            f"The council has set up placement {ref} with {provider.name}, starting "
            f"{long_date(placement.start_date)}. You are named as the Designated Safeguarding Lead of the party "
            f"holding safeguarding responsibility for the child: {contact.organisation} "
            f"({placement.responsible_party.value}).\n\n"
            "You will be told at once of any safeguarding concern or unexplained absence. The commissioning officer "
            f"can give you the child's details. The placement in the portal: {link(path)}",
        )
