"""Downloading a compliance document: for the owning provider's users, officers and the manager.

A provider's users get only their own provider's documents (another's is "Page not found", as if it did not exist);
an officer's or the manager's download is audited. The file is always an attachment with the type its content is
found to be (never a type stored beside it or sent by the uploader's browser), never shown in the browser; the app's
headers add `X-Content-Type-Options: nosniff` and a Content-Security-Policy that runs no inline script.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort
from flask_login import current_user

from portal.access import roles
from portal.downloads import content_disposition
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
    return Response(
        document.content,
        content_type=documents.download_type(document.content),
        headers={
            "Content-Disposition": content_disposition(document.filename, default="document"),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )
