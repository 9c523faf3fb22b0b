"""The provider's opportunities: the live feed of referrals it is invited to, one referral's anonymised profile, and
making, revising and withdrawing an offer or declining, until the deadline by the server clock.

Every query is filtered by the signed-in user's provider (portal.services.offers): a referral the provider was not
invited to is a 404, never a 403 that would confirm it exists. Registered on the provider blueprint (imported at the
bottom of portal/blueprints/provider/__init__.py).
"""

from __future__ import annotations

from datetime import datetime

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovTextArea, GovTextInput
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from wtforms import HiddenField, RadioField, StringField, TextAreaField
from wtforms.fields import SelectChoice
from wtforms.validators import Length

from portal import clock, submissions
from portal.access import roles
from portal.blueprints.provider import bp
from portal.extensions import db, htmx
from portal.formatting import london_datetime, long_date, quantity
from portal.forms import GovDateField, whole_number
from portal.models import Offer, RateType, Referral, Role
from portal.pagination import govuk_pagination
from portal.services import children, offers, referrals
from portal.services.errors import Conflict, DomainError, FieldErrors, IllegalTransition, NotFound
from portal.services.offers import Opportunity, Outcome
from portal.web import client_ip, revalidated

RESULTS_ID = "opportunity-results"
POLL_SECONDS = 15
# Generous caps on what a form reads; the service holds the real rules and their messages.
CAP = [Length(max=20_000)]
WITHDRAW_CONFLICT = (
    "Someone at your organisation changed this offer while you had it open, so it was not withdrawn. Check the offer "
    "below, then withdraw it again if you still want to."
)


def _page_number() -> int:
    return max(1, request.args.get("page", 1, type=int))


# ---- The feed -------------------------------------------------------------------------------------------------------


@bp.get("/opportunities")
@roles(Role.PROVIDER)
def opportunities():
    closed = request.args.get("show") == "closed"
    now = clock.now()
    result = offers.feed(current_user.provider_id, now=now, closed=closed, page=_page_number())
    extra = {"show": "closed"} if closed else {}

    def page_url(number: int) -> str:
        return url_for("provider.opportunities", **extra, page=number if number > 1 else None)

    context = {
        "closed": closed,
        "result": result,
        "now": now,
        "results_id": RESULTS_ID,
        "poll_seconds": POLL_SECONDS,
        "refresh_url": page_url(result.page),
        "pagination": govuk_pagination(result.page, result.pages, page_url, label="Pages of opportunities"),
        "countdown": lambda referral: referrals.describe_deadline(referral, now),
        "reference": referrals.reference,
    }
    vary = {"Vary": "HX-Request, HX-Target"}
    if htmx and htmx.target == RESULTS_ID and not htmx.history_restore_request:
        return revalidated(render_template("provider/opportunities/partials/results.html", **context), vary)
    return render_template("provider/opportunities/index.html", **context), vary


# ---- Forms ----------------------------------------------------------------------------------------------------------


RATE_CHOICES = [SelectChoice(rate_type.value, rate_type.label) for rate_type in RateType]


def offer_form_class(referral: Referral) -> type[FlaskForm]:
    """The offer form for this referral: a text area per aim, then the delivery and the price. Built in page order, so
    the error summary lists problems in the order the fields appear."""
    fields: dict = {"version": HiddenField()}
    for aim in referral.aims:
        fields[offers.aim_field(aim.id)] = TextAreaField(
            f"Aim {aim.position}: {aim.description}",
            widget=GovTextArea(),
            description=f"How you will meet this aim. Baseline: {aim.baseline}. Target: {aim.target}. "
            f"Measured by: {aim.measure}.",
            validators=CAP,
        )
    weeks = referral.duration_weeks or 0
    fields.update(
        start_date=GovDateField(
            "Start date",
            description=f"The first day you can start, for example 11 1 2027. The referral asks for "
            f"{_long_date(referral)}.",
        ),
        hours_per_week=StringField(
            "Hours a week",
            widget=GovTextInput(),
            description=f"The referral asks for {quantity(referral.hours_per_week)} hours a week.",
            validators=CAP,
        ),
        sessions=StringField(
            "Sessions",
            widget=GovTextInput(),
            description="Which days and times, for example Monday to Friday, 9am to 12pm.",
            validators=CAP,
        ),
        location=StringField(
            "Location",
            widget=GovTextInput(),
            description="Where the provision will be delivered: a site, in the community, at home or online.",
            validators=CAP,
        ),
        staffing_ratio=StringField(
            "Staffing ratio",
            widget=GovTextInput(),
            description="Staff to children, for example 1:2.",
            validators=CAP,
        ),
        transport=TextAreaField(
            "Transport",
            widget=GovTextArea(),
            description="How the child will get there, or that no transport is needed.",
            validators=CAP,
        ),
        delivery_and_staffing=TextAreaField(
            "Delivery and staffing",
            widget=GovTextArea(),
            description="Who will work with the child, their qualifications, and how the sessions will run.",
            validators=CAP,
        ),
        safeguarding=TextAreaField(
            "Safeguarding arrangements",
            widget=GovTextArea(),
            description="Your Designated Safeguarding Lead, staff checks, and how you will keep this child safe.",
            validators=CAP,
        ),
        rate_type=RadioField(
            "How you charge",
            widget=GovRadioInput(),
            description="A rate per day, per session or per hour.",
            choices=RATE_CHOICES,
            validate_choice=False,
        ),
        rate=StringField(
            "Rate",
            widget=GovTextInput(),
            description="In pounds and pence, for example 120.00.",
            validators=CAP,
        ),
        units_per_week=StringField(
            "How many days, sessions or hours a week",
            widget=GovTextInput(),
            description="Days for a day rate, sessions for a session rate, hours for an hourly rate.",
            validators=CAP,
        ),
        total=StringField(
            "Total for the whole placement",
            widget=GovTextInput(),
            description=f"The rate x how many a week x {weeks} week{'s' if weeks != 1 else ''}. We check it.",
            validators=CAP,
        ),
    )
    return type("OfferForm", (FlaskForm,), fields)


def _long_date(referral: Referral) -> str:
    return long_date(referral.start_date) if referral.start_date else "a start date to be agreed"


def offer_form(referral: Referral, offer: Offer | None = None, *, from_request: bool = False) -> FlaskForm:
    """The offer form: what was sent (``from_request``), or filled in from the provider's offer, or empty."""
    form_class = offer_form_class(referral)
    if from_request:
        return form_class()
    data: dict = {}
    if offer is not None:
        responses = {response.aim_id: response.response for response in offer.aim_responses}
        data = {offers.aim_field(aim.id): responses.get(aim.id, "") for aim in referral.aims}
        data.update(
            version=str(offer.version),
            start_date=offer.start_date,
            hours_per_week=quantity(offer.hours_per_week),
            sessions=offer.sessions,
            location=offer.location,
            staffing_ratio=offer.staffing_ratio,
            transport=offer.transport,
            delivery_and_staffing=offer.delivery_and_staffing,
            safeguarding=offer.safeguarding,
            rate_type=offer.rate_type.value,
            rate=f"{offer.rate:.2f}",
            units_per_week=quantity(offer.units_per_week),
            total=f"{offer.total:.2f}",
        )
    return form_class(formdata=None, data=data)


class DeclineForm(FlaskForm):
    reason = TextAreaField(
        "Why are you declining?",
        widget=GovTextArea(),
        description="For example, no places, the needs are outside what you offer, or the area is too far. The "
        "council uses the reasons to understand the market.",
        validators=[Length(max=20_000)],
    )


def _details(form: FlaskForm, referral: Referral) -> offers.OfferDetails:
    def text(name: str) -> str:
        return form[name].data or ""

    return offers.OfferDetails(
        aim_responses={aim.id: text(offers.aim_field(aim.id)) for aim in referral.aims},
        start_date=form.start_date.data,
        hours_per_week=text("hours_per_week"),
        sessions=text("sessions"),
        location=text("location"),
        staffing_ratio=text("staffing_ratio"),
        transport=text("transport"),
        delivery_and_staffing=text("delivery_and_staffing"),
        safeguarding=text("safeguarding"),
        rate_type=form.rate_type.data or None,
        rate=text("rate"),
        units_per_week=text("units_per_week"),
        total=text("total"),
    )


def _error_list(form: FlaskForm) -> list[dict]:
    """The error summary, each message linked to its field (a date to its day box, radios to the first one)."""
    links = {"start_date": "#start_date-day"}
    return [{"text": field.errors[0], "href": links.get(field.name, f"#{field.id}")} for field in form if field.errors]


# ---- One referral ---------------------------------------------------------------------------------------------------


def _opportunity_or_404(referral_id: int, now: datetime) -> Opportunity:
    try:
        return offers.opportunity(referral_id, current_user.provider_id, now=now)
    except NotFound:
        abort(404)


def _render_opportunity(
    found: Opportunity,
    now: datetime,
    *,
    message: str | None = None,
    decline_form: DeclineForm | None = None,
    status: int = 200,
):
    """The referral page. The awarded provider's view reads the child through the audited service (the caller
    commits the audit event)."""
    referral = found.referral
    child = None
    if found.outcome is Outcome.AWARDED_TO_YOU:
        child = children.read_child(referral, current_user, ip=client_ip(), purpose="awarded provider")
    form = None
    if found.open and found.live_offer is None:
        form = offer_form(referral, found.offer)
    decline_form = decline_form or DeclineForm(formdata=None)
    errors = []
    if message:
        errors.append({"text": message, "href": "#your-response"})
    errors += _error_list(decline_form)
    return (
        render_template(
            "provider/opportunities/opportunity.html",
            found=found,
            referral=referral,
            child=child,
            offer_form=form,
            decline_form=decline_form,
            errors=errors,
            now=now,
            countdown=referrals.describe_deadline(referral, now) if referral.deadline else "",
            **_helpers(),
        ),
        status,
    )


def _helpers() -> dict:
    return {
        "reference": referrals.reference,
        "money": offers.money,
        "aim_field": offers.aim_field,
        "outcomes": Outcome,
    }


def _refused(referral_id: int, now: datetime, message: str):
    """A change refused because of the referral's state (closed, awarded ...): the page as it is now, read only where
    offers have closed, with the message, and HTTP 409 (for htmx and plain requests alike)."""
    db.session.rollback()
    found = _opportunity_or_404(referral_id, now)
    response = _render_opportunity(found, now, message=message, status=409)
    db.session.commit()  # the audit of a child's record read on the page, if any
    return response


@bp.get("/opportunities/<int:referral_id>")
@roles(Role.PROVIDER)
def opportunity(referral_id: int):
    now = clock.now()
    found = _opportunity_or_404(referral_id, now)
    offers.mark_viewed(found, now)
    response = _render_opportunity(found, now)
    db.session.commit()  # the first view of the invitation, and the audit of a child's record read
    return response


def _render_offer_page(found: Opportunity, form: FlaskForm, *, conflict: str | None = None, status: int = 200):
    errors = ([{"text": conflict, "href": "#offer-form"}] if conflict else []) + _error_list(form)
    return (
        render_template(
            "provider/opportunities/offer.html",
            found=found,
            referral=found.referral,
            offer_form=form,
            errors=errors,
            conflict=conflict,
            **_helpers(),
        ),
        status,
    )


@bp.route("/opportunities/<int:referral_id>/offer", methods=["GET", "POST"])
@roles(Role.PROVIDER)
@submissions.single_submit("offer")
def make_offer(referral_id: int):
    now = clock.now()
    found = _opportunity_or_404(referral_id, now)
    if request.method == "GET":
        if not found.open:
            flash(found.closed_message, "info")
            return redirect(url_for("provider.opportunity", referral_id=referral_id))
        return _render_offer_page(found, offer_form(found.referral, found.offer))

    form = offer_form(found.referral, from_request=True)
    form.validate()
    revising = found.live_offer is not None
    try:
        claimed = submissions.claim(submissions.sent_token(), current_user, "offer")
        offers.make_offer(
            referral_id,
            current_user,
            details=_details(form, found.referral),
            version=whole_number(form.version.data),
            now=now,
            ip=client_ip(),
        )
        submissions.made(claimed, url_for("provider.opportunity", referral_id=referral_id))
        db.session.commit()
    except NotFound:
        db.session.rollback()
        abort(404)
    except IllegalTransition as error:
        return _refused(referral_id, now, error.message)
    except (Conflict, StaleDataError, IntegrityError):
        # A colleague changed the offer first: keep what was typed, show what is saved now, and carry the version
        # saved now so that sending again replaces it knowingly.
        db.session.rollback()
        found = _opportunity_or_404(referral_id, now)
        form.version.data = str(found.offer.version) if found.offer is not None else ""
        return _render_offer_page(found, form, conflict=offers.CONFLICT, status=409)
    except FieldErrors as error:
        db.session.rollback()
        for name, message in error.errors.items():
            if name in form and not form[name].errors:
                form[name].errors = [*form[name].errors, message]
    except DomainError as error:
        db.session.rollback()
        field = form[error.field] if error.field in form else form.total
        field.errors = [*field.errors, error.message]
    else:
        closes = london_datetime(found.referral.deadline)
        if revising:
            flash(f"Offer revised. You can change or withdraw it until {closes}.", "success")
        else:
            flash(f"Offer made. The council can see it now. You can change or withdraw it until {closes}.", "success")
        return redirect(url_for("provider.opportunity", referral_id=referral_id))
    return _render_offer_page(_opportunity_or_404(referral_id, now), form)


@bp.post("/opportunities/<int:referral_id>/offer/withdraw")
@roles(Role.PROVIDER)
def withdraw_offer(referral_id: int):
    now = clock.now()
    try:
        offers.withdraw_offer(
            referral_id,
            current_user,
            version=whole_number(request.form.get("version")),
            now=now,
            ip=client_ip(),
        )
        db.session.commit()
    except NotFound:
        db.session.rollback()
        abort(404)
    except IllegalTransition as error:
        return _refused(referral_id, now, error.message)
    except (Conflict, StaleDataError):
        return _refused(referral_id, now, WITHDRAW_CONFLICT)
    found = _opportunity_or_404(referral_id, now)
    flash(f"Offer withdrawn. You can make an offer again until {london_datetime(found.referral.deadline)}.", "success")
    return redirect(url_for("provider.opportunity", referral_id=referral_id))


@bp.post("/opportunities/<int:referral_id>/decline")
@roles(Role.PROVIDER)
def decline(referral_id: int):
    now = clock.now()
    form = DeclineForm()
    form.validate()
    try:
        offers.decline(referral_id, current_user, reason=form.reason.data or "", now=now, ip=client_ip())
        db.session.commit()
    except NotFound:
        db.session.rollback()
        abort(404)
    except IllegalTransition as error:
        return _refused(referral_id, now, error.message)
    except DomainError as error:
        db.session.rollback()
        if not form.reason.errors:
            form.reason.errors = [*form.reason.errors, error.message]
        found = _opportunity_or_404(referral_id, now)
        response = _render_opportunity(found, now, decline_form=form)
        db.session.commit()
        return response
    found = _opportunity_or_404(referral_id, now)
    flash(
        "You have declined this referral. Thank you for saying why. If things change, you can still make an offer "
        f"until {london_datetime(found.referral.deadline)}.",
        "success",
    )
    return redirect(url_for("provider.opportunity", referral_id=referral_id))
