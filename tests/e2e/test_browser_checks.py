"""The checks every browser test relies on actually catch what they are for: a CSP violation, a missing asset."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import PageProblems, axe


def test_the_page_watch_reports_csp_violations_and_missing_assets(app, browser, live_server):
    context = browser.new_context(base_url=live_server)
    try:
        page = context.new_page()
        problems = PageProblems()
        problems.watch(page)
        response = page.goto("/no-such-page")
        assert response.status == 404
        with page.expect_response("**/static/no-such-image.png"):
            page.evaluate(
                """() => {
                    const script = document.createElement('script')
                    script.textContent = 'window.inlineScriptRan = true'  // no nonce: the CSP refuses it
                    document.body.append(script)
                    const image = document.createElement('img')
                    image.src = '/static/no-such-image.png'
                    image.alt = ''
                    document.body.append(image)
                }"""
            )
        assert page.evaluate("window.inlineScriptRan") is None
        page.wait_for_load_state("networkidle")
    finally:
        context.close()

    report = problems.report()
    assert any("Content Security Policy" in line for line in problems.console_errors), report
    assert problems.error_responses == [f"404 GET {live_server}/static/no-such-image.png"], report
    # The 404 page itself is what the test asked for: neither it nor chromium's log line about it is a problem.
    assert not any("/no-such-page" in line for line in report), report


def test_axe_reports_a_violation_with_its_nodes(page):
    page.goto("/accessibility")
    page.evaluate(
        """() => {
            const image = document.createElement('img')  // no alt text: WCAG 1.1.1
            image.src = '/static/favicon.svg'
            image.id = 'image-without-alt'
            document.querySelector('main').append(image)
        }"""
    )
    with pytest.raises(AssertionError) as failure:
        axe(page)
    message = str(failure.value)
    assert "image-alt (critical)" in message
    assert "#image-without-alt" in message
