"""Compliance documents: the file is judged by its content, at most 10 MB, expiry dates checked, kept with its
SHA-256 and audited; statuses; downloads only for the owning provider's users, officers and the manager."""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage

from portal.extensions import db
from portal.models import AuditEvent, ComplianceDocument, Role
from portal.services import documents
from portal.services.audit import Events
from portal.services.documents import DocumentStatus, Kind
from portal.services.errors import FieldErrors, NotFound
from tests.factories import LotFactory, ProviderFactory, make_user
from tests.factories_dps import add_document, document_type, require

pytestmark = pytest.mark.usefixtures("app_context")

TODAY = date(2026, 12, 1)
PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32


def docx_bytes(with_document_xml: bool = True) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        if with_document_xml:
            archive.writestr("word/document.xml", "<w:document/>")
        else:
            archive.writestr("xl/workbook.xml", "<workbook/>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "kind"),
    [(PDF, Kind.PDF), (PNG, Kind.PNG), (JPEG, Kind.JPEG), (docx_bytes(), Kind.DOCX)],
    ids=["pdf", "png", "jpeg", "docx"],
)
def test_the_kind_of_file_is_found_from_its_content(data, kind):
    assert documents.sniff(data) is kind


@pytest.mark.parametrize(
    "data",
    [b"just some text", b"PK\x03\x04not really a zip", docx_bytes(with_document_xml=False), b"GIF89a....", b"<html>"],
    ids=["text", "broken-zip", "xlsx-like-zip", "gif", "html"],
)
def test_anything_else_is_not_accepted(data):
    assert documents.sniff(data) is None


def test_upload_keeps_the_file_with_its_hash_size_and_sniffed_type_and_audits_it():
    provider = ProviderFactory()
    user = make_user(Role.PROVIDER, provider=provider)
    insurance = document_type("public-liability")
    document = documents.upload(
        provider, insurance, ("cover note.PDF", PDF), TODAY + timedelta(days=200), user, ip="192.0.2.5", today=TODAY
    )
    stored = db.session.get(ComplianceDocument, document.id)
    assert stored.content == PDF and stored.size_bytes == len(PDF)
    assert stored.sha256 == hashlib.sha256(PDF).hexdigest()
    assert stored.content_type == "application/pdf" and stored.filename == "cover note.pdf"
    assert stored.expires_on == TODAY + timedelta(days=200) and stored.uploaded_by_id == user.id
    [event] = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.event == Events.DOCUMENT_UPLOADED)).all()
    assert event.actor_id == user.id and event.subject_id == document.id and event.ip_address == "192.0.2.5"


def test_a_png_named_pdf_is_kept_as_the_png_it_is():
    provider = ProviderFactory()
    document = documents.upload(provider, document_type("complaints"), ("scan.pdf", PNG), None, None, today=TODAY)
    assert document.content_type == "image/png" and document.filename == "scan.png"


def test_a_file_from_a_form_upload_is_read_too():
    provider = ProviderFactory()
    storage = FileStorage(stream=io.BytesIO(docx_bytes()), filename="../../policy.docx", content_type="text/plain")
    document = documents.upload(provider, document_type("complaints"), storage, None, None, today=TODAY)
    assert document.filename == "policy.docx"  # no folders
    assert document.content_type == Kind.DOCX.content_type  # what it is, not what the browser said


@pytest.mark.parametrize(
    ("file", "message"),
    [
        (("policy.pdf", b"this is text, whatever its name says"), documents.WRONG_KIND),
        (("policy.pdf", b""), documents.EMPTY_FILE),
        (None, documents.CHOOSE_FILE),
        (("huge.pdf", b"%PDF-" + b"0" * (10 * 1024 * 1024)), documents.TOO_LARGE),
    ],
    ids=["text-named-pdf", "empty", "none", "just-over-10MB"],
)
def test_bad_files_are_refused_with_a_message_for_the_file_field(file, message):
    provider = ProviderFactory()
    with pytest.raises(FieldErrors) as caught:
        documents.upload(provider, document_type("complaints"), file, None, None, today=TODAY)
    assert caught.value.errors == {"file": message}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ComplianceDocument)) == 0


def test_exactly_10_mb_is_accepted():
    provider = ProviderFactory()
    data = b"%PDF-" + b"0" * (10 * 1024 * 1024 - 5)
    assert (
        documents.upload(provider, document_type("complaints"), ("big.pdf", data), None, None, today=TODAY).size_bytes
        == 10 * 1024 * 1024
    )


def test_a_type_with_an_expiry_needs_a_date_that_is_not_in_the_past():
    provider = ProviderFactory()
    insurance = document_type("public-liability")
    with pytest.raises(FieldErrors) as caught:
        documents.upload(provider, insurance, ("a.pdf", PDF), None, None, today=TODAY)
    # The file was fine, but it is not kept: the message asks for it again.
    assert caught.value.errors == {"file": documents.CHOOSE_AGAIN, "expires_on": documents.NO_EXPIRY}
    with pytest.raises(FieldErrors) as caught:
        documents.upload(provider, insurance, ("a.pdf", PDF), TODAY - timedelta(days=1), None, today=TODAY)
    assert caught.value.errors["expires_on"] == documents.EXPIRY_PAST
    assert documents.upload(provider, insurance, ("a.pdf", PDF), TODAY, None, today=TODAY).expires_on == TODAY


def test_a_type_without_expiry_ignores_a_date():
    provider = ProviderFactory()
    document = documents.upload(
        provider, document_type("complaints"), ("a.pdf", PDF), TODAY - timedelta(days=9), None, today=TODAY
    )
    assert document.expires_on is None


def test_a_provider_user_cannot_upload_for_another_provider():
    mine, theirs = ProviderFactory(), ProviderFactory()
    user = make_user(Role.PROVIDER, provider=mine)
    with pytest.raises(NotFound):
        documents.upload(theirs, document_type("complaints"), ("a.pdf", PDF), None, user, today=TODAY)


def test_statuses_and_the_overview_show_the_newest_document_of_each_type_and_the_lots_needing_it():
    lot = LotFactory(number=7, title="Bespoke")
    require(lot, "public-liability", "complaints")
    provider, other = ProviderFactory(), ProviderFactory()
    add_document(provider, "public-liability", expires_on=TODAY - timedelta(days=10))
    newest = add_document(provider, "public-liability", expires_on=TODAY + timedelta(days=30))
    add_document(provider, "employers-liability", expires_on=TODAY + timedelta(days=31))
    add_document(provider, "professional-indemnity", expires_on=TODAY - timedelta(days=1))
    add_document(other, "complaints")  # another provider's: never counted

    rows = {row.document_type.code: row for row in documents.overview(provider.id, TODAY)}
    assert rows["public-liability"].current.id == newest.id
    assert rows["public-liability"].status is DocumentStatus.EXPIRES_SOON
    assert rows["employers-liability"].status is DocumentStatus.VALID
    assert rows["professional-indemnity"].status is DocumentStatus.EXPIRED
    assert rows["complaints"].status is DocumentStatus.MISSING
    assert [l.label for l in rows["complaints"].required_by] == ["Lot 7: Bespoke"]
    assert [r.document_type.code for r in documents.required_for_lots(provider.id, [lot.id], TODAY)] == [
        "public-liability",
        "complaints",
    ]


# ---- Downloading ----------------------------------------------------------------------------------------------------


def test_a_provider_user_downloads_only_their_own_providers_documents():
    mine, theirs = ProviderFactory(), ProviderFactory()
    user = make_user(Role.PROVIDER, provider=mine)
    own = add_document(mine, "complaints")
    other = add_document(theirs, "complaints")
    assert documents.download(own.id, user).content == own.content
    with pytest.raises(NotFound):
        documents.download(other.id, user)
    with pytest.raises(NotFound):
        documents.download(999_999, user)
    # A provider reading its own documents is not a council read: nothing audited.
    assert not db.session.scalars(sa.select(AuditEvent).where(AuditEvent.event == Events.DOCUMENT_DOWNLOADED)).all()


@pytest.mark.parametrize("role", [Role.OFFICER, Role.MANAGER])
def test_officers_and_the_manager_download_any_document_and_it_is_audited(role):
    document = add_document(ProviderFactory(), "complaints")
    reader = make_user(role)
    assert documents.download(document.id, reader, ip="192.0.2.7").content == document.content
    [event] = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.event == Events.DOCUMENT_DOWNLOADED)).all()
    assert event.actor_id == reader.id and event.subject_id == document.id and event.ip_address == "192.0.2.7"


def test_the_file_itself_is_not_loaded_by_lists():
    provider = ProviderFactory()
    add_document(provider, "complaints")
    db.session.expire_all()
    [current] = documents.current_documents(provider.id).values()
    assert "content" not in current.__dict__


@pytest.mark.parametrize(
    ("name", "kind", "expected"),
    [
        ("report.pdf", Kind.PDF, "report.pdf"),
        ("C:\\Users\\me\\policy.docx", Kind.DOCX, "policy.docx"),
        ("evil\r\nname.pdf", Kind.PDF, "evilname.pdf"),
        ("", Kind.JPEG, "document.jpg"),
        (".pdf", Kind.PDF, "document.pdf"),
        ("no extension", Kind.PNG, "no extension.png"),
    ],
)
def test_safe_filenames(name, kind, expected):
    assert documents.safe_filename(name, kind) == expected
