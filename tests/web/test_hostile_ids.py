"""An id in an address past what an integer column holds is a 404, like any record that is not there, never a 500
(issue 10, point 3; found by the hostile-input fuzz: PostgreSQL refuses such a parameter from 2**31, SQLite overflows
from 2**63). Every GET route with an id in its address, as a person who may use it."""

from __future__ import annotations

from werkzeug.routing import IntegerConverter

from tests.web.test_access import ACCESS, PUBLIC, _rules, _url
from tests.web.test_headers import _client_for

LARGEST_ID = 2**31 - 1


def _routes_with_ids(app):
    return [
        rule
        for rule in _rules(app)
        if "GET" in rule.methods
        and any(isinstance(rule._converters[name], IntegerConverter) for name in rule.arguments)
    ]


def test_an_id_past_an_integer_column_is_not_found_on_every_route(app, user_factory):
    routes = _routes_with_ids(app)
    assert len(routes) >= 40
    clients = {}
    failures = []
    for rule in routes:
        access = ACCESS[rule.endpoint]
        key = "public" if access == PUBLIC else sorted(access)[0]
        client = clients.get(key) or clients.setdefault(key, _client_for(app, user_factory, access))
        for number in (LARGEST_ID, LARGEST_ID + 1, 2**63, 10**30):
            response = client.get(_url(rule, number), buffered=True)
            if response.status_code != 404:
                failures.append(f"{rule.rule} with {number}: {response.status_code}")
    assert not failures, "\n".join(failures)
