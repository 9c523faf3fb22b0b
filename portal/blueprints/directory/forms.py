"""The directory's filter form: a GET form, so it changes nothing, its address can be shared, and it has no CSRF
token. An unknown value in the address gets a message next to its field rather than an error page."""

from __future__ import annotations

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSelect, GovTextInput
from wtforms import SelectField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import Length, ValidationError

from portal.models import Area, DeliveryMode, Lot, Need
from portal.models.vocabulary import NEED_LABELS
from portal.services.directory import OLDEST, YOUNGEST, DirectoryFilters

REGISTERED = {"registered": True, "unregistered": False}
FIELDS = ("q", "lot", "need", "area", "age", "registered", "mode")


class DirectoryFilterForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(
        "Provider name",
        widget=GovTextInput(),
        description="Or part of one",
        render_kw={"spellcheck": "false", "autocomplete": "off", "type": "search"},
        validators=[Length(max=200, message="Provider name must be 200 characters or fewer")],
    )
    lot = SelectField("Lot", widget=GovSelect(), validate_choice=False, default="")
    need = SelectField(
        "Need",
        widget=GovSelect(),
        choices=[SelectChoice("", "Any need")] + [SelectChoice(need.value, NEED_LABELS[need]) for need in Need],
        validate_choice=False,
        default="",
    )
    area = SelectField(
        "Area",
        widget=GovSelect(),
        choices=[SelectChoice("", "Any area")] + [SelectChoice(area.value, area.label) for area in Area],
        validate_choice=False,
        default="",
    )
    age = StringField(
        "Child's age",
        widget=GovTextInput(),
        description="In years, for example 14",
        render_kw={"inputmode": "numeric", "autocomplete": "off", "spellcheck": "false"},
    )
    registered = SelectField(
        "Registered or unregistered",
        widget=GovSelect(),
        choices=[
            SelectChoice("", "Either"),
            SelectChoice("registered", "Registered (independent school)"),
            SelectChoice("unregistered", "Unregistered"),
        ],
        validate_choice=False,
        default="",
    )
    mode = SelectField(
        "How they teach",
        widget=GovSelect(),
        choices=[SelectChoice("", "Any way")] + [SelectChoice(mode.value, mode.label) for mode in DeliveryMode],
        validate_choice=False,
        default="",
    )

    def __init__(self, *args, lots: list[Lot], **kwargs):
        super().__init__(*args, **kwargs)
        self.lot.choices = [SelectChoice("", "Any lot")] + [SelectChoice(str(lot.id), lot.label) for lot in lots]
        self._lot_ids = {str(lot.id) for lot in lots}

    def validate_lot(self, field) -> None:
        if field.data and field.data not in self._lot_ids:
            raise ValidationError("Select a lot from the list")

    def validate_need(self, field) -> None:
        if field.data and field.data not in {need.value for need in Need}:
            raise ValidationError("Select a need from the list")

    def validate_area(self, field) -> None:
        if field.data and field.data not in {area.value for area in Area}:
            raise ValidationError("Select an area from the list")

    def validate_registered(self, field) -> None:
        if field.data and field.data not in REGISTERED:
            raise ValidationError("Select registered, unregistered or either")

    def validate_mode(self, field) -> None:
        if field.data and field.data not in {mode.value for mode in DeliveryMode}:
            raise ValidationError("Select a way of teaching from the list")

    def validate_age(self, field) -> None:
        text = (field.data or "").strip()
        if not text:
            return
        if not text.isdigit():
            raise ValidationError("Enter the child's age as a whole number, like 14")
        if not YOUNGEST <= int(text) <= OLDEST:
            raise ValidationError(f"Enter an age from {YOUNGEST} to {OLDEST}")

    def filters(self) -> DirectoryFilters:
        """The validated form as the service's filters."""
        age = (self.age.data or "").strip()
        return DirectoryFilters(
            q=(self.q.data or "").strip(),
            lot_id=int(self.lot.data) if self.lot.data else None,
            need=Need(self.need.data) if self.need.data else None,
            area=Area(self.area.data) if self.area.data else None,
            age=int(age) if age else None,
            registered=REGISTERED[self.registered.data] if self.registered.data else None,
            delivery_mode=DeliveryMode(self.mode.data) if self.mode.data else None,
        )

    def query_args(self) -> dict[str, str]:
        """The filters that are set, as they go in an address (for the page links)."""
        values = {name: (getattr(self, name).data or "").strip() for name in FIELDS}
        return {name: value for name, value in values.items() if value}
