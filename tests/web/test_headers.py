"""Security headers on every GET route, compared by value."""

from __future__ import annotations

import re

import pytest

from portal.models import Role
from portal.security import DOWNLOAD_CSP, is_download
from tests.conftest import make_app
from tests.helpers import sign_in, start_session
from tests.web.test_access import ACCESS, PUBLIC, _rules, _url

NONCE = re.compile(r"script-src 'self' 'nonce-([A-Za-z0-9_-]{20,})'")
EXPECTED_CSP = (
    "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self'; img-src 'self'; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
FIXED_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _get_routes(app):
    return [rule for rule in _rules(app) if "GET" in rule.methods]


def _client_for(app, user_factory, access):
    client = app.test_client()
    if access != PUBLIC:
        start_session(client, user_factory(sorted(access)[0]).email)
    return client


def assert_security_headers(response, hsts: bool):
    if is_download(response):
        # A download is never a page: sandboxed, nothing may load or run (and it has no nonce).
        assert response.headers["Content-Security-Policy"] == DOWNLOAD_CSP
        return assert_fixed_headers(response, hsts)
    csp = response.headers["Content-Security-Policy"]
    match = NONCE.search(csp)
    assert match, csp
    assert csp == EXPECTED_CSP.format(nonce=match.group(1))
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert_fixed_headers(response, hsts)
    return match.group(1)


def assert_fixed_headers(response, hsts: bool) -> None:
    for name, value in FIXED_HEADERS.items():
        assert response.headers.get(name) == value, name
    if hsts:
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    else:
        assert "Strict-Transport-Security" not in response.headers


def test_every_get_route_sends_the_security_headers(app, user_factory):
    routes = _get_routes(app)
    assert len(routes) >= 6
    downloads = 0
    for rule in routes:
        client = _client_for(app, user_factory, ACCESS[rule.endpoint])
        response = client.get(_url(rule), buffered=True)
        assert_security_headers(response, hsts=False)
        downloads += is_download(response)
    assert downloads >= 2  # exports answer even with no rows (the other downloads are tested in their own modules)


def test_the_inline_script_carries_this_responses_nonce(client):
    first = client.get("/sign-in")
    nonce = assert_security_headers(first, hsts=False)
    assert f'<script nonce="{nonce}">' in first.get_data(as_text=True)
    second_nonce = assert_security_headers(client.get("/sign-in"), hsts=False)
    assert second_nonce != nonce


@pytest.mark.parametrize("path", ["/no-such-page", "/manager/"])
def test_error_and_redirect_responses_carry_the_headers_too(client, path):
    assert_security_headers(client.get(path), hsts=False)


def test_static_files_may_be_cached_but_keep_the_other_headers(client):
    response = client.get("/static/app.js")
    assert response.status_code == 200
    assert response.headers.get("Cache-Control") != "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_hsts_and_secure_cookies_outside_development(database_url, monkeypatch):
    monkeypatch.setenv("PORTAL_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 64)
    production = make_app(database_url)
    assert production.config["SESSION_COOKIE_SECURE"] is True
    response = production.test_client().get("/sign-in")
    assert_security_headers(response, hsts=True)
    assert "Secure" in response.headers["Set-Cookie"]


def test_signed_in_pages_are_never_stored(client, user_factory):
    sign_in(client, user_factory(Role.OFFICER).email)
    assert client.get("/officer/").headers["Cache-Control"] == "no-store"
