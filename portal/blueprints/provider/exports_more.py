"""The provider's opportunities as CSV (``provider.opportunities_csv``): the referrals its own users' provider is
invited to, open or (``?show=closed``) closed, every page. Only what the feed shows: the anonymised profile, never a
child's name.

Registered on the provider blueprint (imported at the bottom of portal/blueprints/provider/__init__.py).
"""

from __future__ import annotations

from flask import request
from flask_login import current_user

from portal import clock
from portal.access import roles
from portal.blueprints.provider import bp
from portal.csv_export import download
from portal.models import Role
from portal.services import exports


@bp.get("/opportunities.csv", endpoint="opportunities_csv")
@roles(Role.PROVIDER)
def opportunities_csv():
    closed = request.args.get("show") == "closed"
    rows = exports.opportunity_rows(current_user.provider_id, now=clock.now(), closed=closed)
    return download("closed-opportunities.csv" if closed else "opportunities.csv", exports.OPPORTUNITY_HEADER, rows)
