"""flask attendance alerts: run by cron every 30 minutes; each alert is raised, and its mail queued, once."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from portal import clock
from portal.extensions import db
from portal.models import AttendanceAlert, Notification, OutboxMessage
from tests.factories import make_lot, make_user
from tests.factories_calloff import make_child
from tests.factories_placements import awarded_referral, make_placement, placed


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _two_placements(app) -> None:
    with app.app_context():
        placed()
        other = awarded_referral(
            officer=make_user("officer"), lot=make_lot(2), child=make_child(make_user("officer"), upn="C000000000003")
        )
        make_placement(other)


def test_the_command_raises_each_alert_once_even_when_run_twice(app, runner, monkeypatch):
    _two_placements(app)
    monkeypatch.setattr(clock, "now", lambda: datetime(2027, 1, 11, 11, 30, tzinfo=UTC))

    first = runner.invoke(args=["attendance", "alerts"])
    assert first.exit_code == 0, first.output
    assert first.output.strip() == "2 attendance alerts raised"
    assert _count(app, AttendanceAlert) == 2
    # Each alert: the officer (email and notification) and the provider's DSL (email).
    assert _count(app, OutboxMessage) == 4
    assert _count(app, Notification) == 2

    second = runner.invoke(args=["attendance", "alerts"])
    assert second.exit_code == 0, second.output
    assert second.output.strip() == "0 attendance alerts raised"
    assert _count(app, OutboxMessage) == 4 and _count(app, AttendanceAlert) == 2


def test_the_afternoon_run_adds_only_the_afternoon_alerts(app, runner, monkeypatch):
    _two_placements(app)
    monkeypatch.setattr(clock, "now", lambda: datetime(2027, 1, 11, 11, 0, tzinfo=UTC))
    assert runner.invoke(args=["attendance", "alerts"]).output.strip() == "2 attendance alerts raised"
    monkeypatch.setattr(clock, "now", lambda: datetime(2027, 1, 11, 15, 0, tzinfo=UTC))
    assert runner.invoke(args=["attendance", "alerts"]).output.strip() == "2 attendance alerts raised"
    assert _count(app, OutboxMessage) == 8


def test_before_11_nothing_is_raised(app, runner, monkeypatch):
    _two_placements(app)
    monkeypatch.setattr(clock, "now", lambda: datetime(2027, 1, 11, 10, 59, tzinfo=UTC))
    assert runner.invoke(args=["attendance", "alerts"]).output.strip() == "0 attendance alerts raised"
    assert _count(app, OutboxMessage) == 0
