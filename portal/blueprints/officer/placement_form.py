"""Setting up the placement from an awarded referral: the form (prefilled from the awarded offer), and the
safeguarding-responsibility prompt, which htmx fetches as the officer answers (the plain post recomputes it with the
same service function).

Registered on the officer blueprint (imported at the bottom of portal/blueprints/officer/__init__.py).
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxesInput,
    GovRadioInput,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import HiddenField, RadioField, SelectMultipleField, StringField, SubmitField, TextAreaField
from wtforms.fields import SelectChoice
from wtforms.validators import Length

from portal import clock, submissions
from portal.access import roles
from portal.blueprints.officer import bp
from portal.extensions import db
from portal.forms import GovDateField, whole_number
from portal.models import (
    Commissioner,
    OnRoll,
    ProvisionRole,
    RateType,
    Referral,
    ResponsibleParty,
    Role,
)
from portal.services import children, placement_setup, placements, referrals
from portal.services.errors import Conflict, DomainError, FieldErrors, IllegalTransition, NotAllowed, NotFound
from portal.services.placement_setup import PlacementTerms, Prompt
from portal.services.placements import ALL_SESSIONS, WEEKDAY_NAMES, WEEKDAYS
from portal.web import client_ip

PROMPT_ID = "responsibility-prompt"
VARY = {"Vary": "HX-Request"}
# The fields the prompt depends on (the htmx request sends them).
PROMPT_FIELDS = (
    "on_roll",
    "provision_role",
    "commissioner",
    "school_name",
    "school_dsl_name",
    "school_dsl_email",
    "school_dsl_phone",
)


def _cap(limit: int, what: str) -> list:
    return [Length(max=limit, message=f"{what} must be {limit} characters or fewer")]


def _choices(enum_class) -> list[SelectChoice]:
    return [SelectChoice(member.name, member.value[:1].upper() + member.value[1:]) for member in enum_class]


class PlacementForm(FlaskForm):
    version = HiddenField()
    sites = SelectMultipleField(
        "Sites the child will attend",
        widget=GovCheckboxesInput(),
        description="Tick every site of the provider the child will go to.",
        validate_choice=False,
    )
    hours_per_week = StringField(
        "Hours a week",
        widget=GovTextInput(),
        description="For example 15 or 12.5 (no more than 40).",
        validators=_cap(10, "The hours a week"),
    )
    sessions = StringField(
        "Sessions",
        widget=GovTextInput(),
        description="Which days and times, in words. For example, Monday to Friday, 9am to 12pm.",
        validators=_cap(placement_setup.SESSIONS_MAX, "The sessions"),
    )
    expected_sessions = SelectMultipleField(
        "Sessions the child is expected at",
        choices=[SelectChoice(key, key) for key in ALL_SESSIONS],
        validate_choice=False,
    )
    full_time = RadioField(
        "Is this full-time education?",
        widget=GovRadioInput(),
        description=f"Usually yes at {placement_setup.quantity_text(placement_setup.FULL_TIME_HOURS)} hours a week "
        "or more.",
        choices=[SelectChoice("yes", "Yes, full time"), SelectChoice("no", "No, part time")],
        validate_choice=False,
    )
    rate_type = RadioField(
        "How the provider charges",
        widget=GovRadioInput(),
        description="As agreed in the awarded offer, unless it has changed since.",
        choices=[SelectChoice(rate.name, rate.label) for rate in RateType],
        validate_choice=False,
    )
    rate = StringField(
        "Rate",
        widget=GovTextInput(),
        description="In pounds and pence, for example 120.00.",
        validators=_cap(20, "The rate"),
    )
    units_per_week = StringField(
        "How many days, sessions or hours a week",
        widget=GovTextInput(),
        validators=_cap(10, "How many a week"),
    )
    total_cost = StringField(
        "Total cost of the placement",
        widget=GovTextInput(),
        description="In pounds and pence. The awarded offer's total unless the terms have changed.",
        validators=_cap(20, "The total cost"),
    )
    start_date = GovDateField("Start date", description="For example, 11 1 2027.")
    planned_end_date = GovDateField("Planned end date", description="For example, 2 4 2027.")
    reintegration_criteria = TextAreaField(
        "Reintegration criteria",
        widget=GovTextArea(),
        description="What would show the child is ready to return to school.",
        validators=_cap(placement_setup.CRITERIA_MAX, "The reintegration criteria"),
    )
    ehc_plan_reference = StringField(
        "EHC plan reference or link (optional)",
        widget=GovTextInput(),
        description="Where the child's education, health and care plan is kept, if they have one.",
        validators=_cap(placement_setup.EHC_REFERENCE_MAX, "The EHC plan reference"),
    )
    first_review_date = GovDateField(
        "First review",
        description="At least every half term: by default six weeks after the start. The provider's progress report "
        "is due a week before.",
    )
    on_roll = RadioField(
        "Who is the child on roll with during the placement?",
        widget=GovRadioInput(),
        description="A child is normally on the roll of one school or provider at a time.",
        choices=_choices(OnRoll),
        validate_choice=False,
    )
    school_name = StringField(
        "The school's name",
        widget=GovTextInput(),
        description="The school the child is on roll with, if it is a school.",
        validators=_cap(placement_setup.SCHOOL_NAME_MAX, "The school's name"),
    )
    provision_role = RadioField(
        "Is the placement the child's main provision or supplementary support?",
        widget=GovRadioInput(),
        description="Supplementary support runs alongside the child's education somewhere else.",
        choices=_choices(ProvisionRole),
        validate_choice=False,
    )
    commissioner = RadioField(
        "Who commissions the placement?",
        widget=GovRadioInput(),
        description="A council service, or the school the child is on roll with.",
        choices=_choices(Commissioner),
        validate_choice=False,
    )
    school_dsl_name = StringField(
        "Name of the school's Designated Safeguarding Lead",
        widget=GovTextInput(),
        validators=_cap(placement_setup.DSL_NAME_MAX, "The DSL's name"),
    )
    school_dsl_email = StringField(
        "Their email address",
        widget=GovTextInput(),
        validators=_cap(placement_setup.EMAIL_MAX, "The DSL's email address"),
    )
    school_dsl_phone = StringField(
        "Their phone number (optional)",
        widget=GovTextInput(),
        validators=_cap(placement_setup.PHONE_MAX, "The DSL's phone number"),
    )
    staff_checks_confirmed_on = GovDateField(
        "Date the school received written confirmation of the provider's staff checks",
        description="For example, 4 1 2027.",
    )
    staff_checks_reference = StringField(
        "Reference for that confirmation",
        widget=GovTextInput(),
        description="A letter's date and sender, a document reference or a link.",
        validators=_cap(placement_setup.STAFF_CHECKS_REFERENCE_MAX, "The reference"),
    )
    confirmed_party = HiddenField()
    # Rendered by the prompt partial (its label names the party now computed).
    confirm_responsibility = StringField("Confirm safeguarding responsibility")
    concurrent_reason = TextAreaField(
        "Why does the child need a second placement alongside the active one?",
        widget=GovTextArea(),
        validators=_cap(placement_setup.REASON_MAX, "The reason"),
    )
    submit = SubmitField("Set up the placement", widget=GovSubmitInput())


def _enum(enum_class, name: str | None):
    return enum_class.__members__.get(name or "")


def terms_from(form: PlacementForm) -> PlacementTerms:
    return PlacementTerms(
        version=whole_number(form.version.data),
        site_ids=[n for n in (whole_number(value) for value in form.sites.data or []) if n is not None],
        hours_per_week=form.hours_per_week.data or "",
        sessions=form.sessions.data or "",
        expected_sessions=list(form.expected_sessions.data or []),
        full_time={"yes": True, "no": False}.get(form.full_time.data or ""),
        rate_type=_enum(RateType, form.rate_type.data),
        rate=form.rate.data or "",
        units_per_week=form.units_per_week.data or "",
        total_cost=form.total_cost.data or "",
        start_date=form.start_date.data,
        planned_end_date=form.planned_end_date.data,
        reintegration_criteria=form.reintegration_criteria.data or "",
        ehc_plan_reference=form.ehc_plan_reference.data or "",
        first_review_date=form.first_review_date.data,
        on_roll=_enum(OnRoll, form.on_roll.data),
        provision_role=_enum(ProvisionRole, form.provision_role.data),
        commissioner=_enum(Commissioner, form.commissioner.data),
        school_name=form.school_name.data or "",
        school_dsl_name=form.school_dsl_name.data or "",
        school_dsl_email=form.school_dsl_email.data or "",
        school_dsl_phone=form.school_dsl_phone.data or "",
        staff_checks_confirmed_on=form.staff_checks_confirmed_on.data,
        staff_checks_reference=form.staff_checks_reference.data or "",
        confirmed_party=_enum(ResponsibleParty, form.confirmed_party.data),
        confirmed=form.confirm_responsibility.data == "yes",
        concurrent_reason=form.concurrent_reason.data or "",
    )


def _fill(form: PlacementForm, terms: PlacementTerms) -> None:
    """Put the defaults in an unsent form."""
    form.version.data = str(terms.version)
    form.sites.data = [str(n) for n in terms.site_ids]
    form.hours_per_week.data = terms.hours_per_week
    form.sessions.data = terms.sessions
    form.expected_sessions.data = list(terms.expected_sessions)
    form.full_time.data = None if terms.full_time is None else ("yes" if terms.full_time else "no")
    form.rate_type.data = terms.rate_type.name if terms.rate_type else None
    form.rate.data = terms.rate
    form.units_per_week.data = terms.units_per_week
    form.total_cost.data = terms.total_cost
    form.start_date.data = terms.start_date
    form.planned_end_date.data = terms.planned_end_date
    form.reintegration_criteria.data = terms.reintegration_criteria
    form.first_review_date.data = terms.first_review_date
    form.on_roll.data = terms.on_roll.name if terms.on_roll else None
    form.school_name.data = terms.school_name


def _referral_or_404(referral_id: int) -> Referral:
    try:
        return referrals.get_referral(referral_id)
    except NotFound:
        abort(404)


def _blocked_page(referral: Referral, message: str):
    """A referral a placement cannot be set up for (not awarded, or one exists): why, with a way on. HTTP 409."""
    existing = placement_setup.placement_for_referral(referral.id)
    return (
        render_template(
            "officer/placement_form.html",
            referral=referral,
            reference=referrals.reference(referral),
            blocked=message,
            existing=existing,
            placement_reference=placements.reference,
            form=None,
        ),
        409,
    )


def _page(referral: Referral, form: PlacementForm, *, child=None, conflict: str | None = None, status: int = 200):
    """The form page: the child's name (an audited read, committed once the page is made), the offer, the form and the
    prompt as the answers in the form now stand."""
    offer = placement_setup.awarded_offer(referral)
    provider = offer.provider
    terms = terms_from(form)
    prompt = placement_setup.prompt_for(terms, provider, referral.service)
    # A confirmation is for the party named when it was ticked: one for another party is asked for again.
    form.confirmed_party.data = prompt.party.name if prompt.party else ""
    confirm_checked = terms.confirmed and terms.confirmed_party is prompt.party
    if child is None:
        child = children.read_child(referral, current_user, ip=client_ip(), purpose="setting up the placement")
    sites = placement_setup.provider_sites(provider.id)
    form.sites.choices = [SelectChoice(str(site.id), f"{site.name}, {site.postcode}") for site in sites]
    page = render_template(
        "officer/placement_form.html",
        referral=referral,
        reference=referrals.reference(referral),
        blocked=None,
        child=child,
        offer=offer,
        provider=provider,
        sites=sites,
        form=form,
        prompt=prompt,
        prompt_id=PROMPT_ID,
        confirm_checked=confirm_checked,
        conflict=conflict,
        concurrent=placement_setup.active_placements_of_child(referral.child_id),
        placement_reference=placements.reference,
        grid=_grid(form),
        prompt_url=url_for("officer.placement_responsibility", referral_id=referral.id),
        prompt_fields=PROMPT_FIELDS,
    )
    db.session.commit()
    return page, status


def _grid(form: PlacementForm) -> list[tuple[str, list[tuple[str, str, bool]]]]:
    """The expected sessions as a week: (day name, [(key, label, ticked) for morning, afternoon])."""
    ticked = set(form.expected_sessions.data or [])
    return [
        (
            name,
            [
                (f"{day}-{s}", f"{name} {label}", f"{day}-{s}" in ticked)
                for s, label in (("am", "morning"), ("pm", "afternoon"))
            ],
        )
        for day, name in zip(WEEKDAYS, WEEKDAY_NAMES, strict=True)
    ]


def _show_errors(form: PlacementForm, errors: dict[str, str]) -> None:
    """The service's messages next to their fields (a field the form has already refused keeps the form's message)."""
    for name, message in errors.items():
        field = form._fields.get(name) or form.confirm_responsibility
        if not field.errors:
            field.errors = [*field.errors, message]


@bp.route("/referrals/<int:referral_id>/placement", methods=["GET", "POST"])
@roles(Role.OFFICER)
@submissions.single_submit("placement")
def new_placement(referral_id: int):
    found = _referral_or_404(referral_id)
    if not referrals.may_act(found, current_user):
        abort(403)
    try:
        offer = placement_setup.ensure_can_set_up(found)
    except IllegalTransition as error:
        return _blocked_page(found, error.message)

    if request.method == "GET":
        form = PlacementForm(formdata=None)
        child = children.read_child(found, current_user, ip=client_ip(), purpose="setting up the placement")
        _fill(form, placement_setup.prefill(found, offer, child))
        return _page(found, form, child=child)

    form = PlacementForm()
    if form.validate_on_submit():
        now = clock.now()
        try:
            claimed = submissions.claim(submissions.sent_token(), current_user, "placement")
            placement = placement_setup.create(referral_id, current_user, terms_from(form), now=now, ip=client_ip())
            submissions.made(claimed, url_for("placements.placement", placement_id=placement.id))
        except NotAllowed:
            abort(403)
        except Conflict as error:
            db.session.rollback()
            found = _referral_or_404(referral_id)
            if placement_setup.placement_for_referral(found.id) is not None:
                return _blocked_page(found, error.message)
            # What was typed stays; the version becomes the referral's as it is now, so a second save goes through.
            form.version.data = str(found.version)
            return _page(found, form, conflict=error.message, status=409)
        except IllegalTransition as error:
            db.session.rollback()
            return _blocked_page(_referral_or_404(referral_id), error.message)
        except FieldErrors as error:
            db.session.rollback()
            _show_errors(form, error.errors)
        except DomainError as error:
            db.session.rollback()
            _show_errors(form, {error.field or "confirm_responsibility": error.message})
        else:
            db.session.commit()
            flash(
                f"Placement {placements.reference(placement)} set up with {offer.provider.name}. The provider has been "
                "told.",
                "success",
            )
            return redirect(url_for("placements.placement", placement_id=placement.id))
    else:
        # The form's own checks (lengths, dates) failed: add the service's, so every problem shows at once.
        found = _referral_or_404(referral_id)
        _show_errors(
            form,
            placement_setup.validate(found, offer, terms_from(form), today=clock.london_today(clock.now())),
        )
    return _page(_referral_or_404(referral_id), form)


@bp.get("/referrals/<int:referral_id>/placement/responsibility")
@roles(Role.OFFICER)
def placement_responsibility(referral_id: int):
    """The prompt alone, for the answers in the query string (htmx swaps it in as the officer answers). It reads no
    child record and writes nothing."""
    found = _referral_or_404(referral_id)
    if not referrals.may_act(found, current_user):
        abort(403)
    try:
        offer = placement_setup.ensure_can_set_up(found)
    except IllegalTransition as error:
        blocked = Prompt(False, None, error.message, None, False, "")
        fragment = render_template(
            "officer/partials/placement_responsibility.html", form=None, prompt=blocked, prompt_id=PROMPT_ID
        )
        return fragment, 409, VARY
    form = PlacementForm(formdata=request.args, meta={"csrf": False})
    prompt: Prompt = placement_setup.prompt_for(terms_from(form), offer.provider, found.service)
    form.confirmed_party.data = prompt.party.name if prompt.party else ""
    fragment = render_template(
        "officer/partials/placement_responsibility.html",
        form=form,
        prompt=prompt,
        prompt_id=PROMPT_ID,
        confirm_checked=False,
    )
    return fragment, 200, VARY
