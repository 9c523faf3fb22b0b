"""The key pages' queries use indexes: each statement a page (and its htmx fragment) and the attendance alerts job
send is captured with its parameters and explained; a large table read in full where an index could have narrowed
the read fails the test.

On PostgreSQL the plan is asked for with sequential scans, hash and merge joins off, so the planner takes an index
(and probes it row by row) whenever one can serve, even on the few rows a test makes. A ``Seq Scan`` left in the plan
fails, and so does an index walked from end to end (its condition does not name the index's first column) to apply a
restriction that no index on the table leads with: ``day`` looked up in the (placement_id, day, session) constraint.
On SQLite, ``EXPLAIN QUERY PLAN`` saying ``SCAN <table>`` without ``USING INDEX`` fails.

The data is small and made by the factories; the point is the plan's shape, not its cost. The pages' query shapes
change (fewer statements, new joins): the statements are captured live, so this test follows them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from portal import clock
from portal.extensions import db
from portal.models import Role
from portal.services import attendance
from tests.factories import make_user
from tests.factories_calloff import make_offer, make_referral, publish
from tests.helpers import sign_in
from tests.unit.test_caseload_service import TODAY, alert, concern, end, marks, place, report, world

# 10:00 in London on TODAY (a Wednesday in February, so GMT): placements running, the morning deadline not yet past.
NOW = datetime(TODAY.year, TODAY.month, TODAY.day, 10, 0, tzinfo=UTC)
AFTERNOON = NOW + timedelta(hours=6)

# The tables that grow with the years a DPS is kept (offers and attendance into the hundreds of thousands and
# millions), and the two read on every request.
LARGE_TABLES = frozenset(
    {
        "referrals",
        "invitations",
        "offers",
        "placements",
        "attendance_marks",
        "attendance_alerts",
        "audit_events",
        "notifications",
        "user_sessions",
    }
)


# Full reads that no index can remove, or that only a planner without row counts picks, each with the reason:
# (words of the page's name, table, the dialect or None for both). Keep this short: a new entry needs a reason here
# and a line in the report to the lead.
KNOWN_FULL_READS = {
    ("audit by", "audit_events", "sqlite"): "the record search matches inside the JSON details; PostgreSQL serves it "
    "with the GIN index on details as jsonb (migration 0012), SQLite has no such index",
    ("referral list", "invitations", "postgresql"): "the stage column's 'an invited provider has not answered' "
    "EXISTS: on a few rows the planner hashes every open invitation once instead of probing "
    "uq_invitations_round_provider for each referral shown (the offer list's plan of the same EXISTS probes it)",
    ("oversight", "referrals", "sqlite"): "the offers-per-referral figure groups by referrals.id, so SQLite, which "
    "has no row counts, walks referrals in rowid order rather than by ix_referrals_deadline (PostgreSQL uses it)",
}


def known(source: str, table: str, dialect: str) -> bool:
    return any(
        words in source and table == known_table and known_dialect in (None, dialect)
        for words, known_table, known_dialect in KNOWN_FULL_READS
    )


@dataclass(frozen=True)
class Captured:
    source: str  # the page or job that sent it
    statement: str
    parameters: object


def capture(engine: sa.Engine, source: str, into: list[Captured]):
    """A listener that records each statement the engine sends, with its parameters, as coming from ``source``."""

    def before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
        if not executemany:
            into.append(Captured(source, statement, parameters))

    return before_cursor_execute


@pytest.fixture
def frozen(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: NOW)


@pytest.fixture
def world_ids(app, frozen):
    """An officer's caseload (a concern, low attendance, an overdue review, an ended placement, an alert), an open
    referral with offers from two of the lot's providers, a colleague's and another service's placements."""
    with app.app_context():
        w = world()
        place(w)
        low = place(w)
        marks(low, attended=7, absent=3)
        overdue = place(w, next_review_due=TODAY - timedelta(days=2))
        report(overdue, TODAY - timedelta(days=2), w.provider_user)
        worried = place(w)
        concern(worried)
        alert(worried)
        ended = place(w)
        end(ended)
        other = world()
        place(other)
        referral = make_referral(w.officer, w.lot)
        publish(referral, w.officer, now=NOW)
        make_offer(referral, w.provider, w.provider_user)
        second = make_user(Role.PROVIDER, provider=other.provider)
        make_offer(referral, other.provider, second)
        manager = make_user(Role.MANAGER)
        return {
            "officer": w.officer.email,
            "provider": w.provider_user.email,
            "manager": manager.email,
            "referral": referral.id,
            "placement": low.id,
            "child": low.child_id,
        }


def _fragment(target: str) -> dict[str, str]:
    return {"HX-Request": "true", "HX-Target": target}


# (who, what, path, headers): the five key pages and their fragments, then the other pages used all day.
PAGES = [
    ("officer", "offer list", "/officer/referrals/{referral}", {}),
    ("officer", "offer list fragment", "/officer/referrals/{referral}", _fragment("referral-offers")),
    ("provider", "opportunities", "/provider/opportunities", {}),
    ("provider", "opportunities fragment", "/provider/opportunities", _fragment("opportunity-results")),
    ("officer", "caseload", "/officer/placements", {}),
    ("officer", "caseload fragment", "/officer/placements?flag=any", _fragment("caseload-results")),
    ("officer", "directory", "/directory", {}),
    ("officer", "directory fragment", "/directory?lot=1", _fragment("directory-results")),
    ("manager", "oversight", "/manager/oversight", {}),
    ("manager", "oversight fragment", "/manager/oversight?period=this-year", _fragment("oversight-figures")),
    ("officer", "referral list", "/officer/referrals", {}),
    ("manager", "referral list", "/manager/referrals", {}),
    ("manager", "placements", "/manager/placements", {}),
    ("provider", "placements", "/provider/placements", {}),
    ("officer", "placement page", "/placements/{placement}", {}),
    ("provider", "attendance week", "/placements/{placement}/attendance", {}),
    ("manager", "audit", "/manager/audit", {}),
    ("manager", "audit by record", "/manager/audit?record=P{placement:05d}", _fragment("audit-results")),
    ("manager", "audit by child", "/manager/audit?record=child+{child}", {}),
    ("officer", "notification bell", "/notifications/count", _fragment("notification-bell")),
    ("officer", "notifications", "/notifications/", {}),
]


def capture_key_queries(app, ids: dict) -> list[Captured]:
    """Sign each role in, then request every page in PAGES and run the attendance alerts job, recording what each
    sends."""
    clients = {}
    for who in ("officer", "provider", "manager"):
        clients[who] = app.test_client()
        sign_in(clients[who], ids[who])
    with app.app_context():
        engine = db.engine
    captured: list[Captured] = []
    for who, what, path, headers in PAGES:
        url = path.format(**ids)
        listener = capture(engine, f"{who} {what} ({url})", captured)
        sa.event.listen(engine, "before_cursor_execute", listener)
        try:
            response = clients[who].get(url, headers=headers)
        finally:
            sa.event.remove(engine, "before_cursor_execute", listener)
        assert response.status_code == 200, f"{url} answered {response.status_code}"
    for when in (NOW, AFTERNOON):
        listener = capture(engine, f"attendance alerts at {when:%H:%M}", captured)
        with app.app_context():
            sa.event.listen(engine, "before_cursor_execute", listener)
            try:
                attendance.raise_alerts(when)
                db.session.rollback()
            finally:
                sa.event.remove(engine, "before_cursor_execute", listener)
    return captured


EXPLAINABLE = re.compile(r"^\s*(SELECT|WITH|UPDATE|DELETE)\b", re.IGNORECASE)


INDEX_SCANS = {"Index Scan", "Index Only Scan", "Bitmap Index Scan"}
# A column a condition names, perhaps qualified by its table or alias: "attendance_marks.day", "status".
COLUMN = re.compile(r"(?:\b(\w+)\.)?\b([a-z_]\w*)\b")


def postgresql_leading_columns(conn) -> tuple[dict[str, str], dict[str, set[str]]]:
    """Each index's table, and each table's columns that lead an index (the ones a condition can search by): a
    column, or the columns of an expression ("(details)::jsonb" leads with details)."""
    rows = conn.exec_driver_sql(
        "SELECT i.relname, t.relname, pg_get_indexdef(x.indexrelid, 1, true) FROM pg_index x "
        "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
        "JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = current_schema()"
    ).all()
    tables = {index: table for index, table, _ in rows}
    leading: dict[str, set[str]] = {}
    for _, table, key in rows:
        leading.setdefault(table, set()).update(_columns(key, {table}))
    return tables, leading


def _columns(condition: str, names: set[str]) -> set[str]:
    """The columns of this relation (unqualified, or qualified by one of ``names``) a condition mentions."""
    condition = re.sub(r"'(?:[^']|'')*'", "''", condition)  # not the words inside literals,
    condition = re.sub(r"::[a-z ]+(?:\[\])?", "", condition)  # nor the types of casts
    return {column for qualifier, column in COLUMN.findall(condition) if not qualifier or qualifier in names}


def _postgresql_full_reads(plan: dict, index_tables: dict[str, str], leading: dict[str, set[str]]) -> list[tuple]:
    """The large-table reads no index serves: a Seq Scan, or an index walked in full (its condition, if any, does
    not name the index's first column) to apply a restriction that no index on the table leads with. An index walked
    in full with no restriction at all is the query asking for every row (a total, a list of distinct values), not a
    missing index; the planner's pick between indexes on a few rows is not judged either."""
    found: list[tuple[str, str]] = []

    def walk(node: dict, relation: dict) -> None:
        kind = node["Node Type"]
        if kind == "Seq Scan":
            found.append((node["Relation Name"], "Seq Scan"))
        elif kind in INDEX_SCANS:
            table = index_tables[node["Index Name"]]
            names = {table, relation.get("Alias", table)}
            condition, restriction = node.get("Index Cond", ""), node.get("Filter", "") + relation.get("Filter", "")
            first = next(iter(_columns(condition, names) & leading[table]), None)
            wanted = _columns(condition + " " + restriction, names)
            if first is None and wanted and not wanted & leading[table]:
                found.append((table, f"{kind} of all of {node['Index Name']} for {', '.join(sorted(wanted))}"))
        for child in node.get("Plans", []):
            walk(child, node if kind == "Bitmap Heap Scan" else {})

    walk(plan, {})
    return found


def _postgresql_plan(conn, statement: str, parameters, schema) -> tuple[list[tuple[str, str]], str]:
    (row,) = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters).all()
    document = row[0] if not isinstance(row[0], str) else json.loads(row[0])
    reads = _postgresql_full_reads(document[0]["Plan"], *schema)
    text = "\n".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {statement}", parameters))
    return reads, text


# SQLite names the table read, then its alias if the query gave one: "SCAN offers", "SCAN offers AS offers_1",
# "SCAN offers USING COVERING INDEX ix_offers_provider_id".
SQLITE_SCAN = re.compile(r"^SCAN (?P<table>\w+)(?: AS \w+)?(?P<index> USING (?:COVERING )?INDEX .*)?$")


def _sqlite_plan(conn, statement: str, parameters) -> tuple[list[tuple[str, str]], str]:
    rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    details = [row[3] for row in rows]
    scans = []
    for detail in details:
        match = SQLITE_SCAN.match(detail)
        if match and not match.group("index"):
            scans.append((match.group("table"), detail))
    return scans, "\n".join(details)


@dataclass
class Finding:
    captured: Captured
    full_reads: list[tuple[str, str]]  # (table, how the plan reads all of it)
    plan: str

    def __str__(self) -> str:
        reads = "; ".join(sorted({f"{table} ({how})" for table, how in self.full_reads}))
        return (
            f"{self.captured.source} reads all of {reads}\n  {self.captured.statement}\n"
            f"  {self.captured.parameters!r}\n  " + self.plan.replace("\n", "\n  ")
        )


def explain_all(engine: sa.Engine, captured: list[Captured]) -> tuple[int, list[Finding]]:
    """Explain each distinct statement with its parameters; returns how many were explained and the statements
    whose plans read a large table in full."""
    explained, findings, seen = 0, [], set()
    with engine.connect() as conn:
        postgresql = conn.dialect.name == "postgresql"
        if postgresql:
            # An index whenever one can serve, however few the rows; no JIT lines in the plans shown.
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            conn.exec_driver_sql("SET LOCAL jit = off")
            conn.exec_driver_sql("SET LOCAL enable_hashjoin = off")
            conn.exec_driver_sql("SET LOCAL enable_mergejoin = off")
            schema = postgresql_leading_columns(conn)
        for item in captured:
            key = (item.statement, repr(item.parameters))
            if key in seen or not EXPLAINABLE.match(item.statement):
                continue
            seen.add(key)
            if postgresql:
                reads, plan = _postgresql_plan(conn, item.statement, item.parameters, schema)
            else:
                reads, plan = _sqlite_plan(conn, item.statement, item.parameters)
            explained += 1
            large = [
                (table, how)
                for table, how in reads
                if table in LARGE_TABLES and not known(item.source, table, conn.dialect.name)
            ]
            if large:
                findings.append(Finding(item, large, plan))
        conn.rollback()
    return explained, findings


def test_the_key_pages_read_large_tables_through_indexes(app, world_ids):
    captured = capture_key_queries(app, world_ids)
    with app.app_context():
        explained, findings = explain_all(db.engine, captured)
    print(f"{len(captured)} statements, {explained} explained")
    assert not findings, "\n\n".join(map(str, findings))


def test_the_check_finds_a_read_no_index_serves_and_passes_one_an_index_serves(app):
    """The check can fail: offers filtered by a column no index leads with are read in full, by their referral not."""
    unindexed = Captured("unindexed", "SELECT offers.id FROM offers WHERE offers.staffing_ratio = '1:3'", {})
    indexed = Captured("indexed", "SELECT offers.id FROM offers WHERE offers.referral_id = 7", {})
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            unindexed, indexed = (Captured(c.source, c.statement, ()) for c in (unindexed, indexed))
        explained, findings = explain_all(db.engine, [unindexed, indexed])
    assert explained == 2
    assert [(f.captured.source, [table for table, _ in f.full_reads]) for f in findings] == [("unindexed", ["offers"])]
