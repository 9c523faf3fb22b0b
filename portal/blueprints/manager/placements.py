"""The manager's list of every placement: the officers' caseload table with the officer and service, and filters by
service, lot, provider, officer, flag and status.

Registered on the manager blueprint (imported at the bottom of portal/blueprints/manager/__init__.py).
"""

from __future__ import annotations

from flask import request
from govuk_frontend_wtf.wtforms_widgets import GovSelect
from wtforms import SelectField
from wtforms.fields import SelectChoice

from portal import clock
from portal.access import roles
from portal.blueprints.manager import bp
from portal.blueprints.officer import caseload as officer_caseload
from portal.models import Role
from portal.services import caseload
from portal.services.caseload import CaseloadFilters, StatusFilter


def _id(value: str) -> int | None:
    return int(value) if value else None


def manager_form(choices: dict[str, list]):
    """The filters, with the services, lots, providers and officers to choose from."""

    class ManagerPlacementsForm(officer_caseload.CaseloadFilterForm):
        service = SelectField("Service", widget=GovSelect(), validate_choice=False, default="")
        lot = SelectField("Lot", widget=GovSelect(), validate_choice=False, default="")
        provider = SelectField("Provider", widget=GovSelect(), validate_choice=False, default="")
        officer = SelectField("Officer", widget=GovSelect(), validate_choice=False, default="")

        FIELDS = (
            ("service", "a service"),
            ("lot", "a lot"),
            ("provider", "a provider"),
            ("officer", "an officer"),
            *officer_caseload.CaseloadFilterForm.FIELDS,
        )

        def filters(self) -> CaseloadFilters:
            return CaseloadFilters(
                status=self.status.data or StatusFilter.ACTIVE,
                flag=self.flag.data or None,
                service_id=_id(self.service.data),
                lot_id=_id(self.lot.data),
                provider_id=_id(self.provider.data),
                officer_id=_id(self.officer.data),
            )

    form = ManagerPlacementsForm(formdata=request.args)
    for name, empty, items, text in (
        ("service", "All services", choices["services"], lambda s: s.name),
        ("lot", "All lots", choices["lots"], lambda lot: lot.label),
        ("provider", "All providers", choices["providers"], lambda p: p.name),
        ("officer", "All officers", choices["officers"], lambda u: u.name),
    ):
        form[name].choices = [SelectChoice("", empty)] + [SelectChoice(str(item.id), text(item)) for item in items]
    return form


@bp.get("/placements", endpoint="placements")
@roles(Role.MANAGER)
def placement_index():
    today = clock.london_today(clock.now())
    # Through the module, not imported names: the officer and manager packages import each other's modules as they
    # load.
    return officer_caseload.placement_list(
        endpoint="manager.placements",
        template="manager/placements.html",
        form=manager_form(caseload.filter_choices()),
        search=lambda page, filters: caseload.manager_placements(page, filters, today),
        purpose="manager oversight of placements",
        manager=True,
    )
