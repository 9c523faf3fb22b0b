"""The manager's oversight dashboard: figures and charts for a period, lot, service and provider, and their CSV.

A plain GET form filters the page; with htmx the figures region alone is swapped (the same template, included by the
full page). Registered on the manager blueprint (imported at the bottom of portal/blueprints/manager/__init__.py).
"""

from __future__ import annotations

from flask import render_template, request, url_for
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovSelect
from wtforms import RadioField, SelectField
from wtforms.fields import SelectChoice

from portal import clock
from portal.access import roles
from portal.blueprints.manager import bp
from portal.csv_export import download
from portal.extensions import htmx
from portal.forms import GovDateField
from portal.models import Role
from portal.services import caseload, oversight
from portal.services.charts import bar_chart
from portal.services.errors import FieldErrors
from portal.services.oversight import PeriodKind

FIGURES_ID = "oversight-figures"


class OversightFilterForm(FlaskForm):
    """The dashboard's filters: a GET form, so it has no CSRF token and its address can be shared."""

    class Meta:
        csrf = False

    period = RadioField(
        "Period",
        widget=GovRadioInput(),
        choices=[
            SelectChoice(PeriodKind.TERM, "This term"),
            SelectChoice(PeriodKind.YEAR, "This academic year"),
            SelectChoice(PeriodKind.CUSTOM, "Dates you choose"),
        ],
        default=PeriodKind.TERM,
        validate_choice=False,
    )
    start = GovDateField("From")
    end = GovDateField("To")
    lot = SelectField("Lot", widget=GovSelect(), validate_choice=False, default="")
    service = SelectField("Commissioning service", widget=GovSelect(), validate_choice=False, default="")
    provider = SelectField("Provider", widget=GovSelect(), validate_choice=False, default="")

    SELECTS = (("lot", "a lot"), ("service", "a service"), ("provider", "a provider"))

    def __init__(self, *args, choices: dict[str, list], **kwargs):
        super().__init__(*args, **kwargs)
        for name, empty, items, text in (
            ("service", "All services", choices["services"], lambda s: s.name),
            ("lot", "All lots", choices["lots"], lambda lot: lot.label),
            ("provider", "All providers", choices["providers"], lambda p: p.name),
        ):
            self[name].choices = [SelectChoice("", empty)] + [SelectChoice(str(i.id), text(i)) for i in items]

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if self.period.data not in {PeriodKind.TERM, PeriodKind.YEAR, PeriodKind.CUSTOM}:
            self.period.errors = [*self.period.errors, "Select a period"]
            valid = False
        for name, what in self.SELECTS:
            field = self[name]
            if field.data and field.data not in {choice.value for choice in field.choices}:
                field.errors = [*field.errors, f"Select {what} from the list"]
                valid = False
        return valid

    def query_args(self) -> dict:
        args = {name: self[name].data for name in ("lot", "service", "provider") if self[name].data}
        args["period"] = self.period.data
        if self.period.data == PeriodKind.CUSTOM:
            for name in ("start", "end"):
                if self[name].data:
                    value = self[name].data
                    args[name] = [str(value.day), str(value.month), str(value.year)]
        return args


def _id(value: str) -> int | None:
    return int(value) if value else None


def _filters(form: OversightFilterForm, today) -> oversight.Filters | None:
    """The filters, or None with the errors put on the form's fields."""
    if not form.validate():
        return None
    try:
        period = oversight.resolve_period(form.period.data, today, form.start.data, form.end.data)
    except FieldErrors as error:
        for name, message in error.errors.items():
            form[name].errors = [*form[name].errors, message]
        return None
    return oversight.Filters(
        period=period,
        lot_id=_id(form.lot.data),
        service_id=_id(form.service.data),
        provider_id=_id(form.provider.data),
    )


def _form():
    form = OversightFilterForm(formdata=request.args or None, choices=caseload.filter_choices(officers=False))
    if not request.args:
        form.period.data = PeriodKind.TERM
    return form


def _charts(result: oversight.Dashboard) -> list:
    period = result.filters.period.label
    return [
        bar_chart(
            "Referrals made by month",
            f"Referrals published each month of the {period}: "
            + "; ".join(f"{m:%B %Y} {n}" for m, n in result.referrals_by_month),
            [(f"{m:%b %Y}", n) for m, n in result.referrals_by_month],
            chart_id="chart-referrals",
        ),
        bar_chart(
            "Placements starting by month",
            f"Placements starting each month of the {period}: "
            + "; ".join(f"{m:%B %Y} {n}" for m, n in result.placements_by_month),
            [(f"{m:%b %Y}", n) for m, n in result.placements_by_month],
            chart_id="chart-placements",
        ),
        bar_chart(
            "Placements ended by destination",
            f"Placements ended in the {period}, by destination: "
            + "; ".join(f"{d.value} {n}" for d, n in result.destinations()),
            [(d.value, n) for d, n in result.destinations()],
            chart_id="chart-destinations",
        ),
        bar_chart(
            "Attendance by provider",
            f"Attendance rate in the {period} of the {oversight.TOP_PROVIDERS} providers with the most possible "
            "sessions: " + "; ".join(f"{name} {a / p:.0%}" for name, a, p in result.attendance_by_provider),
            [(name, a / p * 100) for name, a, p in result.attendance_by_provider],
            value_format=lambda v: f"{v:.0f}%",
            maximum=100,
            chart_id="chart-attendance",
        ),
    ]


def _links(result: oversight.Dashboard) -> dict[str, str]:
    """Where each figure's records are: the manager's lists with the filters they have."""
    f = result.filters
    common = {k: v for k, v in (("lot", f.lot_id), ("service", f.service_id)) if v}
    placement = {**common, **({"provider": f.provider_id} if f.provider_id else {})}
    return {
        "referrals": url_for("manager.referrals", **common),
        "awarded": url_for("manager.referrals", stage="awarded", **common),
        "placements": url_for("manager.placements", status="all", **placement),
        "ended": url_for("manager.placements", status="ended", **placement),
        "concerns": url_for("manager.placements", status="all", flag="concern", **placement),
        "overdue": url_for("manager.placements", flag="review-overdue", **placement),
        "applications": url_for("manager.applications"),
        "decided": url_for("manager.applications", show="decided"),
        "providers": url_for("manager.providers"),
    }


@bp.get("/oversight", endpoint="oversight")
@roles(Role.MANAGER)
def oversight_page():
    today = clock.london_today(clock.now())
    form = _form()
    filters = _filters(form, today)
    result = oversight.dashboard(filters, today) if filters else None
    errors = [{"text": field.errors[0], "href": f"#{field.id}"} for field in form if field.errors]
    context = {
        "form": form,
        "errors": errors,
        "result": result,
        "definitions": oversight.DEFINITIONS,
        "charts": _charts(result) if result else [],
        "links": _links(result) if result else {},
        "figures_id": FIGURES_ID,
        "csv_url": url_for("manager.oversight_csv", **form.query_args()) if result else None,
        "page_url": url_for("manager.oversight"),
        "percent": oversight.percent,
        "number": oversight.number,
    }
    if htmx and htmx.target == FIGURES_ID and not htmx.history_restore_request:
        response = render_template("manager/partials/oversight_figures.html", **context)
    else:
        response = render_template("manager/oversight.html", **context)
    return response, {"Vary": "HX-Request, HX-Target"}


@bp.get("/oversight.csv", endpoint="oversight_csv")
@roles(Role.MANAGER)
def oversight_csv():
    today = clock.london_today(clock.now())
    form = _form()
    filters = _filters(form, today)
    if filters is None:
        return oversight_page()
    result = oversight.dashboard(filters, today)
    period = filters.period
    rows = [("Period", f"{period.start.isoformat()} to {period.end.isoformat()}", period.label), *result.rows()]
    return download(
        f"oversight-{period.start.isoformat()}-{period.end.isoformat()}.csv", ("Figure", "Value", "Definition"), rows
    )
