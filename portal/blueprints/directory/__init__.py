"""The AP directory for officers and the manager: admitted providers, searched by lot, need, area, age, registration,
delivery mode and name, each provider's page, and its applications to join the DPS, read-only (only the manager decides
them, on the manager's pages). Thin routes: the rules are in portal.services.directory and portal.services.decisions."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request, url_for
from flask_login import current_user

from portal.access import roles
from portal.blueprints.directory.forms import DirectoryFilterForm
from portal.clock import london_today
from portal.extensions import htmx
from portal.models import Role
from portal.pagination import govuk_pagination
from portal.services import decisions, directory
from portal.services.errors import NotFound

bp = Blueprint("directory", __name__, url_prefix="/directory")

RESULTS_ID = "directory-results"


@bp.get("")
@roles(Role.OFFICER, Role.MANAGER)
def index():
    form = DirectoryFilterForm(formdata=request.args, lots=directory.lots())
    result = pagination = None
    if form.validate():
        filters = form.filters()
        result = directory.search(filters, on_date=london_today(), page=max(1, request.args.get("page", 1, type=int)))
        kept = form.query_args()
        pagination = govuk_pagination(
            result.page,
            result.pages,
            lambda number: url_for("directory.index", **kept, page=number),
            label="Pages of providers",
        )
    context = {"form": form, "result": result, "pagination": pagination, "results_id": RESULTS_ID}
    # The filter form and the page links ask htmx for the results alone; a plain GET, or htmx restoring history, gets
    # the whole page.
    if htmx and htmx.target == RESULTS_ID and not htmx.history_restore_request:
        response = render_template("directory/partials/results.html", **context)
    else:
        response = render_template("directory/index.html", **context)
    return response, {"Vary": "HX-Request, HX-Target"}


@bp.get("/<int:provider_id>")
@roles(Role.OFFICER, Role.MANAGER)
def provider(provider_id: int):
    try:
        record = directory.provider_record(provider_id, viewer=current_user, on_date=london_today())
    except NotFound:
        abort(404)
    return render_template(
        "directory/provider.html",
        record=record,
        provider=record.provider,
        suspension_state=directory.suspension_state,
    )


@bp.get("/applications/<int:application_id>")
@roles(Role.OFFICER, Role.MANAGER)
def application(application_id: int):
    """An application to join the DPS as the provider sent it, and once decided the outcome of each lot and why. No
    assessment form and none of the manager's working notes: officers read, only the manager decides."""
    try:
        record = decisions.application_record(application_id, london_today())
        directory.ensure_visible(record.application.provider_id, viewer=current_user, on_date=london_today())
    except NotFound:
        abort(404)
    return render_template("directory/application.html", view=record)


from portal.blueprints.directory import exports  # noqa: E402,F401  (registers its routes on bp)
