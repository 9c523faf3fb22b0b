"""The manager's list of every referral: the officers' list and filters, each row opening the read-only referral page.

Registered on the manager blueprint (imported at the bottom of portal/blueprints/manager/__init__.py).
"""

from __future__ import annotations

from flask import url_for

from portal.access import roles
from portal.blueprints.manager import bp
from portal.blueprints.officer import referrals as officer_referrals
from portal.models import Role


def _manager_link(row) -> str:
    return url_for("manager.referral", referral_id=row.referral.id)


@bp.get("/referrals", endpoint="referrals")
@roles(Role.MANAGER)
def referral_index():
    # Through the module, not an imported name: the officer and manager packages import each other's modules as
    # they load, so the function may not exist yet when this module is imported.
    return officer_referrals.referral_list("manager.referrals", "manager/referrals.html", _manager_link)
