"""Writing a referral: the child, the draft's sections, publishing and withdrawing; the officer's referral list.

Any officer may open a draft's pages; only officers of the referral's service may save them (the service refuses
anyone else, answered with 403), and only while it is a draft (anything else is a 409 page saying why). Every form
carries the version of what it was drawn from: a save over a newer version is refused with 409, what was typed is
kept, and what is saved now is shown beside it.

The child's identity is shown only on these pages and only through children.read_child, which audits each read.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovCharacterCount,
    GovCheckboxesInput,
    GovCheckboxInput,
    GovRadioInput,
    GovSelect,
    GovTextArea,
    GovTextInput,
)
from sqlalchemy.orm.exc import StaleDataError
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields import SelectChoice
from wtforms.validators import Length, ValidationError

from portal import clock
from portal.access import roles
from portal.blueprints.officer import bp
from portal.clock import london_today
from portal.errors import render_error
from portal.extensions import db, htmx
from portal.formatting import long_date
from portal.forms import GovDateField
from portal.models import Area, Child, ExclusionStatus, Gender, Lot, Need, OnRollStatus, Referral, Role
from portal.pagination import govuk_pagination
from portal.services import children, referral_drafts, referrals
from portal.services.eligibility import eligible_providers
from portal.services.errors import Conflict, DomainError, FieldErrors, IllegalTransition, NotAllowed, NotFound
from portal.services.referral_drafts import AimText, ChildDetails, Profile, Provision, Section
from portal.services.referrals import PublishTerms, ReferralFilters, Stage
from portal.web import client_ip

RESULTS_ID = "referral-results"
# Generous caps on what a form reads; the service holds the real limits and their messages.
CAP = [Length(max=20_000)]
YES_NO = [SelectChoice("yes", "Yes"), SelectChoice("no", "No")]
EXCLUSION_LABELS = {
    ExclusionStatus.NONE: "Not excluded",
    ExclusionStatus.AT_RISK: "At risk of exclusion",
    ExclusionStatus.SUSPENDED: "Suspended",
    ExclusionStatus.PERMANENTLY_EXCLUDED: "Permanently excluded",
}
SECTION_ENDPOINTS = {
    Section.CHILD: "officer.referral_child",
    Section.PROVISION: "officer.referral_provision",
    Section.AIMS: "officer.referral_aims",
    Section.PROFILE: "officer.referral_profile",
}
STAGE_TAGS = {
    Stage.DRAFT: "govuk-tag--grey",
    Stage.OPEN: "govuk-tag--blue",
    Stage.EVALUATING: "govuk-tag--yellow",
    Stage.AWARDED: "govuk-tag--green",
    Stage.WITHDRAWN: "govuk-tag--red",
    Stage.OFF_DPS: "govuk-tag--purple",
}


def _yes_no(value: bool | None) -> str | None:
    return None if value is None else ("yes" if value else "no")


def _bool(value: str | None) -> bool | None:
    return {"yes": True, "no": False}.get(value or "")


# ---- Forms ----------------------------------------------------------------------------------------------------------


class ChildForm(FlaskForm):
    version = HiddenField()
    first_name = StringField(
        "First name",
        widget=GovTextInput(),
        render_kw={"autocomplete": "off", "spellcheck": "false"},
        validators=CAP,
    )
    last_name = StringField(
        "Last name",
        widget=GovTextInput(),
        render_kw={"autocomplete": "off", "spellcheck": "false"},
        validators=CAP,
    )
    date_of_birth = GovDateField("Date of birth", description="For example, 27 3 2012")
    upn = StringField(
        "Unique pupil number (UPN)",
        widget=GovTextInput(),
        description="13 characters: a letter, 11 digits, then a digit or a letter. For example, A123456789012.",
        render_kw={"autocomplete": "off", "spellcheck": "false", "params": {"classes": "govuk-input--width-20"}},
        validators=CAP,
    )
    gender = RadioField(
        "Gender",
        widget=GovRadioInput(),
        description="As the child's school records it.",
        choices=[SelectChoice(g.value, g.value.capitalize()) for g in Gender],
        validate_choice=False,
    )
    home_school = StringField(
        "Home school",
        widget=GovTextInput(),
        description="The school whose roll the child is on, or was last on.",
        render_kw={"autocomplete": "off"},
        validators=CAP,
    )
    no_school = BooleanField(
        "The child does not have a school",
        widget=GovCheckboxInput(),
        description="Only if the child is on no school's roll and has no school to go back to.",
    )
    on_roll_status = RadioField(
        "On-roll status",
        widget=GovRadioInput(),
        description="Whose roll the child is on now.",
        choices=[SelectChoice(s.value, s.value.capitalize()) for s in OnRollStatus],
        validate_choice=False,
    )
    ehc_plan = RadioField(
        "Does the child have an education, health and care (EHC) plan?",
        widget=GovRadioInput(),
        description="Select no if an EHC needs assessment is still under way.",
        choices=YES_NO,
        validate_choice=False,
    )
    looked_after = RadioField(
        "Is the child looked after by a local authority?",
        widget=GovRadioInput(),
        description="In the care of this council or another one.",
        choices=YES_NO,
        validate_choice=False,
    )
    exclusion_status = RadioField(
        "Exclusion status",
        widget=GovRadioInput(),
        description="Whether the child has been suspended or permanently excluded, or is at risk of it.",
        choices=[SelectChoice(s.value, EXCLUSION_LABELS[s]) for s in ExclusionStatus],
        validate_choice=False,
    )
    exclusion_date = GovDateField(
        "Date of the suspension or permanent exclusion",
        description="Only if the child is suspended or permanently excluded. For example, 27 3 2026.",
    )

    def details(self) -> ChildDetails:
        return ChildDetails(
            first_name=self.first_name.data or "",
            last_name=self.last_name.data or "",
            date_of_birth=self.date_of_birth.data,
            upn=self.upn.data or "",
            gender=self.gender.data,
            home_school=self.home_school.data or "",
            no_school=bool(self.no_school.data),
            on_roll_status=self.on_roll_status.data,
            ehc_plan=_bool(self.ehc_plan.data),
            looked_after=_bool(self.looked_after.data),
            exclusion_status=self.exclusion_status.data,
            exclusion_date=self.exclusion_date.data,
        )


def _child_data(child: Child) -> dict:
    return {
        "version": child.version,
        "first_name": child.first_name,
        "last_name": child.last_name,
        "date_of_birth": child.date_of_birth,
        "upn": child.upn,
        "gender": child.gender.value,
        "home_school": child.home_school,
        "no_school": not child.home_school,
        "on_roll_status": child.on_roll_status.value,
        "ehc_plan": _yes_no(child.ehc_plan),
        "looked_after": _yes_no(child.looked_after),
        "exclusion_status": child.exclusion_status.value,
        "exclusion_date": child.exclusion_date,
    }


class ProvisionForm(FlaskForm):
    version = HiddenField()
    lot = RadioField(
        "Which lot is the provision in?",
        widget=GovRadioInput(),
        description="The referral goes to every provider admitted to this lot.",
        validate_choice=False,
    )
    hours_per_week = StringField(
        "Hours per week",
        widget=GovTextInput(),
        description="More than 0 and no more than 40. One decimal place at most, like 12.5.",
        render_kw={
            "inputmode": "decimal",
            "spellcheck": "false",
            "params": {"classes": "govuk-input--width-4", "suffix": {"text": "hours"}},
        },
        validators=CAP,
    )
    sessions = StringField(
        "Sessions",
        widget=GovTextInput(),
        description="When in the week, for example Monday to Friday mornings.",
        validators=CAP,
    )
    start_date = GovDateField("Start date", description="For example, 11 1 2027.")
    duration_weeks = StringField(
        "How many weeks?",
        widget=GovTextInput(),
        description="A whole number from 1 to 52.",
        render_kw={
            "inputmode": "numeric",
            "spellcheck": "false",
            "params": {"classes": "govuk-input--width-3", "suffix": {"text": "weeks"}},
        },
        validators=CAP,
    )
    location = TextAreaField(
        "Location",
        widget=GovTextArea(),
        description="Where the provision should be, for example within 30 minutes by bus of Uxbridge. "
        "Providers see this: do not give the child's address.",
        render_kw={"params": {"rows": 2}},
        validators=CAP,
    )
    travel_needs = TextAreaField(
        "Travel needs (optional)",
        widget=GovTextArea(),
        description="For example, can travel independently by bus, or needs transport.",
        render_kw={"params": {"rows": 3}},
        validators=CAP,
    )
    reintegration_criteria = TextAreaField(
        "Reintegration criteria",
        widget=GovTextArea(),
        description="What would show the child is ready to return to school or move on.",
        render_kw={"params": {"rows": 4}},
        validators=CAP,
    )

    def __init__(self, *args, lots: list[Lot], **kwargs):
        super().__init__(*args, **kwargs)
        self.lot.choices = [SelectChoice(str(lot.id), lot.label) for lot in lots]

    def details(self) -> Provision:
        return Provision(
            lot_id=self.lot.data,
            hours_per_week=self.hours_per_week.data or "",
            sessions=self.sessions.data or "",
            start_date=self.start_date.data,
            duration_weeks=self.duration_weeks.data or "",
            location=self.location.data or "",
            travel_needs=self.travel_needs.data or "",
            reintegration_criteria=self.reintegration_criteria.data or "",
        )


def _provision_data(referral: Referral) -> dict:
    hours = referral.hours_per_week
    return {
        "version": referral.version,
        "lot": str(referral.lot_id) if referral.lot_id else None,
        "hours_per_week": "" if hours is None else f"{hours.normalize():f}",
        "sessions": referral.sessions,
        "start_date": referral.start_date,
        "duration_weeks": "" if referral.duration_weeks is None else str(referral.duration_weeks),
        "location": referral.location,
        "travel_needs": referral.travel_needs,
        "reintegration_criteria": referral.reintegration_criteria,
    }


class AimEntry(Form):
    """One aim (a sub-form of AimsForm: the CSRF token is the outer form's)."""

    description = TextAreaField(
        "What is the aim?", widget=GovTextArea(), render_kw={"params": {"rows": 2}}, validators=CAP
    )
    baseline = TextAreaField(
        "Baseline",
        widget=GovTextArea(),
        description="Where the child is now.",
        render_kw={"params": {"rows": 2}},
        validators=CAP,
    )
    target = TextAreaField(
        "Target",
        widget=GovTextArea(),
        description="Where the child should get to, and by when.",
        render_kw={"params": {"rows": 2}},
        validators=CAP,
    )
    measure = TextAreaField(
        "How will it be measured?", widget=GovTextArea(), render_kw={"params": {"rows": 2}}, validators=CAP
    )


class AimsForm(FlaskForm):
    version = HiddenField()
    aims = FieldList(FormField(AimEntry), min_entries=1, max_entries=referral_drafts.MAX_AIMS)

    def texts(self) -> list[AimText]:
        return [
            AimText(**{part: entry.form[part].data or "" for part in referral_drafts.AIM_PARTS})
            for entry in self.aims.entries
        ]


class ProfileForm(FlaskForm):
    version = HiddenField()
    needs = SelectMultipleField(
        "Needs",
        widget=GovCheckboxesInput(),
        description="Select all that providers should know about.",
        choices=[SelectChoice(need.value, need.label) for need in Need],
        validate_choice=False,
    )
    area = RadioField(
        "Area",
        widget=GovRadioInput(),
        description="Where in the borough the provision is needed.",
        choices=[SelectChoice(area.value, area.label) for area in Area],
        validate_choice=False,
    )
    profile = TextAreaField(
        "Profile",
        widget=GovCharacterCount(),
        description="What providers need to know to make an offer: strengths, needs, interests, what has worked. "
        "Do not give the child's name, date of birth, UPN or school.",
        validators=CAP,
    )

    def details(self) -> Profile:
        return Profile(needs=list(self.needs.data or []), area=self.area.data, profile=self.profile.data or "")


def _profile_data(referral: Referral) -> dict:
    return {
        "version": referral.version,
        "needs": [need.value for need in sorted(referral.need_codes, key=list(Need).index)],
        "area": referral.area.value if referral.area else None,
        "profile": referral.profile,
    }


class PublishForm(FlaskForm):
    version = HiddenField()
    leaks_checked = BooleanField(
        "I have checked: the profile and aims do not identify the child",
        widget=GovCheckboxInput(),
        description="Only if what is listed above does not give the child away, for example a name that is also an "
        "ordinary word.",
    )
    deadline = GovDateField(
        "Deadline for offers",
        description=f"Offers close at 5pm on this day. The usual deadline is {referrals.DEFAULT_DEADLINE_DAYS} days "
        "from today.",
    )
    deadline_reason = TextAreaField(
        f"Reason for a deadline shorter than {referrals.DEFAULT_DEADLINE_DAYS} days",
        widget=GovTextArea(),
        description="Only needed for a shorter deadline, for example provision is needed from the sixth day of a "
        "permanent exclusion. It is kept in the audit trail.",
        render_kw={"params": {"rows": 3}},
        validators=CAP,
    )
    quality_weight = StringField(
        "Quality weighting",
        widget=GovTextInput(),
        description="A whole number from 0 to 100. Price gets the rest: with 70, quality counts for 70% of an "
        "offer's score and price for 30%.",
        render_kw={
            "inputmode": "numeric",
            "spellcheck": "false",
            "params": {"classes": "govuk-input--width-3", "suffix": {"text": "%"}},
        },
        validators=CAP,
    )

    def validate_quality_weight(self, field) -> None:
        text = (field.data or "").strip()
        if not text.isdigit() or not 0 <= int(text) <= 100:
            raise ValidationError("Enter the quality weighting as a whole number from 0 to 100")


class WithdrawForm(FlaskForm):
    version = HiddenField()
    reason = TextAreaField(
        "Why are you withdrawing this referral?",
        widget=GovTextArea(),
        description="Invited providers are sent this reason by email. Do not name the child.",
        render_kw={"params": {"rows": 4}},
        validators=CAP,
    )


class ReferralFilterForm(FlaskForm):
    """The list's filters: a GET form, so it has no CSRF token and its address can be shared."""

    class Meta:
        csrf = False

    stage = SelectField(
        "Stage",
        widget=GovSelect(),
        choices=[SelectChoice("", "All stages")] + [SelectChoice(s.value, s.label) for s in Stage],
        validate_choice=False,
        default="",
    )
    service = SelectField("Service", widget=GovSelect(), validate_choice=False, default="")
    lot = SelectField("Lot", widget=GovSelect(), validate_choice=False, default="")
    officer = SelectField("Officer", widget=GovSelect(), validate_choice=False, default="")

    FIELDS = ("stage", "service", "lot", "officer")

    def __init__(self, *args, choices: dict[str, list], **kwargs):
        super().__init__(*args, **kwargs)
        self.service.choices = [SelectChoice("", "All services")] + [
            SelectChoice(str(s.id), s.name) for s in choices["services"]
        ]
        self.lot.choices = [SelectChoice("", "All lots")] + [
            SelectChoice(str(lot.id), lot.label) for lot in choices["lots"]
        ]
        self.officer.choices = [SelectChoice("", "All officers")] + [
            SelectChoice(str(u.id), u.name) for u in choices["officers"]
        ]

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for name, what in (("stage", "a stage"), ("service", "a service"), ("lot", "a lot"), ("officer", "an officer")):
            field = self[name]
            if field.data and field.data not in {choice.value for choice in field.choices}:
                field.errors = [*field.errors, f"Select {what} from the list"]
                valid = False
        return valid

    def filters(self) -> ReferralFilters:
        return ReferralFilters(
            stage=Stage(self.stage.data) if self.stage.data else None,
            service_id=int(self.service.data) if self.service.data else None,
            lot_id=int(self.lot.data) if self.lot.data else None,
            officer_id=int(self.officer.data) if self.officer.data else None,
        )

    def query_args(self) -> dict[str, str]:
        return {name: self[name].data for name in self.FIELDS if self[name].data}


# ---- Helpers --------------------------------------------------------------------------------------------------------


def _referral_or_404(referral_id: int) -> Referral:
    try:
        return referrals.get_referral(referral_id)
    except NotFound:
        abort(404)


def _commit() -> None:
    """Commit a publish or a withdrawal: a change someone else committed in the meantime is a conflict."""
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise Conflict(
            "Someone else changed this referral at the same moment, so nothing you sent was saved. Check the "
            "referral as it is now, then try again."
        ) from None


def _not_now(error: DomainError):
    return render_error(409, "You cannot change this referral now", error.message)


def _show_errors(form: FlaskForm, errors: dict[str, str], *, keep_existing: bool = False) -> None:
    """Put each message next to its field (the first field when the service names one the form does not have)."""
    for name, message in errors.items():
        field = _field(form, name)
        if keep_existing and field.errors:
            continue
        field.errors = [*field.errors, message]
    if isinstance(form, AimsForm):
        form.aims.errors = [entry.errors for entry in form.aims.entries]
        if not any(form.aims.errors):
            form.aims.errors = []


def _field(form: FlaskForm, name: str):
    if isinstance(form, AimsForm) and name not in ("version", "csrf_token"):
        # "aims-<n>-<part>" is that part of aim n; anything else about the aims goes by the first one.
        parts = name.split("-")
        index = int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else 0
        index = min(index, len(form.aims.entries) - 1)
        return form.aims.entries[index].form[parts[2] if len(parts) == 3 else "description"]
    if name in form:
        return form[name]
    return next(field for field in form if field.type not in ("CSRFTokenField", "HiddenField"))


def _save(form: FlaskForm, save, check, *, version_now):
    """Check the form and save through the service; commit when it worked.

    Returns ``(response, conflict)``: a response to send (a redirect after saving, or a 409 or 403 page), or None with
    the form ready to show again (the problems next to the fields, or ``conflict``, the message of a stale save, with
    the form's version moved on so that saving again goes through)."""
    if not form.validate():
        # The form's own problems (a date that is not a date): the service's checks run too, so every problem is shown.
        try:
            check()
        except FieldErrors as error:
            _show_errors(form, error.errors, keep_existing=True)
        except DomainError:
            pass
        return None, None
    try:
        save()
    except NotAllowed:
        db.session.rollback()
        abort(403)
    except IllegalTransition as error:
        db.session.rollback()
        return _not_now(error), None
    except Conflict as error:
        db.session.rollback()
        form.version.data = str(version_now())
        return None, error.message
    except FieldErrors as error:
        db.session.rollback()
        _show_errors(form, error.errors)
    except DomainError as error:
        db.session.rollback()
        _show_errors(form, {error.field or "": error.message})
    else:
        db.session.commit()
        return True, None
    return None, None


def _draft_or_redirect(referral_id: int, action: referrals.Action = referrals.Action.EDIT):
    """The draft and None; or, with the response to send instead: on a GET, a redirect to the referral's page once
    it is published (or ended); on a POST, 403 unless the officer may change it, and 409 once it is not a draft
    (checked before the form, so the answer is the same whatever was sent; the service checks again)."""
    referral = _referral_or_404(referral_id)
    if request.method != "POST":
        if referral.status.value != Stage.DRAFT.value:
            return referral, redirect(url_for("officer.referral", referral_id=referral.id))
        return referral, None
    try:
        referrals.ensure_may_act(referral, current_user)
        referrals.ensure_stage(referral, action, clock.now())
    except NotAllowed:
        abort(403)
    except IllegalTransition as error:
        return referral, _not_now(error)
    return referral, None


def _read_child(referral: Referral, purpose: str) -> Child:
    """The child's record for this page (audited), committed with its audit event."""
    child = children.read_child(referral, current_user, ip=client_ip(), purpose=purpose)
    db.session.commit()
    return child


def _leak_rows(referral: Referral) -> list[dict]:
    """What the task list and the publish page warn about: each part that gives the child away, what was found, and
    where to change it."""
    rows = []
    for part, found in children.profile_leaks(referral).items():
        if part.startswith("aim "):
            label, section = part.capitalize(), Section.AIMS
        elif part == "profile":
            label, section = "The profile", Section.PROFILE
        else:
            label, section = part.replace("_", " ").capitalize(), Section.PROVISION
        rows.append(
            {"part": label, "found": found, "href": url_for(SECTION_ENDPOINTS[section], referral_id=referral.id)}
        )
    return rows


def _section_page(template: str, referral: Referral, form, *, conflict=None, saved_now=None, status=200, **context):
    return (
        render_template(
            template,
            referral=referral,
            reference=referrals.reference(referral),
            form=form,
            conflict=conflict,
            saved_now=saved_now,
            can_edit=referrals.may_act(referral, current_user),
            task_list_url=url_for("officer.referral_draft", referral_id=referral.id),
            **context,
        ),
        status,
    )


def _next_after_save(referral: Referral, section: Section):
    flash(f"{section.title} saved", "success")
    return redirect(url_for("officer.referral_draft", referral_id=referral.id))


def _fresh(referral_id: int) -> Referral:
    db.session.expire_all()
    return _referral_or_404(referral_id)


# ---- The list -------------------------------------------------------------------------------------------------------


def referral_list(endpoint: str, template: str, link):
    """The list page of an area (the officer's or the manager's): filters, one page of referrals, and the results
    region alone when htmx asks for it. ``link(row)`` is the address of a row's referral."""
    form = ReferralFilterForm(formdata=request.args, choices=referrals.filter_choices())
    result = pagination = None
    if form.validate():
        result = referrals.search(form.filters(), now=clock.now(), page=max(1, request.args.get("page", 1, type=int)))
        kept = form.query_args()
        pagination = govuk_pagination(
            result.page,
            result.pages,
            lambda number: url_for(endpoint, **kept, page=number),
            label="Pages of referrals",
        )
    context = {
        "form": form,
        "result": result,
        "pagination": pagination,
        "results_id": RESULTS_ID,
        "list_url": url_for(endpoint),
        "link": link,
        "reference": referrals.reference,
        "stage_tags": STAGE_TAGS,
        "Stage": Stage,
    }
    if htmx and htmx.target == RESULTS_ID and not htmx.history_restore_request:
        response = render_template("officer/partials/referral_results.html", **context)
    else:
        response = render_template(template, **context)
    return response, {"Vary": "HX-Request, HX-Target"}


def _officer_link(row) -> str:
    if row.stage is Stage.DRAFT:
        return url_for("officer.referral_draft", referral_id=row.referral.id)
    return url_for("officer.referral", referral_id=row.referral.id)


@bp.get("/referrals", endpoint="referrals")
@roles(Role.OFFICER)
def referral_index():
    return referral_list("officer.referrals", "officer/referrals/list.html", _officer_link)


# ---- Starting a referral: the child ---------------------------------------------------------------------------------


@bp.route("/referrals/new", methods=["GET", "POST"])
@roles(Role.OFFICER)
def new_referral():
    form = ChildForm()
    if form.is_submitted():
        today = london_today(clock.now())
        started = None

        def save():
            nonlocal started
            started = referral_drafts.start_referral(form.details(), current_user, now=clock.now(), ip=client_ip())

        done, _ = _save(form, save, lambda: referral_drafts.check_child(form.details(), today), version_now=lambda: "")
        if done is True:
            reference = referrals.reference(started.referral)
            if started.reused:
                flash(f"This child was already recorded: check their details. Draft referral {reference} started.")
            else:
                flash(f"Draft referral {reference} started", "success")
            return redirect(url_for("officer.referral_draft", referral_id=started.referral.id))
        if done is not None:
            return done
    return render_template("officer/referrals/child.html", form=form, referral=None, conflict=None, saved_now=None)


# ---- The draft's task list -------------------------------------------------------------------------------------------


@bp.get("/referrals/<int:referral_id>/draft")
@roles(Role.OFFICER)
def referral_draft(referral_id: int):
    referral, elsewhere = _draft_or_redirect(referral_id)
    if elsewhere:
        return elsewhere
    progress = referral_drafts.progress(referral)
    leaks = _leak_rows(referral)
    child = _read_child(referral, "Writing the draft referral")
    items = []
    for section in Section:
        status = progress.statuses[section]
        items.append(
            {
                "title": {"text": section.title},
                "href": url_for(SECTION_ENDPOINTS[section], referral_id=referral.id),
                "status": _status_display(status),
            }
        )
    publish_item = {"title": {"text": "Check and publish"}}
    if progress.complete:
        publish_item["href"] = url_for("officer.publish_referral", referral_id=referral.id)
        publish_item["status"] = {"tag": {"text": "Not started", "classes": "govuk-tag--blue"}}
    else:
        publish_item["status"] = {
            "text": "Cannot start yet",
            "classes": "govuk-task-list__status--cannot-start-yet",
        }
        publish_item["hint"] = {"text": "Complete every section first"}
    return render_template(
        "officer/referrals/draft.html",
        referral=referral,
        reference=referrals.reference(referral),
        child=child,
        other_referrals=referral_drafts.referral_count_for(child.id) - 1,
        progress=progress,
        sections=len(Section),
        items=items,
        publish_item=publish_item,
        leaks=leaks,
        can_edit=referrals.may_act(referral, current_user),
    )


def _status_display(status: referral_drafts.Status) -> dict:
    if status is referral_drafts.Status.COMPLETED:
        return {"text": status.value}
    colour = "govuk-tag--blue" if status is referral_drafts.Status.NOT_STARTED else "govuk-tag--light-blue"
    return {"tag": {"text": status.value, "classes": colour}}


# ---- The child's details --------------------------------------------------------------------------------------------


def _child_rows(child: Child) -> list[tuple[str, str]]:
    """The child's record as (label, value) lines."""
    excluded = EXCLUSION_LABELS[child.exclusion_status]
    if child.exclusion_date:
        excluded = f"{excluded} on {long_date(child.exclusion_date)}"
    return [
        ("Name", child.full_name),
        ("Date of birth", long_date(child.date_of_birth)),
        ("UPN", child.upn),
        ("Gender", child.gender.value.capitalize()),
        ("Home school", child.home_school or "No school"),
        ("On-roll status", child.on_roll_status.value.capitalize()),
        ("EHC plan", "Yes" if child.ehc_plan else "No"),
        ("Looked after", "Yes" if child.looked_after else "No"),
        ("Exclusion status", excluded),
    ]


@bp.route("/referrals/<int:referral_id>/draft/child", methods=["GET", "POST"])
@roles(Role.OFFICER)
def referral_child(referral_id: int):
    referral, elsewhere = _draft_or_redirect(referral_id)
    if elsewhere:
        return elsewhere
    conflict = saved_now = None
    status = 200
    if request.method == "POST":
        form = ChildForm()
        today = london_today(clock.now())

        def save():
            referral_drafts.update_child(
                referral.id, form.details(), current_user, version=form.version.data, now=clock.now(), ip=client_ip()
            )

        def version_now():
            return db.session.get(Child, referral.child_id).version

        done, conflict = _save(
            form, save, lambda: referral_drafts.check_child(form.details(), today), version_now=version_now
        )
        if done is True:
            return _next_after_save(referral, Section.CHILD)
        if done is not None:
            return done
        if conflict:
            status = 409
            referral = _fresh(referral_id)
            saved_now = _child_rows(_read_child(referral, "Showing the details saved now after a conflicting change"))
    else:
        child = _read_child(referral, "Checking the child's details on a draft referral")
        form = ChildForm(data=_child_data(child))
    return (
        render_template(
            "officer/referrals/child.html",
            form=form,
            referral=referral,
            reference=referrals.reference(referral),
            conflict=conflict,
            saved_now=saved_now,
            can_edit=referrals.may_act(referral, current_user),
            task_list_url=url_for("officer.referral_draft", referral_id=referral.id),
        ),
        status,
    )


# ---- The provision needed -------------------------------------------------------------------------------------------


def _lots() -> list[Lot]:
    return referrals.filter_choices()["lots"]


def _provision_rows(referral: Referral) -> list[tuple[str, str]]:
    hours = referral.hours_per_week
    return [
        ("Lot", referral.lot.label if referral.lot else "Not chosen"),
        ("Hours per week", "" if hours is None else f"{hours.normalize():f}"),
        ("Sessions", referral.sessions),
        ("Start date", long_date(referral.start_date)),
        ("Weeks", "" if referral.duration_weeks is None else str(referral.duration_weeks)),
        ("Location", referral.location),
        ("Travel needs", referral.travel_needs),
        ("Reintegration criteria", referral.reintegration_criteria),
    ]


@bp.route("/referrals/<int:referral_id>/draft/provision", methods=["GET", "POST"])
@roles(Role.OFFICER)
def referral_provision(referral_id: int):
    referral, elsewhere = _draft_or_redirect(referral_id)
    if elsewhere:
        return elsewhere
    lots = _lots()
    conflict = saved_now = None
    if request.method == "POST":
        form = ProvisionForm(lots=lots)
        today = london_today(clock.now())

        def save():
            referral_drafts.save_provision(
                referral.id, form.details(), current_user, version=form.version.data, now=clock.now(), ip=client_ip()
            )

        done, conflict = _save(
            form,
            save,
            lambda: referral_drafts.check_provision(form.details(), today),
            version_now=lambda: _fresh(referral_id).version,
        )
        if done is True:
            return _next_after_save(referral, Section.PROVISION)
        if done is not None:
            return done
        if conflict:
            referral = _fresh(referral_id)
            saved_now = _provision_rows(referral)
    else:
        form = ProvisionForm(lots=lots, data=_provision_data(referral))
    return _section_page(
        "officer/referrals/provision.html",
        referral,
        form,
        conflict=conflict,
        saved_now=saved_now,
        status=409 if conflict else 200,
        lots=lots,
    )


# ---- The aims -------------------------------------------------------------------------------------------------------


def _aims_form_with(texts: list[AimText], version) -> AimsForm:
    """A form showing these aims (after "Add another aim" or "Remove": nothing is saved, nothing is checked)."""
    form = AimsForm(formdata=None, data={"version": version, "aims": texts or [AimText()]})
    return form


def _aim_rows(referral: Referral) -> list[tuple[str, str]]:
    return [
        (
            f"Aim {aim.position}",
            f"{aim.description} (baseline: {aim.baseline}; target: {aim.target}; measured by: {aim.measure})",
        )
        for aim in referral.aims
    ] or [("Aims", "None saved")]


@bp.route("/referrals/<int:referral_id>/draft/aims", methods=["GET", "POST"])
@roles(Role.OFFICER)
def referral_aims(referral_id: int):
    referral, elsewhere = _draft_or_redirect(referral_id)
    if elsewhere:
        return elsewhere
    conflict = saved_now = None
    if request.method == "POST":
        form = AimsForm()
        texts = form.texts()
        action = request.form.get("action", "save")
        remove = request.form.get("remove")
        if remove is not None or action == "add":
            # Buttons of the same form (CSRFProtect has checked the token): redraw it with one aim more or fewer.
            # Nothing is checked or saved until "Save and continue".
            if remove is not None and remove.isdigit() and int(remove) < len(texts):
                del texts[int(remove)]
            form = _aims_form_with(texts, form.version.data)
            if action == "add" and remove is None:
                if len(texts) >= referral_drafts.MAX_AIMS:
                    _show_errors(form, {"aims": f"A referral can have up to {referral_drafts.MAX_AIMS} aims"})
                else:
                    form.aims.append_entry(AimText())
            return _section_page("officer/referrals/aims.html", referral, form, max_aims=referral_drafts.MAX_AIMS)

        def save():
            referral_drafts.replace_aims(
                referral.id, texts, current_user, version=form.version.data, now=clock.now(), ip=client_ip()
            )

        done, conflict = _save(
            form,
            save,
            lambda: referral_drafts.check_aims(texts),
            version_now=lambda: _fresh(referral_id).version,
        )
        if done is True:
            return _next_after_save(referral, Section.AIMS)
        if done is not None:
            return done
        if conflict:
            referral = _fresh(referral_id)
            saved_now = _aim_rows(referral)
    else:
        texts = [
            AimText(description=a.description, baseline=a.baseline, target=a.target, measure=a.measure)
            for a in referral.aims
        ]
        form = _aims_form_with(texts, referral.version)
    return _section_page(
        "officer/referrals/aims.html",
        referral,
        form,
        conflict=conflict,
        saved_now=saved_now,
        status=409 if conflict else 200,
        max_aims=referral_drafts.MAX_AIMS,
    )


# ---- The profile for providers --------------------------------------------------------------------------------------


def _profile_rows(referral: Referral) -> list[tuple[str, str]]:
    return [
        ("Needs", ", ".join(need.label for need in sorted(referral.need_codes, key=list(Need).index)) or "None"),
        ("Area", referral.area.label if referral.area else "Not chosen"),
        ("Profile", referral.profile),
    ]


@bp.route("/referrals/<int:referral_id>/draft/profile", methods=["GET", "POST"])
@roles(Role.OFFICER)
def referral_profile(referral_id: int):
    referral, elsewhere = _draft_or_redirect(referral_id)
    if elsewhere:
        return elsewhere
    conflict = saved_now = None
    if request.method == "POST":
        form = ProfileForm()

        def save():
            referral_drafts.save_profile(
                referral.id, form.details(), current_user, version=form.version.data, now=clock.now(), ip=client_ip()
            )

        done, conflict = _save(
            form,
            save,
            lambda: referral_drafts.check_profile(form.details()),
            version_now=lambda: _fresh(referral_id).version,
        )
        if done is True:
            return _next_after_save(referral, Section.PROFILE)
        if done is not None:
            return done
        if conflict:
            referral = _fresh(referral_id)
            saved_now = _profile_rows(referral)
    else:
        form = ProfileForm(data=_profile_data(referral))
    return _section_page(
        "officer/referrals/profile.html",
        referral,
        form,
        conflict=conflict,
        saved_now=saved_now,
        status=409 if conflict else 200,
        seen=referral_drafts.shown_age(referral, london_today(clock.now())),
    )


# ---- Check and publish ----------------------------------------------------------------------------------------------


def _int(value) -> int | None:
    text = (value or "").strip() if isinstance(value, str) else value
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def _weight(form: PublishForm) -> int | None:
    text = (form.quality_weight.data or "").strip()
    return int(text) if text.isdigit() else None


@bp.route("/referrals/<int:referral_id>/publish", methods=["GET", "POST"])
@roles(Role.OFFICER)
def publish_referral(referral_id: int):
    referral, elsewhere = _draft_or_redirect(referral_id, referrals.Action.PUBLISH)
    if elsewhere:
        return elsewhere
    now = clock.now()
    today = london_today(now)
    if referral_drafts.progress(referral).missing:
        flash("Complete every section before you check and publish the referral.")
        return redirect(url_for("officer.referral_draft", referral_id=referral.id))
    leaks = _leak_rows(referral)
    conflict = None
    status = 200
    if request.method == "POST":
        form = PublishForm()
        if not leaks:
            del form.leaks_checked
        if form.validate():
            terms = PublishTerms(
                deadline_date=form.deadline.data,
                deadline_reason=form.deadline_reason.data or "",
                quality_weight=_weight(form),
                leaks_checked=bool(leaks) and bool(form.leaks_checked.data),
            )
            try:
                published = referrals.publish(
                    referral.id, current_user, version=_int(form.version.data), terms=terms, now=now, ip=client_ip()
                )
                _commit()
            except NotAllowed:
                db.session.rollback()
                abort(403)
            except IllegalTransition as error:
                db.session.rollback()
                return _not_now(error)
            except Conflict as error:
                db.session.rollback()
                referral = _fresh(referral_id)
                leaks = _leak_rows(referral)
                form.version.data = str(referral.version)
                conflict = error.message
                status = 409
            except FieldErrors:
                db.session.rollback()
                flash("Complete every section before you check and publish the referral.")
                return redirect(url_for("officer.referral_draft", referral_id=referral.id))
            except DomainError as error:
                db.session.rollback()
                _show_errors(form, {error.field or "deadline": error.message})
            else:
                count = len(published.invited)
                flash(
                    f"Referral {referrals.reference(published.referral)} published: {count} "
                    f"provider{'s' if count != 1 else ''} invited",
                    "success",
                )
                return redirect(url_for("officer.referral", referral_id=referral.id))
    else:
        form = PublishForm(
            data={
                "version": referral.version,
                "deadline": referrals.default_deadline(today),
                "quality_weight": str(referrals.DEFAULT_QUALITY_WEIGHT),
            }
        )
        if not leaks:
            del form.leaks_checked
    child = _read_child(referral, "Checking the referral before publishing it")
    return (
        render_template(
            "officer/referrals/publish.html",
            referral=referral,
            reference=referrals.reference(referral),
            form=form,
            conflict=conflict,
            leaks=leaks,
            child_rows=_child_rows(child),
            seen=referral_drafts.shown_age(referral, today),
            invited=len(eligible_providers(referral.lot, today)),
            default_deadline=referrals.default_deadline(today),
            can_edit=referrals.may_act(referral, current_user),
            section_url=lambda section: url_for(SECTION_ENDPOINTS[section], referral_id=referral.id),
            Section=Section,
            task_list_url=url_for("officer.referral_draft", referral_id=referral.id),
        ),
        status,
    )


# ---- Withdrawing ----------------------------------------------------------------------------------------------------


@bp.route("/referrals/<int:referral_id>/withdraw", methods=["GET", "POST"])
@roles(Role.OFFICER)
def withdraw_referral(referral_id: int):
    referral = _referral_or_404(referral_id)
    now = clock.now()
    if request.method == "POST" and not referrals.may_act(referral, current_user):
        abort(403)
    try:
        stage = referrals.ensure_stage(referral, referrals.Action.WITHDRAW, now)
    except IllegalTransition as error:
        if request.method == "POST":
            return _not_now(error)
        flash(error.message)
        return redirect(url_for("officer.referral", referral_id=referral.id))
    conflict = None
    status = 200
    if request.method == "POST":
        form = WithdrawForm()
        if form.validate():
            try:
                referrals.withdraw(
                    referral.id,
                    current_user,
                    version=_int(form.version.data),
                    reason=form.reason.data or "",
                    now=now,
                    ip=client_ip(),
                )
                _commit()
            except NotAllowed:
                db.session.rollback()
                abort(403)
            except IllegalTransition as error:
                db.session.rollback()
                return _not_now(error)
            except Conflict as error:
                db.session.rollback()
                referral = _fresh(referral_id)
                form.version.data = str(referral.version)
                conflict, status = error.message, 409
            except DomainError as error:
                db.session.rollback()
                _show_errors(form, {error.field or "reason": error.message})
            else:
                flash(f"Referral {referrals.reference(referral)} withdrawn", "success")
                return redirect(url_for("officer.referral", referral_id=referral.id))
    else:
        form = WithdrawForm(data={"version": referral.version})
    return (
        render_template(
            "officer/referrals/withdraw.html",
            referral=referral,
            reference=referrals.reference(referral),
            form=form,
            conflict=conflict,
            stage=stage,
            Stage=Stage,
            can_edit=referrals.may_act(referral, current_user),
            back_url=url_for(
                "officer.referral_draft" if stage is Stage.DRAFT else "officer.referral", referral_id=referral.id
            ),
        ),
        status,
    )
