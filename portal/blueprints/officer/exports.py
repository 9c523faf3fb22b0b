"""The officer's lists as CSV: referrals (``officer.referrals_csv``) and the caseload (``officer.caseload_csv``), with
the filters of the list's own query string and every page. No child's name: each row has its reference.

Registered on the officer blueprint (imported at the bottom of portal/blueprints/officer/__init__.py).
"""

from __future__ import annotations

from flask import abort, request
from flask_login import current_user

from portal import clock
from portal.access import roles
from portal.blueprints.officer import bp
from portal.blueprints.officer import caseload as officer_caseload
from portal.blueprints.officer.referral_forms import ReferralFilterForm
from portal.csv_export import download
from portal.models import Role
from portal.services import exports, referrals


def referral_csv(filename: str):
    """The referral list's CSV (the officer's and the manager's are the same list): 400 for filters the list refuses."""
    form = ReferralFilterForm(formdata=request.args, choices=referrals.filter_choices())
    if not form.validate():
        abort(400)
    rows = exports.referral_rows(form.filters(), now=clock.now())
    return download(filename, exports.REFERRAL_HEADER, rows)


@bp.get("/referrals.csv", endpoint="referrals_csv")
@roles(Role.OFFICER)
def referrals_csv():
    return referral_csv("referrals.csv")


@bp.get("/placements.csv", endpoint="caseload_csv")
@roles(Role.OFFICER)
def caseload_csv():
    form = officer_caseload.OfficerCaseloadForm(formdata=request.args)
    if not form.validate():
        abort(400)
    today = clock.london_today(clock.now())
    rows = exports.caseload_rows(current_user, form.filters(), today=today)
    return download("caseload.csv", exports.PLACEMENT_HEADER, rows)
