"""flask backup create / restore / verify: a round trip on the database the suite runs on (SQLite, or the PostgreSQL
of TEST_DATABASE_URL) restores every row, uploaded documents included, and proves it against the manifest; a changed
row in the restored copy fails the check and is named; a database with tables, or a damaged backup, is refused."""

from __future__ import annotations

import hashlib
import json
import shutil
import stat
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import AttendanceMark
from portal.services import audit
from portal.services import backup as backup_service
from portal.services.audit import Events
from tests.factories import make_user
from tests.factories_calloff import CHILD_FIRST_NAME, eligible_provider, make_offer
from tests.factories_dps import add_document
from tests.factories_placements import PLACEMENT_START, placed
from tests.helpers import empty_database

# Bytes no text encoding would keep unchanged: a NUL, high bytes, a line ending.
DOCUMENT_BYTES = b"%PDF-1.7\n%\x00\xff\xfe binary body \r\n%%EOF\n"


@pytest.fixture
def restore_url(database_url, tmp_path):
    """An empty database to restore into, of the suite's kind: a new SQLite file, or a new PostgreSQL database."""
    if sa.make_url(database_url).get_backend_name() == "postgresql":
        # Fail, never skip: a PostgreSQL deployment cannot back up without them (CI installs postgresql-client).
        assert shutil.which("pg_dump") and shutil.which("pg_restore"), "pg_dump and pg_restore must be on PATH"
    with empty_database(database_url, "backup_restore", tmp_path) as url:
        yield url


def _populate(app) -> dict:
    """A referral with a child, two offers, a placement with marks, a compliance document with bytes, audit events."""
    with app.app_context():
        awarded, placement = placed()
        rival = eligible_provider(awarded.lot, "Rival provider")
        make_offer(awarded.referral, rival, make_user("provider", provider=rival), rate=Decimal("99.50"))
        for day, session, code in (
            (PLACEMENT_START, "am", "/"),
            (PLACEMENT_START, "pm", "I"),
            (date(2027, 1, 12), "am", "O"),
        ):
            db.session.add(
                AttendanceMark(
                    placement_id=placement.id,
                    day=day,
                    session=session,
                    code=code,
                    recorded_by_id=awarded.provider_user.id,
                )
            )
        document = add_document(awarded.provider, "safeguarding-policy", content=DOCUMENT_BYTES, filename="policy.pdf")
        audit.record(Events.SIGN_IN_FAILED, actor_label="someone@example.test", ip="192.0.2.1")
        audit.record(Events.OFFER_AWARDED, actor=awarded.officer, subject=awarded.offer, rationale="Best value")
        db.session.commit()
        return {"offer_id": awarded.offer.id, "document_id": document.id, "placement_id": placement.id}


def _execute(url: str, statement: str, **params) -> None:
    engine = sa.create_engine(backup_service.database_url(url))
    with engine.begin() as conn:
        conn.execute(sa.text(statement), params)
    engine.dispose()


def _scalar(url: str, statement: str, **params):
    engine = sa.create_engine(backup_service.database_url(url))
    with engine.connect() as conn:
        value = conn.execute(sa.text(statement), params).scalar_one()
    engine.dispose()
    return value


def _table_names(url: str) -> list[str]:
    engine = sa.create_engine(backup_service.database_url(url))
    names = sa.inspect(engine).get_table_names()
    engine.dispose()
    return names


def _create(runner, path) -> None:
    result = runner.invoke(args=["backup", "create", "--to", str(path)])
    assert result.exit_code == 0, result.output


def _restored(runner, tmp_path, restore_url):
    backup_file = tmp_path / "portal.backup"
    _create(runner, backup_file)
    result = runner.invoke(args=["backup", "restore", str(backup_file), "--into", restore_url])
    assert result.exit_code == 0, result.output
    return backup_file, result


def test_a_round_trip_restores_every_row_and_document_and_verifies(app, runner, tmp_path, restore_url, database_url):
    made = _populate(app)
    backup_file, result = _restored(runner, tmp_path, restore_url)

    assert "Every table's row count and checksum match the backup." in result.output
    assert "1 uploaded document(s), each matching the SHA-256 kept at upload." in result.output
    manifest = json.loads(backup_service.manifest_path(backup_file).read_text())
    tables = manifest["tables"]
    assert set(tables) == set(_table_names(database_url)) and "alembic_version" in tables
    assert tables["alembic_version"]["rows"] == 1 and manifest["alembic_revision"]
    assert (tables["offers"]["rows"], tables["attendance_marks"]["rows"], tables["compliance_documents"]["rows"]) == (
        2,
        3,
        1,
    )
    assert tables["children"]["rows"] == 1 and tables["placements"]["rows"] == 1 and tables["audit_events"]["rows"] >= 2
    assert manifest["backup_sha256"] == hashlib.sha256(backup_file.read_bytes()).hexdigest()

    # The restored copy holds the data itself, the document's bytes exactly.
    content = _scalar(restore_url, "SELECT content FROM compliance_documents WHERE id = :id", id=made["document_id"])
    assert bytes(content) == DOCUMENT_BYTES
    assert _scalar(restore_url, "SELECT first_name FROM children") == CHILD_FIRST_NAME
    # The same database gives the same figures before and after the round trip.
    assert backup_service.snapshot_of(restore_url).tables == backup_service.snapshot_of(database_url).tables

    verified = runner.invoke(args=["backup", "verify", str(backup_file), "--against", restore_url])
    assert verified.exit_code == 0, verified.output
    on_its_own = runner.invoke(args=["backup", "verify", str(backup_file)])
    assert on_its_own.exit_code == 0, on_its_own.output


def test_a_changed_row_in_the_restored_copy_fails_verification_and_names_its_table(app, runner, tmp_path, restore_url):
    made = _populate(app)
    backup_file, _ = _restored(runner, tmp_path, restore_url)
    _execute(restore_url, "UPDATE offers SET location = 'Somewhere else' WHERE id = :id", id=made["offer_id"])

    result = runner.invoke(args=["backup", "verify", str(backup_file), "--against", restore_url])

    assert result.exit_code == 1, result.output
    assert "VERIFICATION FAILED: 1 difference(s):" in result.output
    assert "  offers: the rows differ from the backup (same count, 2; checksum differs)" in result.output


def test_a_missing_row_and_changed_document_bytes_are_each_named(app, runner, tmp_path, restore_url):
    made = _populate(app)
    backup_file, _ = _restored(runner, tmp_path, restore_url)
    _execute(restore_url, "DELETE FROM attendance_marks WHERE code = 'O'")
    _execute(
        restore_url,
        "UPDATE compliance_documents SET content = :content WHERE id = :id",
        content=b"%PDF-other",
        id=made["document_id"],
    )

    result = runner.invoke(args=["backup", "verify", str(backup_file), "--against", restore_url])

    assert result.exit_code == 1, result.output
    assert "  attendance_marks: 2 rows, the backup has 3" in result.output
    assert "  compliance_documents: the rows differ from the backup" in result.output
    assert (
        f"1 document(s) whose bytes do not match the SHA-256 kept at upload (ids {made['document_id']})"
        in result.output
    )


def test_a_restore_into_a_database_with_tables_is_refused_and_changes_nothing(app, runner, tmp_path, database_url):
    made = _populate(app)
    backup_file = tmp_path / "portal.backup"
    _create(runner, backup_file)
    _execute(
        database_url, "UPDATE offers SET location = 'Changed since the backup' WHERE id = :id", id=made["offer_id"]
    )

    # Into the suite's own database (the configured one, the default target): it has tables.
    result = runner.invoke(args=["backup", "restore", str(backup_file)])

    assert result.exit_code == 2
    assert "already has tables" in result.output and "restored only into an empty database" in result.output
    location = _scalar(database_url, "SELECT location FROM offers WHERE id = :id", id=made["offer_id"])
    assert location == "Changed since the backup"


def test_a_damaged_backup_file_is_refused(app, runner, tmp_path, restore_url):
    _populate(app)
    backup_file = tmp_path / "portal.backup"
    _create(runner, backup_file)
    with backup_file.open("ab") as handle:
        handle.write(b"\0")

    result = runner.invoke(args=["backup", "restore", str(backup_file), "--into", restore_url])

    assert result.exit_code == 2
    assert "does not match the SHA-256 in its manifest" in result.output
    assert "changed or damaged" in result.output


def test_a_backup_without_its_manifest_is_refused(app, runner, tmp_path, restore_url):
    backup_file = tmp_path / "portal.backup"
    _create(runner, backup_file)
    backup_service.manifest_path(backup_file).unlink()

    result = runner.invoke(args=["backup", "restore", str(backup_file), "--into", restore_url])

    assert result.exit_code == 2 and "no manifest at" in result.output


def test_backup_files_are_private_and_never_overwritten(app, runner, tmp_path):
    backup_file = tmp_path / "portal.backup"
    _create(runner, backup_file)
    for path in (backup_file, backup_service.manifest_path(backup_file)):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path

    again = runner.invoke(args=["backup", "create", "--to", str(backup_file)])

    assert again.exit_code == 2 and "already exists" in again.output


def test_a_database_password_is_never_printed(app, runner, tmp_path, database_url):
    backup_file = tmp_path / "portal.backup"
    _create(runner, backup_file)
    # On PostgreSQL a database that does not exist; on SQLite a database of the other kind: both are refused.
    url = sa.make_url(database_url)
    other = "postgresql://portal:Sup3r-secret-pw@127.0.0.1:5432/"
    into = other + (f"{url.database}_no_such_database" if url.get_backend_name() == "postgresql" else "portal")

    result = runner.invoke(args=["backup", "restore", str(backup_file), "--into", into])

    assert result.exit_code == 2
    assert "Sup3r-secret-pw" not in result.output
    assert "portal:***@127.0.0.1" in result.output


def test_the_checksum_reads_rows_by_primary_key_and_tells_values_apart():
    """The same rows written in another order give the same checksum; a value moved across a column boundary
    ('x', 'yz' against 'xy', 'z') does not."""
    engine = sa.create_engine("sqlite://")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b TEXT)"))
        conn.execute(sa.text("CREATE TABLE u (id INTEGER PRIMARY KEY, a TEXT, b TEXT)"))
        conn.execute(sa.text("INSERT INTO t VALUES (2, 'x', 'yz'), (1, 'p', 'q')"))
        conn.execute(sa.text("INSERT INTO u VALUES (1, 'p', 'q'), (2, 'x', 'yz')"))
        before = backup_service.table_sums(conn)
        conn.execute(sa.text("UPDATE t SET a = 'xy', b = 'z' WHERE id = 2"))
        moved = backup_service.table_sums(conn)
    assert before["t"] == before["u"] and before["t"].rows == 2
    assert moved["t"].sha256 != before["t"].sha256


def test_a_write_while_the_backup_runs_is_in_neither_the_file_nor_the_manifest(
    app, runner, tmp_path, restore_url, database_url, monkeypatch
):
    """The manifest describes the file, not the live database a moment later: a row committed after the copy was
    taken but before the checksums are read (PostgreSQL: they are read in pg_dump's own snapshot; SQLite: from the
    copy) must not be counted, or every restore of a busy portal would fail its check."""
    _populate(app)
    read_checksums = backup_service._snapshot

    def write_first_then_read(conn):
        _execute(database_url, "INSERT INTO council_services (name) VALUES ('Written during the backup')")
        return read_checksums(conn)

    monkeypatch.setattr(backup_service, "_snapshot", write_first_then_read)
    backup_file = tmp_path / "portal.backup"
    _create(runner, backup_file)
    monkeypatch.setattr(backup_service, "_snapshot", read_checksums)

    result = runner.invoke(args=["backup", "restore", str(backup_file), "--into", restore_url])

    assert result.exit_code == 0, result.output
    count = "SELECT count(*) FROM council_services WHERE name = 'Written during the backup'"
    assert (_scalar(database_url, count), _scalar(restore_url, count)) == (1, 0)
