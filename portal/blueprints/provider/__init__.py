"""The provider area."""

from flask import Blueprint, render_template
from flask_login import current_user

from portal.access import roles
from portal.blueprints.auth.forms import ActionForm
from portal.models import Role
from portal.services import applications

bp = Blueprint("provider", __name__, url_prefix="/provider")


@bp.get("/")
@roles(Role.PROVIDER)
def home():
    from portal.services import arrangements

    state = applications.provider_state(current_user.provider)
    waiting = arrangements.awaiting_reconfirmation(current_user.provider_id)
    return render_template("provider/home.html", state=state, start_form=ActionForm(), reconfirm_waiting=waiting)


# Each registers its routes on bp: colleagues, joining the DPS (the application, compliance documents), and the
# call-off's opportunities and offers.
from portal.blueprints.provider import (  # noqa: E402,F401
    application,
    colleagues,
    documents,
    exports,
    exports_more,
    opportunities,
    placements,
    reconfirm,
    slas,
)
