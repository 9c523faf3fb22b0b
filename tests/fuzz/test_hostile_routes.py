"""Every route, enumerated from ``app.url_map`` and reached through the demo's real pages (issue 10, point 3):

- a GET never changes the database: the row count of every table is the same before and after every page each role
  can reach (an audit event recording that someone read a child's record, downloaded a document or was refused is
  the one write a read makes, and it is checked by its kind);
- a POST without its CSRF token (or with a wrong one) is refused, as a plain form and as htmx, and writes nothing.
"""

from __future__ import annotations

from werkzeug.routing import IntegerConverter, UUIDConverter

from tests.fuzz.conftest import PEOPLE, signed_in
from tests.fuzz.pages import Snapshot, crawl, local_path
from tests.fuzz.test_hostile_forms import IN_STATES

# Where an anonymous person starts: the public pages and the public forms.
PUBLIC_START = ["/", "/sign-in", "/register", "/forgot-password", "/accessibility"]

# GET routes no crawl reaches, with why. Each is still refused to the wrong roles by tests/web/test_access.py.
GET_NOT_REACHED = {
    # Only half-way through signing in, or from an emailed link with its token.
    "auth.two_factor_code": "half-way through signing in (tests/fuzz/test_hostile_public.py)",
    "auth.two_factor_set_up": "reached half-way through signing in or from the account page by an officer",
    "auth.set_password": "needs the token from an emailed link (tests/fuzz/test_hostile_public.py)",
    # Pages of records in states the small demo has none in: tests/fuzz/test_hostile_forms_in_states.py reads each
    # (on a record it adds) for the form it fuzzes, and checks the read writes nothing.
    "account.turn_off_two_factor": IN_STATES,
    "manager.decide_off_dps": IN_STATES,
    "manager.propose_erasure": IN_STATES,
    "manager.erasure": IN_STATES,
    "officer.new_placement": IN_STATES,
    "officer.publish_referral": IN_STATES,
    "provider.application_sites": IN_STATES,
    "provider.reconfirmation": IN_STATES,
    # Downloads and fragments of those states.
    "manager.off_dps_requests_csv": "linked from the off-DPS list only when it has requests",
    "manager.subject_access": "linked from a child's retention entry, none in the small demo",
    "manager.subject_access_json": "linked from the subject access page",
    "officer.placement_responsibility": "the htmx prompt of the new placement form",
}


def _get_endpoints(app) -> set[str]:
    return {r.endpoint for r in app.url_map.iter_rules() if "GET" in r.methods and r.endpoint != "static"}


def test_no_get_route_changes_the_database(demo_world):
    app = demo_world
    reached: set[str] = set()
    writes = []
    for who in PEOPLE:
        result = crawl(app, signed_in(app, who), ["/"])
        reached |= result.endpoints.keys()
        writes += [(who, path, changes) for path, changes in result.writes]
    anonymous = crawl(app, app.test_client(), PUBLIC_START)
    reached |= anonymous.endpoints.keys()
    writes += [("anonymous", path, changes) for path, changes in anonymous.writes]

    assert not writes, "GET requests that changed the database:\n" + "\n".join(map(str, writes))
    not_reached = sorted(_get_endpoints(app) - reached - GET_NOT_REACHED.keys())
    assert not not_reached, f"GET routes no crawl reached (give the demo the record, or a reason): {not_reached}"


def _dummy_url(rule) -> str:
    values = {}
    for name in rule.arguments:
        converter = rule._converters[name]
        values[name] = (
            1 if isinstance(converter, IntegerConverter)
            else "00000000-0000-0000-0000-000000000000" if isinstance(converter, UUIDConverter) else "x"
        )
    return rule.build(values, append_unknown=False)[1]


def _refused_for_csrf(response) -> bool:
    return response.status_code == 400 and "Your form could not be sent" in response.get_data(as_text=True)


def test_every_post_route_refuses_a_request_without_its_csrf_token(demo_world):
    app = demo_world
    assert app.config["WTF_CSRF_ENABLED"], "the test app must check CSRF tokens like the real one"
    sent: set[str] = set()
    failures = []
    people = [(who, signed_in(app, who)) for who in PEOPLE] + [("anonymous", app.test_client())]
    for who, client in people:
        result = crawl(app, client, ["/"] if who != "anonymous" else PUBLIC_START, check_writes=False)
        for endpoint, forms in result.forms_by_endpoint(app).items():
            for form in [form for form in forms if form.method == "post"][:1]:
                if endpoint in sent:
                    continue  # one real form a route is enough: the check is the route's, not the record's
                data = form.default_data()
                token = data.pop("csrf_token", None)
                for variant, headers, values in (
                    ("no token", {}, data),
                    ("no token, htmx", {"HX-Request": "true"}, data),
                    ("a wrong token", {}, {**data.to_dict(flat=False), "csrf_token": (token or "x")[::-1]}),
                    ("a wrong header token, htmx", {"HX-Request": "true", "X-CSRFToken": "forged"}, data),
                ):
                    before = Snapshot(app)
                    response = client.post(local_path(form.action), data=values, headers=headers, buffered=True)
                    if not _refused_for_csrf(response):
                        failures.append(f"{who}: {form.action} ({endpoint}) with {variant}: {response.status_code}")
                    changes = before.unexpected_changes()
                    if changes:
                        failures.append(f"{who}: {form.action} ({endpoint}) with {variant} wrote {changes}")
                sent.add(endpoint)
    # Routes whose form no crawl found are still sent a request without a token, at an address with made-up ids.
    client = people[0][1]
    for rule in app.url_map.iter_rules():
        if "POST" in rule.methods and rule.endpoint not in sent:
            before = Snapshot(app)
            response = client.post(_dummy_url(rule), data={}, buffered=True)
            if not _refused_for_csrf(response) or before.unexpected_changes():
                failures.append(f"{rule.rule} ({rule.endpoint}) without a token: {response.status_code}")
            sent.add(rule.endpoint)
    assert not failures, "\n".join(failures)
    assert len(sent) >= 60
