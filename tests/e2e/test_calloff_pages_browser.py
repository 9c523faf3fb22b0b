"""axe-core on the call-off pages the journey tests do not reach: the officer's withdraw, republish and off-DPS forms
(with their errors), the filtered referral list, the manager's referral list, a referral read only, the off-DPS queue
and decision form, and a provider's revise form and a withdrawn referral."""

from __future__ import annotations

from types import SimpleNamespace

from playwright.sync_api import expect

from portal.clock import now
from portal.extensions import db
from portal.models import Invitation, OffDpsRequest, Role
from portal.services import referrals
from tests.e2e.helpers import axe, sign_in
from tests.factories import make_user
from tests.factories_calloff import make_offer, make_referral, published_call_off


def _person(user) -> SimpleNamespace:
    """What signing in needs of a user, read while the session is open."""
    return SimpleNamespace(email=user.email, role=user.role)


def _evaluating_call_off(app) -> dict:
    """A referral every invited provider has answered (one offer, one decline): evaluating. Plus a draft."""
    with app.app_context():
        call = published_call_off()
        make_offer(call.referral, call.providers[0], call.provider_users[0])
        invitation = db.session.query(Invitation).filter_by(provider_id=call.providers[1].id).one()
        invitation.declined_at, invitation.decline_reason = now(), "No places until spring"
        db.session.commit()
        make_referral(call.officer, call.lot, child=call.referral.child)
        return {
            "referral": call.referral.id,
            "reference": referrals.reference(call.referral),
            "officer": _person(call.officer),
            "officer_id": call.officer.id,
        }


def test_the_officers_action_forms_pass_axe_with_and_without_errors(app, page):
    setting = _evaluating_call_off(app)
    sign_in(page, setting["officer"])
    referral = f"/officer/referrals/{setting['referral']}"

    page.goto("/officer/referrals?stage=draft")
    expect(page.get_by_role("heading", level=1)).to_have_text("Referrals")
    axe(page)

    for path, button, error in [
        (f"{referral}/republish", "Republish", "Enter the deadline"),
        (f"{referral}/off-dps", "Send to the manager", "Enter why the provision"),
        (f"{referral}/withdraw", "Withdraw referral", "Enter the reason"),
    ]:
        page.goto(path)
        axe(page)
        if path.endswith("republish"):
            for part in ("Day", "Month", "Year"):
                page.get_by_label(part, exact=True).fill("")
        page.get_by_role("button", name=button).click()
        expect(page.locator(".govuk-error-summary")).to_be_focused()
        expect(page.locator(".govuk-error-summary")).to_contain_text(error)
        axe(page)

    page.goto(f"{referral}/off-dps")
    page.get_by_label("Why").fill("No offer meets the medical needs; a hospital school place is available.")
    page.get_by_role("button", name="Send to the manager").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("sent to the manager")
    axe(page)


def test_the_managers_call_off_pages_pass_axe(app, page):
    setting = _evaluating_call_off(app)
    with app.app_context():
        referrals_request = OffDpsRequest(
            referral_id=setting["referral"], reason="No suitable offer", requested_by_id=setting["officer_id"]
        )
        db.session.add(referrals_request)
        db.session.commit()
        manager = _person(make_user(Role.MANAGER))
    sign_in(page, manager)

    page.get_by_role("navigation", name="Menu").get_by_role("link", name="Referrals", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Referrals")
    axe(page)
    page.goto(f"/manager/referrals/{setting['referral']}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Referral")
    axe(page)

    page.get_by_role("navigation", name="Menu").get_by_role("link", name="Off-DPS requests", exact=True).click()
    axe(page)
    page.get_by_role("link", name=setting["reference"]).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Commission off the DPS?")
    axe(page)
    page.get_by_label("Refuse: the referral stays on the DPS").check()
    page.get_by_role("button", name="Record decision").click()
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    axe(page)


def test_a_providers_revise_form_and_a_withdrawn_referral_pass_axe(app, page):
    with app.app_context():
        call = published_call_off()
        make_offer(call.referral, call.providers[0], call.provider_users[0])
        withdrawn = make_referral(call.officer, call.lot, child=call.referral.child)
        from tests.factories_calloff import publish

        publish(withdrawn, call.officer)
        referrals.withdraw(
            withdrawn.id, call.officer, version=withdrawn.version, reason="The family moved away", now=now()
        )
        db.session.commit()
        ids = {"open": call.referral.id, "withdrawn": withdrawn.id}
        provider = _person(call.provider_users[0])
    sign_in(page, provider)

    page.goto(f"/provider/opportunities/{ids['open']}/offer")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    axe(page)
    page.goto(f"/provider/opportunities/{ids['withdrawn']}")
    expect(page.locator("main")).to_contain_text("The family moved away")
    axe(page)
    page.goto("/provider/opportunities?show=closed")
    axe(page)


def test_the_feed_counts_down_to_the_deadline(app, page):
    """Published with a 3-day deadline (offers close at 5pm that day): the feed says so, by the server's clock."""
    with app.app_context():
        call = published_call_off(days=3)
        provider = _person(call.provider_users[0])
    sign_in(page, provider)
    page.goto("/provider/opportunities")
    expect(page.locator("main")).to_contain_text("Closes in 3 days (5pm on")
    axe(page)
