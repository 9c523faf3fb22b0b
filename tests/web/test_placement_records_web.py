"""The placement page's records section: the caseload's flags for this one placement, the attendance rate and the
review dates, and a concern's flag shown only to those who may see concerns."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from portal import clock
from portal.extensions import db
from portal.models import AlertKind, AttendanceAlert, AttendanceMark, Concern
from tests.factories import make_user
from tests.factories_placements import placed
from tests.helpers import start_session

NOW = datetime(2027, 3, 1, 10, tzinfo=UTC)  # a Monday; the review (22 February 2027) is overdue
TODAY = date(2027, 3, 1)


@pytest.fixture(autouse=True)
def frozen(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: NOW)


def _page(app, email: str, placement_id: int) -> str:
    client = app.test_client()
    start_session(client, email)
    response = client.get(f"/placements/{placement_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.fixture
def setting(app):
    with app.app_context():
        awarded, placement = placed()
        colleague = make_user("provider", provider=awarded.provider)
        # 3 of the 4 sessions of the last two Mondays attended: 75%.
        for day, session, code in (
            (date(2027, 2, 22), "am", "/"),
            (date(2027, 2, 22), "pm", "\\"),
            (date(2027, 3, 1), "am", "/"),
            (date(2027, 3, 1), "pm", "O"),
        ):
            db.session.add(
                AttendanceMark(
                    placement_id=placement.id, day=day, session=session, code=code, recorded_by_id=colleague.id
                )
            )
        db.session.add(AttendanceAlert(placement_id=placement.id, day=TODAY, kind=AlertKind.ABSENCE))
        db.session.add(
            Concern(placement_id=placement.id, raised_by_id=awarded.officer.id, summary="Bruise", details="Seen at 9am")
        )
        db.session.commit()
        return {
            "id": placement.id,
            "officer": awarded.officer.email,
            "colleague": colleague.email,
        }


def test_the_officer_sees_every_flag_the_rate_and_the_overdue_review(app, setting):
    page = _page(app, setting["officer"], setting["id"])
    for text in ("Concern open", "Absent today", "Review overdue", "Attendance under 90%", "75.0%", "22 February 2027"):
        assert text in page


def test_a_provider_user_who_is_not_the_dsl_sees_no_concern_flag(app, setting):
    page = _page(app, setting["colleague"], setting["id"])
    assert "Absent today" in page
    assert "Concern open" not in page
