"""A placement, for everyone who may see it: the officers of the commissioning service, the provider and the manager.
Each route checks the object through portal.services.placements (a placement someone may not see is a 404)."""

from flask import Blueprint

bp = Blueprint("placements", __name__, url_prefix="/placements")

# Each registers its routes on bp.
from portal.blueprints.placements import attendance, concerns, pages, reviews  # noqa: E402,F401
