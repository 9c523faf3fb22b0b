"""htmx is wired as the house rules say: no injected styles, the CSRF token on every request."""

import contextlib
import re
from types import SimpleNamespace

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from portal.models import Role
from tests.e2e.helpers import sign_in
from tests.factories_calloff import published_call_off


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


def test_the_browser_revalidates_a_polled_section_and_an_unchanged_poll_comes_back_304(app, page):
    """The offers section polls every 10 seconds: from the second poll on, Chromium sends the ETag of its copy, and
    while nothing has changed the portal answers 304 without a body (portal.web.revalidated)."""
    with app.app_context():
        call = published_call_off()
        officer, referral_id = SimpleNamespace(email=call.officer.email, role=Role.OFFICER), call.referral.id
    sign_in(page, officer)
    page.clock.install()  # the page's timers run when the test says, not after 10 real seconds each
    page.goto(f"/officer/referrals/{referral_id}")
    section = page.locator("#referral-offers")

    def poll(response) -> bool:
        return response.url.endswith(f"/officer/referrals/{referral_id}") and "hx-request" in response.request.headers

    # The poll swaps the section's outerHTML; the new copy starts its own 10-second timer once htmx has processed it.
    # Python hears of the response before the page has swapped it in, so wait for that, or the next run_for would
    # pass before the new timer exists (it failed so in CI, under load).
    page.evaluate(
        "() => { window.sectionSwapped = new Promise(resolve => document.addEventListener("
        "'htmx:load', e => { if (e.detail.elt.id === 'referral-offers') resolve() })) }"
    )
    with page.expect_response(poll) as first:
        page.clock.run_for(10_000)
    assert first.value.status == 200 and first.value.headers["etag"]
    page.evaluate("window.sectionSwapped")  # evaluate waits for the promise (wait_for_function would need eval: CSP)
    with page.expect_response(poll) as second:
        page.clock.run_for(10_000)
    request_headers = second.value.request.all_headers()
    assert request_headers.get("if-none-match") == first.value.headers["etag"]
    # Playwright reports the response htmx got (the browser's copy, 200); what crossed the wire was a bodiless 304.
    assert second.value.status == 200 and second.value.request.sizes()["responseBodySize"] == 0
    assert first.value.request.sizes()["responseBodySize"] > 1000
    assert section.get_by_text("No offers yet.").is_visible()  # htmx swapped in the browser's copy


def test_a_filter_change_cancels_a_page_change_still_on_its_way(page, user_factory):
    """The page links and the filter form replace one results region, and htmx drops an answer whose region has been
    replaced meanwhile. So without a guard, a page change answered after a later change of filter would show the
    unfiltered page and drop the filter's answer. The results regions sync on the main element: the later action
    cancels the earlier one still on its way."""
    for number in range(26):
        user_factory(Role.OFFICER, name=f"Officer {number:02}")
    sign_in(page, user_factory(Role.MANAGER, name="Mia Manager"))
    page.goto("/manager/users")
    results = page.locator("#user-results")
    expect(results).to_contain_text("page 1 of 2")

    held, failed = [], []
    page.route(re.compile(r"/manager/users\?"), lambda route: held.append(route))  # each answer waits for release
    page.on("requestfailed", lambda request: failed.append(request.url))
    with page.expect_request(re.compile(r"page=2")):
        page.get_by_role("link", name="Next").click()
    with page.expect_request(re.compile(r"role=manager")):
        page.locator("#role").select_option("manager")
    # Playwright hears of the route and of the cancelled request a moment after the request event: wait for both.
    for _ in range(100):
        cancelled = [url for url in failed if "page=2" in url]
        if len(held) == 2 and cancelled:
            break
        page.wait_for_timeout(50)
    assert cancelled, "the page change still on its way was not cancelled"

    page_change, filter_change = held
    with contextlib.suppress(PlaywrightError):  # the page has cancelled it: there is nothing left to answer
        page_change.continue_()
    filter_change.continue_()
    expect(results).to_contain_text("1 user")
    expect(results).to_contain_text("Mia Manager")
    expect(page).to_have_url(re.compile(r"/manager/users\?.*role=manager"))
