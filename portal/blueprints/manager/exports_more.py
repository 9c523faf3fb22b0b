"""More of the manager's lists as CSV (``<list endpoint>_csv``), each with the tab or filters of the list's own query
string and every page: the applications queue, the off-DPS requests, the SLAs and the council services. No child's
name: an off-DPS request's row has its referral's reference.

Registered on the manager blueprint (imported at the bottom of portal/blueprints/manager/__init__.py).
"""

from __future__ import annotations

from flask import request

from portal import clock
from portal.access import roles
from portal.blueprints.manager import applications as manager_applications
from portal.blueprints.manager import bp
from portal.csv_export import download
from portal.models import Role
from portal.services import decisions, evaluation, exports, sla_workflow


def _tab(enum, name: str, default):
    """The list's tab from the query string, as the list reads it (an unknown tab is the default one)."""
    try:
        return enum(request.args.get(name, default.value))
    except ValueError:
        return default


@bp.get("/applications.csv", endpoint="applications_csv")
@roles(Role.MANAGER)
def applications_csv():
    tab = _tab(decisions.QueueTab, "show", decisions.QueueTab.WAITING)
    rows = exports.application_rows(tab, today=manager_applications.today())
    return download(f"applications-{tab.value}.csv", exports.APPLICATION_HEADER, rows)


@bp.get("/off-dps.csv", endpoint="off_dps_requests_csv")
@roles(Role.MANAGER)
def off_dps_requests_csv():
    tab = _tab(evaluation.QueueTab, "show", evaluation.QueueTab.PENDING)
    return download(f"off-dps-requests-{tab.value}.csv", exports.OFF_DPS_HEADER, exports.off_dps_rows(tab))


@bp.get("/slas.csv", endpoint="slas_csv")
@roles(Role.MANAGER)
def slas_csv():
    tab = _tab(sla_workflow.QueueTab, "tab", sla_workflow.QueueTab.AWAITING)
    today = clock.london_today(clock.now())
    return download(f"slas-{tab.value}.csv", exports.SLA_HEADER, exports.sla_rows(tab, today=today))


@bp.get("/services.csv", endpoint="services_csv")
@roles(Role.MANAGER)
def services_csv():
    return download("council-services.csv", exports.SERVICE_HEADER, exports.service_rows())
