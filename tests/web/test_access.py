"""Every route in app.url_map is in one access table, and behaves as the table says, for every role.

A new route without an entry here fails the suite: decide who may use it, add it, and the checks below run on it.
"""

from __future__ import annotations

import pytest
from werkzeug.routing import IntegerConverter, UUIDConverter

from portal.access import PUBLIC
from portal.models import Role
from tests.helpers import csrf_token, sign_in

OFFICER, PROVIDER, MANAGER = Role.OFFICER, Role.PROVIDER, Role.MANAGER
SIGNED_IN = frozenset(Role)

ACCESS: dict[str, str | frozenset[Role]] = {
    "static": PUBLIC,
    "pages.index": PUBLIC,
    "pages.accessibility": PUBLIC,
    "auth.login": PUBLIC,
    "auth.logout": SIGNED_IN,
    # Half-way through signing in (password checked, second factor not): not yet signed in, so public routes that
    # check the pending state themselves.
    "auth.two_factor_code": PUBLIC,
    "auth.two_factor_set_up": PUBLIC,
    "auth.recovery_codes_saved": PUBLIC,
    # Forgotten password and the emailed links (invitation, reset): the token in the link is the credential.
    "auth.forgot_password": PUBLIC,
    "auth.set_password": PUBLIC,
    # A provider registers itself (then confirms its address and sets a password through the emailed link).
    "auth.register": PUBLIC,
    "auth.extend_session": SIGNED_IN,
    "account.home": SIGNED_IN,
    "account.change_password": SIGNED_IN,
    "account.change_email": SIGNED_IN,
    "account.turn_off_two_factor": SIGNED_IN,
    "account.new_recovery_codes": SIGNED_IN,
    "account.sign_out_everywhere": SIGNED_IN,
    "notifications.index": SIGNED_IN,
    "notifications.mark_all_read": SIGNED_IN,
    "notifications.count": SIGNED_IN,
    "officer.home": frozenset({OFFICER}),
    # The call-off, the officer's side. Any officer reads any referral; only officers of the referral's service act
    # on it (refused by the service with 403, tested per object in the call-off tests).
    "officer.referral_draft": frozenset({OFFICER}),
    "officer.withdraw_referral": frozenset({OFFICER}),
    # Writing a referral and the lists: any officer starts a referral (for their own service) and reads any draft;
    # saving a draft's sections, publishing and withdrawing are for officers of its service (403 from the service).
    "officer.referrals": frozenset({OFFICER}),
    "officer.referrals_csv": frozenset({OFFICER}),
    "officer.new_referral": frozenset({OFFICER}),
    "officer.referral_child": frozenset({OFFICER}),
    "officer.referral_provision": frozenset({OFFICER}),
    "officer.referral_aims": frozenset({OFFICER}),
    "officer.referral_profile": frozenset({OFFICER}),
    "officer.publish_referral": frozenset({OFFICER}),
    # Every referral, read only (the manager never changes one).
    "manager.referrals": frozenset({MANAGER}),
    "manager.referrals_csv": frozenset({MANAGER}),
    "officer.referral": frozenset({OFFICER}),
    "manager.referral": frozenset({MANAGER}),
    # The call-off after publishing: any officer reads a referral and its offers; scoring, the award, a new round and
    # asking to commission off the DPS are for officers of the referral's service (403 from the route, tested per
    # object in tests/web/test_calloff_officer_web.py).
    "officer.offer": frozenset({OFFICER}),
    "officer.score_offer": frozenset({OFFICER}),
    "officer.award": frozenset({OFFICER}),
    "officer.republish": frozenset({OFFICER}),
    "officer.request_off_dps": frozenset({OFFICER}),
    # Setting up the placement of an awarded referral, and its safeguarding prompt (htmx): officers of the referral's
    # service only (403 for other officers, tested in tests/web/test_placement_form_web.py).
    "officer.new_placement": frozenset({OFFICER}),
    "officer.placement_responsibility": frozenset({OFFICER}),
    # The manager decides requests to commission a referral off the DPS.
    "manager.off_dps_requests": frozenset({MANAGER}),
    "manager.decide_off_dps": frozenset({MANAGER}),
    "provider.home": frozenset({PROVIDER}),
    "provider.colleagues": frozenset({PROVIDER}),
    # Also refused (403) by the service to a provider user who does not look after the organisation's accounts.
    "provider.invite_colleague": frozenset({PROVIDER}),
    # Joining the DPS, the provider's side: no route takes an application id (a provider has only its own), and
    # documents are filtered by the user's provider in the query.
    "provider.application": frozenset({PROVIDER}),
    "provider.start_application": frozenset({PROVIDER}),
    "provider.application_organisation": frozenset({PROVIDER}),
    "provider.application_safeguarding_lead": frozenset({PROVIDER}),
    "provider.application_offer": frozenset({PROVIDER}),
    "provider.application_sites": frozenset({PROVIDER}),
    "provider.remove_site": frozenset({PROVIDER}),
    "provider.application_lots": frozenset({PROVIDER}),
    "provider.application_questions": frozenset({PROVIDER}),
    "provider.application_documents": frozenset({PROVIDER}),
    "provider.application_check": frozenset({PROVIDER}),
    "provider.submit_application": frozenset({PROVIDER}),
    "provider.documents": frozenset({PROVIDER}),
    "provider.upload_document": frozenset({PROVIDER}),
    # The call-off, the provider's side: every query is filtered by the user's provider, and a referral it was not
    # invited to is a 404 (never a 403 that would confirm it exists).
    "provider.opportunities": frozenset({PROVIDER}),
    "provider.opportunity": frozenset({PROVIDER}),
    "provider.make_offer": frozenset({PROVIDER}),
    "provider.withdraw_offer": frozenset({PROVIDER}),
    "provider.decline": frozenset({PROVIDER}),
    # A compliance document: the owning provider's users (another provider gets 404), officers and the manager.
    "documents.download": frozenset({OFFICER, PROVIDER, MANAGER}),
    "manager.home": frozenset({MANAGER}),
    "manager.users": frozenset({MANAGER}),
    "manager.users_csv": frozenset({MANAGER}),
    "manager.invite_user": frozenset({MANAGER}),
    "manager.user_detail": frozenset({MANAGER}),
    "manager.deactivate_user": frozenset({MANAGER}),
    "manager.reactivate_user": frozenset({MANAGER}),
    "manager.resend_invitation": frozenset({MANAGER}),
    "manager.audit": frozenset({MANAGER}),
    "manager.audit_csv": frozenset({MANAGER}),
    # The emails the outbox gave up, and trying one again: the manager only (the officers' and providers' emails
    # are listed, with their addresses and subjects).
    "manager.undelivered_mail": frozenset({MANAGER}),
    "manager.try_again_mail": frozenset({MANAGER}),
    "manager.try_all_again_mail": frozenset({MANAGER}),
    "manager.oversight": frozenset({MANAGER}),
    "manager.oversight_csv": frozenset({MANAGER}),
    # OCDS award notices of a quarter's call-off awards: the manager only.
    "manager.award_notices": frozenset({MANAGER}),
    "manager.award_notices_json": frozenset({MANAGER}),
    # Data retention (portal.blueprints.manager.retention).
    "manager.retention": frozenset({MANAGER}),
    "manager.propose_erasure": frozenset({MANAGER}),
    "manager.erasure": frozenset({MANAGER}),
    "manager.subject_access": frozenset({MANAGER}),
    "manager.subject_access_json": frozenset({MANAGER}),
    # Joining the DPS, the manager's side: deciding applications, providers, lots (officers read providers through
    # the directory instead).
    "manager.applications": frozenset({MANAGER}),
    "manager.application_detail": frozenset({MANAGER}),
    "manager.assess_application": frozenset({MANAGER}),
    "manager.decide_application": frozenset({MANAGER}),
    "manager.providers": frozenset({MANAGER}),
    "manager.providers_csv": frozenset({MANAGER}),
    "manager.provider_detail": frozenset({MANAGER}),
    "manager.suspend_provider": frozenset({MANAGER}),
    "manager.accountability": frozenset({MANAGER}),
    "manager.accountability_csv": frozenset({MANAGER}),
    "manager.provider_performance": frozenset({MANAGER}),
    "manager.new_performance_meeting": frozenset({MANAGER}),
    "manager.new_complaint": frozenset({MANAGER}),
    "manager.lift_suspension": frozenset({MANAGER}),
    "manager.remove_from_lot": frozenset({MANAGER}),
    "manager.lots": frozenset({MANAGER}),
    "manager.lot_questions": frozenset({MANAGER}),
    "manager.edit_lot_question": frozenset({MANAGER}),
    "manager.move_lot_question": frozenset({MANAGER}),
    "manager.retire_lot_question": frozenset({MANAGER}),
    "manager.lot_documents": frozenset({MANAGER}),
    # The AP directory: officers see admitted and formerly admitted providers (404 otherwise), the manager any.
    "directory.index": frozenset({OFFICER, MANAGER}),
    "directory.provider": frozenset({OFFICER, MANAGER}),
    # An application to join the DPS, read-only (drafts 404): officers read, only the manager decides (manager.*).
    "directory.application": frozenset({OFFICER, MANAGER}),
    # The placement lists: each filtered in the query (the officer's own or their service's, the provider's own).
    "officer.caseload": frozenset({OFFICER}),
    "officer.caseload_csv": frozenset({OFFICER}),
    "manager.placements": frozenset({MANAGER}),
    "manager.placements_csv": frozenset({MANAGER}),
    "provider.placements": frozenset({PROVIDER}),
    "provider.placements_csv": frozenset({PROVIDER}),
    # More lists as CSV (tests/web/test_exports_more_web.py).
    "manager.applications_csv": frozenset({MANAGER}),
    "manager.off_dps_requests_csv": frozenset({MANAGER}),
    "manager.slas_csv": frozenset({MANAGER}),
    "manager.services_csv": frozenset({MANAGER}),
    "provider.opportunities_csv": frozenset({PROVIDER}),
    "directory.index_csv": frozenset({OFFICER, MANAGER}),
    # Attendance: everyone who may see the placement reads the week (404 for the others); only the provider's users
    # record (403 from the route for officers and the manager, tested per object in tests/web/test_attendance_web.py).
    "placements.attendance": frozenset({OFFICER, PROVIDER, MANAGER}),
    "placements.attendance_cell": frozenset({OFFICER, PROVIDER, MANAGER}),
    "placements.mark_day_present": frozenset({OFFICER, PROVIDER, MANAGER}),
    # A placement: officers of its service, its provider's users and the manager see it (anyone else gets 404, tested
    # per object in tests/web/test_placement_pages_web.py); only officers of its service change or end it (403).
    "placements.placement": frozenset({OFFICER, PROVIDER, MANAGER}),
    "placements.vary": frozenset({OFFICER}),
    "placements.end": frozenset({OFFICER}),
    # Reviews: everyone who may see the placement reads the schedule, reports and reviews (404 for the others); only
    # its provider's users submit a report, only officers of its service record a review (403 from the route; tested
    # per object in tests/web/test_reviews_web.py).
    "placements.reviews": frozenset({OFFICER, PROVIDER, MANAGER}),
    "placements.report": frozenset({OFFICER, PROVIDER, MANAGER}),
    "placements.new_report": frozenset({PROVIDER}),
    "placements.new_review": frozenset({OFFICER}),
    # Concerns: narrower than the placement (portal.services.concerns.may_see): the list shows each user only what
    # they may see, a concern anyone else asks for is a 404 (tests/web/test_concerns_web.py). The provider's users and
    # officers of the service raise; the officer, the DSL and the manager close.
    "placements.concerns": frozenset({OFFICER, PROVIDER, MANAGER}),
    "placements.concern": frozenset({OFFICER, PROVIDER, MANAGER}),
    "placements.new_concern": frozenset({OFFICER, PROVIDER}),
    "placements.close_concern": frozenset({OFFICER, PROVIDER, MANAGER}),
    # The manager sets the term dates and each council service's Designated Safeguarding Lead.
    "manager.term_dates": frozenset({MANAGER}),
    "manager.services": frozenset({MANAGER}),
    "manager.service_safeguarding": frozenset({MANAGER}),
    # The SLA terms (versions of the terms): the manager only.
    "manager.sla_terms": frozenset({MANAGER}),
    "manager.new_sla_terms": frozenset({MANAGER}),
    "manager.sla_terms_version": frozenset({MANAGER}),
    # An SLA's page and its printable copy: the manager any, a provider's users only their provider's (another
    # provider's SLA is a 404), tested per object in tests/web/test_sla_page_web.py.
    "slas.sla": frozenset({PROVIDER, MANAGER}),
    "slas.print_sla": frozenset({PROVIDER, MANAGER}),
    # The SLA workflow: the manager's queue and actions (every SLA); the provider's list and acceptance, filtered by the
    # user's provider (another provider's SLA is a 404), tested per object in tests/web/test_sla_workflow_web.py.
    "manager.slas": frozenset({MANAGER}),
    "manager.edit_sla": frozenset({MANAGER}),
    "manager.send_sla": frozenset({MANAGER}),
    "manager.approve_sla": frozenset({MANAGER}),
    "manager.return_sla": frozenset({MANAGER}),
    "manager.terminate_sla": frozenset({MANAGER}),
    "manager.vary_sla": frozenset({MANAGER}),
    "provider.slas": frozenset({PROVIDER}),
    "provider.accept_sla": frozenset({PROVIDER}),
    "provider.return_sla": frozenset({PROVIDER}),
    # The arrangement and its successor (issue 8 item 7); a provider re-confirms only its own carried-over admissions.
    "manager.arrangement": frozenset({MANAGER}),
    "manager.new_successor": frozenset({MANAGER}),
    "provider.reconfirmation": frozenset({PROVIDER}),
    "provider.reconfirm": frozenset({PROVIDER}),
}



def _rules(app):
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"]


def _dummy_value(converter, integer: int = 1):
    """A value of the right type for a URL argument: access is decided before any object is looked up."""
    if isinstance(converter, IntegerConverter):
        return integer
    if isinstance(converter, UUIDConverter):
        return "00000000-0000-0000-0000-000000000000"
    return "x"


def _url(rule, integer: int = 1) -> str:
    values = {name: _dummy_value(rule._converters[name], integer) for name in rule.arguments}
    return rule.build(values, append_unknown=False)[1]


def _protected_cases(app):
    cases = []
    for rule in _rules(app):
        allowed = ACCESS.get(rule.endpoint)
        if allowed is None or allowed == PUBLIC:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            cases.append((rule.endpoint, method, _url(rule), allowed))
    return cases


def test_every_endpoint_is_in_the_access_table(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    missing = sorted(endpoints - ACCESS.keys())
    stale = sorted(ACCESS.keys() - endpoints)
    assert not missing, f"routes with no access rule in tests/web/test_access.py: {missing}"
    assert not stale, f"access rules for routes that no longer exist: {stale}"


def test_every_view_declares_what_the_table_says(app):
    for rule in _rules(app):
        declared = getattr(app.view_functions[rule.endpoint], "access", None)
        assert declared is not None, f"{rule.endpoint} has neither @public nor @roles(...)"
        assert declared == ACCESS[rule.endpoint], f"{rule.endpoint} declares {declared}, table says {ACCESS[rule.endpoint]}"


def test_there_are_protected_routes_to_check(app):
    # Guards the parametrised checks below against silently checking nothing.
    assert len(_protected_cases(app)) >= 4


def _request(client, method, url, token=None):
    data = {"csrf_token": token} if token and method != "GET" else None
    # buffered: a streamed body (a CSV) is read and closed here, not left to the garbage collector.
    return client.open(url, method=method, data=data, buffered=True)


def test_anonymous_users_are_sent_to_sign_in(app):
    client = app.test_client()
    for endpoint, method, url, _ in _protected_cases(app):
        response = _request(client, method, url, csrf_token(client))
        assert response.status_code == 302, f"{method} {url} ({endpoint}) gave {response.status_code}"
        assert response.headers["Location"].startswith("/sign-in?next="), f"{method} {url} ({endpoint})"


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_each_role_is_refused_or_admitted_as_the_table_says(app, user_factory, role):
    user = user_factory(role)
    client = app.test_client()
    sign_in(client, user.email)
    for endpoint, method, url, allowed in _protected_cases(app):
        if endpoint in {"auth.logout", "account.sign_out_everywhere"}:
            continue  # signing out would end this client's session; covered by the sign-in and session tests
        response = _request(client, method, url, csrf_token(client))
        if role in allowed:
            assert response.status_code != 403, f"{role.value} refused {method} {url} ({endpoint})"
            assert not response.headers.get("Location", "").startswith("/sign-in"), f"{role.value} {method} {url}"
        else:
            assert response.status_code == 403, f"{role.value} got {response.status_code} for {method} {url}"
            assert "You do not have permission to see this page" in response.get_data(as_text=True)


def test_sign_out_is_refused_to_anonymous_users_and_allowed_for_every_role(app, user_factory):
    for role in Role:
        client = app.test_client()
        sign_in(client, user_factory(role).email)
        response = client.post("/sign-out", data={"csrf_token": csrf_token(client)})
        assert response.headers["Location"] == "/sign-in", role


@pytest.mark.parametrize("path", ["/", "/sign-in", "/accessibility"])
def test_public_pages_open_without_signing_in(client, path):
    assert client.get(path).status_code in {200, 302}


def test_every_state_changing_route_refuses_a_request_without_a_csrf_token(app, user_factory):
    client = app.test_client()
    sign_in(client, user_factory(Role.MANAGER).email)
    checked = 0
    for rule in _rules(app):
        for method in sorted(rule.methods & {"POST", "PUT", "PATCH", "DELETE"}):
            response = client.open(_url(rule), method=method, data={}, buffered=True)
            assert response.status_code == 400, f"{method} {rule.rule} accepted a request without a CSRF token"
            assert "Your form could not be sent" in response.get_data(as_text=True)
            checked += 1
    assert checked >= 2  # sign-in and sign-out at least
    assert client.get("/manager/").status_code == 200  # still signed in: nothing was done


def test_htmx_requests_may_send_the_token_in_a_header(client, user_factory):
    sign_in(client, user_factory(Role.OFFICER).email)
    response = client.post("/sign-out", headers={"X-CSRFToken": csrf_token(client), "HX-Request": "true"})
    assert response.status_code == 302
    assert client.get("/officer/").status_code == 302
