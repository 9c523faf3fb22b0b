"""The directory's search results as CSV (``directory.index_csv``): every provider the same filters find, every page,
for everyone who may see the directory (officers and the manager). 400 for filters the search refuses.

Registered on the directory blueprint (imported at the bottom of portal/blueprints/directory/__init__.py).
"""

from __future__ import annotations

from flask import abort, request

from portal.access import roles
from portal.blueprints.directory import bp
from portal.blueprints.directory.forms import DirectoryFilterForm
from portal.clock import london_today
from portal.csv_export import download
from portal.models import Role
from portal.services import directory, exports


@bp.get("/providers.csv", endpoint="index_csv")
@roles(Role.OFFICER, Role.MANAGER)
def index_csv():
    form = DirectoryFilterForm(formdata=request.args, lots=directory.lots())
    if not form.validate():
        abort(400)
    return download(
        "directory.csv", exports.DIRECTORY_HEADER, exports.directory_rows(form.filters(), today=london_today())
    )
