"""Downloading a compliance document: for the owning provider's users, officers and the manager.

A provider's users get only their own provider's documents (another's is "Page not found", as if it did not exist);
an officer's or the manager's download is audited. The file is always an attachment with the type its content was
found to be, never shown in the browser.
"""

from __future__ import annotations

import io

from flask import Blueprint, abort, send_file
from flask_login import current_user

from portal.access import roles
from portal.models import Role
from portal.services import documents
from portal.services.errors import NotFound
from portal.web import client_ip

bp = Blueprint("documents", __name__, url_prefix="/documents")


@bp.get("/<int:document_id>")
@roles(Role.PROVIDER, Role.OFFICER, Role.MANAGER)
def download(document_id: int):
    try:
        document = documents.download(document_id, current_user, ip=client_ip())
    except NotFound:
        abort(404)
    response = send_file(
        io.BytesIO(document.content),
        mimetype=document.content_type,
        as_attachment=True,
        download_name=document.filename,
        conditional=False,
        etag=False,
        last_modified=None,
        max_age=0,
    )
    response.headers["Cache-Control"] = "no-store"
    return response
