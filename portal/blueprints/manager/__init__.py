"""The manager area."""

from flask import Blueprint, render_template

from portal.access import roles
from portal.models import Role

bp = Blueprint("manager", __name__, url_prefix="/manager")


@bp.get("/")
@roles(Role.MANAGER)
def home():
    from portal import clock
    from portal.services import arrangements as arrangement_service
    from portal.services import outbox

    return render_template(
        "manager/home.html",
        end_warning=arrangement_service.current_end_warning(clock.now()),
        undelivered_mail=outbox.undelivered_count(),
    )


from portal.blueprints.manager import (
    accountability,  # noqa: E402,F401  (registers its routes on bp)
    applications,  # noqa: E402,F401  (registers its routes on bp)
    arrangements,  # noqa: E402,F401  (registers its routes on bp)
    audit,  # noqa: E402,F401  (registers its routes on bp)
    award_notices,  # noqa: E402,F401  (registers its routes on bp)
    exports,  # noqa: E402,F401  (registers its routes on bp)
    exports_more,  # noqa: E402,F401  (registers its routes on bp)
    lots,  # noqa: E402,F401  (registers its routes on bp)
    mail,  # noqa: E402,F401  (registers its routes on bp)
    off_dps,  # noqa: E402,F401  (registers its routes on bp)
    oversight,  # noqa: E402,F401  (registers its routes on bp)
    placements,  # noqa: E402,F401  (registers its routes on bp)
    providers,  # noqa: E402,F401  (registers its routes on bp)
    referrals,  # noqa: E402,F401  (registers its routes on bp)
    retention,  # noqa: E402,F401  (registers its routes on bp)
    services,  # noqa: E402,F401  (registers its routes on bp)
    sla_terms,  # noqa: E402,F401  (registers its routes on bp)
    slas,  # noqa: E402,F401  (registers its routes on bp)
    term_dates,  # noqa: E402,F401  (registers its routes on bp)
    users,  # noqa: E402,F401  (registers its routes on bp)
)
