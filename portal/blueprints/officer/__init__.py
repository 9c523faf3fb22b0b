"""The officer area."""

from flask import Blueprint, render_template

from portal.access import roles
from portal.models import Role

bp = Blueprint("officer", __name__, url_prefix="/officer")


@bp.get("/")
@roles(Role.OFFICER)
def home():
    return render_template("officer/home.html")


# Each registers its routes on bp: writing referrals and the lists, and the call-off once published.
from portal.blueprints.officer import calloff, caseload, exports, placement_form, referrals  # noqa: E402,F401
