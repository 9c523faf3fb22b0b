"""The attendance week grid through the test client: the provider's editable grid and everyone else's read-only one,
a cell saved with htmx, the plain-form week, a day marked present (both ways), the refusals (404 for a placement
someone may not see, 403 for those who see it but do not record, 409 after the end), the rate flag, and the page's
statement count whatever the number of marks."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from portal import clock
from portal.extensions import db
from portal.models import AttendanceAlert, AttendanceMark, PlacementStatus, Role, User
from tests.factories import make_lot, make_user
from tests.factories_calloff import make_child
from tests.factories_placements import PLACEMENT_START, awarded_referral, make_placement, placed
from tests.helpers import all_at_once, count_queries, csrf_token, start_session

MONDAY = PLACEMENT_START  # 11 January 2027
TUESDAY = MONDAY + timedelta(days=1)
WEDNESDAY = MONDAY + timedelta(days=2)
HTMX = {"HX-Request": "true"}
SENDS = 10


def _text(response) -> str:
    return response.get_data(as_text=True)


def _marks(app, placement_id: int) -> dict[tuple[date, str], str]:
    with app.app_context():
        rows = db.session.execute(
            sa.select(AttendanceMark.day, AttendanceMark.session, AttendanceMark.code).where(
                AttendanceMark.placement_id == placement_id
            )
        )
        return {(row.day, row.session): row.code for row in rows}


@pytest.fixture
def tuesday_afternoon(monkeypatch):
    moment = datetime(2027, 1, 12, 14, 0, tzinfo=UTC)
    monkeypatch.setattr(clock, "now", lambda: moment)
    return moment


@pytest.fixture
def setting(app, tuesday_afternoon):
    """A placement (ids and emails), an outsider provider with its own placement, and a manager."""
    with app.app_context():
        awarded, placement = placed()
        other = awarded_referral(
            officer=make_user("officer"), lot=make_lot(2), child=make_child(awarded.officer, upn="B000000000002")
        )
        make_placement(other)
        return {
            "placement": placement.id,
            "url": f"/placements/{placement.id}/attendance",
            "provider": awarded.provider_user.email,
            "provider_name": awarded.provider_user.name,
            "officer": awarded.officer.email,
            "other_provider": other.provider_user.email,
            "other_officer": other.officer.email,
            "manager": make_user(Role.MANAGER).email,
            "officer_id": awarded.officer.id,
        }


def _client(app, email: str):
    client = app.test_client()
    start_session(client, email)
    return client


# ---- The page -------------------------------------------------------------------------------------------------------


def test_the_provider_sees_an_editable_week_grid(app, setting):
    client = _client(app, setting["provider"])
    page = _text(client.get(setting["url"]))
    assert "<caption" in page and "Week beginning 11 January 2027" in page
    assert (
        '<label class="govuk-label govuk-visually-hidden" for="code-2027-01-11-am">Monday 11 January, morning</label>'
        in page
    )
    monday = re.search(r'<select[^>]*id="code-2027-01-11-am"[^>]*>', page, re.S).group(0)
    assert 'hx-post="/placements/%d/attendance/cell"' % setting["placement"] in monday
    assert 'hx-trigger="change"' in monday and 'hx-swap="outerHTML"' in monday
    assert 'hx-target="#cell-code-2027-01-11-am"' in monday and "disabled" not in monday
    wednesday = re.search(r'<select[^>]*id="code-2027-01-13-am"[^>]*>', page, re.S).group(0)
    assert "disabled" in wednesday and "hx-post" not in wednesday
    assert "Save the week" in page
    assert (
        'form="present-2027-01-11"' in page and "Mark Monday present" in page and "Mark Wednesday present" not in page
    )
    assert '<form id="present-2027-01-11" method="post"' in page
    assert '<div id="attendance-status" class="govuk-body govuk-!-font-weight-bold" role="status"></div>' in page
    assert "hx-swap-oob" not in page
    assert "What the attendance codes mean" in page and "Absent in other or unknown circumstances" in page
    assert "Next week" in page and "Previous week" not in page


@pytest.mark.parametrize("who", ["officer", "manager"])
def test_officers_and_the_manager_read_the_grid_without_inputs(app, setting, who):
    with app.app_context():
        db.session.add(
            AttendanceMark(
                placement_id=setting["placement"],
                day=MONDAY,
                session="am",
                code="I",
                recorded_by_id=setting["officer_id"],
            )
        )
        db.session.commit()
    response = _client(app, setting[who]).get(setting["url"])
    page = _text(response)
    assert response.status_code == 200
    assert "<select" not in page and "Save the week" not in page and "Mark Monday present" not in page
    assert "/attendance/cell" not in page and "/attendance/present" not in page
    assert "Illness" in page and "Not recorded" in page


def test_the_week_in_the_address_and_a_wrong_one(app, setting):
    client = _client(app, setting["provider"])
    assert "Week beginning 18 January 2027" in _text(client.get(setting["url"] + "?week=2027-01-20"))
    assert "Week beginning 11 January 2027" in _text(client.get(setting["url"] + "?week=not-a-date"))


def test_a_low_rate_is_flagged(app, setting):
    with app.app_context():
        for n, code in enumerate(["/", "O", "I", "/"]):
            day = MONDAY + timedelta(days=n // 2)
            db.session.add(
                AttendanceMark(
                    placement_id=setting["placement"],
                    day=day,
                    session=("am", "pm")[n % 2],
                    code=code,
                    recorded_by_id=setting["officer_id"],
                )
            )
        db.session.commit()
    page = _text(_client(app, setting["officer"]).get(setting["url"]))
    assert "<strong>50%</strong>" in page and "Attendance is below 90% over the last four weeks." in page


# ---- Access per object ----------------------------------------------------------------------------------------------


def test_another_provider_gets_404_everywhere(app, setting):
    client = _client(app, setting["other_provider"])
    token = csrf_token(client)
    assert client.get(setting["url"]).status_code == 404
    data = {"csrf_token": token, "day": "2027-01-11", "session": "am", "code-2027-01-11-am": "/", "week": "2027-01-11"}
    for path in ("", "/cell", "/present"):
        assert client.post(setting["url"] + path, data=data).status_code == 404
    assert _marks(app, setting["placement"]) == {}


def test_an_officer_of_another_service_gets_404(app, setting):
    assert _client(app, setting["other_officer"]).get(setting["url"]).status_code == 404


@pytest.mark.parametrize("who", ["officer", "manager"])
def test_those_who_only_read_are_refused_every_post(app, setting, who):
    client = _client(app, setting[who])
    token = csrf_token(client)
    data = {"csrf_token": token, "day": "2027-01-11", "session": "am", "code-2027-01-11-am": "/", "week": "2027-01-11"}
    for path in ("", "/cell", "/present"):
        assert client.post(setting["url"] + path, data=data).status_code == 403
        assert client.post(setting["url"] + path, data=data, headers=HTMX).status_code == 403
    assert _marks(app, setting["placement"]) == {}


# ---- One cell with htmx ---------------------------------------------------------------------------------------------


def test_a_cell_saves_with_htmx_and_a_second_save_updates_it(app, setting):
    client = _client(app, setting["provider"])
    token = csrf_token(client)
    data = {"day": "2027-01-11", "session": "am", "code-2027-01-11-am": "/", "code-2027-01-11-pm": "O"}
    response = client.post(setting["url"] + "/cell", data=data, headers={**HTMX, "X-CSRFToken": token})
    assert response.status_code == 200
    cell = _text(response)
    assert cell.lstrip().startswith('<td class="govuk-table__cell" id="cell-code-2027-01-11-am">')
    assert "Saved" in cell and '<option value="/" selected>' in cell
    # The page's live region (there from the start) is updated out of band, so a screen reader hears it.
    assert '<div id="attendance-status" hx-swap-oob="innerHTML">Saved, Monday 11 January, morning: / (Present' in cell
    assert "<html" not in cell
    # Only the cell named by day and session was saved, not the rest of the form htmx sent with it.
    assert _marks(app, setting["placement"]) == {(MONDAY, "am"): "/"}

    data["code-2027-01-11-am"] = "L"
    client.post(setting["url"] + "/cell", data=data, headers={**HTMX, "X-CSRFToken": token})
    assert _marks(app, setting["placement"]) == {(MONDAY, "am"): "L"}


def test_a_refused_cell_shows_its_error_in_the_cell_and_saves_nothing(app, setting):
    client = _client(app, setting["provider"])
    token = csrf_token(client)
    data = {"csrf_token": token, "day": "2027-01-13", "session": "am", "code-2027-01-13-am": "/"}
    response = client.post(setting["url"] + "/cell", data=data, headers=HTMX)
    assert response.status_code == 200  # htmx swaps only 2xx answers
    assert 'id="code-2027-01-13-am-error"' in _text(response) and "govuk-form-group--error" in _text(response)
    assert "Not saved, Wednesday 13 January, morning: You cannot record a session before its date" in _text(response)
    data = {"csrf_token": token, "day": "2027-01-11", "session": "am", "code-2027-01-11-am": "ZZ"}
    response = client.post(setting["url"] + "/cell", data=data, headers=HTMX)
    assert "Choose a DfE attendance code" in _text(response)
    assert _marks(app, setting["placement"]) == {}


def test_an_unexplained_absence_in_a_cell_raises_the_alert(app, setting):
    client = _client(app, setting["provider"])
    data = {"csrf_token": csrf_token(client), "day": "2027-01-12", "session": "am", "code-2027-01-12-am": "N"}
    client.post(setting["url"] + "/cell", data=data, headers=HTMX)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AttendanceAlert)) == 1


# ---- The plain week form ----------------------------------------------------------------------------------------------


def test_the_week_form_saves_and_goes_back_to_the_week(app, setting):
    client = _client(app, setting["provider"])
    data = {
        "csrf_token": csrf_token(client),
        "week": "2027-01-11",
        "code-2027-01-11-am": "/",
        "code-2027-01-11-pm": "\\",
        "code-2027-01-12-am": "m",
        "code-2027-01-12-pm": "",
    }
    response = client.post(setting["url"], data=data)
    assert response.status_code == 302
    assert response.headers["Location"] == f"{setting['url']}?week=2027-01-11"
    assert _marks(app, setting["placement"]) == {(MONDAY, "am"): "/", (MONDAY, "pm"): "\\", (TUESDAY, "am"): "M"}
    page = _text(client.get(response.headers["Location"]))
    assert "Attendance saved for the week beginning 11 January 2027: 3 sessions changed." in page
    assert "Medical or dental appointment" in page and setting["provider_name"] in page


def test_a_refused_week_is_shown_again_with_the_errors_and_what_was_chosen(app, setting):
    client = _client(app, setting["provider"])
    data = {
        "csrf_token": csrf_token(client),
        "week": "2027-01-11",
        "code-2027-01-11-am": "I",
        "code-2027-01-13-am": "/",
    }
    response = client.post(setting["url"], data=data)
    page = _text(response)
    assert response.status_code == 200
    assert "There is a problem" in page and 'href="#code-2027-01-13-am"' in page
    assert 'id="code-2027-01-13-am-error"' in page and "You cannot record a session before its date" in page
    monday = page.split('id="code-2027-01-11-am"')[1].split("</select>")[0]
    assert '<option value="I" selected>' in monday
    assert page.startswith("<!DOCTYPE html>") or "<title>Error:" in page
    assert _marks(app, setting["placement"]) == {}


def test_after_the_end_nothing_more_is_saved_409(app, setting):
    with app.app_context():
        from portal.models import Placement

        placement = db.session.get(Placement, setting["placement"])
        placement.status = PlacementStatus.ENDED
        placement.ended_on = MONDAY
        placement.end_reason = "Moved away"
        placement.destination = "other"
        placement.ended_by_id = placement.officer_id
        placement.ended_at = datetime(2027, 1, 11, 16, tzinfo=UTC)
        db.session.commit()
    client = _client(app, setting["provider"])
    token = csrf_token(client)
    data = {"csrf_token": token, "week": "2027-01-11", "code-2027-01-11-pm": "\\", "code-2027-01-12-am": "/"}
    response = client.post(setting["url"], data=data)
    assert response.status_code == 409
    assert "Nothing was saved" in _text(response) and "ended on 11 January 2027" in _text(response)
    response = client.post(setting["url"] + "/present", data={"csrf_token": token, "day": "2027-01-12"})
    assert response.status_code == 409
    assert _marks(app, setting["placement"]) == {}
    # The days up to the end can still be recorded; the grid offers nothing after it.
    page = _text(client.get(setting["url"]))
    assert 'id="code-2027-01-11-pm"' in page and 'id="code-2027-01-12-am"' not in page
    assert client.post(setting["url"], data={**data, "code-2027-01-12-am": ""}).status_code == 302
    assert _marks(app, setting["placement"]) == {(MONDAY, "pm"): "\\"}


# ---- Two people on one week ----------------------------------------------------------------------------------------


SELECT = re.compile(r"<select\b([^>]*)>(.*?)</select>", re.S)
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def _colleague(app, setting) -> str:
    """A second user of the placement's provider, who records on the same week."""
    with app.app_context():
        first = db.session.scalar(sa.select(User).where(User.email == setting["provider"]))
        return make_user(Role.PROVIDER, provider=first.provider, name="Sam Second").email


def _week_form(client, setting) -> dict[str, str]:
    """The week form as a browser would send it: its hidden fields (what each cell showed among them) and each
    select's chosen code. Disabled selects (sessions not due) are not sent."""
    page = _text(client.get(setting["url"] + "?week=2027-01-11"))
    form = page[page.index(f'action="{setting["url"]}?week=2027-01-11"') :]
    form = form[: form.index("</form>")]
    data = {name: html.unescape(value) for name, value in HIDDEN.findall(form)}
    for opening, options in SELECT.findall(form):
        if " disabled" in opening:
            continue
        name = re.search(r'name="([^"]+)"', opening).group(1)
        chosen = re.search(r'<option value="([^"]*)" selected>', options)
        data[name] = html.unescape(chosen.group(1)) if chosen else ""
    return data


def test_saving_a_week_keeps_a_colleagues_correction_made_since_it_was_opened(app, setting):
    mine, theirs = _client(app, setting["provider"]), _client(app, _colleague(app, setting))
    assert mine.post(setting["url"], data={**_week_form(mine, setting), "code-2027-01-11-am": "/"}).status_code == 302
    form = _week_form(mine, setting)
    assert form["seen-code-2027-01-11-am"] == "/" and form["code-2027-01-11-am"] == "/"
    assert "seen-code-2027-01-13-am" not in form  # Wednesday is not due yet
    colleague = {**_week_form(theirs, setting), "code-2027-01-11-am": "I"}
    assert theirs.post(setting["url"], data=colleague).status_code == 302

    # The first window, opened before the correction, changes Tuesday only. Monday still shows "/" there; left as
    # it was shown, it is not written, so the correction stands.
    response = mine.post(setting["url"], data={**form, "code-2027-01-12-am": "/"})
    assert response.status_code == 302
    assert _marks(app, setting["placement"]) == {(MONDAY, "am"): "I", (TUESDAY, "am"): "/"}
    assert "1 session changed" in _text(mine.get(response.headers["Location"]))


def test_a_session_marked_otherwise_since_the_page_was_opened_is_refused_409_with_what_was_typed(app, setting):
    mine, theirs = _client(app, setting["provider"]), _client(app, _colleague(app, setting))
    form = _week_form(mine, setting)
    assert (
        theirs.post(setting["url"], data={**_week_form(theirs, setting), "code-2027-01-11-am": "I"}).status_code == 302
    )

    typed = {**form, "code-2027-01-11-am": "O", "code-2027-01-12-am": "/"}
    response = mine.post(setting["url"], data=typed)
    page = _text(response)
    assert response.status_code == 409
    assert 'href="#code-2027-01-11-am"' in page and 'id="code-2027-01-11-am-error"' in page
    assert "Not saved: Sam Second recorded I (Illness" in page and "Save the week to replace it with O" in page
    monday = page.split('id="code-2027-01-11-am"')[1].split("</select>")[0]
    assert '<option value="O" selected>' in monday  # what was typed is kept ...
    tuesday = page.split('id="code-2027-01-12-am"')[1].split("</select>")[0]
    assert '<option value="/" selected>' in tuesday
    assert _marks(app, setting["placement"]) == {(MONDAY, "am"): "I"}  # ... and nothing of it saved

    # Sent again from the page that said so, it replaces the colleague's mark: a choice made knowing it.
    again = _week_form(mine, setting)
    assert again["seen-code-2027-01-11-am"] == "I"
    response = mine.post(setting["url"], data={**typed, "seen-code-2027-01-11-am": "I"})
    assert response.status_code == 302
    assert _marks(app, setting["placement"]) == {(MONDAY, "am"): "O", (TUESDAY, "am"): "/"}


def test_a_cell_marked_otherwise_since_is_refused_409_in_the_cell_with_the_mark_that_stands(app, setting):
    mine, theirs = _client(app, setting["provider"]), _client(app, _colleague(app, setting))
    form = _week_form(mine, setting)
    cell = {"day": "2027-01-11", "session": "am"}
    answer = theirs.post(
        setting["url"] + "/cell",
        data={**_week_form(theirs, setting), **cell, "code-2027-01-11-am": "I"},
        headers=HTMX,
    )
    assert answer.status_code == 200 and "Saved" in _text(answer)
    assert 'name="seen-code-2027-01-11-am" value="I"' in _text(answer)  # the swapped cell says what it shows now

    response = mine.post(setting["url"] + "/cell", data={**form, **cell, "code-2027-01-11-am": "O"}, headers=HTMX)
    text = _text(response)
    assert response.status_code == 409  # htmx swaps a 409 (the page's responseHandling)
    assert text.lstrip().startswith('<td class="govuk-table__cell" id="cell-code-2027-01-11-am">')
    assert "Not saved, Monday 11 January, morning: Not saved: Sam Second recorded I (Illness" in text
    assert 'name="seen-code-2027-01-11-am" value="I"' in text and "Illness" in text
    assert _marks(app, setting["placement"]) == {(MONDAY, "am"): "I"}
    # The same code as the colleague's is no conflict; a send that does not say what it showed is the last word.
    assert (
        mine.post(setting["url"] + "/cell", data={**form, **cell, "code-2027-01-11-am": "I"}, headers=HTMX).status_code
        == 200
    )
    unguarded = {"csrf_token": form["csrf_token"], **cell, "code-2027-01-11-am": "M"}
    assert mine.post(setting["url"] + "/cell", data=unguarded, headers=HTMX).status_code == 200
    assert _marks(app, setting["placement"]) == {(MONDAY, "am"): "M"}


def test_a_page_that_says_it_showed_a_mark_that_is_not_there_overwrites_nothing_and_saves(app, setting):
    client = _client(app, setting["provider"])
    data = {"csrf_token": csrf_token(client), "day": "2027-01-11", "session": "am", "code-2027-01-11-am": "/"}
    response = client.post(setting["url"] + "/cell", data={**data, "seen-code-2027-01-11-am": "Z" * 300}, headers=HTMX)
    assert response.status_code == 200 and "Saved" in _text(response)
    assert _marks(app, setting["placement"]) == {(MONDAY, "am"): "/"}


def test_ten_people_saving_one_empty_session_at_once_write_one_mark(app, setting):
    """Ten windows showing Monday morning empty, each choosing a code and saving at the same moment (threads; on
    PostgreSQL the losers' inserts wait on the winner's row): one mark is written, nine are told whose stands."""
    clients = [_client(app, setting["provider"]) for _ in range(SENDS)]
    forms = [_week_form(client, setting) for client in clients]
    codes = ["/", "L", "I", "M", "O", "N", "C", "E", "R", "B"][:SENDS]

    def save(n: int):
        data = {**forms[n], "day": "2027-01-11", "session": "am", "code-2027-01-11-am": codes[n]}
        return clients[n].post(setting["url"] + "/cell", data=data, headers=HTMX)

    responses = all_at_once(SENDS, save)
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [409] * (SENDS - 1), statuses
    [stands] = _marks(app, setting["placement"]).values()
    [winner] = [n for n, response in enumerate(responses) if response.status_code == 200]
    assert codes[winner] == stands
    for response in responses:
        if response.status_code == 409:
            assert f"recorded {stands} (" in _text(response)


# ---- A day present ----------------------------------------------------------------------------------------------------


def test_mark_a_day_present_without_javascript(app, setting):
    with app.app_context():
        db.session.add(
            AttendanceMark(
                placement_id=setting["placement"],
                day=MONDAY,
                session="am",
                code="M",
                recorded_by_id=setting["officer_id"],
            )
        )
        db.session.commit()
    client = _client(app, setting["provider"])
    response = client.post(setting["url"] + "/present", data={"csrf_token": csrf_token(client), "day": "2027-01-11"})
    assert response.status_code == 302 and response.headers["Location"] == f"{setting['url']}?week=2027-01-11"
    assert "1 session of Monday 11 January marked present." in _text(client.get(response.headers["Location"]))
    assert _marks(app, setting["placement"]) == {(MONDAY, "am"): "M", (MONDAY, "pm"): "\\"}


def test_mark_a_day_present_with_htmx_swaps_the_grid(app, setting):
    client = _client(app, setting["provider"])
    response = client.post(
        setting["url"] + "/present", data={"csrf_token": csrf_token(client), "day": "2027-01-12"}, headers=HTMX
    )
    grid = _text(response)
    assert response.status_code == 200
    assert grid.lstrip().startswith('<div id="attendance-grid">') and "<html" not in grid
    assert (
        '<div id="attendance-status" hx-swap-oob="innerHTML">2 sessions of Tuesday 12 January marked present.</div>'
        in grid
    )
    assert "Mark Tuesday present" not in grid and "Mark Monday present" in grid
    assert _marks(app, setting["placement"]) == {(TUESDAY, "am"): "/", (TUESDAY, "pm"): "\\"}


def test_a_future_day_cannot_be_marked_present(app, setting):
    client = _client(app, setting["provider"])
    response = client.post(setting["url"] + "/present", data={"csrf_token": csrf_token(client), "day": "2027-01-13"})
    assert response.status_code == 409 and "You cannot record a session before its date" in _text(response)
    assert _marks(app, setting["placement"]) == {}


# ---- The statement budget -----------------------------------------------------------------------------------------------


def test_the_page_runs_as_many_statements_with_20_weeks_of_marks_as_with_one(app, monkeypatch):
    moment = datetime(2027, 6, 1, 12, tzinfo=UTC)
    monkeypatch.setattr(clock, "now", lambda: moment)
    with app.app_context():
        awarded, placement = placed(planned_end_date=date(2027, 7, 16))
        ids = {"placement": placement.id, "user": awarded.provider_user.id, "email": awarded.provider_user.email}

    def add_weeks(first: int, last: int) -> None:
        with app.app_context():
            for week in range(first, last):
                for offset in range(5):
                    for session in ("am", "pm"):
                        db.session.add(
                            AttendanceMark(
                                placement_id=ids["placement"],
                                day=MONDAY + timedelta(weeks=week, days=offset),
                                session=session,
                                code="O" if offset == 2 else "/",
                                recorded_by_id=ids["user"],
                            )
                        )
            db.session.commit()

    client = _client(app, ids["email"])
    url = f"/placements/{ids['placement']}/attendance?week=2027-05-31"

    def statements() -> int:
        client.get(url)  # warm up (the session's first read of the user)
        with app.app_context(), count_queries(db.engine) as queries:
            assert client.get(url).status_code == 200
        return queries.count

    add_weeks(19, 20)  # the week shown
    one_week = statements()
    add_weeks(0, 19)
    assert statements() == one_week
