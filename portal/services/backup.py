"""Backups that restore: a copy of the whole database, a manifest beside it, and a check after every restore.

``create`` copies the database into one file: ``pg_dump -Fc`` on PostgreSQL, SQLite's online backup API on SQLite.
Beside it goes a manifest (``<backup>.manifest.json``): the backup file's SHA-256, the Alembic revision and, for
every table (``alembic_version`` included), its row count and a checksum of its rows in primary-key order. On
PostgreSQL the checksums are read in the very snapshot ``pg_dump`` copies (``pg_export_snapshot`` /
``pg_dump --snapshot``), so a portal busy writing meanwhile still gives a manifest that matches the file.

``restore`` refuses a damaged backup (its SHA-256 no longer matches the manifest) and a target database that already
has tables, copies the backup in (``pg_restore`` in one transaction, or the SQLite backup API), then ``verify``
recomputes every count and checksum on the restored database and lists each table that differs.

Uploaded compliance documents live in the database (``compliance_documents.content``), so the table checksum covers
their bytes; each document is also checked against the SHA-256 recorded when it was uploaded.

A checksum is the SHA-256 of the rows as the driver returns them, in a stable text form. It is the same for one
database before and after a round trip; SQLite and PostgreSQL need not agree (a date is text on one, a date on the
other). Plain arguments in (database URLs, paths), BackupError out; nothing here prints or needs a request.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa

MANIFEST_FORMAT = 1
MANIFEST_SUFFIX = ".manifest.json"
DOCUMENTS_TABLE = "compliance_documents"
ALEMBIC_TABLE = "alembic_version"
# Rows fetched at a time from a big table (PostgreSQL streams them through a server-side cursor).
STREAM_BATCH = 1000
# A document may be 10 MB: fetch few at a time.
DOCUMENT_BATCH = 20
# Backups hold children's personal data: readable by the owner only.
FILE_MODE = 0o600
DIRECTORY_MODE = 0o700


class BackupError(Exception):
    """The backup or restore cannot be done; the message says why and what to do."""


# --- URLs ----------------------------------------------------------------------------------------------------------


def database_url(url: str | sa.URL) -> sa.URL:
    """The URL with the driver the portal ships (psycopg 3 for a plain postgresql:// URL)."""
    parsed = sa.make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def shown_url(url: str | sa.URL) -> str:
    """The URL to print or log: never its password."""
    return sa.make_url(url).render_as_string(hide_password=True)


def _dialect(url: sa.URL) -> str:
    backend = url.get_backend_name()
    if backend not in {"postgresql", "sqlite"}:
        raise BackupError(f"backups support PostgreSQL and SQLite, not {backend}")
    return backend


def _sqlite_path(url: sa.URL) -> Path:
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        raise BackupError(f"{shown_url(url)} is not a SQLite database file")
    return Path(url.database)


def _libpq(url: sa.URL) -> tuple[str, dict[str, str]]:
    """(connection URI for pg_dump/pg_restore, environment): the password goes in PGPASSWORD, never on a command line
    that any local user could read in the process list."""
    conninfo = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    return conninfo, env


def _sqlite_readonly_engine(path: Path) -> sa.Engine:
    """An engine that opens the file read-only (nothing, not even a journal, is written to it)."""
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    return sa.create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True), poolclass=sa.pool.NullPool)


# --- Checksums -----------------------------------------------------------------------------------------------------


def _feed(hasher, value) -> None:
    """Add one value to the hash in a stable text form: a type letter, then the value (length-prefixed where it could
    contain the separator), so no two different rows can give the same bytes."""
    if value is None:
        hasher.update(b"N;")
        return
    if isinstance(value, bool):
        hasher.update(b"B1;" if value else b"B0;")
        return
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        hasher.update(b"X%d:" % len(data))
        hasher.update(data)
        return
    if isinstance(value, int):
        text = f"I{value}"
    elif isinstance(value, float):
        text = f"F{value!r}"
    elif isinstance(value, Decimal):
        text = f"D{value}"
    elif isinstance(value, datetime):
        # The session's time zone must not matter: an aware timestamp is written in UTC.
        text = "T" + (value.astimezone(UTC) if value.tzinfo else value).isoformat()
    elif isinstance(value, (date, time)):
        text = "T" + value.isoformat()
    elif isinstance(value, (dict, list, tuple)):
        text = "J" + json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    else:
        text = "S" + str(value)
    data = text.encode("utf-8")
    hasher.update(b"%d:" % len(data))
    hasher.update(data)


@dataclass(frozen=True)
class TableSum:
    rows: int
    sha256: str


def _order_by(inspector, conn: sa.Connection, table: str) -> list:
    columns = inspector.get_columns(table)
    key = inspector.get_pk_constraint(table).get("constrained_columns") or [c["name"] for c in columns]
    types = {c["name"]: c["type"] for c in columns}
    order = []
    for name in key:
        column = sa.column(name)
        # Text keys in byte order on PostgreSQL, whatever the server's collation: a restore onto another server
        # must read the rows in the same order.
        if conn.dialect.name == "postgresql" and isinstance(types.get(name), sa.String):
            column = sa.collate(column, "C")
        order.append(column)
    return order


def _table_sum(conn: sa.Connection, inspector, table: str) -> TableSum:
    hasher = hashlib.sha256()
    rows = 0
    # SELECT * with no column types: the values come as the driver gives them, not as a model would convert them.
    statement = sa.select(sa.text("*")).select_from(sa.table(table)).order_by(*_order_by(inspector, conn, table))
    result = conn.execution_options(stream_results=conn.dialect.name == "postgresql").execute(statement)
    for batch in result.partitions(STREAM_BATCH):
        for row in batch:
            for value in row:
                _feed(hasher, value)
            hasher.update(b"\n")
            rows += 1
    return TableSum(rows=rows, sha256=hasher.hexdigest())


def table_sums(conn: sa.Connection) -> dict[str, TableSum]:
    """Every table's row count and checksum, by table name (read them in one transaction for a consistent picture)."""
    inspector = sa.inspect(conn)
    return {table: _table_sum(conn, inspector, table) for table in sorted(inspector.get_table_names())}


@dataclass(frozen=True)
class DocumentCheck:
    """The uploaded documents, each hashed again: ids whose bytes no longer match the SHA-256 kept at upload."""

    count: int
    mismatched: tuple[int, ...] = ()


def check_documents(conn: sa.Connection) -> DocumentCheck:
    if DOCUMENTS_TABLE not in sa.inspect(conn).get_table_names():
        return DocumentCheck(count=0)
    statement = sa.text(f"SELECT id, sha256, content FROM {DOCUMENTS_TABLE} ORDER BY id")
    result = conn.execution_options(stream_results=conn.dialect.name == "postgresql").execute(statement)
    count, mismatched = 0, []
    for batch in result.partitions(DOCUMENT_BATCH):
        for document_id, sha256, content in batch:
            count += 1
            if content is None or hashlib.sha256(bytes(content)).hexdigest() != sha256:
                mismatched.append(document_id)
    return DocumentCheck(count=count, mismatched=tuple(mismatched))


def _alembic_revision(conn: sa.Connection) -> str | None:
    if ALEMBIC_TABLE not in sa.inspect(conn).get_table_names():
        return None
    revisions = conn.execute(sa.text(f"SELECT version_num FROM {ALEMBIC_TABLE} ORDER BY version_num")).scalars().all()
    return ",".join(revisions) or None


@dataclass
class Snapshot:
    """What a database holds, in the terms a manifest records."""

    tables: dict[str, TableSum]
    documents: DocumentCheck
    alembic_revision: str | None

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables.values())


def _snapshot(conn: sa.Connection) -> Snapshot:
    return Snapshot(tables=table_sums(conn), documents=check_documents(conn), alembic_revision=_alembic_revision(conn))


def _read_transaction(engine: sa.Engine):
    """A connection whose reads all see one moment (on PostgreSQL a read-only REPEATABLE READ transaction)."""
    if engine.dialect.name == "postgresql":
        return engine.connect().execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    return engine.connect()


def snapshot_of(url: str | sa.URL) -> Snapshot:
    """Count and checksum every table of the database at url."""
    url = database_url(url)
    if _dialect(url) == "sqlite" and not _sqlite_path(url).is_file():
        raise BackupError(f"there is no database at {_sqlite_path(url)}")
    # A live SQLite database may be in WAL mode, which a read-only connection cannot always open: only reads are sent.
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with _read_transaction(engine) as conn, conn.begin():
            return _snapshot(conn)
    except sa.exc.OperationalError as error:
        raise BackupError(f"cannot read {shown_url(url)}: {_reason(error)}") from error
    finally:
        engine.dispose()


def _reason(error: sa.exc.DBAPIError) -> str:
    lines = [line.strip() for line in str(error.orig).splitlines() if line.strip()]
    return lines[-1] if lines else type(error.orig).__name__


# --- The manifest --------------------------------------------------------------------------------------------------


def manifest_path(backup_path: str | Path) -> Path:
    backup_path = Path(backup_path)
    return backup_path.with_name(backup_path.name + MANIFEST_SUFFIX)


def file_sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


@dataclass
class Manifest:
    database: str  # "postgresql" or "sqlite"
    source: str  # the database backed up, password hidden
    created_at: str
    tool: str
    backup_file: str
    backup_bytes: int
    backup_sha256: str
    snapshot: Snapshot

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": MANIFEST_FORMAT,
                "database": self.database,
                "source": self.source,
                "created_at": self.created_at,
                "tool": self.tool,
                "backup_file": self.backup_file,
                "backup_bytes": self.backup_bytes,
                "backup_sha256": self.backup_sha256,
                "alembic_revision": self.snapshot.alembic_revision,
                "tables": {name: {"rows": t.rows, "sha256": t.sha256} for name, t in self.snapshot.tables.items()},
                "documents": {
                    "count": self.snapshot.documents.count,
                    "sha256_mismatched_ids": list(self.snapshot.documents.mismatched),
                },
            },
            indent=2,
        )

    @classmethod
    def load(cls, path: Path) -> Manifest:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != MANIFEST_FORMAT:
                raise BackupError(f"{path} is a manifest of format {data.get('format')!r}, not {MANIFEST_FORMAT}")
            snapshot = Snapshot(
                tables={name: TableSum(rows=t["rows"], sha256=t["sha256"]) for name, t in data["tables"].items()},
                documents=DocumentCheck(
                    count=data["documents"]["count"], mismatched=tuple(data["documents"]["sha256_mismatched_ids"])
                ),
                alembic_revision=data["alembic_revision"],
            )
            return cls(
                database=data["database"],
                source=data["source"],
                created_at=data["created_at"],
                tool=data["tool"],
                backup_file=data["backup_file"],
                backup_bytes=data["backup_bytes"],
                backup_sha256=data["backup_sha256"],
                snapshot=snapshot,
            )
        except FileNotFoundError as error:
            raise BackupError(
                f"no manifest at {path}: a backup is restored only with the manifest made beside it"
            ) from error
        except (ValueError, KeyError, TypeError) as error:
            raise BackupError(f"the manifest {path} cannot be read ({type(error).__name__}: {error})") from error


def _write_private(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
    os.replace(partial, path)


# --- Verification --------------------------------------------------------------------------------------------------


@dataclass
class Report:
    """A comparison of a database (or a backup file) with a manifest: empty ``differences`` means they match."""

    manifest: Manifest
    actual: Snapshot | None = None
    differences: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences


def compare(manifest: Manifest, actual: Snapshot) -> Report:
    report = Report(manifest=manifest, actual=actual)
    expected = manifest.snapshot
    for table in sorted(set(expected.tables) | set(actual.tables)):
        want, got = expected.tables.get(table), actual.tables.get(table)
        if got is None:
            report.differences.append(f"{table}: missing (the backup has {want.rows} rows)")
        elif want is None:
            report.differences.append(f"{table}: not in the backup ({got.rows} rows here)")
        elif want.rows != got.rows:
            report.differences.append(f"{table}: {got.rows} rows, the backup has {want.rows}")
        elif want.sha256 != got.sha256:
            report.differences.append(
                f"{table}: the rows differ from the backup (same count, {got.rows}; checksum differs)"
            )
    if expected.alembic_revision != actual.alembic_revision:
        report.differences.append(
            f"{ALEMBIC_TABLE}: revision {actual.alembic_revision}, the backup has {expected.alembic_revision}"
        )
    if actual.documents.mismatched:
        ids = ", ".join(str(i) for i in actual.documents.mismatched[:10])
        report.differences.append(
            f"{DOCUMENTS_TABLE}: {len(actual.documents.mismatched)} document(s) whose bytes do not match the SHA-256 "
            f"kept at upload (ids {ids})"
        )
    return report


def _check_file(backup_path: Path, manifest: Manifest) -> None:
    if not backup_path.is_file():
        raise BackupError(f"no backup file at {backup_path}")
    if file_sha256(backup_path) != manifest.backup_sha256:
        raise BackupError(
            f"{backup_path} does not match the SHA-256 in its manifest: the file was changed or damaged after the "
            "backup was made, so it is not restored"
        )


def load_backup(backup_path: str | Path) -> tuple[Path, Manifest]:
    """The backup file and its manifest, the file's SHA-256 checked against the manifest."""
    backup_path = Path(backup_path)
    manifest = Manifest.load(manifest_path(backup_path))
    _check_file(backup_path, manifest)
    return backup_path, manifest


def verify_database(backup_path: str | Path, url: str | sa.URL) -> Report:
    """Compare the database at url (a restored copy) with the backup's manifest."""
    _, manifest = load_backup(backup_path)
    url = database_url(url)
    if _dialect(url) != manifest.database:
        raise BackupError(f"the backup is of a {manifest.database} database; {shown_url(url)} is {_dialect(url)}")
    return compare(manifest, snapshot_of(url))


def verify_file(backup_path: str | Path) -> Report:
    """Check a backup file on its own: its SHA-256; for SQLite also every table in it; for PostgreSQL that pg_restore
    can read its table of contents."""
    backup_path, manifest = load_backup(backup_path)
    if manifest.database == "sqlite":
        engine = _sqlite_readonly_engine(backup_path)
        try:
            with engine.connect() as conn, conn.begin():
                return compare(manifest, _snapshot(conn))
        finally:
            engine.dispose()
    _run([_tool("pg_restore"), "--list", str(backup_path)], env=dict(os.environ), what="pg_restore --list")
    return Report(manifest=manifest)


# --- External tools ------------------------------------------------------------------------------------------------


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not installed (on Debian: apt-get install postgresql-client)")
    return path


def _run(command: list[str], *, env: dict[str, str], what: str) -> str:
    completed = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        detail = completed.stderr.strip() or completed.stdout.strip() or f"exit status {completed.returncode}"
        raise BackupError(f"{what} failed: {detail}")
    return completed.stdout


def _tool_version(name: str) -> str:
    return _run([_tool(name), "--version"], env=dict(os.environ), what=f"{name} --version").strip()


# --- Create --------------------------------------------------------------------------------------------------------


def default_backup_name(url: str | sa.URL, now: datetime | None = None) -> str:
    url = database_url(url)
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"portal-{stamp}.{'dump' if _dialect(url) == 'postgresql' else 'sqlite3'}"


def _prepare_target_file(backup_path: Path) -> Path:
    if backup_path.exists() or manifest_path(backup_path).exists():
        raise BackupError(f"{backup_path} (or its manifest) already exists: choose a new file name")
    if not backup_path.parent.exists():
        backup_path.parent.mkdir(parents=True, mode=DIRECTORY_MODE)
    partial = backup_path.with_name(backup_path.name + ".partial")
    partial.unlink(missing_ok=True)
    # Private from the first byte: pg_dump and SQLite write into this file and keep its mode.
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    return partial


def create(url: str | sa.URL, backup_path: str | Path, *, now: datetime | None = None) -> Manifest:
    """Back up the database at url into backup_path and write the manifest beside it."""
    url = database_url(url)
    backup_path = Path(backup_path)
    partial = _prepare_target_file(backup_path)
    try:
        if _dialect(url) == "postgresql":
            snapshot, tool = _create_postgresql(url, partial)
        else:
            snapshot, tool = _create_sqlite(url, partial)
        manifest = Manifest(
            database=_dialect(url),
            source=shown_url(url),
            created_at=(now or datetime.now(UTC)).isoformat(timespec="seconds"),
            tool=tool,
            backup_file=backup_path.name,
            backup_bytes=partial.stat().st_size,
            backup_sha256=file_sha256(partial),
            snapshot=snapshot,
        )
        os.replace(partial, backup_path)
    finally:
        partial.unlink(missing_ok=True)
    _write_private(manifest_path(backup_path), manifest.to_json())
    return manifest


def _create_postgresql(url: sa.URL, partial: Path) -> tuple[Snapshot, str]:
    pg_dump = _tool("pg_dump")
    tool = _tool_version("pg_dump")
    conninfo, env = _libpq(url)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with _read_transaction(engine) as conn, conn.begin():
            # pg_dump copies exactly what this transaction sees, and the checksums are read in it too: the manifest
            # describes the file even while the portal keeps writing.
            snapshot_id = conn.scalar(sa.text("SELECT pg_export_snapshot()"))
            _run(
                [pg_dump, "--format=custom", f"--snapshot={snapshot_id}", f"--file={partial}", f"--dbname={conninfo}"],
                env=env,
                what="pg_dump",
            )
            return _snapshot(conn), tool
    except sa.exc.OperationalError as error:
        raise BackupError(f"cannot read {shown_url(url)}: {_reason(error)}") from error
    finally:
        engine.dispose()


def _create_sqlite(url: sa.URL, partial: Path) -> tuple[Snapshot, str]:
    source_path = _sqlite_path(url)
    if not source_path.is_file():
        raise BackupError(f"there is no database at {source_path}")
    source = sqlite3.connect(source_path)
    target = sqlite3.connect(partial)
    try:
        # The online backup API: a consistent copy while the portal keeps running (SQLite restarts the copy if a
        # write lands in the middle).
        source.backup(target)
        # One self-contained file: a rollback journal, not WAL, so reading the copy never writes beside it.
        target.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.DatabaseError as error:
        raise BackupError(f"cannot back up {source_path}: {error}") from error
    finally:
        target.close()
        source.close()
    engine = _sqlite_readonly_engine(partial)
    try:
        with engine.connect() as conn, conn.begin():
            return _snapshot(conn), f"sqlite3 {sqlite3.sqlite_version}"
    finally:
        engine.dispose()


# --- Restore -------------------------------------------------------------------------------------------------------


def _some(names: list[str]) -> str:
    """Up to three names, and an ellipsis when there are more."""
    return ", ".join(names[:3]) + (" …" if len(names) > 3 else "")


def _refuse_unless_empty_postgresql(url: sa.URL) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            tables = (
                conn.execute(
                    sa.text(
                        "SELECT table_schema || '.' || table_name FROM information_schema.tables "
                        "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1 LIMIT 4"
                    )
                )
                .scalars()
                .all()
            )
    except sa.exc.OperationalError as error:
        raise BackupError(
            f"cannot connect to {shown_url(url)} ({_reason(error)}); a restore goes into an existing, empty "
            "database: create it first (createdb NAME)"
        ) from error
    finally:
        engine.dispose()
    if tables:
        raise BackupError(
            f"{shown_url(url)} already has tables ({_some(tables)}): a backup is restored only into an empty "
            "database, so nothing is overwritten"
        )


def _refuse_unless_empty_sqlite(path: Path) -> None:
    if not path.exists() or path.stat().st_size == 0:
        return
    try:
        connection = sqlite3.connect(path)
        try:
            tables = [
                row[0]
                for row in connection.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name LIMIT 4"
                )
            ]
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{path} exists and is not an empty SQLite database ({error})") from error
    if tables:
        raise BackupError(
            f"{path} already has tables ({_some(tables)}): a backup is restored only into an empty database, "
            "so nothing is overwritten"
        )


def restore(backup_path: str | Path, url: str | sa.URL) -> Report:
    """Restore the backup into the empty database at url, then compare it with the manifest."""
    backup_path, manifest = load_backup(backup_path)
    url = database_url(url)
    if _dialect(url) != manifest.database:
        raise BackupError(f"the backup is of a {manifest.database} database; {shown_url(url)} is {_dialect(url)}")
    if manifest.database == "postgresql":
        _refuse_unless_empty_postgresql(url)
        conninfo, env = _libpq(url)
        _run(
            [
                _tool("pg_restore"),
                # All or nothing: a failure half way leaves the target as empty as it was.
                "--single-transaction",
                "--exit-on-error",
                # The roles of the source server need not exist here.
                "--no-owner",
                "--no-privileges",
                f"--dbname={conninfo}",
                str(backup_path),
            ],
            env=env,
            what="pg_restore",
        )
    else:
        target_path = _sqlite_path(url)
        _refuse_unless_empty_sqlite(target_path)
        target_path.parent.mkdir(parents=True, exist_ok=True)
        source = sqlite3.connect(f"file:{quote(str(backup_path.resolve()))}?mode=ro", uri=True)
        target = sqlite3.connect(target_path)
        try:
            source.backup(target)
        except sqlite3.DatabaseError as error:
            raise BackupError(f"cannot restore into {target_path}: {error}") from error
        finally:
            target.close()
            source.close()
    return compare(manifest, snapshot_of(url))


def describe(report: Report) -> Iterable[str]:
    """The lines a person reads: what was compared, and every difference."""
    manifest, actual = report.manifest, report.actual
    made = f"made {manifest.created_at} from {manifest.source} with {manifest.tool}"
    if actual is None:
        yield f"The backup file matches its manifest (SHA-256 {manifest.backup_sha256[:16]}…, {made})."
        return
    yield (
        f"Compared {len(actual.tables)} tables ({actual.rows:,} rows, alembic revision {actual.alembic_revision}) "
        f"with the manifest of the backup {made}."
    )
    if report.ok:
        yield "Every table's row count and checksum match the backup."
        yield f"{actual.documents.count} uploaded document(s), each matching the SHA-256 kept at upload."
        return
    yield f"VERIFICATION FAILED: {len(report.differences)} difference(s):"
    for line in report.differences:
        yield f"  {line}"
