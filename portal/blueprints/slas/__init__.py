"""A provider's SLA, for the manager (every SLA) and the provider's own users (their SLAs): the page and its
printable copy. The workflow's actions are in the manager's and the provider's areas."""

from flask import Blueprint

bp = Blueprint("slas", __name__, url_prefix="/slas")

from portal.blueprints.slas import pages  # noqa: E402,F401
