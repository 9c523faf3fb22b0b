"""The provider's application through the test client, without JavaScript: the task list, each section's form (bad
input refused with what was typed kept), statuses, check your answers, submitting, read-only once submitted, the
optimistic lock, and one provider never reaching another's application."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from portal.extensions import db
from portal.models import Application, ApplicationStatus, Lot, LotOutcome, Provider, Role, Site
from portal.services import applications
from tests.factories import LotFactory, LotQuestionFactory
from tests.factories_dps import add_document, admit, complete_profile, require
from tests.helpers import csrf_token, sign_in, start_session

VERSION = re.compile(r'<input[^>]*name="version"[^>]*value="(\d*)"')
MAIN = re.compile(r"<main.*</main>", re.S)


@pytest.fixture
def dps(app):
    """Two lots; lot 1 has a question and needs public liability insurance."""
    with app.app_context():
        lot_1 = LotFactory(number=1, title="Full Time Education Provision")
        lot_2 = LotFactory(number=2, title="Part Time Education Provision", arrangement=lot_1.arrangement)
        question = LotQuestionFactory(lot_id=lot_1.id, text="How do you keep children safe?")
        require(lot_1, "public-liability")
        return {"lot_1": lot_1.id, "lot_2": lot_2.id, "question": question.id}


@pytest.fixture
def provider_client(app, user_factory, dps):
    """A signed-in provider user, and the provider's id."""
    user = user_factory(Role.PROVIDER)
    client = app.test_client()
    start_session(client, user.email)
    client.provider_id = user.provider_id
    return client


def _text(response) -> str:
    return response.get_data(as_text=True)


def _main(response) -> str:
    return MAIN.search(_text(response)).group(0)


def _start(client):
    response = client.post("/provider/application/start", data={"csrf_token": csrf_token(client, "/provider/")})
    assert response.status_code == 302 and response.headers["Location"] == "/provider/application"


def _save(client, path, data, action="continue", version=None):
    """Send a section form as a browser would: the CSRF token and the version drawn on the page."""
    page = _text(client.get(path))
    if version is None:
        version = VERSION.search(page).group(1)
    return client.post(path, data={**data, "action": action, "version": version, "csrf_token": csrf_token(client)})


def _application(app, provider_id) -> Application:
    with app.app_context():
        application = applications.open_application(provider_id) or applications.latest_application(provider_id)
        db.session.expunge_all()
        return application


def _provider(app, provider_id) -> Provider:
    with app.app_context():
        provider = db.session.get(Provider, provider_id)
        _ = provider.sites, provider.needs
        db.session.expunge_all()
        return provider


def _statuses(client) -> list[str]:
    page = _text(client.get("/provider/application"))
    return [
        re.sub(r"<[^>]+>", "", s).strip()
        for s in re.findall(r'class="govuk-task-list__status[^"]*"[^>]*>(.*?)</div>', page, re.S)
    ]


ORGANISATION = {
    "legal_name": "Acme Learning Ltd",
    "company_number": "01234567",
    "charity_number": "",
    "address": "1 High Street\nUxbridge",
    "postcode": "UB8 1UW",
    "registered": "no",
    "about": ["small_business"],
}


def _complete_everything(app, client, dps):
    """Fill every section through the service (the web journey for each section is tested on its own)."""
    with app.app_context():
        provider = complete_profile(db.session.get(Provider, client.provider_id))
        application = applications.open_application(provider.id)
        applications.save_lots(application, application.version, [dps["lot_1"]], complete=True)
        applications.save_answers(application, application.version, {dps["question"]: "Like this."}, complete=True)
        add_document(provider, "public-liability", expires_on=date.today() + timedelta(days=365))


# ---- Starting and the task list -------------------------------------------------------------------------------------


def test_the_home_page_offers_to_start_and_starting_shows_the_task_list(provider_client):
    home = _text(provider_client.get("/provider/"))
    assert "Start your application" in home
    _start(provider_client)
    page = _text(provider_client.get("/provider/application"))
    assert "You have completed 0 of 6 sections" in page
    for title in (
        "Organisation details",
        "Designated Safeguarding Lead",
        "What you offer",
        "Lots",
        "Questions for your lots",
        "Compliance documents",
    ):
        assert title in page
    assert _statuses(provider_client) == ["Not started"] * 4 + ["Cannot start yet"] * 2
    assert 'href="/provider/application/questions"' not in page  # cannot start yet: no link
    assert "Continue your application" in _text(provider_client.get("/provider/"))


def test_the_navigation_has_application_and_documents(provider_client):
    page = _text(provider_client.get("/provider/"))
    assert 'href="/provider/application"' in page and 'href="/provider/documents"' in page


def test_a_section_before_starting_goes_to_the_application_page(provider_client):
    response = provider_client.get("/provider/application/organisation")
    assert response.status_code == 302 and response.headers["Location"] == "/provider/application"
    assert "Start your application" in _text(provider_client.get("/provider/application"))


# ---- Sections: bad input, nothing lost, statuses --------------------------------------------------------------------


def test_organisation_details_required_on_continue_and_typed_values_kept(app, provider_client):
    _start(provider_client)
    path = "/provider/application/organisation"
    response = _save(provider_client, path, {"legal_name": "Acme", "postcode": "nowhere", "registered": "yes"})
    page = _text(response)
    assert response.status_code == 200 and "There is a problem" in page
    for message in (
        "Enter a company number or a charity number, or both",
        "Enter your organisation&#39;s address",
        "Enter a real postcode, like UB8 1UW",
        "Enter your Ofsted unique reference number (URN)",
        "Select your latest Ofsted grade",
    ):
        assert message in page
    assert 'href="#company_number"' in page
    assert 'value="Acme"' in page and 'value="nowhere"' in page
    assert re.search(r'value="yes"\s+checked', page)  # the radio chosen stays chosen
    assert _provider(app, provider_client.provider_id).legal_name == ""  # nothing saved

    response = _save(provider_client, path, {"legal_name": "Acme"}, action="later")
    assert response.headers["Location"] == "/provider/application"
    assert _statuses(provider_client)[0] == "In progress"
    assert _provider(app, provider_client.provider_id).legal_name == "Acme"

    response = _save(provider_client, path, ORGANISATION)
    assert response.status_code == 302
    assert _statuses(provider_client)[0] == "Completed"
    provider = _provider(app, provider_client.provider_id)
    assert provider.registered is False and provider.small_business and not provider.voluntary_sector


def test_safeguarding_lead_bad_email_kept_and_explained(provider_client):
    _start(provider_client)
    response = _save(
        provider_client,
        "/provider/application/safeguarding-lead",
        {"dsl_name": "Dana Lead", "dsl_role": "Head", "dsl_phone": "01895 250111", "dsl_email": "dana@"},
    )
    page = _text(response)
    assert "Enter an email address in the correct format" in page and 'value="dana@"' in page
    assert 'value="Dana Lead"' in page
    assert _statuses(provider_client)[1] == "Not started"


def test_offer_bad_ages_and_sites(app, provider_client):
    _start(provider_client)
    path = "/provider/application/offer"
    data = {
        "summary": "Small groups",
        "needs": ["semh", "autism"],
        "age_from": "16",
        "age_to": "11",
        "areas": ["north"],
        "capacity": "twelve",
        "delivery_modes": ["on-site"],
    }
    page = _text(_save(provider_client, path, data))
    assert "The oldest age must be the same as or more than the youngest age" in page
    assert "Enter how many children you can take at once as a whole number" in page
    assert 'value="twelve"' in page and "Small groups" in page
    assert re.search(r'value="autism"\s+checked', page)

    data.update(age_to="16", capacity="12")
    page = _text(_save(provider_client, path, data))
    assert "Add at least one site, because you deliver provision on site" in page and 'href="#sites"' in page

    # "Save and change your sites" keeps what was typed (as a draft) and opens the sites page.
    response = _save(provider_client, path, data, action="sites")
    assert response.headers["Location"] == "/provider/application/sites"
    assert _provider(app, provider_client.provider_id).capacity == 12

    sites = "/provider/application/sites"
    page = _text(_save(provider_client, sites, {"name": "", "address": "1 Road", "postcode": "bad"}))
    assert "Enter the site&#39;s name" in page and "Enter a real postcode" in page and "1 Road" in page
    response = _save(provider_client, sites, {"name": "Main site", "address": "1 Road", "postcode": "ub8 1uw"})
    assert response.headers["Location"] == sites
    assert "Main site" in _text(provider_client.get(sites))
    assert _save(provider_client, path, data).status_code == 302
    assert _statuses(provider_client)[2] == "Completed"

    site_id = _provider(app, provider_client.provider_id).sites[0].id
    version = VERSION.search(_text(provider_client.get(sites))).group(1)
    response = provider_client.post(
        f"/provider/application/sites/{site_id}/remove",
        data={"version": version, "csrf_token": csrf_token(provider_client)},
    )
    assert response.headers["Location"] == sites
    assert _provider(app, provider_client.provider_id).sites == []
    assert _statuses(provider_client)[2] == "In progress"


def test_lots_questions_and_documents(app, provider_client, dps):
    _start(provider_client)
    assert _save(provider_client, "/provider/application/lots", {}).status_code == 200  # none chosen: an error
    page = _text(_save(provider_client, "/provider/application/lots", {}))
    assert "Select the lots you are applying for" in page
    response = _save(provider_client, "/provider/application/lots", {"lots": [str(dps["lot_1"])]})
    assert response.status_code == 302
    assert _statuses(provider_client)[3:] == ["Completed", "Not started", "Not started"]

    path = "/provider/application/questions"
    page = _text(provider_client.get(path))
    assert "How do you keep children safe?" in page and "Lot 1: Full Time Education Provision" in page
    field = f"answer-{dps['question']}"
    page = _text(_save(provider_client, path, {field: ""}))
    assert "Answer this question" in page and f'href="#{field}"' in page
    page = _text(_save(provider_client, path, {field: "Long " * 1001}))
    assert "Your answer must be 5,000 characters or fewer" in page and "Long Long" in page
    assert _save(provider_client, path, {field: "With trained staff."}).status_code == 302
    assert _statuses(provider_client)[4] == "Completed"

    page = _text(provider_client.get("/provider/application/documents"))
    assert "Still needed: Public liability insurance" in page
    assert "/provider/documents/" in page and "from=application" in page


def test_an_admitted_lot_is_not_offered_again(app, provider_client, dps):
    with app.app_context():
        admit(db.session.get(Provider, provider_client.provider_id), db.session.get(Lot, dps["lot_1"]))
    _start(provider_client)
    page = _text(provider_client.get("/provider/application/lots"))
    assert "Lot 2: Part Time Education Provision" in page
    offered = re.findall(r'name="lots" type="checkbox" value="(\d+)"', page)
    assert offered == [str(dps["lot_2"])] and "You are admitted to Lot 1" in page
    page = _text(_save(provider_client, "/provider/application/lots", {"lots": [str(dps["lot_1"])]}))
    assert "Select lots from the list" in page


# ---- Check your answers and submit ----------------------------------------------------------------------------------


def test_submit_is_refused_until_complete_with_links_to_each_section(app, provider_client, dps):
    _start(provider_client)
    page = _text(provider_client.get("/provider/application/check"))
    assert "Check your answers" in page
    version = VERSION.search(page).group(1)
    response = provider_client.post(
        "/provider/application/submit", data={"version": version, "csrf_token": csrf_token(provider_client)}
    )
    page = _text(response)
    assert response.status_code == 200 and "Your application is not complete" in page
    assert "<title>Error:" in page
    for href in (
        "/provider/application/organisation",
        "/provider/application/safeguarding-lead",
        "/provider/application/offer",
        "/provider/application/lots",
    ):
        assert f'href="{href}"' in page
    assert "Lots: Select the lots you are applying for" in page
    assert "Organisation details: You have not started this section" in page
    assert _application(app, provider_client.provider_id).status is ApplicationStatus.DRAFT


def test_submitting_a_complete_application_makes_it_read_only(app, provider_client, dps):
    _start(provider_client)
    _complete_everything(app, provider_client, dps)
    assert _statuses(provider_client) == ["Completed"] * 6
    page = _text(provider_client.get("/provider/application/check"))
    assert page.count(">Change<") >= 10
    assert 'href="/provider/application/organisation"' in page and "Like this." in page
    version = VERSION.search(page).group(1)
    response = provider_client.post(
        "/provider/application/submit", data={"version": version, "csrf_token": csrf_token(provider_client)}
    )
    assert response.headers["Location"] == "/provider/application"
    application = _application(app, provider_client.provider_id)
    assert application.status is ApplicationStatus.SUBMITTED and application.decision_due_on is not None

    page = _text(provider_client.get("/provider/application"))
    assert "Your application has been submitted" in page and "Submitted on" in page and "decide by" in page
    assert ">Change<" not in page and "Like this." in page
    home = _text(provider_client.get("/provider/"))
    assert "Submitted on" in home and "The council will decide by" in home

    # Every section page now leads back to the read-only application, and a save changes nothing.
    for path in (
        "/provider/application/organisation",
        "/provider/application/offer",
        "/provider/application/lots",
        "/provider/application/questions",
        "/provider/application/check",
        "/provider/application/sites",
    ):
        assert provider_client.get(path).headers["Location"] == "/provider/application", path
    response = provider_client.post(
        "/provider/application/organisation",
        data={
            **ORGANISATION,
            "legal_name": "Changed",
            "version": str(application.version),
            "csrf_token": csrf_token(provider_client),
        },
    )
    assert response.headers["Location"] == "/provider/application"
    assert _provider(app, provider_client.provider_id).legal_name != "Changed"
    assert _application(app, provider_client.provider_id).version == application.version


# ---- Optimistic locking ---------------------------------------------------------------------------------------------


def test_a_save_from_a_stale_page_is_refused_and_what_was_typed_is_shown_again(app, provider_client):
    _start(provider_client)
    path = "/provider/application/organisation"
    stale_version = VERSION.search(_text(provider_client.get(path))).group(1)
    # Another tab (or a colleague) saves first.
    assert (
        _save(
            provider_client, "/provider/application/safeguarding-lead", {"dsl_name": "Dana"}, action="later"
        ).status_code
        == 302
    )

    response = _save(
        provider_client, path, {**ORGANISATION, "legal_name": "Typed in the old tab"}, version=stale_version
    )
    page = _text(response)
    assert response.status_code == 409
    assert "Someone else changed this application" in page
    assert 'value="Typed in the old tab"' in page
    assert _provider(app, provider_client.provider_id).legal_name == ""  # nothing overwritten
    current = str(_application(app, provider_client.provider_id).version)
    assert VERSION.search(page).group(1) == current  # sending it again, having checked, goes through
    response = provider_client.post(
        path, data={**ORGANISATION, "action": "continue", "version": current, "csrf_token": csrf_token(provider_client)}
    )
    assert response.status_code == 302
    assert _provider(app, provider_client.provider_id).legal_name == "Acme Learning Ltd"


def test_submitting_from_a_stale_check_page_is_refused(app, provider_client, dps):
    _start(provider_client)
    _complete_everything(app, provider_client, dps)
    stale = VERSION.search(_text(provider_client.get("/provider/application/check"))).group(1)
    _save(
        provider_client,
        "/provider/application/safeguarding-lead",
        {"dsl_name": "New Lead", "dsl_role": "Head", "dsl_phone": "01895 250111", "dsl_email": "new@x.example"},
    )
    response = provider_client.post(
        "/provider/application/submit", data={"version": stale, "csrf_token": csrf_token(provider_client)}
    )
    assert response.status_code == 409 and "Someone else changed this application" in _text(response)
    assert _application(app, provider_client.provider_id).status is ApplicationStatus.DRAFT


# ---- One provider never reaches another's application ---------------------------------------------------------------


def test_another_provider_sees_and_changes_only_its_own_application(app, user_factory, provider_client, dps):
    _start(provider_client)
    _complete_everything(app, provider_client, dps)
    theirs = _provider(app, provider_client.provider_id)
    their_site = theirs.sites[0].id
    their_version = _application(app, provider_client.provider_id).version

    other = user_factory(Role.PROVIDER)
    client_b = app.test_client()
    sign_in(client_b, other.email)
    # No application of its own: every application page says so or leads there, and shows nothing of A's.
    for path in (
        "/provider/application",
        "/provider/application/organisation",
        "/provider/application/offer",
        "/provider/application/sites",
        "/provider/application/lots",
        "/provider/application/questions",
        "/provider/application/documents",
        "/provider/application/check",
    ):
        response = client_b.get(path, follow_redirects=True)
        assert response.status_code == 200, path
        page = _text(response)
        assert theirs.legal_name not in page and "Main site" not in page and "Like this." not in page, path

    token = csrf_token(client_b)
    for path in (
        "/provider/application/organisation",
        "/provider/application/submit",
        f"/provider/application/sites/{their_site}/remove",
    ):
        client_b.post(
            path, data={**ORGANISATION, "legal_name": "Hijacked", "version": str(their_version), "csrf_token": token}
        )
    assert _provider(app, provider_client.provider_id).legal_name == theirs.legal_name
    assert _application(app, provider_client.provider_id).status is ApplicationStatus.DRAFT
    assert _application(app, provider_client.provider_id).version == their_version

    # With a draft of its own, B still cannot remove A's site (it is not B's): 404.
    _start(client_b)
    version = VERSION.search(_text(client_b.get("/provider/application/sites"))).group(1)
    response = client_b.post(
        f"/provider/application/sites/{their_site}/remove",
        data={"version": version, "csrf_token": csrf_token(client_b)},
    )
    assert response.status_code == 404
    with app.app_context():
        assert db.session.get(Site, their_site) is not None
    assert theirs.legal_name not in _text(client_b.get("/provider/application/check"))


# ---- The home page after a decision ---------------------------------------------------------------------------------


def test_home_shows_admitted_and_rejected_lots_and_compliance_warnings(app, provider_client, dps):
    _start(provider_client)
    with app.app_context():
        application = applications.open_application(provider_client.provider_id)
        applications.save_lots(application, application.version, [dps["lot_1"], dps["lot_2"]], complete=True)
        application = db.session.get(Application, application.id)
        application.status = ApplicationStatus.DECIDED
        application.rejection_reason = "Not enough evidence of outcomes"
        rows = {row.lot_id: row for row in application.lots}
        rows[dps["lot_1"]].outcome = LotOutcome.PASS
        rows[dps["lot_2"]].outcome = LotOutcome.FAIL
        db.session.commit()
        admit(application.provider, rows[dps["lot_1"]].lot, application=application)
    page = _text(provider_client.get("/provider/"))
    assert "Lot 1: Full Time Education Provision" in page and "admitted" in page
    assert "Lot 2: Part Time Education Provision: <strong>not admitted</strong>" in page
    assert "Reason: Not enough evidence of outcomes" in page
    assert "Public liability insurance missing or expired" in page
    assert "Some documents your lots need are missing, expired or expire soon" in page
    assert "Apply for more lots" in page
