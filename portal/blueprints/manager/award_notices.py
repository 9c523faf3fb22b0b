"""Award notices: the call-off awards of a quarter as an OCDS 1.1 release package, for the manager to publish.

The page is a plain GET form (a year and a quarter) and the award counts of the last eight quarters with their
download links. The download records one audit event (who exported which quarter, and how many awards).
"""

from __future__ import annotations

import json

from flask import Response, abort, render_template, request
from flask_login import current_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSelect, GovTextInput
from wtforms import SelectField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import InputRequired, Length, ValidationError

from portal import clock
from portal.access import roles
from portal.blueprints.manager import bp
from portal.downloads import content_disposition
from portal.extensions import db
from portal.models import Role
from portal.services import audit, ocds
from portal.services.audit import Events
from portal.web import client_ip

RECENT_QUARTERS = 8


class QuarterForm(FlaskForm):
    """Which quarter: a GET form, so no CSRF token (it changes nothing and its URL can be shared)."""

    class Meta:
        csrf = False

    year = StringField(
        "Year",
        widget=GovTextInput(),
        description="For example, 2027",
        render_kw={"inputmode": "numeric", "autocomplete": "off", "params": {"classes": "govuk-input--width-4"}},
        validators=[
            InputRequired(message="Enter a year"),
            Length(max=4, message="Year must be 4 numbers, for example 2027"),
        ],
    )
    quarter = SelectField(
        "Quarter",
        widget=GovSelect(),
        choices=[SelectChoice("", "Select a quarter")]
        + [SelectChoice(str(n), f"Q{n} ({months})") for n, months in enumerate(ocds.QUARTER_MONTHS, 1)],
        validate_choice=False,
        default="",
    )

    def validate_year(self, field) -> None:
        text = (field.data or "").strip()
        if not (len(text) == 4 and text.isdigit()):
            raise ValidationError("Year must be 4 numbers, for example 2027")
        if not ocds.FIRST_YEAR <= int(text) <= ocds.LAST_YEAR:
            raise ValidationError(f"Year must be between {ocds.FIRST_YEAR} and {ocds.LAST_YEAR}")

    def validate_quarter(self, field) -> None:
        if field.data not in {"1", "2", "3", "4"}:
            raise ValidationError("Select a quarter")

    @property
    def chosen(self) -> ocds.Quarter:
        return ocds.Quarter(int(self.year.data.strip()), int(self.quarter.data))


def _page(form: QuarterForm, chosen: ocds.Quarter | None, *, message: str = "", status: int = 200):
    recent = ocds.recent_quarters(clock.london_today(clock.now()), RECENT_QUARTERS)
    counts = ocds.award_counts(recent + ([chosen] if chosen and chosen not in recent else []))
    html = render_template(
        "manager/award_notices.html",
        form=form,
        chosen=chosen,
        chosen_count=counts.get(chosen) if chosen else None,
        recent=[(quarter, counts[quarter]) for quarter in recent],
        current=recent[0],
        message=message,
    )
    return html, status


@bp.get("/award-notices", endpoint="award_notices")
@roles(Role.MANAGER)
def award_notices():
    form = QuarterForm(formdata=request.args if request.args else None)
    chosen = form.chosen if request.args and form.validate() else None
    return _page(form, chosen)


@bp.get("/award-notices/<int:year>-Q<int:quarter>.json", endpoint="award_notices_json")
@roles(Role.MANAGER)
def award_notices_json(year: int, quarter: int):
    try:
        period = ocds.Quarter(year, quarter)
    except ocds.QuarterError:
        abort(404)
    try:
        package = ocds.release_package(period.year, period.number, published_at=clock.now())
    except ocds.NoAwards as error:
        # Nothing to publish: the page for the quarter, saying so, as a 404 (nothing is recorded).
        form = QuarterForm(formdata=None, data={"year": str(period.year), "quarter": str(period.number)})
        return _page(form, period, message=error.message, status=404)
    audit.record(
        Events.AWARD_NOTICES_EXPORTED,
        actor=current_user,
        ip=client_ip(),
        quarter=period.slug,
        awards=len(package["releases"]),
    )
    db.session.commit()
    body = json.dumps(package, indent=2, ensure_ascii=False) + "\n"
    response = Response(body, mimetype="application/json")
    response.headers["Content-Disposition"] = content_disposition(period.filename)
    response.headers["Cache-Control"] = "no-store"
    return response
