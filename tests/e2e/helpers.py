"""What the browser tests do again and again: sign in and out through the forms, and run axe-core on a page."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import ConsoleMessage, Page, Request, Response, expect

from tests.helpers import DEFAULT_PASSWORD, TEST_TOTP_SECRET, totp_code

E2E_DIR = Path(__file__).resolve().parent
AXE_SCRIPT = E2E_DIR / "vendor" / "axe-core-4.14.1.min.js"
AXE_URL_PATH = "/_e2e/axe.js"  # served by the live server (see conftest.py), so the page's CSP allows it
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def submit_sign_in(page: Page, email: str, password: str = DEFAULT_PASSWORD) -> None:
    """Fill in and send the sign-in form, as a person would."""
    page.goto("/sign-in")
    page.locator("#email").fill(email)
    page.locator("#password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_in(page: Page, user, home: str | None = None) -> None:
    """Sign a factory user in (answering the two-factor step if they have one) and wait for their home page."""
    submit_sign_in(page, user.email)
    page.wait_for_load_state()
    if urlsplit(page.url).path == "/sign-in/two-factor":
        submit_two_factor_code(page)
    expect(page).to_have_url(page_url(page, home or f"/{user.role.value}/"))
    page.wait_for_load_state()


def submit_two_factor_code(page: Page, secret: str = TEST_TOTP_SECRET) -> None:
    """Type the authenticator's code; if this 30-second step's code was used already, the next step's."""
    for steps_ahead in (0, 1):
        page.locator("#code").fill(totp_code(secret, steps_ahead))
        page.get_by_role("button", name="Continue").click()
        page.wait_for_load_state()
        if urlsplit(page.url).path != "/sign-in/two-factor":
            return


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(page_url(page, "/sign-in"))
    page.wait_for_load_state()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("You have signed out.")


def page_url(page: Page, path: str) -> str:
    """The absolute URL of ``path`` on the site the page is on."""
    parts = urlsplit(page.url)
    return f"{parts.scheme}://{parts.netloc}{path}"


def axe(page: Page) -> None:
    """Run axe-core on the page as it is now and fail listing every WCAG 2.2 A/AA violation it finds."""
    # A click on a link returns once the navigation has begun: on a busy machine the new document may not have a head
    # yet to add the script to.
    page.wait_for_load_state()
    page.add_script_tag(url=page_url(page, AXE_URL_PATH))
    # Only violations are read: axe then skips building selectors and snippets for every passing node (a third of
    # its time here), which changes nothing it checks.
    options = {"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]}
    results = page.evaluate("options => axe.run(document, options)", options)
    violations = results["violations"]
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} <{violation['helpUrl']}>")
        for node in violation["nodes"]:
            target = " ".join(map(str, node["target"]))
            summary = " ".join(node.get("failureSummary", "").split())
            lines.append(f"    {target}: {summary}")
    assert not violations, f"axe found {len(violations)} violation(s) on {page.url}:\n" + "\n".join(lines)


# htmx logs a request the page itself cancelled (a later action on a results region, hx-sync ...:replace) as these two
# errors. Like a request the browser aborted, that is no fault; a failed send or a timeout logs its own error too.
HTMX_CANCELLED = ("htmx:afterRequest", "htmx:sendAbort")


@dataclass
class PageProblems:
    """What went wrong on a page's sub-resources or console while a test ran."""

    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    error_responses: list[str] = field(default_factory=list)
    # Main documents answered with an error status: chromium logs "Failed to load resource" for them too.
    error_documents: set[str] = field(default_factory=set)

    def watch(self, page: Page) -> None:
        page.on("console", self._on_console)
        page.on("requestfailed", self._on_request_failed)
        page.on("response", self._on_response)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        url = message.location.get("url", "")
        if message.text.startswith("Failed to load resource") and url in self.error_documents:
            return
        if message.text.startswith(HTMX_CANCELLED):
            return
        self.console_errors.append(f"{message.text} (at {url or 'unknown location'})")

    def _on_request_failed(self, request: Request) -> None:
        if request.failure == "net::ERR_ABORTED":
            return  # the browser cancelled it (the test moved on to another page), no server answered it
        self.failed_requests.append(f"{request.method} {request.url}: {request.failure}")

    def _on_response(self, response: Response) -> None:
        if response.status < 400:
            return
        if response.request.is_navigation_request() and response.request.frame.parent_frame is None:
            self.error_documents.add(response.url)
            return
        self.error_responses.append(f"{response.status} {response.request.method} {response.url}")

    def report(self) -> list[str]:
        return (
            [f"console error: {e}" for e in self.console_errors]
            + [f"request failed: {e}" for e in self.failed_requests]
            + [f"sub-resource error: {e}" for e in self.error_responses]
        )


# ---- From an emailed link to a provider's home page (invitation or registration) ----------------------------------

RECOVERY_CODE = re.compile(r"[0-9a-f]{5}-[0-9a-f]{5}")


def read_totp_secret(page: Page) -> str:
    """Open 'I cannot scan the QR code' and read the key typed into an authenticator app."""
    secret = page.locator("#totp-secret")
    expect(secret).to_be_hidden()
    page.locator("details summary", has_text="I cannot scan the QR code").click()
    expect(page.locator("details.govuk-details")).to_have_attribute("open", "")
    expect(secret).to_be_visible()
    key = "".join(secret.inner_text().split())
    assert re.fullmatch(r"[A-Z2-7]{32}", key), f"not a base32 TOTP key: {key!r}"
    return key


def recovery_codes(page: Page) -> list[str]:
    expect(page.get_by_role("heading", level=1)).to_have_text("Save your recovery codes")
    items = page.get_by_role("list", name="Recovery codes").locator("li")
    expect(items).to_have_count(10)
    codes = [text.strip() for text in items.all_inner_texts()]
    assert all(RECOVERY_CODE.fullmatch(code) for code in codes), codes
    assert len(set(codes)) == 10
    return codes


def set_password_and_set_up_two_factor(page: Page, path: str, email: str, password: str, check) -> str:
    """Open a set-password link, set the password, sign in, set up the (mandatory) two-factor and save the recovery
    codes, ending on the provider home page; ``check`` runs on every page (axe, or nothing without JavaScript).
    Returns the authenticator secret."""
    page.goto(path)
    expect(page.get_by_role("heading", level=1)).to_have_text("Set your password")
    expect(page.locator(".govuk-caption-l")).to_have_text(email)
    check(page)
    page.locator("#password").fill(password)
    page.locator("#confirm").fill(password)
    page.get_by_role("button", name="Set password").click()
    expect(page).to_have_url(page_url(page, "/sign-in"))
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Your password is set. Sign in.")
    check(page)

    page.locator("#email").fill(email)
    page.locator("#password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(page_url(page, "/two-factor/set-up"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up two-factor authentication")
    expect(page.get_by_text("so you must use a second step to sign in")).to_be_visible()  # mandatory for providers
    expect(page.locator(".app-qr-code svg")).to_be_visible()
    check(page)
    secret = read_totp_secret(page)
    check(page)  # with the details open

    page.locator("#code").fill(totp_code(secret))
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    recovery_codes(page)
    check(page)
    page.get_by_role("button", name="I have saved my recovery codes").click()
    expect(page).to_have_url(page_url(page, "/provider/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Your organisation on the dynamic purchasing system")
    check(page)
    return secret
