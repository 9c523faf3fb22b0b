"""The officer's caseload: their placements with urgency flags, most urgent first. The manager's list of every
placement (portal/blueprints/manager/placements.py) uses the same filters, table and page-making function.

Registered on the officer blueprint (imported at the bottom of portal/blueprints/officer/__init__.py).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSelect
from wtforms import SelectField
from wtforms.fields import SelectChoice

from portal import clock
from portal.access import roles
from portal.blueprints.officer import bp
from portal.extensions import db, htmx
from portal.models import Role
from portal.pagination import Page, govuk_pagination
from portal.services import caseload, placements
from portal.services.caseload import ANY_FLAG, FLAGS, CaseloadFilters, StatusFilter
from portal.web import client_ip

# The results region: the filter form and the page links replace only this (HX-Target) with htmx.
RESULTS_ID = "caseload-results"
VARY = {"Vary": "HX-Request, HX-Target"}


class CaseloadFilterForm(FlaskForm):
    """The filters every placement list has: a GET form, so no CSRF token, and its address can be shared."""

    class Meta:
        csrf = False

    status = SelectField(
        "Status",
        widget=GovSelect(),
        choices=[
            SelectChoice(StatusFilter.ACTIVE, "Active placements"),
            SelectChoice(StatusFilter.ENDED, "Ended placements"),
            SelectChoice(StatusFilter.ALL, "All placements"),
        ],
        validate_choice=False,
        default=StatusFilter.ACTIVE,
    )
    flag = SelectField(
        "Flag",
        widget=GovSelect(),
        choices=[SelectChoice("", "With or without flags"), SelectChoice(ANY_FLAG, "Any flag")]
        + [SelectChoice(value, label) for value, (label, _, _) in FLAGS.items()],
        validate_choice=False,
        default="",
    )

    FIELDS: tuple[tuple[str, str], ...] = (("status", "a status"), ("flag", "a flag"))

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for name, what in self.FIELDS:
            field = self[name]
            if field.data and field.data not in {choice.value for choice in field.choices}:
                field.errors = [*field.errors, f"Select {what} from the list"]
                valid = False
        return valid

    def filters(self) -> CaseloadFilters:
        return CaseloadFilters(status=self.status.data or StatusFilter.ACTIVE, flag=self.flag.data or None)

    def query_args(self) -> dict[str, str]:
        """The filters that differ from the defaults, for the page links."""
        return {
            name: self[name].data
            for name, _ in self.FIELDS
            if self[name].data and self[name].data != self[name].default
        }


class OfficerCaseloadForm(CaseloadFilterForm):
    scope = SelectField(
        "Placements",
        widget=GovSelect(),
        choices=[SelectChoice("mine", "My placements"), SelectChoice("service", "All of my service's placements")],
        validate_choice=False,
        default="mine",
    )

    FIELDS = (("scope", "whose placements"), *CaseloadFilterForm.FIELDS)

    def filters(self) -> CaseloadFilters:
        return CaseloadFilters(
            status=self.status.data or StatusFilter.ACTIVE,
            flag=self.flag.data or None,
            whole_service=self.scope.data == "service",
        )


def placement_list(
    *,
    endpoint: str,
    template: str,
    form: CaseloadFilterForm,
    search: Callable[[int, CaseloadFilters], Page],
    purpose: str,
    manager: bool = False,
):
    """A list page of placements: the filters, one page of rows with the children's names (read in one audited
    query), and the results region alone when htmx asks for it."""
    result = pagination = None
    if form.validate():
        number = max(1, request.args.get("page", 1, type=int))
        result = search(number, form.filters())
        caseload.with_children(result, current_user, ip=client_ip(), purpose=purpose)
        kept = form.query_args()
        pagination = govuk_pagination(
            result.page,
            result.pages,
            lambda page: url_for(endpoint, **kept, page=page),
            label="Pages of placements",
        )
    context = {
        "form": form,
        "result": result,
        "pagination": pagination,
        "results_id": RESULTS_ID,
        "list_url": url_for(endpoint),
        "flags": FLAGS,
        "reference": placements.reference,
        "manager": manager,
    }
    if htmx and htmx.target == RESULTS_ID and not htmx.history_restore_request:
        page = render_template("officer/partials/caseload_table.html", **context)
    else:
        page = render_template(template, **context)
    # The audit event of the names read is committed once the page is made.
    db.session.commit()
    return page, VARY


@bp.get("/placements", endpoint="caseload")
@roles(Role.OFFICER)
def caseload_index():
    today = clock.london_today(clock.now())
    return placement_list(
        endpoint="officer.caseload",
        template="officer/caseload.html",
        form=OfficerCaseloadForm(formdata=request.args),
        search=lambda page, filters: caseload.officer_caseload(current_user, page, filters, today),
        purpose="officer caseload",
    )
