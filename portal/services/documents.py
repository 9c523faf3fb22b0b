"""Compliance documents: a provider uploads them (the newest of a type is the current one); the provider's own users,
officers and the manager download them.

A file is judged by what it contains, never by its name: PDF, Word (DOCX), PNG or JPEG, at most 10 MB. It is kept in
the database with its SHA-256. Plain arguments in, domain errors out; upload() and download() commit.
"""

from __future__ import annotations

import enum
import hashlib
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import undefer

from portal.clock import london_today
from portal.extensions import db
from portal.models import ComplianceDocument, DocumentType, Lot, LotDocumentRequirement, Provider, Role, User
from portal.services import audit
from portal.services.audit import Events
from portal.services.errors import FieldErrors, NotFound

MAX_BYTES = 10 * 1024 * 1024
EXPIRES_SOON_DAYS = 30
# A Word document is a zip: its table of contents is read, nothing is decompressed. More entries than this is not
# a document anyone wrote.
MAX_ZIP_ENTRIES = 10_000

WRONG_KIND = "The selected file must be a PDF, Word document (DOCX), PNG or JPEG"
TOO_LARGE = "The selected file must be smaller than 10 MB"
CHOOSE_FILE = "Select a file"
EMPTY_FILE = "The selected file is empty"
CHOOSE_AGAIN = "Select the file again: a file is not kept when there is a problem with the form"
NO_EXPIRY = "Enter the date the document expires"
EXPIRY_PAST = "The expiry date must be today or in the future"


class Kind(enum.Enum):
    """What a file is, by its content: (content type, file extension, what people call it)."""

    PDF = ("application/pdf", "pdf", "PDF")
    DOCX = ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx", "Word document")
    PNG = ("image/png", "png", "PNG image")
    JPEG = ("image/jpeg", "jpg", "JPEG image")

    @property
    def content_type(self) -> str:
        return self.value[0]

    @property
    def extension(self) -> str:
        return self.value[1]

    @property
    def label(self) -> str:
        return self.value[2]


def _is_docx(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()  # the central directory only: nothing is extracted
            if len(entries) > MAX_ZIP_ENTRIES:
                return False
            return any(entry.filename == "word/document.xml" for entry in entries)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
        return False


def sniff(data: bytes) -> Kind | None:
    """The kind of file the bytes are, or None for anything we do not accept."""
    if data.startswith(b"%PDF-"):
        return Kind.PDF
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return Kind.PNG
    if data.startswith(b"\xff\xd8\xff"):
        return Kind.JPEG
    if data.startswith(b"PK\x03\x04") and _is_docx(data):
        return Kind.DOCX
    return None


def safe_filename(filename: str, kind: Kind) -> str:
    """The name to keep and to offer on download: no folders, no control characters, the extension of what the
    file really is (a PNG named report.pdf is kept as report.png)."""
    name = unicodedata.normalize("NFC", filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    stem = name.rsplit(".", 1)[0] if "." in name else name
    stem = re.sub(r"\s+", " ", stem).strip(" .")[:200] or "document"
    return f"{stem}.{kind.extension}"


def _read(file) -> tuple[str, bytes]:
    """(filename, bytes) from a werkzeug FileStorage or a (filename, bytes) pair; at most one byte past the limit is
    read, enough to tell the file is too large."""
    if file is None:
        return "", b""
    if isinstance(file, tuple):
        filename, data = file
        return filename or "", bytes(data[: MAX_BYTES + 1])
    filename = getattr(file, "filename", "") or ""
    return filename, file.stream.read(MAX_BYTES + 1)


def check_expiry(document_type: DocumentType, expires_on: date | None, today: date) -> str | None:
    """The message for a wrong expiry date, or None."""
    if not document_type.has_expiry:
        return None
    if expires_on is None:
        return NO_EXPIRY
    if expires_on < today:
        return EXPIRY_PAST
    return None


def upload(
    provider: Provider,
    document_type: DocumentType,
    file,
    expires_on: date | None,
    by: User | None,
    *,
    ip: str | None = None,
    today: date | None = None,
) -> ComplianceDocument:
    """Keep a new current document of this type for the provider. FieldErrors names the field ("file",
    "expires_on") of each problem; nothing is kept then. Commits."""
    today = today or london_today()
    if by is not None and by.role is Role.PROVIDER and by.provider_id != provider.id:
        raise NotFound("No such provider")
    errors: dict[str, str] = {}
    filename, data = _read(file)
    kind = None
    if not filename and not data:
        errors["file"] = CHOOSE_FILE
    elif not data:
        errors["file"] = EMPTY_FILE
    elif len(data) > MAX_BYTES:
        errors["file"] = TOO_LARGE
    else:
        kind = sniff(data)
        if kind is None:
            errors["file"] = WRONG_KIND
    expiry_problem = check_expiry(document_type, expires_on, today)
    if expiry_problem:
        errors["expires_on"] = expiry_problem
    if errors:
        if "file" not in errors:
            # The file was fine, but a browser never sends it again: say so next to the file input.
            errors = {"file": CHOOSE_AGAIN, **errors}
        raise FieldErrors(errors)

    document = ComplianceDocument(
        provider_id=provider.id,
        document_type_id=document_type.id,
        filename=safe_filename(filename, kind),
        content_type=kind.content_type,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        content=data,
        expires_on=expires_on if document_type.has_expiry else None,
        uploaded_by_id=by.id if by is not None else None,
    )
    db.session.add(document)
    db.session.flush()
    audit.record(
        Events.DOCUMENT_UPLOADED,
        actor=by,
        ip=ip,
        subject=document,
        provider=provider.name,
        document_type=document_type.name,
        filename=document.filename,
        size_bytes=document.size_bytes,
        sha256=document.sha256,
        expires_on=document.expires_on.isoformat() if document.expires_on else "",
    )
    db.session.commit()
    return document


# ---- Reading --------------------------------------------------------------------------------------------------------


class DocumentStatus(enum.StrEnum):
    VALID = "Valid"
    EXPIRES_SOON = "Expires soon"
    EXPIRED = "Expired"
    MISSING = "Missing"


def status_of(document: ComplianceDocument | None, today: date) -> DocumentStatus:
    if document is None:
        return DocumentStatus.MISSING
    if document.expires_on is None:
        return DocumentStatus.VALID
    if document.expires_on < today:
        return DocumentStatus.EXPIRED
    if document.expires_on <= today + timedelta(days=EXPIRES_SOON_DAYS):
        return DocumentStatus.EXPIRES_SOON
    return DocumentStatus.VALID


@dataclass
class DocumentRow:
    """One document type as the provider's documents page shows it."""

    document_type: DocumentType
    current: ComplianceDocument | None
    status: DocumentStatus
    required_by: list[Lot] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return self.status in {DocumentStatus.VALID, DocumentStatus.EXPIRES_SOON}


def document_types() -> list[DocumentType]:
    return list(db.session.scalars(sa.select(DocumentType).order_by(DocumentType.position, DocumentType.id)))


def get_document_type(document_type_id: int) -> DocumentType:
    document_type = db.session.get(DocumentType, document_type_id)
    if document_type is None:
        raise NotFound("No such kind of document")
    return document_type


def current_documents(provider_id: int) -> dict[int, ComplianceDocument]:
    """The provider's current (newest) document of each type, by type id. One SELECT; the files are not loaded."""
    newest = (
        sa.select(sa.func.max(ComplianceDocument.id))
        .where(ComplianceDocument.provider_id == provider_id)
        .group_by(ComplianceDocument.document_type_id)
    )
    documents = db.session.scalars(
        sa.select(ComplianceDocument).where(
            ComplianceDocument.provider_id == provider_id, ComplianceDocument.id.in_(newest)
        )
    )
    return {document.document_type_id: document for document in documents}


def requirements() -> dict[int, list[Lot]]:
    """Which lots require each document type, by type id. One SELECT."""
    rows = db.session.execute(
        sa.select(LotDocumentRequirement.document_type_id, Lot)
        .join(Lot, Lot.id == LotDocumentRequirement.lot_id)
        .order_by(Lot.arrangement_id, Lot.number)
    ).all()
    required: dict[int, list[Lot]] = {}
    for type_id, lot in rows:
        required.setdefault(type_id, []).append(lot)
    return required


def overview(provider_id: int, today: date | None = None) -> list[DocumentRow]:
    """Every document type with the provider's current document, its status and the lots that require it."""
    today = today or london_today()
    current = current_documents(provider_id)
    required = requirements()
    return [
        DocumentRow(
            document_type=document_type,
            current=current.get(document_type.id),
            status=status_of(current.get(document_type.id), today),
            required_by=required.get(document_type.id, []),
        )
        for document_type in document_types()
    ]


def required_for_lots(provider_id: int, lot_ids: list[int] | set[int], today: date | None = None) -> list[DocumentRow]:
    """The document types any of these lots requires, with the provider's current document of each."""
    lot_ids = set(lot_ids)
    registered = db.session.scalar(sa.select(Provider.registered).where(Provider.id == provider_id))
    return [
        row
        for row in overview(provider_id, today)
        if any(lot.id in lot_ids for lot in row.required_by)
        # The same rule as eligibility: a type only for registered schools is not asked of an unregistered provider.
        and (registered or not row.document_type.registered_only)
    ]


# ---- Downloading ----------------------------------------------------------------------------------------------------

DOWNLOAD_ROLES = frozenset({Role.PROVIDER, Role.OFFICER, Role.MANAGER})


def download(document_id: int, by: User, *, ip: str | None = None) -> ComplianceDocument:
    """The document with its file, for someone allowed to read it: a provider's users read their own provider's
    documents only (another's is NotFound, as if it did not exist); officers and the manager read any, and each
    such read is audited. Commits."""
    if by.role not in DOWNLOAD_ROLES:
        raise NotFound("No such document")
    statement = (
        sa.select(ComplianceDocument)
        .where(ComplianceDocument.id == document_id)
        .options(undefer(ComplianceDocument.content))
    )
    if by.role is Role.PROVIDER:
        statement = statement.where(ComplianceDocument.provider_id == by.provider_id)
    document = db.session.scalar(statement)
    if document is None:
        raise NotFound("No such document")
    if by.role is not Role.PROVIDER:
        audit.record(
            Events.DOCUMENT_DOWNLOADED,
            actor=by,
            ip=ip,
            subject=document,
            provider_id=document.provider_id,
            document_type=document.document_type.name,
            filename=document.filename,
        )
        db.session.commit()
    return document
