"""The AP directory through the test client: the full page and the htmx partial, filters as a plain GET form, page
links that keep the filters, a fixed number of SQL statements for 10 or 500 providers, and the provider page."""

from __future__ import annotations

from datetime import date

import pytest

from portal.clock import london_today
from portal.extensions import db
from portal.models import Area, Need, Role
from tests.factories import make_lot
from tests.factories_dps import admit, days, make_provider, many_providers, require, suspend, upload
from tests.helpers import count_queries, start_session

HX = {"HX-Request": "true", "HX-Target": "directory-results", "HX-Current-URL": "http://localhost/directory"}


def _text(response) -> str:
    return response.get_data(as_text=True)


def _card(page: str, name: str) -> str:
    """The result card of the provider with this name."""
    return next(card for card in page.split('<div class="govuk-summary-card">')[1:] if f">{name}</a>" in card)


def _client(app, user_factory, role):
    client = app.test_client()
    start_session(client, user_factory(role).email)
    return client


@pytest.fixture
def officer_client(app, user_factory):
    return _client(app, user_factory, Role.OFFICER)


@pytest.fixture
def manager_client(app, user_factory):
    return _client(app, user_factory, Role.MANAGER)


@pytest.fixture
def directory_data(app):
    """Two lots and three providers: one admitted to each lot, one never admitted. Returns their ids by name."""
    today = london_today()
    with app.app_context():
        lot1, lot2 = make_lot(1, "Full time"), make_lot(2, "Part time")
        require(lot2, "public-liability")
        autism = make_provider(
            "Autism Centre",
            needs=(Need.AUTISM,),
            areas=(Area.NORTH,),
            registered=True,
            ages=(7, 16),
            ofsted_urn="140001",
            dsl_name="Dana Lead",
            dsl_email="dsl@autism.example",
            sites=(("Main site", "1 High Street, Ruislip", "HA4 7AA"),),
        )
        admit(autism, lot1, on=date(2025, 9, 1))
        admit(autism, lot2, on=date(2025, 9, 1))
        upload(autism, "public-liability", expires_on=today - days(2))  # expired: not compliant in lot 2
        suspend(autism, lot1, starts_on=today - days(1), ends_on=today + days(10), reason="LADO referral")
        semh = make_provider("Semh Online", needs=(Need.SEMH,), areas=(Area.SOUTH,), registered=False, ages=(11, 16))
        admit(semh, lot2)
        upload(semh, "public-liability", expires_on=today + days(200))
        applicant = make_provider("Applicant Only")
        return {"lot1": lot1.id, "lot2": lot2.id, **{p.name: p.id for p in (autism, semh, applicant)}}


# ---- The list ------------------------------------------------------------------------------------------------------


def test_a_plain_get_renders_the_whole_page_with_results(officer_client, directory_data):
    page = _text(officer_client.get("/directory"))
    assert "<html" in page and 'id="directory-results"' in page
    assert "2 providers" in page and "Autism Centre" in page and "Semh Online" in page
    assert "Applicant Only" not in page
    assert 'href="/directory"' in page and ">Directory<" in page  # in the officer's navigation
    assert 'action="/directory"' in page and "Apply filters" in page
    assert 'hx-get="/directory"' in page and 'hx-push-url="true"' in page and "change" in page
    card = _card(page, "Autism Centre")
    for text in (
        "Registered",
        "Suspended: Lot 1",
        "Not compliant: Lot 2",
        "Lot 1: Full time",
        "Lot 2: Part time",
        "Autism",
        "North",
        "7 to 16",
    ):
        assert text in card, text
    semh = _card(page, "Semh Online")
    assert "Unregistered" in semh and "Suspended" not in semh and "Not compliant" not in semh


def test_the_manager_has_the_directory_too(manager_client, directory_data):
    page = _text(manager_client.get("/directory"))
    assert "2 providers" in page and ">Directory<" in page


def test_htmx_gets_only_the_results_partial(officer_client, directory_data):
    response = officer_client.get("/directory?need=semh", headers=HX)
    partial = _text(response)
    assert response.status_code == 200
    assert "<html" not in partial and partial.lstrip().startswith('<div id="directory-results">')
    assert "1 provider" in partial and "Semh Online" in partial and "Autism Centre" not in partial
    assert "HX-Request" in response.headers["Vary"]
    # htmx restoring the history (the cached page is gone) needs the whole page.
    restored = _text(officer_client.get("/directory?need=semh", headers={**HX, "HX-History-Restore-Request": "true"}))
    assert "<html" in restored


@pytest.mark.parametrize(
    "query, expected",
    [
        ("need=autism", ["Autism Centre"]),
        ("area=south", ["Semh Online"]),
        ("age=8", ["Autism Centre"]),
        ("registered=unregistered", ["Semh Online"]),
        ("registered=registered", ["Autism Centre"]),
        ("mode=online", []),
        ("q=ONLINE", ["Semh Online"]),
        ("need=semh&age=16&registered=unregistered&q=semh", ["Semh Online"]),
    ],
)
def test_each_filter_works_as_a_plain_get_form(officer_client, directory_data, query, expected):
    page = _text(officer_client.get(f"/directory?{query}"))
    for name in ("Autism Centre", "Semh Online"):
        assert (f">{name}</a>" in page) == (name in expected), (query, name)
    if not expected:
        assert "No providers match" in page


def test_the_lot_filter_uses_the_lots_id(officer_client, directory_data):
    page = _text(officer_client.get(f"/directory?lot={directory_data['lot1']}"))
    assert "1 provider" in page and "Autism Centre" in page and "Semh Online" not in page
    assert f'<option value="{directory_data["lot1"]}" selected>' in page  # the choice stays chosen


@pytest.mark.parametrize(
    "query, message",
    [
        ("age=ten", "Enter the child&#39;s age as a whole number, like 14"),
        ("age=99", "Enter an age from 4 to 25"),
        ("lot=999999", "Select a lot from the list"),
        ("need=wizardry", "Select a need from the list"),
        ("registered=maybe", "Select registered, unregistered or either"),
    ],
)
def test_a_bad_filter_is_shown_next_to_its_field_not_a_500(officer_client, directory_data, query, message):
    response = officer_client.get(f"/directory?{query}")
    page = _text(response)
    assert response.status_code == 200
    assert "govuk-error-summary" in page and message in page
    assert "Correct the filters to see providers" in page and "Semh Online</a>" not in page
    partial = _text(officer_client.get(f"/directory?{query}", headers=HX))
    assert message in partial  # htmx swaps only the results: the message is there too


def test_page_links_keep_the_filters(app, officer_client):
    with app.app_context():
        lot = make_lot(1)
        many_providers(45, [lot])
    first = _text(officer_client.get("/directory?registered=registered&q=bulk"))
    assert "23 providers" in first and "Showing 1 to 20 of 23" in first
    assert 'href="/directory?q=bulk&amp;registered=registered&amp;page=2"' in first
    second = _text(officer_client.get("/directory?q=bulk&registered=registered&page=2"))
    assert "Showing 21 to 23 of 23" in second and second.count('class="govuk-summary-card"') == 3
    assert 'href="/directory?q=bulk&amp;registered=registered&amp;page=1"' in second
    assert 'hx-boost="true"' in second


def test_the_list_runs_the_same_number_of_statements_for_10_or_500_providers(app, officer_client):
    with app.app_context():
        engine = db.engine
        lots = [make_lot(1), make_lot(2), make_lot(3)]
        require(lots[1], "public-liability", "safeguarding-policy")
        lots = [lot.id for lot in lots]
        many_providers(10, lots, prefix="Few")
    with count_queries(engine) as few:
        page = _text(officer_client.get("/directory"))
    assert "10 providers" in page and page.count('class="govuk-summary-card"') == 10
    assert "Suspended: Lot 1" in page and "Not compliant: Lot 2" in page
    with app.app_context():
        many_providers(490, lots, prefix="Many")
    with count_queries(engine) as many:
        page = _text(officer_client.get("/directory"))
    assert "500 providers" in page and page.count('class="govuk-summary-card"') == 20
    assert many.count == few.count, "\n".join(many.statements)
    with count_queries(engine) as filtered:
        page = _text(officer_client.get(f"/directory?need=semh&lot={lots[2]}&age=12&page=2", headers=HX))
    assert "Showing 21 to 40" in page
    assert filtered.count <= few.count


# ---- The provider page ---------------------------------------------------------------------------------------------


def test_the_provider_page_shows_profile_lots_standing_documents_and_suspensions(app, officer_client, directory_data):
    page = _text(officer_client.get(f"/directory/{directory_data['Autism Centre']}"))
    for text in (
        '<h1 class="govuk-heading-l">Autism Centre</h1>',
        "URN 140001",
        "Dana Lead",
        "mailto:dsl@autism.example",
        "1 High Street, Ruislip",
        "Lot 1: Full time",
        "1 September 2025",
        "Suspended",
        "Missing or expired: Public liability insurance",
        "LADO referral",
        "In force",
        "Expired",
        "Autism",
    ):
        assert text in page, text
    with app.app_context():
        from portal.models import ComplianceDocument

        document_id = (
            db.session.query(ComplianceDocument.id).filter_by(provider_id=directory_data["Autism Centre"]).scalar()
        )
    assert f'href="/documents/{document_id}"' in page


def test_officers_get_404_for_a_provider_never_admitted_and_the_manager_sees_it(
    officer_client, manager_client, directory_data
):
    assert officer_client.get(f"/directory/{directory_data['Applicant Only']}").status_code == 404
    assert officer_client.get("/directory/999999").status_code == 404
    page = _text(manager_client.get(f"/directory/{directory_data['Applicant Only']}"))
    assert "Applicant Only" in page and "Not admitted to any lot" in page
    assert manager_client.get("/directory/999999").status_code == 404


def test_officers_see_a_formerly_admitted_provider(app, officer_client):
    with app.app_context():
        lot = make_lot(1)
        former = make_provider("Former Provider")
        admit(former, lot, removed_on=london_today() - days(10))
        former_id = former.id
    page = _text(officer_client.get(f"/directory/{former_id}"))
    assert "Former Provider" in page and "No longer admitted to any lot" in page
    assert "Former Provider" not in _text(officer_client.get("/directory"))


def test_providers_are_refused_the_directory(app, user_factory, directory_data):
    client = _client(app, user_factory, Role.PROVIDER)
    assert client.get("/directory").status_code == 403
    assert client.get(f"/directory/{directory_data['Autism Centre']}").status_code == 403
    assert client.get("/directory", headers=HX).status_code == 403


def test_anonymous_people_are_sent_to_sign_in(client, directory_data):
    response = client.get(f"/directory/{directory_data['Autism Centre']}")
    assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in?next=")
