"""The provider's placements: today's morning and afternoon attendance to record for each child, a link to each
week's attendance grid, and to the progress report when one is due within 14 days or overdue.

Registered on the provider blueprint (imported at the bottom of portal/blueprints/provider/__init__.py). The list is
filtered by the user's provider in the query: a provider never sees another's placements.
"""

from __future__ import annotations

from flask import render_template, request, url_for
from flask_login import current_user

from portal import clock
from portal.access import roles
from portal.blueprints.provider import bp
from portal.extensions import db
from portal.models import Role
from portal.pagination import govuk_pagination
from portal.services import attendance_codes, caseload, placements
from portal.web import client_ip


@bp.get("/placements", endpoint="placements")
@roles(Role.PROVIDER)
def placement_index():
    today = clock.london_today(clock.now())
    result = caseload.provider_placements(current_user, max(1, request.args.get("page", 1, type=int)), today)
    caseload.with_children(result, current_user, ip=client_ip(), purpose="provider placements and attendance")
    pagination = govuk_pagination(
        result.page,
        result.pages,
        lambda page: url_for("provider.placements", page=page),
        label="Pages of placements",
    )
    page = render_template(
        "provider/placements.html",
        result=result,
        pagination=pagination,
        today=today,
        reference=placements.reference,
        codes=attendance_codes,
    )
    # The audit event of the names read is committed once the page is made.
    db.session.commit()
    return page
