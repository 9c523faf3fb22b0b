"""The forms an officer writes a referral with: the child, the provision, the aims, the profile, publishing,
withdrawing, and the list's filters. What each form reads goes to portal.services.referral_drafts, which checks it."""

from __future__ import annotations

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

from portal.formatting import quantity
from portal.forms import GovDateField
from portal.models import Area, Child, ExclusionStatus, Gender, Lot, Need, OnRollStatus, Referral
from portal.services import referral_drafts, referrals
from portal.services.referral_drafts import AimText, ChildDetails, Profile, Provision
from portal.services.referrals import ReferralFilters, Stage

# Generous caps on what a form reads; the service holds the real limits and their messages.
CAP = [Length(max=20_000)]
YES_NO = [SelectChoice("yes", "Yes"), SelectChoice("no", "No")]
EXCLUSION_LABELS = {
    ExclusionStatus.NONE: "Not excluded",
    ExclusionStatus.AT_RISK: "At risk of exclusion",
    ExclusionStatus.SUSPENDED: "Suspended",
    ExclusionStatus.PERMANENTLY_EXCLUDED: "Permanently excluded",
}


def yes_no(value: bool | None) -> str | None:
    return None if value is None else ("yes" if value else "no")


def to_bool(value: str | None) -> bool | None:
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
            ehc_plan=to_bool(self.ehc_plan.data),
            looked_after=to_bool(self.looked_after.data),
            exclusion_status=self.exclusion_status.data,
            exclusion_date=self.exclusion_date.data,
        )


def child_data(child: Child) -> dict:
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
        "ehc_plan": yes_no(child.ehc_plan),
        "looked_after": yes_no(child.looked_after),
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


def provision_data(referral: Referral) -> dict:
    return {
        "version": referral.version,
        "lot": str(referral.lot_id) if referral.lot_id else None,
        "hours_per_week": quantity(referral.hours_per_week),
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


def profile_data(referral: Referral) -> dict:
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
