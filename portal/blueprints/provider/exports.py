"""The provider's lists as CSV: its active placements (``provider.placements_csv``). No child's name: each row has
the placement's reference.

Registered on the provider blueprint (imported at the bottom of portal/blueprints/provider/__init__.py).
"""

from __future__ import annotations

from flask_login import current_user

from portal import clock
from portal.access import roles
from portal.blueprints.provider import bp
from portal.csv_export import download
from portal.models import Role
from portal.services import exports


@bp.get("/placements.csv", endpoint="placements_csv")
@roles(Role.PROVIDER)
def placements_csv():
    today = clock.london_today(clock.now())
    return download(
        "placements.csv", exports.PROVIDER_PLACEMENT_HEADER, exports.provider_placement_rows(current_user, today=today)
    )
