"""The SLA page and its printable copy: the manager sees every SLA, a provider's users only their provider's (another
provider's SLA is 404), officers none (403). Neither page changes anything."""

from __future__ import annotations

from flask import abort, render_template
from flask_login import current_user

from portal import clock
from portal.access import roles
from portal.blueprints.slas import bp
from portal.models import Role, Sla
from portal.services import sla_kpis, sla_terms, slas
from portal.services.errors import NotFound


def _sla_or_404(sla_id: int) -> Sla:
    try:
        return slas.visible_sla(sla_id, current_user)
    except NotFound:
        abort(404)


def _context(sla_id: int, *, performance: bool) -> dict:
    found = _sla_or_404(sla_id)
    today = clock.london_today(clock.now())
    return {
        "sla": found,
        "view": sla_terms.sla_page(found, today),
        "today": today,
        "manager": current_user.role is Role.MANAGER,
        # The KPIs' performance so far is on the page; the printed copy has the agreed targets.
        "kpis": sla_kpis.performance(found, today) if performance else [],
    }


@bp.get("/<int:sla_id>")
@roles(Role.PROVIDER, Role.MANAGER)
def sla(sla_id: int):
    return render_template("slas/sla.html", **_context(sla_id, performance=True))


@bp.get("/<int:sla_id>/print")
@roles(Role.PROVIDER, Role.MANAGER)
def print_sla(sla_id: int):
    return render_template("slas/print.html", **_context(sla_id, performance=False))
