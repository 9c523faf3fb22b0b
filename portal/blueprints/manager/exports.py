"""The manager's lists as CSV (``<list endpoint>_csv``), with the filters of the list's own query string and every
page: referrals, placements, providers and users. No child's name: each row has its reference.

Registered on the manager blueprint (imported at the bottom of portal/blueprints/manager/__init__.py).
"""

from __future__ import annotations

from flask import abort, request

from portal import clock
from portal.access import roles
from portal.blueprints.manager import applications as manager_applications
from portal.blueprints.manager import bp
from portal.blueprints.manager import placements as manager_placements
from portal.blueprints.manager import users as manager_users
from portal.blueprints.officer import exports as officer_exports
from portal.csv_export import download
from portal.models import Role
from portal.services import caseload, exports


@bp.get("/referrals.csv", endpoint="referrals_csv")
@roles(Role.MANAGER)
def referrals_csv():
    return officer_exports.referral_csv("all-referrals.csv")


@bp.get("/placements.csv", endpoint="placements_csv")
@roles(Role.MANAGER)
def placements_csv():
    form = manager_placements.manager_form(caseload.filter_choices())
    if not form.validate():
        abort(400)
    today = clock.london_today(clock.now())
    return download(
        "placements.csv", exports.PLACEMENT_HEADER, exports.manager_placement_rows(form.filters(), today=today)
    )


@bp.get("/providers.csv", endpoint="providers_csv")
@roles(Role.MANAGER)
def providers_csv():
    # The day the providers list counts admissions on (tests replace it there).
    return download("providers.csv", exports.PROVIDER_HEADER, exports.provider_rows(today=manager_applications.today()))


@bp.get("/users.csv", endpoint="users_csv")
@roles(Role.MANAGER)
def users_csv():
    form = manager_users.UserFilterForm(formdata=request.args)
    if not form.validate():
        abort(400)
    return download("users.csv", exports.USER_HEADER, exports.user_rows(form.q.data or None, form.role.data or None))
