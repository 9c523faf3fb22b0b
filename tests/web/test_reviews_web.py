"""Progress reports and reviews through the test client: plain forms, per-object access, one report per review (409),
a stale review (409, nothing saved), errors next to the fields, the schedule's flags with frozen dates, and the
reviews page's statement budget."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from portal import clock
from portal.extensions import db
from portal.models import Destination, Placement, PlacementStatus, ProgressReport, Readiness, Review, User
from portal.services import reviews
from tests.factories import make_user
from tests.factories_placements import awarded_referral, make_placement, placed
from tests.helpers import count_queries, csrf_token, start_session

NOW = datetime(2027, 2, 10, 10, tzinfo=UTC)


def _text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def frozen(monkeypatch):
    def freeze(moment):
        monkeypatch.setattr(clock, "now", lambda: moment)

    freeze(NOW)
    return freeze


@pytest.fixture
def world(app):
    with app.app_context():
        awarded, placement = placed()
        other_provider_user = make_user("provider")
        other_service_officer = make_user("officer")
        manager = make_user("manager")
        return {
            "placement": placement.id,
            "aims": [aim.id for aim in placement.referral.aims],
            "officer": awarded.officer.email,
            "provider": awarded.provider_user.email,
            "other_provider": other_provider_user.email,
            "other_officer": other_service_officer.email,
            "manager": manager.email,
            "version": placement.version,
        }


def _client(app, email):
    client = app.test_client()
    start_session(client, email)
    return client


def _report_data(client, world, **overrides):
    data = {"csrf_token": csrf_token(client), "child_view": "I like the farm days"}
    for aim_id in world["aims"]:
        data[f"rating_{aim_id}"] = "on target"
        data[f"evidence_{aim_id}"] = f"Evidence for {aim_id}"
    data.update(overrides)
    return data


def _review_data(client, world, **overrides):
    data = {
        "csrf_token": csrf_token(client),
        "version": str(world["version"]),
        "held_on": ["9", "2", "2027"],
        "next_steps": "Two afternoons a week at the home school",
        "readiness": "ready to return within a term",
        "next_review_on": ["24", "3", "2027"],
    }
    for aim_id in world["aims"]:
        data[f"rating_{aim_id}"] = "ahead of target"
        data[f"note_{aim_id}"] = "Good progress"
    data.update(overrides)
    return data


def test_the_provider_submits_a_report_and_the_officer_reads_it(app, world, frozen):
    provider = _client(app, world["provider"])
    page = provider.get(f"/placements/{world['placement']}/reports/new")
    assert page.status_code == 200
    assert "Aim 1: build up attendance" in _text(page) and "Baseline 1" in _text(page) and "Target 1" in _text(page)
    response = provider.post(f"/placements/{world['placement']}/reports/new", data=_report_data(provider, world))
    assert response.status_code == 302
    with app.app_context():
        report = db.session.scalar(sa.select(ProgressReport))
        assert report.review_due_on == date(2027, 2, 22) and report.child_view == "I like the farm days"
        report_id = report.id
    assert response.headers["Location"] == f"/placements/{world['placement']}/reports/{report_id}"
    officer = _client(app, world["officer"])
    shown = officer.get(f"/placements/{world['placement']}/reports/{report_id}")
    assert shown.status_code == 200 and "I like the farm days" in _text(shown)
    assert f"Evidence for {world['aims'][0]}" in _text(shown)
    for email in (world["other_provider"], world["other_officer"]):
        outsider = _client(app, email)
        assert outsider.get(f"/placements/{world['placement']}/reports/{report_id}").status_code == 404
        assert outsider.get(f"/placements/{world['placement']}/reviews").status_code == 404
    assert (
        _client(app, world["manager"]).get(f"/placements/{world['placement']}/reports/{report_id}").status_code == 200
    )


def test_a_second_report_for_the_same_review_is_refused_with_a_link_to_the_first(app, world, frozen):
    provider = _client(app, world["provider"])
    url = f"/placements/{world['placement']}/reports/new"
    assert provider.post(url, data=_report_data(provider, world)).status_code == 302
    again = provider.post(url, data=_report_data(provider, world, child_view="Second go"))
    assert again.status_code == 409
    assert "There is one report for each review" in _text(again)
    with app.app_context():
        report_id = db.session.scalar(sa.select(ProgressReport.id))
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ProgressReport)) == 1
    assert f"/placements/{world['placement']}/reports/{report_id}" in _text(again)
    assert provider.get(url).status_code == 409


def test_a_report_with_missing_answers_is_shown_again_with_the_errors_and_what_was_typed(app, world, frozen):
    provider = _client(app, world["provider"])
    first, second = world["aims"]
    data = _report_data(provider, world, child_view="")
    del data[f"rating_{first}"]
    data[f"evidence_{second}"] = ""
    data[f"evidence_{first}"] = "Typed evidence kept"
    response = provider.post(f"/placements/{world['placement']}/reports/new", data=data)
    assert response.status_code == 200
    body = _text(response)
    assert "There is a problem" in body
    assert "Choose the progress made towards aim 1" in body
    assert "Enter the evidence of progress towards aim 2" in body
    assert "Enter the child&#39;s own view of their progress" in body
    assert "Typed evidence kept" in body
    too_long = provider.post(
        f"/placements/{world['placement']}/reports/new", data=_report_data(provider, world, child_view="x" * 5001)
    )
    assert too_long.status_code == 200 and "must be 5000 characters or fewer" in _text(too_long)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ProgressReport)) == 0


def test_officers_and_managers_do_not_submit_reports(app, world, frozen):
    assert _client(app, world["officer"]).get(f"/placements/{world['placement']}/reports/new").status_code == 403
    assert _client(app, world["other_provider"]).get(f"/placements/{world['placement']}/reports/new").status_code == 404


def test_the_officer_records_a_review(app, world, frozen):
    officer = _client(app, world["officer"])
    page = officer.get(f"/placements/{world['placement']}/reviews/new")
    assert page.status_code == 200
    assert "has not submitted a progress report" in _text(page)
    response = officer.post(f"/placements/{world['placement']}/reviews/new", data=_review_data(officer, world))
    assert response.status_code == 302
    assert response.headers["Location"] == f"/placements/{world['placement']}/reviews"
    with app.app_context():
        placement = db.session.get(Placement, world["placement"])
        assert placement.next_review_due == date(2027, 3, 24)
        assert placement.version == world["version"] + 1
        review = db.session.scalar(sa.select(Review))
        assert review.held_on == date(2027, 2, 9) and review.due_on == date(2027, 2, 22)
    listed = officer.get(f"/placements/{world['placement']}/reviews")
    assert "Review held on 9 February 2027" in _text(listed)
    assert "24 March 2027" in _text(listed)


def test_the_review_form_shows_the_report_for_this_review(app, world, frozen):
    provider = _client(app, world["provider"])
    provider.post(f"/placements/{world['placement']}/reports/new", data=_report_data(provider, world))
    page = _client(app, world["officer"]).get(f"/placements/{world['placement']}/reviews/new")
    assert "I like the farm days" in _text(page)
    assert f"Evidence for {world['aims'][1]}" in _text(page)


def test_a_stale_review_is_refused_with_the_form_kept_and_nothing_saved(app, world, frozen):
    officer = _client(app, world["officer"])
    data = _review_data(officer, world, version=str(world["version"] - 1), next_steps="Typed next steps")
    response = officer.post(f"/placements/{world['placement']}/reviews/new", data=data)
    assert response.status_code == 409
    body = _text(response)
    assert "Someone else changed this placement" in body
    assert "Typed next steps" in body
    assert f'name="version" type="hidden" value="{world["version"]}"' in body
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Review)) == 0
        assert db.session.get(Placement, world["placement"]).next_review_due == date(2027, 2, 22)


def test_a_review_is_checked_field_by_field(app, world, frozen):
    officer = _client(app, world["officer"])
    data = _review_data(officer, world, held_on=["11", "2", "2027"], next_steps="", next_review_on=["30", "4", "2027"])
    del data["readiness"]
    response = officer.post(f"/placements/{world['placement']}/reviews/new", data=data)
    assert response.status_code == 200
    body = _text(response)
    assert "The date the review was held must be today or in the past" in body
    assert "Enter the next steps" in body
    assert "Choose how ready the child is to return to school" in body
    missing = officer.post(
        f"/placements/{world['placement']}/reviews/new",
        data=_review_data(officer, world, held_on=["", "", ""]),
    )
    assert missing.status_code == 200 and "Enter the date the review was held" in _text(missing)
    too_far = officer.post(
        f"/placements/{world['placement']}/reviews/new",
        data=_review_data(officer, world, next_review_on=["30", "4", "2027"]),
    )
    assert too_far.status_code == 200 and "Reviews are at least every half term" in _text(too_far)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Review)) == 0


def test_only_officers_of_the_service_review(app, world, frozen):
    assert _client(app, world["other_officer"]).get(f"/placements/{world['placement']}/reviews/new").status_code == 404
    assert _client(app, world["provider"]).get(f"/placements/{world['placement']}/reviews/new").status_code == 403
    assert _client(app, world["manager"]).get(f"/placements/{world['placement']}/reviews/new").status_code == 403


def test_an_ended_placement_takes_no_review_or_report(app, frozen):
    with app.app_context():
        awarded = awarded_referral()
        ended = make_placement(
            awarded,
            status=PlacementStatus.ENDED,
            ended_on=date(2027, 2, 1),
            destination=Destination.HOME_SCHOOL,
            end_reason="Returned",
        )
        ids = (ended.id, awarded.officer.email, awarded.provider_user.email, ended.version)
    placement_id, officer_email, provider_email, version = ids
    officer = _client(app, officer_email)
    assert officer.get(f"/placements/{placement_id}/reviews/new").status_code == 409
    refused = officer.post(
        f"/placements/{placement_id}/reviews/new",
        data={"csrf_token": csrf_token(officer), "version": str(version), "held_on": ["9", "2", "2027"]},
    )
    assert refused.status_code == 409 and "has ended" in _text(refused)
    assert _client(app, provider_email).get(f"/placements/{placement_id}/reports/new").status_code == 409


def test_the_schedule_flags_overdue_reports_and_reviews(app, world, frozen):
    url = f"/placements/{world['placement']}/reviews"
    officer = _client(app, world["officer"])
    frozen(datetime(2027, 2, 15, 12, tzinfo=UTC))
    on_time = _text(officer.get(url))
    assert "15 February 2027" in on_time and "Report overdue" not in on_time and "Review overdue" not in on_time
    frozen(datetime(2027, 2, 16, 12, tzinfo=UTC))
    late = _text(officer.get(url))
    assert "Report overdue" in late and "Review overdue" not in late
    frozen(datetime(2027, 2, 23, 12, tzinfo=UTC))
    both = _text(officer.get(url))
    assert "Report overdue" in both and "Review overdue" in both
    provider = _client(app, world["provider"])
    assert "Submit a progress report" in _text(provider.get(url))
    assert "Record a review" in _text(officer.get(url))
    assert "Record a review" not in _text(provider.get(url))


def test_the_reviews_page_runs_the_same_statements_whatever_the_number_of_reports_and_reviews(app, world, frozen):
    officer = _client(app, world["officer"])
    url = f"/placements/{world['placement']}/reviews"
    officer.get(url)

    def add(count: int, start: int):
        with app.app_context():
            placement = db.session.get(Placement, world["placement"])
            provider_user = db.session.scalar(sa.select(User).where(User.email == world["provider"]))
            for n in range(start, start + count):
                due = date(2026, 1, 5 + n)
                db.session.add(
                    ProgressReport(
                        placement_id=placement.id, review_due_on=due, submitted_by_id=provider_user.id, child_view="v"
                    )
                )
                db.session.add(
                    Review(
                        placement_id=placement.id,
                        held_on=due,
                        due_on=due,
                        recorded_by_id=placement.officer_id,
                        next_steps="s",
                        readiness=Readiness.NOT_YET,
                        next_review_on=due,
                    )
                )
            db.session.commit()

    add(1, 0)
    with app.app_context(), count_queries(db.engine) as one:
        assert officer.get(url).status_code == 200
    add(6, 1)
    with app.app_context(), count_queries(db.engine) as seven:
        assert officer.get(url).status_code == 200
    assert seven.count == one.count


def test_report_overdue_is_reusable_without_a_request(app, world):
    with app.app_context():
        placement = db.session.get(Placement, world["placement"])
        assert reviews.report_overdue(placement, False, date(2027, 2, 16))
