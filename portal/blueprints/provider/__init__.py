"""The provider area."""

from flask import Blueprint, render_template

from portal.access import roles
from portal.models import Role

bp = Blueprint("provider", __name__, url_prefix="/provider")


@bp.get("/")
@roles(Role.PROVIDER)
def home():
    return render_template("provider/home.html")


from portal.blueprints.provider import colleagues  # noqa: E402,F401  (registers its routes on bp)
