"""flask audit verify: "Audit chain intact: N events" and exit 0, or the first broken link and exit 1."""

from __future__ import annotations

import sqlalchemy as sa

from portal.extensions import db
from portal.services import audit
from portal.services.audit import Events


def _add_events(app, count: int) -> list[int]:
    with app.app_context():
        entries = [audit.record(Events.SIGN_IN_FAILED, actor_label=f"p{n}@example.test") for n in range(count)]
        db.session.commit()
        return [entry.id for entry in entries]


def _sql(app, statement: str, **params) -> None:
    with app.app_context():
        db.session.execute(sa.text(statement), params)
        db.session.commit()


def test_an_intact_chain_exits_0(app, runner):
    _add_events(app, 3)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Audit chain intact: 3 events"


def test_an_empty_trail_is_intact(app, runner):
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and result.output.strip() == "Audit chain intact: 0 events"


def test_a_changed_event_exits_1_and_is_named(app, runner):
    ids = _add_events(app, 4)
    _sql(app, "UPDATE audit_events SET actor_label = 'someone-else@example.test' WHERE id = :id", id=ids[1])
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"Audit chain broken: event seq 2 (id {ids[1]}) was changed" in result.output


def test_a_deleted_event_exits_1_and_is_named(app, runner):
    ids = _add_events(app, 4)
    _sql(app, "DELETE FROM audit_events WHERE id = :id", id=ids[2])
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "Audit chain broken: the event after seq 2 is missing" in result.output


def test_an_inserted_event_exits_1_and_is_named(app, runner):
    _add_events(app, 2)
    _sql(
        app,
        "INSERT INTO audit_events (occurred_at, event, actor_label, reason, details) "
        "VALUES ('2026-03-10 12:00:00.000000', 'sign-in succeeded', 'intruder@example.test', '', '{}')",
    )
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "is not in the chain: it was inserted" in result.output
