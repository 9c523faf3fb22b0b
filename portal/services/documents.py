"""Compliance documents: a provider uploads them (the newest of a type is the current one); the provider's own users,
officers and the manager download them.

A file is judged by what it contains, never by its name: PDF, Word (DOCX), PNG or JPEG, at most 10 MB. A file that is
also something else (a web page, an appended archive) is refused, and so is a Word document that is a zip bomb or holds
what Word documents do not (programs, archives, paths out of its folder). It is kept in the database with its SHA-256,
under a name made safe; a download is sent as the kind its content is. Plain arguments in, domain errors out; upload()
and download() commit.
"""

from __future__ import annotations

import enum
import hashlib
import io
import re
import struct
import unicodedata
import zipfile
import zlib
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
# A Word document is a zip, and a zip can claim anything. Its table of contents is judged first (nothing expanded):
# more entries than a document anyone wrote, more than MAX_EXPANDED_BYTES unpacked in all, or an entry over
# RATIO_FLOOR bytes that unpacks more than MAX_COMPRESSION_RATIO times its packed size (Word's XML packs 5 to 20
# times, images not at all; a zip bomb packs about 1,000 times). Then every entry is expanded, never past the size it
# claims, to check that the claim is true (a bomb can claim tiny sizes and still expand without end).
MAX_ZIP_ENTRIES = 1_000
MAX_EXPANDED_BYTES = 100 * 1024 * 1024
MAX_COMPRESSION_RATIO = 100
RATIO_FLOOR = 1024 * 1024
_EXPAND_STEP = 256 * 1024
_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
# Word keeps an embedded spreadsheet or document (itself a zip) here; a zip anywhere else, or deeper, is refused.
_EMBEDDINGS = "word/embeddings/"
# Entries no Word document has, but an archive smuggled inside one would.
_RUNNABLE_OR_ARCHIVE = (
    ".exe", ".dll", ".com", ".scr", ".msi", ".bat", ".cmd", ".ps1", ".vbs", ".js", ".jar", ".class", ".apk",
    ".sh", ".zip", ".7z", ".rar", ".gz", ".tgz", ".bz2", ".xz", ".tar", ".cab", ".iso",
)  # fmt: skip
# Markup a browser or an old content sniffer would run as a web page, looked for at the start of every file: a PDF
# header followed by HTML is a PDF to us but a page to some sniffers. Likewise a PDF header early in a file that is
# not a PDF (PDF readers look for it anywhere in the first kilobyte).
_HEAD_BYTES = 1024
_MARKUP = (b"<html", b"<script", b"<body", b"<head", b"<iframe", b"<svg", b"<!doctype", b"<object", b"<embed", b"<?php")

WRONG_KIND = "The selected file must be a PDF, Word document (DOCX), PNG or JPEG"
TOO_LARGE = "The selected file must be smaller than 10 MB"
CHOOSE_FILE = "Select a file"
EMPTY_FILE = "The selected file is empty"
CHOOSE_AGAIN = "Select the file again: a file is not kept when there is a problem with the form"
NO_EXPIRY = "Enter the date the document expires"
EXPIRY_PAST = "The expiry date must be today or in the future"
MIXED_CONTENT = (
    "The selected file must be only a PDF, Word document (DOCX), PNG or JPEG, not another kind of file as well. "
    "Save it again, or print it to a PDF, and upload that"
)
DOCX_TOO_BIG = "The selected Word document must be smaller than 100 MB when unpacked. Save it as a PDF and upload that"
DOCX_UNSAFE = (
    "The selected Word document contains parts a Word document does not have. "
    "Save it again from Word, or as a PDF, and upload that"
)


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


# The extensions people give each kind (a stem ending in one of its own kind's is a doubled extension).
_ALIASES = {Kind.PDF: ("pdf",), Kind.DOCX: ("docx", "doc"), Kind.PNG: ("png",), Kind.JPEG: ("jpg", "jpeg", "jpe")}
MAX_STEM_CHARS = 120
_RESERVED_ON_WINDOWS = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])$", re.IGNORECASE)


def _is_docx(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()  # the central directory only: nothing is extracted
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


def download_type(data: bytes) -> str:
    """The Content-Type a stored file is sent with: what its content is found to be now (never what was stored
    beside it, nor what the uploader's browser said), or an opaque binary type for anything else."""
    kind = sniff(data)
    return kind.content_type if kind is not None else "application/octet-stream"


def _is_also_a_zip(data: bytes) -> bool:
    """Whether a PDF or image also reads as a zip (an archive appended to it, as in the GIFAR trick)."""
    if not zipfile.is_zipfile(io.BytesIO(data)):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return bool(archive.infolist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
        return False


def content_problem(data: bytes, kind: Kind) -> str | None:
    """The message for a file of an accepted kind that is also something else, or a Word document that is not safe
    to unpack; None when it is fine."""
    head = data[:_HEAD_BYTES].lower()
    if any(marker in head for marker in _MARKUP):
        return MIXED_CONTENT
    if kind is not Kind.PDF and b"%pdf-" in head:
        return MIXED_CONTENT
    if kind is Kind.DOCX:
        return _zip_problem(data, nested=False)[0]
    if _is_also_a_zip(data):
        return MIXED_CONTENT
    return None


def _entry_name_is_safe(name: str) -> bool:
    """No absolute path, drive, parent folder, backslash or control character: a name no unzip can be tricked by."""
    if not name or name.startswith("/") or "\\" in name or ":" in name:
        return False
    if any(unicodedata.category(ch)[0] == "C" for ch in name):
        return False
    return ".." not in name.split("/")


def _entry_bytes_range(data: bytes, entry: zipfile.ZipInfo) -> tuple[int, int] | None:
    """Where an entry's packed bytes are, read from its local header; None if the header is not there."""
    start = entry.header_offset
    header = data[start : start + 30]
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        return None
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    begin = start + 30 + name_length + extra_length
    end = begin + entry.compress_size
    return (begin, end) if end <= len(data) else None


def _expand(packed: bytes, entry: zipfile.ZipInfo, *, keep: bool) -> bytes | None:
    """The entry unpacked (only its first four bytes unless keep), if it unpacks to exactly the size and CRC it
    claims; None as soon as it goes past its claim (never more than one step past it is produced), or when it does
    not match."""
    inflater = None if entry.compress_type == zipfile.ZIP_STORED else zlib.decompressobj(-zlib.MAX_WBITS)
    pieces: list[bytes] = []
    produced = crc = 0
    pending = packed
    try:
        while True:
            piece = pending if inflater is None else inflater.decompress(pending, _EXPAND_STEP)
            produced += len(piece)
            if produced > entry.file_size:
                return None
            crc = zlib.crc32(piece, crc)
            if keep or produced == len(piece):
                pieces.append(piece if keep else piece[:4])
            if inflater is None:
                break
            pending = inflater.unconsumed_tail
            if inflater.eof or (not piece and not pending):
                break
    except zlib.error:
        return None
    if inflater is not None and (not inflater.eof or inflater.unused_data):
        return None
    if produced != entry.file_size or crc != entry.CRC:
        return None
    return b"".join(pieces)


def _zip_problem(data: bytes, *, nested: bool) -> tuple[str | None, int]:
    """(the message for a Word document that is not safe to unpack or None, how many bytes it unpacks to)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
        return WRONG_KIND, 0
    if len(entries) > MAX_ZIP_ENTRIES:
        return DOCX_UNSAFE, 0
    # First the table of contents alone: nothing is unpacked for a zip that admits to being a bomb.
    claimed = 0
    names: set[str] = set()
    for entry in entries:
        name = entry.filename
        if name in names or not _entry_name_is_safe(name) or name.lower().endswith(_RUNNABLE_OR_ARCHIVE):
            return DOCX_UNSAFE, 0
        names.add(name)
        if entry.flag_bits & 0x1 or entry.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            return DOCX_UNSAFE, 0  # encrypted, or packed in a way Word never uses
        claimed += entry.file_size
        if claimed > MAX_EXPANDED_BYTES:
            return DOCX_TOO_BIG, 0
        if entry.file_size > RATIO_FLOOR and entry.file_size > MAX_COMPRESSION_RATIO * entry.compress_size:
            return DOCX_TOO_BIG, 0
    # Then the claims themselves: the entries' bytes must not overlap (one packed bomb listed many times), and each
    # must unpack to what it says, no more.
    expanded = 0
    previous_end = 0
    for entry in sorted(entries, key=lambda e: e.header_offset):
        where = _entry_bytes_range(data, entry)
        if where is None or entry.header_offset < previous_end:
            return DOCX_UNSAFE, 0
        previous_end = where[1]
        # An embedded spreadsheet or document (a zip) is allowed one level down, where Word keeps them.
        embedding = not nested and entry.filename.startswith(_EMBEDDINGS) and entry.file_size <= MAX_BYTES
        content = _expand(data[where[0] : where[1]], entry, keep=embedding)
        if content is None:
            return DOCX_UNSAFE, 0
        expanded += entry.file_size
        if content.startswith(_ZIP_SIGNATURES):
            if not embedding:
                return DOCX_UNSAFE, 0
            problem, inner = _zip_problem(content, nested=True)
            if problem is not None:
                return (DOCX_UNSAFE if problem == WRONG_KIND else problem), 0
            expanded += inner
            if expanded > MAX_EXPANDED_BYTES:
                return DOCX_TOO_BIG, 0
    return None, expanded


def safe_filename(filename: str, kind: Kind) -> str:
    """The name to keep and to offer on download: no folders, no control or format characters (CR, LF, NUL, the
    right-to-left override), none Windows refuses, and only one extension, that of what the file really is (a PNG
    named report.pdf is kept as report.png, report.exe.pdf as report_exe.pdf)."""
    name = unicodedata.normalize("NFC", filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    stem = name.rsplit(".", 1)[0] if "." in name else name
    # report.pdf.exe that is a PDF: the inner .pdf was the real extension.
    stem = re.sub(rf"\.(?:{'|'.join(_ALIASES[kind])})$", "", stem, flags=re.IGNORECASE).strip(" .")
    # Any other inner extension is no longer one: report.exe.pdf is kept as report_exe.pdf.
    stem = re.sub(r"\.(?=[^\W\d_])", "_", stem)
    stem = re.sub(r'[<>:"|?*]', "_", stem)
    stem = re.sub(r"\s+", " ", stem).strip(" .")[:MAX_STEM_CHARS].rstrip(" .") or "document"
    if _RESERVED_ON_WINDOWS.match(stem):
        stem = f"_{stem}"
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
        problem = WRONG_KIND if kind is None else content_problem(data, kind)
        if problem is not None:
            errors["file"] = problem
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
