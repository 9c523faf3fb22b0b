"""Uploads against tricks (issue 10, point 4): polyglot files, zip bombs and other hostile Word documents, hostile
file names, empty files; and the one Content-Disposition helper every download uses."""

from __future__ import annotations

import io
import random
import re
import struct
import unicodedata
import warnings
import zipfile
import zlib
from pathlib import Path
from urllib.parse import unquote

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage
from werkzeug.http import parse_options_header

from portal.downloads import MAX_NAME_CHARS, content_disposition
from portal.extensions import db
from portal.models import AuditEvent, ComplianceDocument
from portal.services import documents
from portal.services.documents import Kind
from portal.services.errors import FieldErrors
from tests.factories import ProviderFactory
from tests.factories_dps import document_type

PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
DEFLATED = zipfile.ZIP_DEFLATED


def docx(extra: dict[str, bytes] | None = None, *, compression: int = DEFLATED, first: dict | None = None) -> bytes:
    """A minimal Word document; `first` entries go before [Content_Types].xml (the start of the file)."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about a duplicate name, which one test wants
        with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
            for name, data in (first or {}).items():
                archive.writestr(name, data, compress_type=zipfile.ZIP_STORED)
            archive.writestr("[Content_Types].xml", "<Types/>")
            archive.writestr("word/document.xml", "<w:document><w:body><w:p/></w:body></w:document>")
            for name, data in (extra or {}).items():
                archive.writestr(name, data)
    return buffer.getvalue()


def zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def judged(data: bytes) -> str | None:
    """What upload() would say about the file's content: None when it is accepted."""
    kind = documents.sniff(data)
    return documents.WRONG_KIND if kind is None else documents.content_problem(data, kind)


def _central_record(data: bytes, name: str) -> int:
    """Where the central directory record of an entry starts."""
    end = data.rindex(b"PK\x05\x06")
    position = struct.unpack("<I", data[end + 16 : end + 20])[0]
    while data[position : position + 4] == b"PK\x01\x02":
        name_length, extra_length, comment_length = struct.unpack("<HHH", data[position + 28 : position + 34])
        if data[position + 46 : position + 46 + name_length] == name.encode():
            return position
        position += 46 + name_length + extra_length + comment_length
    raise LookupError(name)


def _local_record(data: bytes, name: str) -> int:
    central = _central_record(data, name)
    return struct.unpack("<I", data[central + 42 : central + 46])[0]


def _patch(data: bytes, at: int, fmt: str, value: int) -> bytes:
    return data[:at] + struct.pack(fmt, value) + data[at + struct.calcsize(fmt) :]


# ---- Polyglots ------------------------------------------------------------------------------------------------------


def test_plain_files_of_each_kind_are_accepted():
    assert judged(PDF) is None and judged(PNG) is None and judged(JPEG) is None and judged(docx()) is None
    # Photo metadata (XMP) is markup too, but not a web page: a JPEG carrying it is fine.
    xmp = b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF><rdf:Description/></rdf:RDF></x:xmpmeta>"
    assert judged(b"\xff\xd8\xff\xe1\x00\x80Exif\x00\x00" + xmp + b"\x00" * 64) is None
    # Markup deep inside a PDF (a content stream can hold anything) is not looked for: the file is always sent as
    # an attachment of the type it is, with nosniff, so no browser renders it (see the web tests).
    assert judged(PDF + b"\x00" * 2048 + b"<html><script>alert(1)</script>") is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"%PDF-1.4\n<html><script>alert(document.cookie)</script></html>\n%%EOF", documents.MIXED_CONTENT),
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n<!DOCTYPE html><body onload=x()>", documents.MIXED_CONTENT),
        (b"%PDF-1.4\n<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", documents.MIXED_CONTENT),
        (
            PNG[:16] + b"\x00\x00\x00\x20tEXtComment\x00<script>alert(1)</script>" + b"\x00" * 64,
            documents.MIXED_CONTENT,
        ),
        (JPEG[:4] + b"\x00\x30<?php system($_GET['c']); ?>" + b"\x00" * 64, documents.MIXED_CONTENT),
        (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;\n%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF", documents.WRONG_KIND),
        (b"<html><body>%PDF-1.4 not really</body></html>", documents.WRONG_KIND),
        (b"\n\n%PDF-1.4 after a little something\n%%EOF", documents.WRONG_KIND),
        (JPEG[:8] + b"%PDF-1.4\n1 0 obj<<>>endobj" + b"\x00" * 64, documents.MIXED_CONTENT),
    ],
    ids=[
        "pdf-header-then-html",
        "pdf-header-then-doctype",
        "pdf-header-then-svg",
        "png-with-script-in-a-text-chunk",
        "jpeg-with-php",
        "gif-pdf",
        "html-holding-a-pdf-header",
        "pdf-header-not-at-the-start",
        "jpeg-pdf",
    ],
)
def test_a_file_that_is_also_a_web_page_or_another_kind_is_refused(data, message):
    assert judged(data) == message


@pytest.mark.parametrize("base", [PDF, PNG, JPEG], ids=["pdf", "png", "jpeg"])
def test_a_pdf_or_image_with_an_archive_appended_is_refused(base):
    # The GIFAR trick: readers of zips (Java, unzip, Word) read them from the end.
    assert judged(base + zip_of({"Exploit.class": b"\xca\xfe\xba\xbe" + b"\x00" * 32})) == documents.MIXED_CONTENT


def test_a_word_document_that_is_also_a_java_archive_or_carries_a_program_is_refused():
    jar = docx({"META-INF/MANIFEST.MF": b"Main-Class: Exploit\n", "Exploit.class": b"\xca\xfe\xba\xbe"})
    assert judged(jar) == documents.DOCX_UNSAFE
    assert judged(docx({"word/media/setup.exe": b"MZ" + b"\x00" * 64})) == documents.DOCX_UNSAFE
    assert judged(docx({"word/media/run.js": b"alert(1)"})) == documents.DOCX_UNSAFE


def test_a_word_document_starting_with_a_pdf_or_a_web_page_is_refused():
    # A stored first entry puts its bytes in the file's first kilobyte, where PDF readers and sniffers look.
    assert judged(docx(first={"a.pdf.txt": b"%PDF-1.4\n1 0 obj<<>>endobj"})) == documents.MIXED_CONTENT
    assert judged(docx(first={"a.txt": b"<html><script>alert(1)</script>"})) == documents.MIXED_CONTENT


# ---- Zip bombs and other hostile Word documents ---------------------------------------------------------------------


def test_a_zip_bomb_is_refused_from_its_table_of_contents_without_unpacking_anything(monkeypatch):
    bomb = docx({"word/media/filler.bin": b"\x00" * (20 * 1024 * 1024)})  # about 20 KB packed: 1,000 to 1
    assert len(bomb) < 100_000

    def no_unpacking(*args, **kwargs):
        raise AssertionError("a bomb that admits it is one is refused before anything is unpacked")

    monkeypatch.setattr(documents, "_expand", no_unpacking)
    assert judged(bomb) == documents.DOCX_TOO_BIG


def test_ordinary_compression_is_fine_even_for_a_large_part():
    # Word's XML packs 5 to 20 times; 3 MB of varied text is a long document, not a bomb.
    rng = random.Random(7)
    words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(5000)]
    text = b" ".join(rng.choices(words, k=600_000))[: 3 * 1024 * 1024]
    data = docx({"word/document2.xml": b"<w:t>" + text + b"</w:t>"})
    assert len(text) / len(data) < documents.MAX_COMPRESSION_RATIO
    assert judged(data) is None


def test_too_much_unpacked_in_all_is_refused(monkeypatch):
    # Incompressible parts (ratio 1), more of them than the limit allows once unpacked.
    monkeypatch.setattr(documents, "MAX_EXPANDED_BYTES", 1024 * 1024)
    rng = random.Random(1)
    parts = {f"word/media/image{n}.png": rng.randbytes(300 * 1024) for n in range(4)}
    assert judged(docx(parts)) == documents.DOCX_TOO_BIG
    assert judged(docx(dict(list(parts.items())[:2]))) is None


def test_too_many_entries_is_refused():
    assert judged(docx({f"customXml/item{n}.xml": b"<a/>" for n in range(documents.MAX_ZIP_ENTRIES)})) == (
        documents.DOCX_UNSAFE
    )
    assert judged(docx({f"customXml/item{n}.xml": b"<a/>" for n in range(documents.MAX_ZIP_ENTRIES - 2)})) is None


def test_an_entry_claiming_a_tiny_size_is_unpacked_only_as_far_as_its_claim_and_refused():
    honest = docx({"word/media/filler.bin": b"\x00" * (5 * 1024 * 1024)})
    # The lie: a 1,000-byte entry with the CRC of the first 1,000 bytes, in both headers. Python's zipfile (and any
    # tool trusting the table of contents) reads it happily: the lie is only seen by unpacking the stream.
    claim, crc = 1000, zlib.crc32(b"\x00" * 1000)
    central, local = _central_record(honest, "word/media/filler.bin"), _local_record(honest, "word/media/filler.bin")
    lying = _patch(_patch(honest, central + 24, "<I", claim), central + 16, "<I", crc)
    lying = _patch(_patch(lying, local + 22, "<I", claim), local + 14, "<I", crc)
    with zipfile.ZipFile(io.BytesIO(lying)) as archive:
        assert archive.read("word/media/filler.bin") == b"\x00" * 1000
    produced = []
    real_decompressobj = zlib.decompressobj

    class Counting:
        def __init__(self, *args):
            self.inner = real_decompressobj(*args)

        def decompress(self, data, max_length=0):
            piece = self.inner.decompress(data, max_length)
            produced.append(len(piece))
            return piece

        def __getattr__(self, name):
            return getattr(self.inner, name)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(documents.zlib, "decompressobj", Counting)
        assert judged(lying) == documents.DOCX_UNSAFE
    assert sum(produced) <= claim + 2 * documents._EXPAND_STEP  # never the 5 MB it really holds


def test_entries_must_unpack_to_what_they_claim_and_hold():
    honest = docx({"word/media/a.bin": b"abc" * 100})
    central = _central_record(honest, "word/media/a.bin")
    assert judged(_patch(honest, central + 16, "<I", 12345)) == documents.DOCX_UNSAFE  # wrong CRC
    assert judged(_patch(honest, central + 24, "<I", 301)) == documents.DOCX_UNSAFE  # claims more than it holds


def test_one_packed_part_listed_under_many_names_is_refused():
    # The non-recursive bomb: central directory records overlapping on one set of packed bytes.
    data = docx({"word/media/a.bin": b"\x00" * 4096})
    central = _central_record(data, "word/media/a.bin")
    end = data.index(b"PK\x05\x06")
    record = data[central:end]
    twin = record.replace(b"word/media/a.bin", b"word/media/b.bin")
    entries, size, offset = struct.unpack("<HII", data[end + 10 : end + 20])
    trailer = data[end : end + 10] + struct.pack("<HII", entries + 1, size + len(twin), offset) + data[end + 20 :]
    trailer = trailer[:8] + struct.pack("<H", entries + 1) + trailer[10:]
    overlapping = data[:end] + twin + trailer
    with zipfile.ZipFile(io.BytesIO(overlapping)) as archive:
        assert {"word/media/a.bin", "word/media/b.bin"} <= set(archive.namelist())
    assert judged(overlapping) == documents.DOCX_UNSAFE


@pytest.mark.parametrize(
    "name",
    ["../evil.txt", "word/../../evil.txt", "/etc/cron.d/evil", "word\\..\\evil.txt", "C:/evil.txt", "word/a\x01b.xml"],
)
def test_entry_names_that_would_escape_the_folder_are_refused(name):
    assert judged(docx({name: b"x"})) == documents.DOCX_UNSAFE


def test_two_entries_of_one_name_are_refused():
    # Two parsers may pick different ones: what we checked is not what Word opens.
    assert judged(docx({"word/document.xml": b"<w:document/>"})) == documents.DOCX_UNSAFE


def test_encrypted_or_unusually_packed_entries_are_refused():
    data = docx({"word/media/a.bin": b"abc"})
    central = _central_record(data, "word/media/a.bin")
    flags = struct.unpack("<H", data[central + 8 : central + 10])[0]
    assert judged(_patch(data, central + 8, "<H", flags | 0x1)) == documents.DOCX_UNSAFE
    with pytest.MonkeyPatch.context() as patch:
        # Word packs with deflate or not at all: anything else is refused before it is unpacked.
        patch.setattr(documents, "_expand", lambda *args, **kwargs: pytest.fail("unpacked"))
        assert judged(docx(compression=zipfile.ZIP_BZIP2)) == documents.DOCX_UNSAFE


def test_a_nested_archive_is_refused_except_an_embedded_office_file_which_is_checked_too():
    spreadsheet = zip_of({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"})
    embedded = "word/embeddings/Microsoft_Excel_Worksheet.xlsx"
    assert judged(docx({embedded: spreadsheet})) is None  # a chart's data, as Word keeps it
    # A zip anywhere else, whatever its name says.
    assert judged(docx({"word/media/image1.png": spreadsheet})) == documents.DOCX_UNSAFE
    assert judged(docx({"word/media/inner.zip": spreadsheet})) == documents.DOCX_UNSAFE
    # An embedded file is held to the same rules: no bomb, no archive inside it.
    inner_bomb = zip_of({"xl/workbook.xml": b"\x00" * (20 * 1024 * 1024)})
    assert judged(docx({embedded: inner_bomb})) == documents.DOCX_TOO_BIG
    # Not even where Word keeps embeddings: one level down is the only level.
    deeper = zip_of({"word/document.xml": b"<w:document/>", "word/embeddings/x.xlsx": spreadsheet})
    assert judged(docx({"word/embeddings/Microsoft_Word_Document.docx": deeper})) == documents.DOCX_UNSAFE


def test_a_refused_word_document_is_not_kept(app_context):
    provider = ProviderFactory()
    with pytest.raises(FieldErrors) as caught:
        bomb = docx({"word/media/filler.bin": b"\x00" * (20 * 1024 * 1024)})
        documents.upload(provider, document_type("complaints"), ("policy.docx", bomb), None, None)
    assert caught.value.errors == {"file": documents.DOCX_TOO_BIG}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ComplianceDocument)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == 0


@pytest.mark.parametrize(
    "data",
    [b"%PDF-1.4\n<html><script>x</script>", PDF + zip_of({"a.txt": b"a"})],
    ids=["pdf-html", "pdf-zip"],
)
def test_a_polyglot_is_not_kept(app_context, data):
    with pytest.raises(FieldErrors) as caught:
        documents.upload(ProviderFactory(), document_type("complaints"), ("policy.pdf", data), None, None)
    assert caught.value.errors == {"file": documents.MIXED_CONTENT}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ComplianceDocument)) == 0


# ---- Empty files ----------------------------------------------------------------------------------------------------


def test_an_empty_file_from_the_form_is_refused_with_its_own_message(app_context):
    storage = FileStorage(stream=io.BytesIO(b""), filename="policy.pdf", content_type="application/pdf")
    with pytest.raises(FieldErrors) as caught:
        documents.upload(ProviderFactory(), document_type("complaints"), storage, None, None)
    assert caught.value.errors == {"file": documents.EMPTY_FILE}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ComplianceDocument)) == 0


def test_the_download_type_is_what_the_content_is_never_what_was_stored_beside_it():
    assert documents.download_type(PDF) == "application/pdf"
    assert documents.download_type(docx()) == Kind.DOCX.content_type
    assert documents.download_type(b"<html><script>alert(1)</script>") == "application/octet-stream"


# ---- Hostile file names ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind", "expected"),
    [
        ("../../etc/passwd.pdf", Kind.PDF, "passwd.pdf"),
        ("..\\..\\Windows\\win.ini", Kind.PDF, "win.pdf"),
        ("..", Kind.PDF, "document.pdf"),
        ("uploads/..", Kind.PNG, "document.png"),
        ("bad\x00name.pdf", Kind.PDF, "badname.pdf"),
        ("line\r\nbreak\t.pdf", Kind.PDF, "linebreak.pdf"),
        ("invoice\u202efdp.exe", Kind.PDF, "invoicefdp.pdf"),  # shows as "invoiceexe.pdf" with the override
        ("zero\u200bwidth.pdf", Kind.PDF, "zerowidth.pdf"),
        ("report.pdf.exe", Kind.PDF, "report.pdf"),
        ("report.exe.pdf", Kind.PDF, "report_exe.pdf"),
        ("photo.JPEG", Kind.JPEG, "photo.jpg"),
        ("scan.html.png", Kind.PNG, "scan_html.png"),
        ("policy v1.2.docx", Kind.DOCX, "policy v1.2.docx"),
        ('a "quoted" <name>|?*:.pdf', Kind.PDF, "a _quoted_ _name_____.pdf"),
        ("CON.pdf", Kind.PDF, "_CON.pdf"),
        ("  .hidden.pdf", Kind.PDF, "hidden.pdf"),
        ("Politique d’école.pdf", Kind.PDF, "Politique d’école.pdf"),
    ],
)
def test_hostile_names_are_kept_safe_with_the_extension_of_what_the_file_is(name, kind, expected):
    assert documents.safe_filename(name, kind) == expected


def test_a_very_long_name_is_cut_keeping_its_extension():
    kept = documents.safe_filename("é" * 1000 + ".pdf.exe", Kind.PDF)
    assert kept == "é" * documents.MAX_STEM_CHARS + ".pdf"
    assert len(kept) <= 255  # the column's width


def _nasty_names(count: int) -> list[str]:
    rng = random.Random(20261126)
    pieces = ["..", "/", "\\", ".", " ", "\x00", "\r\n", "\u202e", "\u200b", "\ufeff", '"', ";", "<", ">", "é", "测试",
              "exe", "pdf", "con", "%00", "\x7f", "\u2028", "a", "Z", "9", "_", "-"]  # fmt: skip
    return ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 40))) for _ in range(count)]


@pytest.mark.parametrize("kind", list(Kind))
def test_any_name_whatever_it_holds_becomes_a_safe_one(kind):
    for name in _nasty_names(400):
        kept = documents.safe_filename(name, kind)
        stem, extension = kept.rsplit(".", 1)
        assert extension == kind.extension, name
        assert "/" not in kept and "\\" not in kept and not kept.startswith("."), name  # no folder, not hidden
        assert not any(unicodedata.category(ch)[0] == "C" for ch in kept), name
        assert not re.search(r"\.[^\W\d_]", stem), name  # only one extension
        assert stem and stem == stem.strip(" ."), name
        assert len(kept) <= documents.MAX_STEM_CHARS + 5, name


# ---- Content-Disposition --------------------------------------------------------------------------------------------

HEADER = re.compile(r"""attachment; filename="[A-Za-z0-9 ._()+-]+"(; filename\*=UTF-8''[A-Za-z0-9%._~-]+)?""")


def _parsed(value: str) -> tuple[str, str]:
    """(what a browser ignoring filename* saves the file as, what a browser reading it saves it as)."""
    fallback = re.search(r'filename="([^"]*)"', value).group(1)
    full = unquote(value.split("filename*=UTF-8''", 1)[1], errors="strict") if "filename*=" in value else fallback
    # werkzeug reads it the same way (filename* wins over filename).
    assert parse_options_header(value) == ("attachment", {"filename": full})
    return fallback, full


@pytest.mark.parametrize(
    ("name", "fallback", "full"),
    [
        ("award-notices-2027-Q1.json", "award-notices-2027-Q1.json", "award-notices-2027-Q1.json"),
        ('policy "final".pdf', "policy _final_.pdf", "policy _final_.pdf"),
        ("a;b; filename=evil.exe.pdf", "a_b_ filename_evil.exe.pdf", "a;b; filename=evil.exe.pdf"),
        (
            "one\r\nContent-Type: text\r\n\r\n<script>.pdf",
            "oneContent-Type_ text_script_.pdf",
            "oneContent-Type_ text_script_.pdf",
        ),
        ("Politique d’école.pdf", "Politique d_ecole.pdf", "Politique d’école.pdf"),
        ("测试.docx", "download.docx", "测试.docx"),
        ("invoice\u202efdp.exe", "invoicefdp.exe", "invoicefdp.exe"),
        ("../../secret.csv", "secret.csv", "secret.csv"),
        ("", "download", "download"),
        ("%41%0d%0a.csv", "_41_0d_0a.csv", "%41%0d%0a.csv"),
    ],
    ids=[
        "plain",
        "quotes",
        "semicolons",
        "newlines",
        "accents",
        "no-ascii-at-all",
        "rtl",
        "folders",
        "empty",
        "percent",
    ],
)
def test_the_header_is_well_formed_for_any_name(name, fallback, full):
    value = content_disposition(name)
    assert HEADER.fullmatch(value), value
    assert _parsed(value) == (fallback, full)
    # The percent-encoded name is added only when it says more than the fallback.
    assert ("filename*=" in value) == (fallback != full)


def test_a_long_name_is_cut_in_the_header_keeping_its_extension():
    value = content_disposition("x" * 500 + ".pdf")
    assert _parsed(value) == ("x" * (MAX_NAME_CHARS - 4) + ".pdf",) * 2


def test_random_hostile_names_always_give_a_well_formed_header():
    for name in _nasty_names(500):
        value = content_disposition(name)
        assert HEADER.fullmatch(value), (name, value)
        full = _parsed(value)[1]
        assert "/" not in full and "\\" not in full
        assert not any(unicodedata.category(ch)[0] == "C" for ch in full), (name, value)


def test_every_download_in_the_portal_makes_its_header_with_the_one_helper():
    portal = Path(documents.__file__).resolve().parents[1]
    makers = []
    for path in sorted(portal.rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            where = f"{path.relative_to(portal)}:{number}"
            assert "send_file" not in line and "as_attachment" not in line, where  # werkzeug's own header
            if '"Content-Disposition"' in line and '.get("Content-Disposition"' not in line:  # setting it, not reading
                assert "content_disposition(" in line, where
                makers.append(where)
    assert len(makers) >= 4  # documents, CSV exports, award notices, the subject access export
