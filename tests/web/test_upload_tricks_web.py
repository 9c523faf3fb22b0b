"""Uploads against tricks through the form (issue 10, point 4): each refused file gets its message next to the file
input, with the rest of the form kept, and nothing is written; a hostile name is kept safe; a download is always an
attachment of the type its content is, with a safe Content-Disposition, nosniff and a sandboxing CSP."""

from __future__ import annotations

import io
import re
import secrets
import zipfile

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import AuditEvent, ComplianceDocument, Provider, Role
from portal.security import DOWNLOAD_CSP
from portal.services import documents
from portal.services.audit import Events
from tests.factories_dps import add_document
from tests.helpers import csrf_token, start_session
from tests.web.test_documents_web import _type_id

PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n"


def _docx(extra: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
        for name, data in extra.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture
def provider_client(app, user_factory):
    user = user_factory(Role.PROVIDER)
    client = app.test_client()
    start_session(client, user.email)
    client.provider_id = user.provider_id
    return client


def _upload(client, type_id: int, data: bytes, filename: str, expires=("31", "3", "2099")):
    form = {
        "csrf_token": csrf_token(client, "/provider/documents"),
        # A create form carries a single-use token (issue 10, point 2): a fresh one for every send.
        "submission_token": secrets.token_urlsafe(32),
        "file": (io.BytesIO(data), filename),
        "expires_on": list(expires),
    }
    return client.post(f"/provider/documents/{type_id}", data=form, content_type="multipart/form-data")


def _kept(app) -> tuple[int, int]:
    """(documents kept, uploads audited)."""
    with app.app_context():
        documents_kept = db.session.scalar(sa.select(sa.func.count()).select_from(ComplianceDocument))
        audited = db.session.scalar(
            sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.event == Events.DOCUMENT_UPLOADED)
        )
        return documents_kept, audited


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"%PDF-1.4\n<html><script>alert(document.cookie)</script></html>", "policy.pdf", documents.MIXED_CONTENT),
        (PDF + _zip({"Exploit.class": b"\xca\xfe\xba\xbe"}), "policy.pdf", documents.MIXED_CONTENT),
        (b"GIF89a\x01\x00\x01\x00;%PDF-1.4\n%%EOF", "policy.pdf", documents.WRONG_KIND),
        (b"<!DOCTYPE html><script>alert(1)</script>", "policy.pdf", documents.WRONG_KIND),
        (_docx({"word/media/filler.bin": b"\x00" * (20 * 1024 * 1024)}), "policy.docx", documents.DOCX_TOO_BIG),
        (
            _docx({"META-INF/MANIFEST.MF": b"Main-Class: X\n", "X.class": b"\xca\xfe"}),
            "policy.docx",
            documents.DOCX_UNSAFE,
        ),
        (_docx({"word/media/image1.png": _zip({"a.txt": b"a"})}), "policy.docx", documents.DOCX_UNSAFE),
        (b"", "policy.pdf", documents.EMPTY_FILE),
        (b"%PDF-" + b"0" * (documents.MAX_BYTES - 4), "policy.pdf", documents.TOO_LARGE),
    ],
    ids=[
        "pdf-html",
        "pdf-zip",
        "gif-pdf",
        "html-named-pdf",
        "zip-bomb",
        "docx-jar",
        "nested-zip",
        "empty",
        "one-byte-over-10MB",
    ],
)
def test_a_refused_file_gets_its_message_next_to_the_file_input_and_nothing_is_kept(
    app, provider_client, data, filename, message
):
    response = _upload(provider_client, _type_id(app, "public-liability"), data, filename)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'href="#file"' in page  # in the error summary, linking to the field
    error = re.search(r'<p id="file-error" class="govuk-error-message">(.*?)</p>', page, re.S)
    assert error and message in error.group(1)
    assert 'value="2099"' in page and 'value="31"' in page  # what was typed is kept
    assert _kept(app) == (0, 0)


def test_a_hostile_name_is_kept_safe_and_offered_back_with_a_safe_header(app, provider_client):
    name = "..\\..\\Politique d’école\u202e.pdf.exe"
    response = _upload(provider_client, _type_id(app, "public-liability"), PDF, name)
    assert response.status_code == 302
    with app.app_context():
        document = db.session.scalars(sa.select(ComplianceDocument)).one()
        assert document.filename == "Politique d’école.pdf"
        document_id = document.id
    page = provider_client.get("/provider/documents").get_data(as_text=True)
    assert "Politique d’école.pdf" in page and "\u202e" not in page

    download = provider_client.get(f"/documents/{document_id}")
    assert download.status_code == 200 and download.data == PDF
    assert download.headers["Content-Type"] == "application/pdf"
    assert download.headers["Content-Disposition"] == (
        "attachment; filename=\"Politique d_ecole.pdf\"; filename*=UTF-8''Politique%20d%E2%80%99%C3%A9cole.pdf"
    )
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Cache-Control"] == "no-store"


def test_a_download_is_sent_as_what_its_content_is_whatever_was_stored_beside_it(app, provider_client):
    # A row written before these checks existed (or by hand): HTML, stored as text/html under a hostile name.
    with app.app_context():
        provider = db.session.get(Provider, provider_client.provider_id)
        document = add_document(
            provider, "complaints", content=b"<html><script>alert(1)</script></html>", filename='x";\r\n.html'
        )
        document.content_type = "text/html"
        db.session.commit()
        document_id = document.id
    response = provider_client.get(f"/documents/{document_id}")
    assert response.headers["Content-Type"] == "application/octet-stream"
    disposition = response.headers["Content-Disposition"]
    assert disposition == "attachment; filename=\"x__.html\"; filename*=UTF-8''x_%3B.html"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    # Were it ever shown, it is sandboxed: it may run nothing, load nothing and send no form.
    policy = response.headers["Content-Security-Policy"]
    assert policy == DOWNLOAD_CSP
    assert "default-src 'none'" in policy and "sandbox" in policy and "frame-ancestors 'none'" in policy
