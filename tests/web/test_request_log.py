"""Logs without secrets (issue 10, point 8): the main journeys driven through the test client, every log record
captured (pytest's caplog at DEBUG and the portal handler's own JSON output), then every line scanned for the child's
identity, passwords, session cookies and tokens, CSRF tokens, two-factor secrets and codes, and emailed-link tokens.
Each request writes exactly one JSON line with its id, user id, method, route rule, status and duration."""

from __future__ import annotations

import io
import json
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from html import unescape

import pyotp
import pytest
import sqlalchemy as sa
from flask import Blueprint
from flask.testing import FlaskClient

from portal import clock
from portal.access import public
from portal.extensions import db
from portal.models import AccountToken, Offer, OutboxMessage, Placement, Referral, Role, Site, User, UserSession
from portal.request_log import LOGGER_NAME, REQUEST_FIELDS, JsonFormatter, configure_logging
from portal.services import scoring
from portal.services.evaluation import field_name
from tests.conftest import make_app
from tests.factories import make_lot, make_user
from tests.factories_calloff import (
    CHILD_DATE_OF_BIRTH,
    CHILD_FIRST_NAME,
    CHILD_IDENTIFIERS,
    CHILD_LAST_NAME,
    CHILD_UPN,
    eligible_provider,
    offer_fields,
)
from tests.helpers import CSRF_META, DEFAULT_PASSWORD, TEST_TOTP_SECRET, csrf_token, sign_in
from tests.web.test_placement_form_web import _form as placement_form
from tests.web.test_referral_authoring import AIM_1, AIM_2, CHILD, PROFILE, _aims, _date, _provision

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # a Monday, 10am in London
NEW_PASSWORD = "lantern orchard velvet compass"
RESET_PASSWORD = "granite meadow falcon ribbon"
WRONG_PASSWORD = "not the right password at all"
LINK = re.compile(r"https?://[^/\s]+(/set-password/([A-Za-z0-9_\-]+))")
CSRF_IN_PAGE = re.compile(r'(?:name="csrf_token"[^>]*value|name="csrf-token" content)="([^"]+)"')
SECRET_FIELDS = {"password", "confirm", "code", "csrf_token", "current_password", "new_password"}
HTMX = {"HX-Request": "true"}
FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S)
INPUT = re.compile(r"<input\b[^>]*>")

# Every way the child's identity could be written: the factory's list, the date of birth in more forms, and the UPN
# as the officer typed it.
CHILD_FORMS = (
    *CHILD_IDENTIFIERS,
    CHILD_DATE_OF_BIRTH.strftime("%d/%m/%Y"),
    f"{CHILD_DATE_OF_BIRTH.day}/{CHILD_DATE_OF_BIRTH.month}/{CHILD_DATE_OF_BIRTH.year}",
    CHILD_DATE_OF_BIRTH.strftime("%d-%m-%Y"),
    CHILD_UPN.lower(),
    f"{CHILD_UPN[:4]} {CHILD_UPN[4:]}".lower(),
)
TYPED_CHILD = {
    **CHILD,
    "first_name": CHILD_FIRST_NAME,
    "last_name": CHILD_LAST_NAME,
    "date_of_birth": [str(CHILD_DATE_OF_BIRTH.day), str(CHILD_DATE_OF_BIRTH.month), str(CHILD_DATE_OF_BIRTH.year)],
    "upn": f"{CHILD_UPN[:4]} {CHILD_UPN[4:]}".lower(),
    "home_school": "Marblewick Academy",
}


@dataclass
class Journal:
    """What the clients sent and got: each response's status and request id, and every secret that passed."""

    responses: list[tuple[str | None, int]] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)


class RecordingClient(FlaskClient):
    """A test client that notes each response's X-Request-Id and every secret it sends or is shown."""

    journal: Journal

    def open(self, *args, **kwargs):
        data = kwargs.get("data")
        if isinstance(data, dict):
            self.journal.secrets.update(str(v) for k, v in data.items() if k in SECRET_FIELDS and v)
        token_header = (kwargs.get("headers") or {}).get("X-CSRFToken")
        if token_header:
            self.journal.secrets.add(token_header)
        response = super().open(*args, **kwargs)
        self.journal.responses.append((response.headers.get("X-Request-Id"), response.status_code))
        if response.mimetype == "text/html":
            self.journal.secrets.update(CSRF_IN_PAGE.findall(response.get_data(as_text=True)))
        cookie = self.get_cookie("ap_portal_session")
        if cookie is not None:
            self.journal.secrets.add(cookie.value)
        return response


@dataclass
class Capture:
    caplog: pytest.LogCaptureFixture
    stream: io.StringIO

    @property
    def records(self) -> list[logging.LogRecord]:
        return self.caplog.records  # read late: caplog keeps one list per test phase

    def lines(self) -> list[str]:
        """Every record as JSON (message, request fields and traceback) and as pytest writes it, and the handler's
        own output."""
        formatter = JsonFormatter()
        lines = [formatter.format(record) for record in self.records] + self.caplog.text.splitlines()
        return lines + self.stream.getvalue().splitlines()

    def request_lines(self) -> list[dict]:
        parsed = [json.loads(line) for line in self.stream.getvalue().splitlines()]
        return [line for line in parsed if line["logger"] == LOGGER_NAME]


@pytest.fixture
def capture(app, caplog):
    """Every logger at DEBUG into caplog, and the portal's JSON handler writing into a buffer we read."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="portal")
    # The SQL the app sends, as a deployment that logs its statements would (parameters included unless hidden).
    # DEBUG there would print result rows, which are the database's content by design.
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    configure_logging(app)  # another app made since may have put its own handler on the shared logger
    [handler] = [h for h in logging.getLogger("portal").handlers if getattr(h, "portal_handler", False)]
    assert isinstance(handler.formatter, JsonFormatter)
    stream = io.StringIO()
    handler.setStream(stream)
    yield Capture(caplog, stream)
    configure_logging(app)  # a fresh handler, on standard error again


@pytest.fixture
def frozen(monkeypatch):
    moment = {"now": NOW}
    monkeypatch.setattr(clock, "now", lambda: moment["now"])
    return moment


def _client(app, journal: Journal) -> RecordingClient:
    client = RecordingClient(app, app.response_class, use_cookies=True)
    client.journal = journal
    return client


def _text(response) -> str:
    return response.get_data(as_text=True)


def _drawn_fields(page: str, path: str) -> dict[str, str]:
    """The hidden fields of the form on ``page`` that posts to ``path`` (or of its one form posting to itself): the
    CSRF token, the version, a create form's single-use token, as a browser would send them."""
    same_page = None
    for attributes, body in FORM.findall(page):
        action = re.search(r'action="([^"]*)"', attributes)
        target = unescape(action.group(1)).split("?")[0] if action else ""
        if target == path:
            return _hidden(body)
        if not target and 'method="post"' in attributes.lower() and same_page is None:
            same_page = body
    return _hidden(same_page or "")


def _hidden(form: str) -> dict[str, str]:
    fields = {}
    for tag in INPUT.findall(form):
        name, value = re.search(r'name="([^"]*)"', tag), re.search(r'value="([^"]*)"', tag)
        if 'type="hidden"' in tag and name:
            fields.setdefault(name.group(1), unescape(value.group(1)) if value else "")
    return fields


def _post(client, path, data, *, page=None, headers=None):
    drawn = _text(client.get(page or path))
    fields = {"csrf_token": CSRF_META.search(drawn).group(1), **_drawn_fields(drawn, path), **data}
    return client.post(path, data=fields, headers=headers)


def _newest_link(app, to: str) -> tuple[str, str]:
    with app.app_context():
        body = db.session.scalars(
            sa.select(OutboxMessage.body).where(OutboxMessage.to_address == to).order_by(OutboxMessage.id.desc())
        ).first()
    match = LINK.search(body)
    assert match, f"no set-password link in the mail to {to}"
    return match.group(1), match.group(2)


def _stored_secrets(app) -> set[str]:
    """What the database keeps that must never reach a log: password hashes, TOTP secrets, session tokens and the
    hashes of emailed tokens."""
    with app.app_context():
        values = set()
        for row in db.session.execute(sa.select(User.password_hash, User.totp_secret)):
            values.update(v for v in row if v)
        values.update(db.session.scalars(sa.select(UserSession.token)))
        values.update(db.session.scalars(sa.select(AccountToken.token_hash)))
    return values


def _assert_no_secret_in(lines: list[str], secrets: set[str]) -> None:
    """Fail on any secret in any line, whatever its case. A short one (a six-digit code) counts only as a word of its
    own, so a hex request id that happens to contain its digits is no hit."""
    short = [s for s in secrets if len(s) < 8]
    long = [s.lower() for s in secrets if len(s) >= 8]
    words = re.compile("|".join(rf"(?<![0-9A-Za-z]){re.escape(s)}(?![0-9A-Za-z])" for s in short) or "(?!)", re.I)
    hits = []
    for line in lines:
        lowered = line.lower()
        hits += [(secret, line[:300]) for secret in long if secret in lowered]
        hits += [(match.group(0), line[:300]) for match in words.finditer(line)]
    assert not hits, f"{len(hits)} secret(s) in the logs, first: {hits[0]}"


def _people(app) -> dict:
    """A lot with two eligible providers (sites and a DSL each, one user each, two-factor on), an officer whose
    service has a DSL, and a manager."""
    with app.app_context():
        lot = make_lot(1, "Full Time Education Provision")
        providers = [
            eligible_provider(
                lot,
                name,
                registered=True,
                dsl_name="Dana Lead",
                dsl_role="Head of centre",
                dsl_email=f"dsl@{slug}.example",
                dsl_phone="01895 250111",
                sites=(("Main site", "1 High Street, Uxbridge", "UB8 1UW"),),
            )
            for name, slug in (("Bright Futures", "bright"), ("New Leaf", "leaf"))
        ]
        provider_users = [make_user(Role.PROVIDER, provider=provider) for provider in providers]
        officer = make_user(Role.OFFICER, name="Olive Officer")
        officer.service.dsl_name, officer.service.dsl_email = "Sam Service", "sam.service@council.example"
        manager = make_user(Role.MANAGER)
        db.session.commit()
        return {
            "officer": officer.email,
            "officer_id": officer.id,
            "lot": lot.id,
            "manager": manager.email,
            "provider_b": provider_users[1].email,
            "provider_a_name": providers[0].name,
            "site_a": db.session.scalar(sa.select(Site.id).where(Site.provider_id == providers[0].id)),
        }


def _accounts(app, journal, people) -> tuple[RecordingClient, RecordingClient]:
    """The manager (two-factor) invites a provider user, who sets a password and sets up two-factor; the other
    provider's user resets a forgotten password. Returns both providers' signed-in clients."""
    manager = _client(app, journal)
    assert sign_in(manager, people["manager"]).status_code == 302
    invite = {"email": "new.person@bright.example", "name": "New Person", "role": "provider"}
    response = _post(manager, "/manager/users/invite", {**invite, "provider": people["provider_a_name"]})
    assert response.status_code == 302, _text(response)

    provider_a = _client(app, journal)
    path, raw = _newest_link(app, "new.person@bright.example")
    journal.secrets.add(raw)
    assert provider_a.get(path).status_code == 200
    done = _post(provider_a, path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}, page=path)
    assert done.status_code == 302
    step = _post(provider_a, "/sign-in", {"email": "new.person@bright.example", "password": NEW_PASSWORD})
    assert step.headers["Location"] == "/two-factor/set-up"
    page = _text(provider_a.get("/two-factor/set-up"))
    secret = re.search(r'id="totp-secret"><code>([A-Z2-7 ]+)</code>', page).group(1).replace(" ", "")
    journal.secrets.update({secret, page.split('id="totp-secret"><code>')[1].split("<")[0]})
    codes_page = _post(provider_a, "/two-factor/set-up", {"code": pyotp.TOTP(secret).now()})
    journal.secrets.update(re.findall(r"<li><code>([0-9a-f]{5}-[0-9a-f]{5})</code></li>", _text(codes_page)))
    saved = _post(provider_a, "/two-factor/recovery-codes-saved", {}, page="/accessibility")
    assert saved.headers["Location"] == "/provider/"

    provider_b = _client(app, journal)
    assert _post(provider_b, "/forgot-password", {"email": people["provider_b"]}).status_code == 200
    path, raw = _newest_link(app, people["provider_b"])
    journal.secrets.add(raw)
    assert _post(provider_b, path, {"password": RESET_PASSWORD, "confirm": RESET_PASSWORD}, page=path).status_code == 302
    assert sign_in(provider_b, people["provider_b"], RESET_PASSWORD).status_code == 302
    return provider_a, provider_b


def _call_off(app, people, officer, provider_a, provider_b, frozen) -> int:
    """The officer writes a referral with the child and publishes it; one provider offers, the other declines; after
    the deadline the officer scores and awards. Returns the referral's id."""
    response = _post(officer, "/officer/referrals/new", TYPED_CHILD)
    assert response.status_code == 302, _text(response)
    referral_id = int(re.fullmatch(r"/officer/referrals/(\d+)/draft", response.headers["Location"]).group(1))
    base = f"/officer/referrals/{referral_id}/draft"
    for path, data in (
        (f"{base}/provision", _provision(people["lot"])),
        (f"{base}/aims", {**_aims(AIM_1, AIM_2), "action": "save"}),
        (f"{base}/profile", PROFILE),
    ):
        response = _post(officer, path, data)
        assert response.status_code == 302, _text(response)
    publish_path = f"/officer/referrals/{referral_id}/publish"
    deadline = {"deadline": _date(NOW.date() + timedelta(days=10)), "deadline_reason": "", "quality_weight": "70"}
    response = _post(officer, publish_path, deadline)
    assert response.status_code == 302, _text(response)
    # A search whose text is the child's name: the address carries it, the log line must not.
    assert officer.get(f"/officer/referrals?q={CHILD_FIRST_NAME}+{CHILD_LAST_NAME}").status_code == 200

    opportunity = f"/provider/opportunities/{referral_id}"
    assert provider_a.get(opportunity).status_code == 200
    with app.app_context():
        aim_ids = [aim.id for aim in db.session.get(Referral, referral_id).aims]
    offer = offer_fields(aim_ids, date(2027, 1, 11))
    response = _post(provider_a, f"{opportunity}/offer", offer, page=opportunity)
    assert response.status_code == 302, _text(response)
    assert provider_b.get(opportunity).status_code == 200
    declined = _post(provider_b, f"{opportunity}/decline", {"reason": "No places this term"}, page=opportunity)
    assert declined.status_code == 302

    with app.app_context():
        referral = db.session.get(Referral, referral_id)
        frozen["now"] = referral.deadline + timedelta(minutes=1)
        offer_id = db.session.scalar(sa.select(Offer.id).where(Offer.referral_id == referral_id))
        criteria = [c.key for c in scoring.criteria(referral)]
    offer_path = f"/officer/referrals/{referral_id}/offers/{offer_id}"
    scores = {field_name(kind, key): value for key in criteria for kind, value in (("score", "4"), ("comment", "Solid"))}
    response = _post(officer, f"{offer_path}/score", scores, page=offer_path)
    assert response.status_code == 302, _text(response)
    award = {"offer_id": str(offer_id), "rationale": "The best plan for the aims"}
    response = _post(officer, f"/officer/referrals/{referral_id}/award", award, page=f"/officer/referrals/{referral_id}")
    assert response.status_code == 302, _text(response)
    return referral_id


def _placement_and_attendance(app, people, referral_id, officer, provider_a, frozen) -> int:
    placement_path = f"/officer/referrals/{referral_id}/placement"
    form = placement_form({"version": "", "site": people["site_a"]})
    del form["version"]  # the drawn form's own
    response = _post(officer, placement_path, form)
    assert response.status_code == 302, _text(response)
    with app.app_context():
        placement_id = db.session.scalar(sa.select(Placement.id).where(Placement.referral_id == referral_id))
    assert officer.get(f"/placements/{placement_id}").status_code == 200

    frozen["now"] = datetime(2027, 1, 12, 14, 0, tzinfo=UTC)  # the Tuesday afternoon of the first week
    grid = f"/placements/{placement_id}/attendance"
    assert provider_a.get(grid).status_code == 200
    cell = {"day": "2027-01-11", "session": "am", "code-2027-01-11-am": "/"}
    token = csrf_token(provider_a, grid)
    response = provider_a.post(f"{grid}/cell", data=cell, headers={**HTMX, "X-CSRFToken": token})
    assert response.status_code == 200, _text(response)
    return placement_id


def test_the_main_journeys_leave_one_json_line_per_request_and_no_secret_in_any_log(app, capture, frozen):
    journal = Journal()
    people = _people(app)
    officer = _client(app, journal)
    refused = _post(officer, "/sign-in", {"email": people["officer"], "password": WRONG_PASSWORD})
    assert refused.status_code == 200
    assert sign_in(officer, people["officer"]).status_code == 302
    provider_a, provider_b = _accounts(app, journal, people)
    referral_id = _call_off(app, people, officer, provider_a, provider_b, frozen)
    _placement_and_attendance(app, people, referral_id, officer, provider_a, frozen)
    assert _post(officer, "/sign-out", {}, page="/accessibility").status_code == 302

    secrets = journal.secrets | _stored_secrets(app) | {DEFAULT_PASSWORD, TEST_TOTP_SECRET}
    secrets |= {NEW_PASSWORD, RESET_PASSWORD, WRONG_PASSWORD} | set(CHILD_FORMS)
    secrets.discard("")
    assert any(len(s) == 6 and s.isdigit() for s in secrets)  # the two-factor codes were noted
    lines = capture.lines()
    assert len(lines) > len(journal.responses)  # the SQL, the request lines and the rest were all captured
    _assert_no_secret_in(lines, secrets)

    # Exactly one request line per response, carrying the response's id and status.
    request_lines = capture.request_lines()
    ids = [request_id for request_id, _ in journal.responses]
    assert all(ids) and len(set(ids)) == len(ids)
    per_id = Counter(line["request_id"] for line in request_lines)
    assert per_id == Counter(ids)
    status_of = dict(journal.responses)
    for line in request_lines:
        assert set(REQUEST_FIELDS) | {"time", "level", "logger", "message"} <= set(line), line
        assert line["level"] == "INFO" and line["status"] == status_of[line["request_id"]]
        assert line["method"] in {"GET", "POST"} and isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
        assert line["route"] is None or (line["route"].startswith("/") and "?" not in line["route"])
        assert line["user_id"] is None or isinstance(line["user_id"], int)
        assert "@" not in json.dumps({k: line[k] for k in REQUEST_FIELDS})  # a user id, never an email
    routes = {(line["method"], line["route"], line["user_id"]) for line in request_lines}
    assert ("GET", "/set-password/<token>", None) in routes
    assert ("GET", "/officer/referrals/<int:referral_id>", people["officer_id"]) in routes
    assert ("GET", "/officer/referrals", people["officer_id"]) in routes
    assert ("POST", "/sign-out", people["officer_id"]) in routes  # still theirs, though it ends the session
    assert ("POST", "/placements/<int:placement_id>/attendance/cell") in {(m, r) for m, r, _ in routes}
    assert len([record for record in capture.records if record.name == LOGGER_NAME]) == len(ids)


def test_a_proxys_well_formed_request_id_is_kept_and_anything_else_replaced(client):
    kept = client.get("/accessibility", headers={"X-Request-Id": "lb-0123456789abcdef"})
    assert kept.headers["X-Request-Id"] == "lb-0123456789abcdef"
    for offered in ("short", "has spaces in it and more", "x" * 65, 'quote"and{brace}'):
        response = client.get("/accessibility", headers={"X-Request-Id": offered})
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-Id"]), offered
    assert re.fullmatch(r"[0-9a-f]{32}", client.get("/accessibility").headers["X-Request-Id"])


# Only the app this module builds registers these routes; the real app never has them.
crashing = Blueprint("request_log_crash", __name__, url_prefix="/_test_log")


@crashing.post("/link/<token>")
@public
def crash_with_secrets(token: str):
    # A database error whose parameters are the child's name, then a bug: the traceback must carry neither the
    # parameters, nor the path's token, nor the form.
    try:
        db.session.execute(sa.text("INSERT INTO no_such_table (name) VALUES (:name)"), {"name": CHILD_LAST_NAME})
    finally:
        db.session.rollback()


@pytest.fixture(scope="module")
def crashing_app(database_url, app):
    crash_app = make_app(database_url, PROPAGATE_EXCEPTIONS=False, WTF_CSRF_ENABLED=False)
    crash_app.register_blueprint(crashing)
    return crash_app


def test_an_exception_is_logged_with_the_route_and_request_id_never_the_path_query_form_or_sql_values(
    crashing_app, caplog
):
    caplog.set_level(logging.DEBUG)
    configure_logging(crashing_app)
    [handler] = [h for h in logging.getLogger("portal").handlers if getattr(h, "portal_handler", False)]
    stream = io.StringIO()
    handler.setStream(stream)
    try:
        token = "Tk9UX0FfUkVBTF9UT0tFTl9idXRfc2VjcmV0"
        response = crashing_app.test_client().post(
            f"/_test_log/link/{token}?q={CHILD_FIRST_NAME}",
            data={"password": DEFAULT_PASSWORD, "upn": CHILD_UPN},
        )
    finally:
        configure_logging(crashing_app)  # a fresh handler, on standard error again
    assert response.status_code == 500
    request_id = response.headers["X-Request-Id"]
    output = [json.loads(line) for line in stream.getvalue().splitlines()]
    [error] = [line for line in output if line["level"] == "ERROR"]
    assert error["message"] == "Exception on /_test_log/link/<token> [POST]"
    assert error["request_id"] == request_id and "no_such_table" in error["exception"]
    [line] = [line for line in output if line["logger"] == LOGGER_NAME]
    assert (line["route"], line["status"], line["request_id"]) == ("/_test_log/link/<token>", 500, request_id)
    formatter = JsonFormatter()
    lines = [formatter.format(record) for record in caplog.records] + [caplog.text, stream.getvalue()]
    _assert_no_secret_in(lines, {token, DEFAULT_PASSWORD, CHILD_UPN, CHILD_FIRST_NAME, CHILD_LAST_NAME})
