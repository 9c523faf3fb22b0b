"""htmx is wired as the house rules say: no injected styles, the CSRF token on every request."""

from portal.models import Role
from tests.e2e.helpers import sign_in


def test_htmx_requests_carry_the_csrf_token_and_inject_no_styles(page, user_factory):
    sign_in(page, user_factory(Role.MANAGER))
    assert page.evaluate("htmx.version").startswith("2.0.")
    assert page.evaluate("htmx.config.includeIndicatorStyles") is False
    assert page.locator("style").count() == 0  # a strict CSP would block an injected <style>

    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    with page.expect_request("**/manager/") as request_info:
        page.evaluate("htmx.ajax('GET', '/manager/', {target: '#main-content', swap: 'none'})")
    headers = request_info.value.headers
    assert headers["hx-request"] == "true"
    assert headers["x-csrftoken"] == token
