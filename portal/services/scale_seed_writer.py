"""Bulk writing for the scale generator (portal.services.scale_seed): rows are buffered as tuples per table and written
in batches, with COPY on PostgreSQL and a Core ``insert()`` executemany on SQLite. Never through ORM objects.

Every buffer is written at once, parents before children (the metadata's dependency order), so a child row never
reaches the database before the row it references. Ids are assigned here (from the table's current max id + 1), so
child rows can name their parents without reading anything back; PostgreSQL's sequences are moved past them at the
end (``reset_sequences``).
"""

from __future__ import annotations

import enum
import json
from collections import Counter
from collections.abc import Callable

import sqlalchemy as sa

from portal.encryption import EncryptedString, encrypt
from portal.models import Base

# Tables written with COPY may not hold a JSON column as a dict: psycopg has no text dumper for it.
_JSON_TYPES = (sa.JSON,)


class BulkWriter:
    def __init__(self, connection: sa.Connection, batch_rows: int, on_flush: Callable[[], None] | None = None):
        self.connection = connection
        self.postgresql = connection.dialect.name == "postgresql"
        self.batch_rows = batch_rows
        self.on_flush = on_flush
        self.tables = Base.metadata.tables
        self.order = [table.name for table in Base.metadata.sorted_tables]
        self.columns: dict[str, tuple[str, ...]] = {}
        self.buffers: dict[str, list[tuple]] = {}
        self.buffered = 0
        self.counts: Counter[str] = Counter()
        self._next_ids: dict[str, int] = {}

    # --- Ids -----------------------------------------------------------------------------------------------------

    def next_id(self, table: str) -> int:
        """The next id of the table: one past the largest already there, then counting up."""
        if table not in self._next_ids:
            column = self.tables[table].c.id
            self._next_ids[table] = (self.connection.scalar(sa.select(sa.func.max(column))) or 0) + 1
        value = self._next_ids[table]
        self._next_ids[table] = value + 1
        return value

    # --- Rows ----------------------------------------------------------------------------------------------------

    def declare(self, table: str, columns: tuple[str, ...]) -> None:
        """Fix the columns (and their order) of the tuples ``add`` takes for the table: for the large tables, whose
        rows are built as tuples directly. Columns left out get their database default (an id from the sequence)."""
        self.columns[table] = columns
        self.buffers.setdefault(table, [])

    def add(self, table: str, row: tuple) -> None:
        self.buffers[table].append(row)
        self.buffered += 1
        if self.buffered >= self.batch_rows:
            self.flush()

    def put(self, table: str, **values) -> None:
        """One row given by column name; an id not given is the next one, another column not given takes its scalar
        default, or NULL. A column whose default is computed (a timestamp) must be given, so nothing depends on the
        clock."""
        if table not in self.columns:
            self.declare(table, tuple(column.name for column in self.tables[table].columns))
        if "id" in self.columns[table] and "id" not in values:
            values["id"] = self.next_id(table)
        row = []
        for name in self.columns[table]:
            if name in values:
                value = values.pop(name)
            else:
                column = self.tables[table].c[name]
                default = column.default
                if default is not None and default.is_scalar:
                    value = default.arg
                elif default is not None or (not column.nullable and not column.primary_key):
                    raise ValueError(f"{table}.{name} must be given")
                else:
                    value = None
            row.append(value.value if isinstance(value, enum.Enum) else value)
        if values:
            raise ValueError(f"{table} has no column {sorted(values)}")
        self.add(table, tuple(row))

    # --- Writing -------------------------------------------------------------------------------------------------

    def flush(self) -> None:
        """Write every buffer, parents first."""
        for table in self.order:
            rows = self.buffers.get(table)
            if rows:
                self._write(table, self.columns[table], rows)
                self.counts[table] += len(rows)
                self.buffers[table] = []
        self.buffered = 0
        if self.on_flush is not None:
            self.on_flush()

    def _write(self, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
        if self.postgresql:
            types = [self.tables[table].c[name].type for name in columns]
            json_at = [i for i, kind in enumerate(types) if isinstance(kind, _JSON_TYPES)]
            # COPY bypasses the column types, so a secret is encrypted here as EncryptedString would.
            encrypted_at = [i for i, kind in enumerate(types) if isinstance(kind, EncryptedString)]
            cursor = self.connection.connection.driver_connection.cursor()
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    if json_at or encrypted_at:
                        row = list(row)
                        for i in json_at:
                            row[i] = json.dumps(row[i])
                        for i in encrypted_at:
                            row[i] = None if row[i] is None else encrypt(row[i])
                    copy.write_row(row)
            cursor.close()
        else:
            self.connection.execute(
                sa.insert(self.tables[table]), [dict(zip(columns, row, strict=True)) for row in rows]
            )

    def reset_sequences(self) -> None:
        """PostgreSQL: move each written table's id sequence past the ids written (SQLite needs nothing)."""
        if not self.postgresql:
            return
        for table in self.counts:
            if "id" not in self.tables[table].c or not self.tables[table].c.id.autoincrement:
                continue
            self.connection.execute(
                sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                )
            )
