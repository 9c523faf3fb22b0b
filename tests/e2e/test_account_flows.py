"""Account journeys in a real browser: an invited provider user from the email link to their home page (with and
without JavaScript), the account pages, the two-factor code page, the session timeout warning, and the audit trail.
axe-core runs on every page a JavaScript test visits."""

from __future__ import annotations

import re
import time

import sqlalchemy as sa
from playwright.sync_api import Page, expect

from portal.extensions import db
from portal.models import OutboxMessage, Role, User
from portal.services import two_factor
from tests.e2e.helpers import (
    axe,
    page_url,
    read_totp_secret,
    recovery_codes,
    set_password_and_set_up_two_factor,
    sign_in,
    sign_out,
    submit_sign_in,
    submit_two_factor_code,
)
from tests.factories import ProviderFactory
from tests.helpers import DEFAULT_PASSWORD, TEST_TOTP_SECRET, totp_code

INVITEE_EMAIL = "pat.provider@acme.example"
INVITEE_NAME = "Pat Provider"
INVITEE_PASSWORD = "tangerine lighthouse gravel rowing"
IDLE_MESSAGE = "You were signed out because you had not done anything for a while"
SET_PASSWORD_LINK = re.compile(r"/set-password/([A-Za-z0-9_\-]+)")



def no_check(page: Page) -> None:
    """Stands in for axe on pages without JavaScript, where axe-core cannot run."""


def invitation_path(app, email: str) -> str:
    """The set-password link of the invitation waiting in the outbox, as a path on the live server."""
    with app.app_context():
        bodies = db.session.scalars(sa.select(OutboxMessage.body).where(OutboxMessage.to_address == email)).all()
    assert len(bodies) == 1, f"expected one email to {email}, found {len(bodies)}"
    match = SET_PASSWORD_LINK.search(bodies[0])
    assert match, f"no set-password link in the invitation:\n{bodies[0]}"
    return f"/set-password/{match.group(1)}"


# ---- 1 and 2: invited provider user, from the email link to their home page ---------------------------------------


def manager_invites_a_provider_user(page: Page, manager: User, check) -> None:
    submit_sign_in(page, manager.email)
    expect(page).to_have_url(page_url(page, "/sign-in/two-factor"))
    check(page)
    submit_two_factor_code(page)
    expect(page).to_have_url(page_url(page, "/manager/"))
    check(page)

    page.get_by_role("link", name="Users", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Users")
    check(page)
    page.get_by_role("link", name="Invite a user").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Invite a user")
    check(page)
    page.locator("#email").fill(INVITEE_EMAIL)
    page.locator("#name").fill(INVITEE_NAME)
    page.get_by_label("Provider", exact=True).check()
    page.locator("#provider").select_option("Acme Learning")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(INVITEE_NAME)
    expect(page.locator(".govuk-notification-banner")).to_contain_text(f"Invitation sent to {INVITEE_EMAIL}")
    check(page)
    sign_out(page)
    check(page)


def invitee_accepts_and_sets_up_two_factor(page: Page, path: str, check) -> str:
    """From the invitation link to the provider home page; returns the authenticator secret."""
    secret = set_password_and_set_up_two_factor(page, path, INVITEE_EMAIL, INVITEE_PASSWORD, check)
    expect(page.locator(".app-account__who")).to_contain_text(f"Signed in as {INVITEE_NAME}")
    expect(page.locator(".app-account__who")).to_contain_text("Acme Learning")
    return secret


def invitee_signs_in_again(page: Page, secret: str, check) -> None:
    sign_out(page)
    submit_sign_in(page, INVITEE_EMAIL, INVITEE_PASSWORD)
    expect(page).to_have_url(page_url(page, "/sign-in/two-factor"))
    check(page)
    # The set-up used this 30-second step's code: the next step's is accepted (the drift allowance).
    submit_two_factor_code(page, secret)
    expect(page).to_have_url(page_url(page, "/provider/"))
    expect(page.locator(".app-account__who")).to_contain_text(f"Signed in as {INVITEE_NAME}")
    check(page)


def test_an_invited_provider_user_sets_a_password_and_two_factor_then_signs_in(app, new_page, user_factory):
    with app.app_context():
        ProviderFactory(name="Acme Learning")
    manager = user_factory(Role.MANAGER, name="Morgan Manager")

    manager_invites_a_provider_user(new_page(), manager, axe)
    path = invitation_path(app, INVITEE_EMAIL)

    invitee = new_page()  # the invitee's own browser
    secret = invitee_accepts_and_sets_up_two_factor(invitee, path, axe)
    invitee_signs_in_again(invitee, secret, axe)

    # The link worked once.
    invitee.goto(path)
    expect(invitee.get_by_role("heading", level=1)).to_have_text("This link has been used already")
    axe(invitee)


def test_the_invitation_journey_works_as_plain_html_forms(app, new_page, user_factory):
    with app.app_context():
        ProviderFactory(name="Acme Learning")
    manager = user_factory(Role.MANAGER, name="Morgan Manager")

    manager_page = new_page(java_script_enabled=False)
    manager_invites_a_provider_user(manager_page, manager, no_check)
    path = invitation_path(app, INVITEE_EMAIL)

    invitee = new_page(java_script_enabled=False)
    secret = invitee_accepts_and_sets_up_two_factor(invitee, path, no_check)
    # GOV.UK Frontend marks the body when its scripts run: they never did.
    expect(invitee.locator("body")).not_to_have_class(re.compile(r"\bjs-enabled\b"))
    invitee_signs_in_again(invitee, secret, no_check)


# ---- 3: the account pages -----------------------------------------------------------------------------------------


def test_an_officer_uses_the_account_pages(page, new_page, user_factory):
    officer = user_factory(Role.OFFICER, name="Olu Officer")
    elsewhere = new_page()  # the officer is signed in on a second browser too
    sign_in(elsewhere, officer)
    sign_in(page, officer)

    page.get_by_role("link", name="Your account").click()
    expect(page).to_have_url(page_url(page, "/account/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Your account")
    summary = page.locator(".govuk-summary-list")
    expect(summary).to_contain_text("Olu Officer")
    expect(summary).to_contain_text(officer.email)
    expect(summary.get_by_role("link", name="Change email address")).to_be_visible()
    sessions = page.get_by_role("table", name="Browsers signed in to your account")
    expect(sessions.locator("tbody tr")).to_have_count(2)
    expect(sessions.locator(".govuk-tag", has_text="This browser")).to_have_count(1)
    expect(page.get_by_role("button", name="Sign out everywhere")).to_be_visible()
    expect(page.get_by_text("Off. A code from an app on your phone")).to_be_visible()
    axe(page)

    # Password: the errors first, then a change that signs the other browser out.
    page.get_by_role("link", name="Change your password").click()
    expect(page).to_have_url(page_url(page, "/account/password"))
    axe(page)
    page.get_by_role("button", name="Change password").click()
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter your current password")
    expect(page).to_have_title(re.compile(r"^Error: Change your password – "))
    axe(page)
    new_password = "marmalade otter voyage seventy"
    page.locator("#current_password").fill(DEFAULT_PASSWORD)
    page.locator("#password").fill(new_password)
    page.locator("#confirm").fill(new_password)
    page.get_by_role("button", name="Change password").click()
    expect(page).to_have_url(page_url(page, "/account/"))
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Your password has been changed.")
    expect(sessions.locator("tbody tr")).to_have_count(1)
    axe(page)
    elsewhere.reload()
    expect(elsewhere.locator(".govuk-notification-banner")).to_contain_text(
        "You were signed out because the password was changed."
    )

    # Email address.
    page.get_by_role("link", name="Change email address").click()
    expect(page).to_have_url(page_url(page, "/account/email"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Change your email address")
    axe(page)
    page.locator("#email").fill("olu.new@council.example")
    page.locator("#current_password").fill("not my password")
    page.get_by_role("button", name="Change email address").click()
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    expect(page.locator("#current_password-error")).to_contain_text("Your password is not correct")
    expect(page.locator("#email")).to_have_value("olu.new@council.example")
    axe(page)
    page.locator("#current_password").fill(new_password)
    page.get_by_role("button", name="Change email address").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        "Your email address is now olu.new@council.example."
    )
    expect(summary).to_contain_text("olu.new@council.example")

    # Two-factor is optional for officers: set it up from the account page, then turn it off.
    page.get_by_role("link", name="Set up two-factor authentication").click()
    expect(page).to_have_url(page_url(page, "/two-factor/set-up"))
    expect(page.get_by_text("so you must use a second step to sign in")).to_have_count(0)
    expect(page.locator(".app-qr-code svg")).to_be_visible()
    axe(page)
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    axe(page)
    secret = read_totp_secret(page)
    page.locator("#code").fill(totp_code(secret))
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    recovery_codes(page)
    axe(page)
    page.get_by_role("button", name="I have saved my recovery codes").click()
    expect(page).to_have_url(page_url(page, "/account/"))
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Two-factor authentication is on.")
    expect(page.get_by_text("You have 10 recovery codes left.")).to_be_visible()
    axe(page)

    page.get_by_role("link", name="Turn off two-factor authentication").click()
    expect(page).to_have_url(page_url(page, "/account/two-factor/turn-off"))
    axe(page)
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    expect(page.locator("#current_password-error")).to_contain_text("Enter your password")
    axe(page)
    page.locator("#current_password").fill(new_password)
    page.get_by_role("button", name="Confirm").click()
    expect(page).to_have_url(page_url(page, "/account/"))
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Two-factor authentication is off.")
    expect(page.get_by_role("link", name="Set up two-factor authentication")).to_be_visible()

    page.get_by_role("button", name="Sign out everywhere").click()
    expect(page).to_have_url(page_url(page, "/sign-in"))
    expect(page.locator(".govuk-notification-banner")).to_contain_text("You have been signed out on every device")
    axe(page)


def test_a_manager_makes_new_recovery_codes_and_cannot_turn_two_factor_off(page, user_factory):
    sign_in(page, user_factory(Role.MANAGER))
    page.goto("/account/")
    expect(
        page.get_by_text("Your role must use two-factor authentication, so it cannot be turned off.")
    ).to_be_visible()
    expect(page.get_by_role("link", name="Turn off two-factor authentication")).to_have_count(0)
    axe(page)
    page.goto("/account/two-factor/turn-off")
    expect(page).to_have_url(page_url(page, "/account/"))

    page.get_by_role("link", name="Make new recovery codes").click()
    expect(page).to_have_url(page_url(page, "/account/recovery-codes"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Make new recovery codes")
    axe(page)
    page.locator("#current_password").fill("not my password")
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    expect(page.locator("#current_password-error")).to_contain_text("Your password is not correct")
    axe(page)
    page.locator("#current_password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    recovery_codes(page)
    axe(page)
    page.get_by_role("link", name="Back to your account").click()
    expect(page).to_have_url(page_url(page, "/account/"))
    expect(page.get_by_text("You have 10 recovery codes left.")).to_be_visible()


# ---- 4: the two-factor code page ----------------------------------------------------------------------------------


def wrong_totp_code() -> str:
    """A 6-digit code the authenticator would not show now (the server accepts one step either side)."""
    valid = {totp_code(TEST_TOTP_SECRET, steps) for steps in (-2, -1, 0, 1, 2)}
    return next(code for code in ("123456", "654321", "111111", "222222", "333333", "444444") if code not in valid)


def test_a_wrong_two_factor_code_is_refused_and_a_recovery_code_works(app, page, user_factory):
    manager = user_factory(Role.MANAGER)
    with app.app_context():
        codes = two_factor.replace_recovery_codes(db.session.get(User, manager.id))
        db.session.commit()

    submit_sign_in(page, manager.email)
    expect(page).to_have_url(page_url(page, "/sign-in/two-factor"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your two-factor code")
    axe(page)

    page.locator("#code").fill(wrong_totp_code())
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(page_url(page, "/sign-in/two-factor"))
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("The code is not correct, or it has been used already")
    expect(page).to_have_title(re.compile(r"^Error: Enter your two-factor code – "))
    summary.get_by_role("link").click()
    expect(page.locator("#code")).to_be_focused()
    axe(page)

    page.locator("#code").fill(codes[0].upper())  # a recovery code, typed in capitals: not case sensitive
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(page_url(page, "/manager/"))
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        "You signed in with a recovery code. You have 9 left"
    )
    axe(page)


# ---- 5: the session timeout warning -------------------------------------------------------------------------------


def warning_dialog(page: Page):
    return page.get_by_role("dialog", name="You are about to be signed out")


def dialog_is_modal_and_open(page: Page) -> bool:
    return page.evaluate(
        "(() => { const d = document.getElementById('session-timeout'); return d.open && d.matches(':modal') })()"
    )


def bell_polls_change_nothing(page: Page) -> None:
    """Answer the bell's poll with 204 (htmx swaps nothing), so these tests see the dialog's own behaviour; the bell's
    real poll during the warning has its own test below."""
    page.route("**/notifications/count", lambda route: route.fulfill(status=204))


def count_bell_polls(page: Page) -> None:
    """window.bellPolls counts the bell's finished polls, once app.js has seen each (its listener was added first)."""
    page.evaluate(
        """() => {
            window.bellPolls = 0
            document.body.addEventListener('htmx:afterRequest', (event) => {
                if (event.detail.requestConfig.elt.id === 'notification-bell') window.bellPolls += 1
            })
        }"""
    )


def wait_for_bell_polls(page: Page, count: int) -> None:
    """Poll from Python: page.wait_for_function evaluates a string in the page, which the strict CSP (no
    'unsafe-eval') refuses."""
    deadline = time.monotonic() + 5
    while page.evaluate("() => window.bellPolls") < count:
        assert time.monotonic() < deadline, f"the bell polled fewer than {count} times"
        page.wait_for_timeout(20)


def test_the_session_timeout_warning(page, user_factory):
    page.clock.install()
    sign_in(page, user_factory(Role.OFFICER))
    bell_polls_change_nothing(page)
    dialog = warning_dialog(page)
    countdown = dialog.locator(".app-timeout-dialog__countdown")
    expect(dialog).to_be_hidden()

    # 30 idle minutes less the 2-minute warning.
    page.clock.fast_forward("27:00")
    expect(dialog).to_be_hidden()
    page.clock.fast_forward("01:01")
    expect(dialog).to_be_visible()
    assert dialog_is_modal_and_open(page)
    expect(countdown).to_have_text("2 minutes")
    expect(dialog).to_contain_text("For your security, we will sign you out in 2 minutes")
    expect(dialog.get_by_role("button", name="Stay signed in")).to_be_focused()
    axe(page)

    with page.expect_response("**/session/extend") as extend:
        dialog.get_by_role("button", name="Stay signed in").click()
    assert extend.value.request.method == "POST"
    assert extend.value.status == 204
    expect(dialog).to_be_hidden()
    expect(page).to_have_url(page_url(page, "/officer/"))  # no navigation: the page stays as it was

    # The clock started again: 28 more minutes bring the warning back, not fewer.
    page.clock.fast_forward("27:00")
    expect(dialog).to_be_hidden()
    page.clock.fast_forward("01:01")
    expect(dialog).to_be_visible()
    page.clock.fast_forward("01:01")
    expect(countdown).to_have_text(re.compile(r"^(59|58) seconds$"))

    # At zero the sign-out form is sent with reason "idle", and the sign-in page says why.
    with page.expect_request("**/sign-out") as sign_out_request:
        page.clock.fast_forward("01:00")
    assert sign_out_request.value.method == "POST"
    assert "reason=idle" in (sign_out_request.value.post_data or "")
    expect(page).to_have_url(page_url(page, "/sign-in"))
    expect(page.locator(".govuk-notification-banner")).to_contain_text(IDLE_MESSAGE)
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    axe(page)
    page.goto("/officer/")
    expect(page).to_have_url(re.compile(r"/sign-in\?next="))


def test_escape_on_the_timeout_warning_counts_as_stay_signed_in(page, user_factory):
    page.clock.install()
    sign_in(page, user_factory(Role.OFFICER))
    bell_polls_change_nothing(page)
    page.clock.fast_forward("28:01")
    expect(warning_dialog(page)).to_be_visible()

    with page.expect_response("**/session/extend") as extend:
        page.keyboard.press("Escape")
    assert extend.value.status == 204
    expect(warning_dialog(page)).to_be_hidden()
    expect(page).to_have_url(page_url(page, "/officer/"))

    # Escape restarted the clock as the button does: the warning comes back 28 minutes later, not before.
    page.clock.fast_forward("27:00")
    expect(warning_dialog(page)).to_be_hidden()
    page.clock.fast_forward("01:01")
    expect(warning_dialog(page)).to_be_visible()


def test_the_bells_poll_neither_closes_the_warning_nor_restarts_its_timer(page, user_factory):
    page.clock.install()
    sign_in(page, user_factory(Role.OFFICER))
    count_bell_polls(page)

    # The bell's poll is due in the same 28 minutes: it answers after the warning has opened.
    with page.expect_response("**/notifications/count"):
        page.clock.fast_forward("28:01")
    wait_for_bell_polls(page, 1)
    assert dialog_is_modal_and_open(page), "the bell's poll closed the timeout warning"

    # A second poll a minute later, sent the way the bell sends it (its own timer's next turn depends on when htmx
    # re-arms it after the swap, which the fake clock makes unpredictable).
    page.clock.fast_forward("01:01")
    with page.expect_response("**/notifications/count"):
        page.evaluate(
            "() => htmx.ajax('GET', '/notifications/count',"
            " {source: '#notification-bell', target: '#notification-bell', swap: 'outerHTML'})"
        )
    wait_for_bell_polls(page, 2)
    assert dialog_is_modal_and_open(page), "the bell's poll closed the timeout warning"
    expect(warning_dialog(page).locator(".app-timeout-dialog__countdown")).to_have_text(
        re.compile(r"^(59|58) seconds$")
    )

    # The countdown was not restarted by the polls: it ends on time. (A poll in flight as the sign-out form goes can
    # reach the server after it and take the page to sign-in again, without the message: keep it off the server.)
    bell_polls_change_nothing(page)
    page.clock.fast_forward("01:00")
    expect(page).to_have_url(page_url(page, "/sign-in"))
    expect(page.locator(".govuk-notification-banner")).to_contain_text(IDLE_MESSAGE)


# ---- 6: the audit trail -------------------------------------------------------------------------------------------


def test_the_audit_trail_and_its_event_filter(page, user_factory):
    manager = user_factory(Role.MANAGER)
    submit_sign_in(page, manager.email, "not the password")  # a sign-in failed event
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    sign_in(page, manager)

    page.get_by_role("link", name="Audit", exact=True).click()
    expect(page).to_have_url(page_url(page, "/manager/audit"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit trail")
    rows = page.get_by_role("table", name="Audit events, newest first").locator("tbody tr")
    expect(rows.first).to_be_visible()
    expect(rows.filter(has_text="Sign-in failed")).to_have_count(1)
    expect(rows.filter(has_text="Sign-in succeeded")).to_have_count(1)
    axe(page)

    page.locator("#event").select_option(label="Sign-in failed")
    page.get_by_role("button", name="Apply filters").click()
    # htmx replaced the main content and the address bar follows (it encodes the space as %20, a form would as +).
    expect(page).to_have_url(re.compile(r"/manager/audit\?event=sign-in(%20|\+)failed&actor=&record=&date_from=&date_to=$"))
    expect(page.get_by_role("heading", level=2, name="1 event")).to_be_visible()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Sign-in failed")
    expect(rows.first).to_contain_text(manager.email)
    expect(page.locator("#event")).to_have_value("sign-in failed")
    axe(page)

    page.locator("#event").select_option(label="Email changed")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_role("heading", level=2, name="No events match")).to_be_visible()
    axe(page)
