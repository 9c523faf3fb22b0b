"""flask audit verify: "Audit chain intact: N events" and exit 0, or the first broken link and exit 1; flask audit
anchor, and verify --anchor catching a chain rewritten with every hash recomputed."""

from __future__ import annotations

import re

import sqlalchemy as sa

from portal.extensions import db
from portal.services import audit, audit_chain
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


# ---- Anchors: the head kept away from the database ------------------------------------------------------------------


def _anchor(runner) -> str:
    result = runner.invoke(args=["audit", "anchor"])
    assert result.exit_code == 0, result.output
    match = re.fullmatch(r"audit anchor (\d+:[0-9a-f]{64}) at \S+", result.output.strip())
    assert match, result.output
    return match.group(1)


def _rewrite_the_chain(app) -> None:
    """What someone with write access to the database alone could do: recompute every hash and the head."""
    with app.app_context():
        audit_chain.chain_existing(db.session.connection())
        db.session.commit()


def test_the_anchor_is_the_head_and_verify_checks_it(app, runner):
    assert (
        runner.invoke(args=["audit", "anchor"]).output.strip()
        == "The audit trail is empty: there is nothing to anchor yet"
    )
    _add_events(app, 3)
    anchor = _anchor(runner)
    with app.app_context():
        head = audit_chain.take_anchor()
        assert anchor == f"3:{head.hash}"
    _add_events(app, 2)  # the trail goes on after the anchor
    result = runner.invoke(args=["audit", "verify", "--anchor", anchor, "--anchor", anchor])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Audit chain intact: 5 events, and 2 anchors held"


def test_a_chain_rewritten_with_every_hash_recomputed_passes_alone_but_not_against_an_anchor(app, runner):
    ids = _add_events(app, 4)
    anchor = _anchor(runner)
    _sql(app, "UPDATE audit_events SET actor_label = 'someone-else@example.test' WHERE id = :id", id=ids[1])
    _rewrite_the_chain(app)
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0  # the chain alone cannot tell

    result = runner.invoke(args=["audit", "verify", "--anchor", anchor])
    assert result.exit_code == 1
    assert "Audit chain rewritten: event seq 4 has the hash" in result.output
    assert f"not the anchor's {anchor.split(':')[1]}" in result.output


def test_a_chain_cut_short_of_an_anchor_is_caught(app, runner):
    ids = _add_events(app, 3)
    anchor = _anchor(runner)
    _sql(app, "DELETE FROM audit_events WHERE id = :id", id=ids[2])
    _rewrite_the_chain(app)
    result = runner.invoke(args=["audit", "verify", "--anchor", anchor])
    assert (
        result.exit_code == 1 and "event seq 3 of the anchor" in result.output and "cut or rewritten" in result.output
    )


def test_a_malformed_anchor_is_a_usage_error(app, runner):
    result = runner.invoke(args=["audit", "verify", "--anchor", "3:abc"])
    assert result.exit_code == 2 and "64-character SHA-256" in result.output
