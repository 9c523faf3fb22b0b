"""A ``next`` (or ``back``) address only ever sends a person to a page of this site (issue 10, point 3).

Every place that redirects to an address the request names is tried with other sites written every way a browser
would still follow: scheme-relative, backslashes, schemes, percent-encoded, with tabs and line breaks a browser
strips, and CRLF (which must never become a second header, nor a 500).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from portal.models import Role
from tests.fuzz.conftest import signed_in
from tests.fuzz.pages import crawl, endpoint_of, local_path, parse
from tests.helpers import DEFAULT_PASSWORD, csrf_token, sign_in, submit_two_factor

EVIL = [
    "//evil.example",
    "///evil.example",
    "https://evil.example",
    "http:evil.example",
    "https:/evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "javascript:alert(document.domain)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "/\t/evil.example",
    "/\n/evil.example",
    "\t//evil.example",
    " //evil.example",
    "/\r\nLocation: https://evil.example",
    "/\r\nSet-Cookie: stolen=1",
    "/\x00/evil.example",
    "%2F%2Fevil.example",
    "/%2F%2Fevil.example",  # a path on this site once decoded by a browser: allowed, but must stay local
    "/%5Cevil.example",
    "%5C%5Cevil.example",
    "//evil.example@127.0.0.1",
    "/.evil.example",
    "\u3002evil.example",
    "/\u2215\u2215evil.example",  # division slashes
    "／／evil.example",  # fullwidth solidus
]
# One of each kind, for the forms whose every request acts on a record.
EVIL_SAMPLE = ["//evil.example", "https://evil.example", "/\\evil.example", "javascript:alert(1)", "/\t/evil.example",
               "/\r\nSet-Cookie: stolen=1", "/%2F%2Fevil.example", "\x00//evil.example"]


def assert_stays_on_the_site(response, sent: str) -> None:
    """A redirect to this site, or (a NUL byte in what was sent) a 400 that says why."""
    if "\x00" in sent or "%00" in sent:
        assert response.status_code == 400 and "a NUL byte" in response.get_data(as_text=True), sent
        return
    assert response.status_code == 302, f"{sent!r}: {response.status_code}"
    assert_local(response.headers["Location"], sent)


def assert_local(location: str, sent: str) -> None:
    parts = urlsplit(location)
    assert not parts.scheme and not parts.netloc, f"{sent!r} redirected off the site to {location!r}"
    assert location.startswith("/"), f"{sent!r} redirected to {location!r}"
    assert location[1:2] not in {"/", "\\"}, f"{sent!r} redirected to {location!r}"
    assert not any(ord(c) < 0x20 or ord(c) == 0x7F for c in location), f"{sent!r} put {location!r} in a header"


@pytest.mark.parametrize("target", EVIL)
def test_sign_in_never_sends_a_person_to_another_site(client, user_factory, target):
    user = user_factory(Role.OFFICER)  # no second factor: the password step finishes the sign-in
    response = client.get("/sign-in", query_string={"next": target})
    assert response.status_code == (400 if "\x00" in target else 200)
    response = client.post(
        "/sign-in",
        query_string={"next": target},
        data={"email": user.email, "password": DEFAULT_PASSWORD, "csrf_token": csrf_token(client, "/sign-in")},
    )
    assert_stays_on_the_site(response, target)


@pytest.mark.parametrize("raw", ["next=%2F%2Fevil.example", "next=%252F%252Fevil.example", "next=/%0d%0aX:1",
                                 "next=%2F%09%2Fevil.example", "next=%5C%5Cevil.example", "next=//evil.example%00"])
def test_sign_in_next_percent_encoded_in_the_query(client, user_factory, raw):
    user = user_factory(Role.OFFICER)
    token = csrf_token(client, "/sign-in")
    response = client.post(f"/sign-in?{raw}", data={"email": user.email, "password": DEFAULT_PASSWORD,
                                                   "csrf_token": token})
    assert_stays_on_the_site(response, raw)


def test_a_local_next_is_still_followed(client, user_factory):
    user = user_factory(Role.OFFICER)
    token = csrf_token(client, "/sign-in")
    response = client.post("/sign-in?next=/officer/referrals?status=open",
                           data={"email": user.email, "password": DEFAULT_PASSWORD, "csrf_token": token})
    assert response.headers["Location"] == "/officer/referrals?status=open"


def test_sign_in_with_a_second_factor_keeps_next_local(app, client, user_factory):
    for target in ("//evil.example", "/\r\nSet-Cookie: stolen=1", "https://evil.example"):
        user = user_factory(Role.MANAGER)  # one each: a code is used once, and these come within 30 seconds
        fresh = app.test_client()
        token = csrf_token(fresh, "/sign-in")
        response = fresh.post("/sign-in", query_string={"next": target},
                              data={"email": user.email, "password": DEFAULT_PASSWORD, "csrf_token": token})
        assert response.headers["Location"] == "/sign-in/two-factor"
        response = submit_two_factor(fresh)
        assert response.status_code == 302
        assert_local(response.headers["Location"], target)


@pytest.mark.parametrize("target", EVIL)
def test_stay_signed_in_goes_back_only_to_this_site(client, user_factory, target):
    sign_in(client, user_factory(Role.OFFICER).email)
    response = client.post("/session/extend", data={"back": target, "csrf_token": csrf_token(client)})
    assert_stays_on_the_site(response, target)


def test_every_form_that_names_where_to_go_next_stays_on_the_site(demo_world):
    """The SLA actions (and any form added later with a next/back/return_to/from field) with hostile targets."""
    app = demo_world
    client = signed_in(app, "manager")
    result = crawl(app, client, ["/manager/slas", "/manager/"], check_writes=False)
    named = {endpoint_of(app, local_path(form.action), "POST"): form for form in result.forms
             if form.method == "post" and {"next", "back", "return_to", "from"} & form.fields.keys()}
    assert named, "no form names where to go next: the crawl found nothing to check"
    checked = 0
    for form in named.values():  # one form a route: the SLA pages are slow, and the check is the route's
        for target in EVIL_SAMPLE:
            page = client.get(local_path(form.page))
            fresh = [f for f in parse(form.page, page.get_data(as_text=True)).forms if f.action == form.action]
            if not fresh:
                break
            data = fresh[0].default_data()
            for name in {"next", "back", "return_to", "from"} & fresh[0].fields.keys():
                data.setlist(name, [target])
            response = client.post(local_path(form.action), data=data, buffered=True)
            assert response.status_code < 500, f"{form.action} with {target!r}: {response.status_code}"
            if "Location" in response.headers:
                assert_local(response.headers["Location"], target)
            checked += 1
    assert checked >= len(EVIL_SAMPLE)

