"""An SLA from admission to invitations in a real browser: the manager admits a provider (which drafts its SLA), sets
the rate caps and sends it; the provider's user accepts it, signing; the manager approves it from the queue with
JavaScript turned off (the htmx inline action is a plain form underneath). Only then is the provider invited to a
call-off in the lot. axe-core runs on every page shown."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

from playwright.sync_api import expect

from portal.clock import london_today
from portal.extensions import db
from portal.models import Role, Sla, SlaStatus
from portal.services.eligibility import eligible_providers
from tests.e2e.helpers import axe, sign_in
from tests.factories import ProviderFactory, make_lot, make_user
from tests.factories_calloff import make_referral, publish
from tests.factories_dps import make_submitted_application

PROVIDER = "Bright Futures"


def _set_up(app) -> dict:
    with app.app_context():
        lot = make_lot(1, "Full Time Education Provision")
        provider = ProviderFactory(name=PROVIDER, dsl_name="Dana Lead")
        provider_user = make_user(Role.PROVIDER, provider=provider)
        manager = make_user(Role.MANAGER)
        application = make_submitted_application(provider=provider, lots=[lot], submitted_on=date(2026, 1, 5))
        return {
            "lot": lot.id,
            "provider": provider.id,
            "application": application.id,
            "provider_user": SimpleNamespace(email=provider_user.email, role=provider_user.role),
            "manager": SimpleNamespace(email=manager.email, role=manager.role),
        }


def _eligible(app, setting) -> bool:
    from portal.models import Lot

    with app.app_context():
        lot = db.session.get(Lot, setting["lot"])
        return setting["provider"] in {p.id for p in eligible_providers(lot, london_today())}


def test_admission_to_an_approved_sla_and_invitations(app, new_page):
    setting = _set_up(app)
    manager, provider, manager_no_js = new_page(), new_page(), new_page(java_script_enabled=False)

    # --- The manager admits the provider: its SLA is drafted --------------------------------------------------------
    sign_in(manager, setting["manager"])
    manager.goto(f"/manager/applications/{setting['application']}")
    manager.get_by_role("group", name="Outcome for Lot 1: Full Time Education Provision").get_by_label("Pass").check()
    manager.get_by_role("button", name="Decide application").click()
    expect(manager.locator(".govuk-notification-banner")).to_contain_text("Application decided")
    assert not _eligible(app, setting)

    manager.goto("/manager/slas?tab=drafts")
    axe(manager)
    manager.get_by_role("link", name=PROVIDER).click()
    expect(manager.get_by_role("heading", level=1)).to_contain_text(PROVIDER)
    axe(manager)
    manager.get_by_role("link", name="Edit the draft").click()
    axe(manager)
    manager.get_by_role("button", name="Save and send to the provider").click()
    expect(manager.locator(".govuk-error-summary")).to_be_visible()
    axe(manager)
    rates = manager.get_by_role("group", name="Lot 1: Full Time Education Provision")
    rates.get_by_label("Maximum day rate").fill("300.00")
    rates.get_by_label("Maximum session rate").fill("150.00")
    rates.get_by_label("Maximum hourly rate").fill("50.00")
    manager.get_by_role("button", name="Save and send to the provider").click()
    expect(manager.locator("main")).to_contain_text("was sent")
    axe(manager)

    # --- The provider accepts, signing -----------------------------------------------------------------------------
    sign_in(provider, setting["provider_user"])
    provider.goto("/provider/slas")
    axe(provider)
    provider.get_by_role("link", name="Read it, then accept it or return it with comments").click()
    axe(provider)
    provider.get_by_label("Full name of the person signing").fill("Pat Signer")
    provider.get_by_label("Their role").fill("Director")
    provider.get_by_role("button", name="Accept").click()
    expect(provider.locator("main")).to_contain_text("Pat Signer")
    axe(provider)
    assert not _eligible(app, setting)

    # --- The manager approves from the queue, without JavaScript --------------------------------------------------
    manager.goto("/manager/slas?tab=awaiting-approval")
    axe(manager)
    sign_in(manager_no_js, setting["manager"])
    manager_no_js.goto("/manager/slas?tab=awaiting-approval")
    manager_no_js.get_by_role("button", name=f"Approve {PROVIDER}, version 1").click()
    expect(manager_no_js.locator("main")).not_to_contain_text("There is a problem")
    with app.app_context():
        sla = db.session.query(Sla).filter_by(provider_id=setting["provider"]).one()
        assert sla.status is SlaStatus.APPROVED
        assert sla.signatory_name == "Pat Signer"

    # --- Now the provider is invited ---------------------------------------------------------------------------------
    assert _eligible(app, setting)
    with app.app_context():
        from portal.models import Lot

        officer = make_user(Role.OFFICER)
        referral = make_referral(officer, db.session.get(Lot, setting["lot"]))
        publish(referral, officer)
        reference = f"R{referral.id:05d}"
    provider.goto("/provider/opportunities")
    expect(provider.locator("main")).to_contain_text(reference)
    axe(provider)
