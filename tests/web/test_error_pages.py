"""Error pages: the house style, the right status, never a stack trace."""

import pytest

from portal.errors import CSRF_PAGE, ERROR_PAGES
from portal.models import Role
from tests.conftest import make_app
from tests.helpers import failing_routes, sign_in


@pytest.fixture(scope="module")
def failing_app(database_url, app):
    """An app with routes that fail on purpose, and exceptions handled as in production."""
    failing = make_app(database_url, PROPAGATE_EXCEPTIONS=False, MAX_CONTENT_LENGTH=1024)
    failing.register_blueprint(failing_routes)
    return failing


def _assert_error_page(response, status, title):
    page = response.get_data(as_text=True)
    assert response.status_code == status
    assert f"<h1 class=\"govuk-heading-l\">{title}</h1>" in page
    assert f"<title>{title} –" in page
    assert "Traceback" not in page and "RuntimeError" not in page
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")


@pytest.mark.parametrize("code", [400, 403, 404, 405, 413, 429, 500])
def test_each_status_has_its_page(failing_app, code):
    response = failing_app.test_client().get(f"/_test/abort/{code}")
    _assert_error_page(response, code, ERROR_PAGES[code][0])


def test_an_unexpected_exception_shows_the_500_page(failing_app):
    _assert_error_page(failing_app.test_client().get("/_test/crash"), 500, ERROR_PAGES[500][0])


def test_unknown_page_is_404(client):
    _assert_error_page(client.get("/no-such-page"), 404, ERROR_PAGES[404][0])


def test_wrong_method_is_405_with_allow_header(client):
    response = client.get("/sign-out")
    _assert_error_page(response, 405, ERROR_PAGES[405][0])
    assert response.headers["Allow"] == "OPTIONS, POST"


def test_wrong_role_is_403(client, user_factory):
    sign_in(client, user_factory(Role.PROVIDER).email)
    _assert_error_page(client.get("/officer/"), 403, ERROR_PAGES[403][0])


def test_a_form_without_its_csrf_token_is_refused(client, user_factory):
    user = user_factory(Role.MANAGER)
    response = client.post("/sign-in", data={"email": user.email, "password": "whatever it is"})
    _assert_error_page(response, 400, CSRF_PAGE[0])
    assert client.get("/manager/").status_code == 302  # not signed in


def test_too_large_a_request_is_413(failing_app):
    response = failing_app.test_client().post("/sign-in", data={"email": "x" * 5000})
    _assert_error_page(response, 413, ERROR_PAGES[413][0])
