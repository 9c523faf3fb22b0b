"""Hostile input never breaks the forms the demo crawl never reaches (issue 10, point 3: every form and htmx endpoint).

tests/fuzz/test_hostile_forms.py fuzzes every form a crawl of the small demo finds; these are the signed-in POST
routes it lists in NOT_REACHED_SIGNED_IN (but the public ones, tests/fuzz/test_hostile_public.py): forms shown only
for a record in a state the demo has none in (states_world adds one of each, tests/fuzz/states.py), or on a page only
a form's button leads to (the draft application's sites). Two more the crawl does reach are sent here in the state
that matters too: deciding an application whose every lot is assessed (in the demo none is, so the page's own answers
are always refused), and the attendance cell htmx saves (a select with hx-post) in the latest week with a session to
record.
Each form is read from the page that shows it, for the person who owns the record (real ids, the page's real CSRF and
single-use tokens), then sent the same hostile examples as the crawl's forms (tests/fuzz/hostile.py): never a 500, a
refusal says something and writes no row.

Some forms end the state that offers them when an example is accepted (a decision, an award, a site removed, the
lots re-confirmed): the next record in that state is then made (fuzz_form's ``renew``), so every example is sent.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from flask import url_for

from portal import clock
from tests.fuzz import states
from tests.fuzz.conftest import signed_in
from tests.fuzz.hostile import examples_per_form, fuzz_form
from tests.fuzz.pages import Form, Snapshot, endpoint_of, local_path, parse
from tests.fuzz.test_hostile_forms import IN_STATES, NOT_REACHED_SIGNED_IN


def _path(app, endpoint: str, **values) -> str:
    with app.test_request_context():
        return url_for(endpoint, **values)


def _forms_on(app, client, path: str, endpoint: str) -> list[Form]:
    """The forms of the page at ``path`` that send to ``endpoint`` (POST). Reading the page writes nothing (but the
    audit of a read), as tests/fuzz/test_hostile_routes.py checks of the pages its crawl reaches."""
    before = Snapshot(app)
    response = client.get(path, buffered=True)
    assert response.status_code == 200, f"{path} answered {response.status_code}"
    assert not before.unexpected_changes(), f"GET {path} wrote rows: {before.unexpected_changes()}"
    return [
        form
        for form in parse(path, response.get_data(as_text=True)).forms
        if form.method == "post" and endpoint_of(app, local_path(form.action), "POST") == endpoint
    ]


def _form_on(app, client, path: str, endpoint: str, *, action: str | None = None) -> Form:
    """The form on the page at ``path`` that sends to ``endpoint`` (to the address ``action``, if given)."""
    forms = [form for form in _forms_on(app, client, path, endpoint) if action in (None, local_path(form.action))]
    assert forms, f"no {endpoint} form on {path}"
    return forms[0]


def _renewing(app, client, make, page_of, endpoint: str, action_of=None):
    """A renew for fuzz_form: make the next record (``make``), and read its form from its page."""

    def renew() -> Form:
        with app.app_context():
            record = make()
        action = action_of(record) if action_of else None
        return _form_on(app, client, page_of(record), endpoint, action=action)

    return renew


def _sites_page(app, client) -> str:
    """The draft application's sites page, reached as a provider does: "Save and change your sites" on the page of
    what it offers (a button outside the form, tied to it by its form attribute), which saves and leads there."""
    offer_page = _path(app, "provider.application_offer")
    offer = _form_on(app, client, offer_page, "provider.application_offer")
    assert "sites" in offer.fields["action"].values, "the offer page has no button to the sites"
    data = offer.default_data()
    data.setlist("action", ["sites"])
    response = client.post(local_path(offer.action), data=data)
    assert response.status_code == 302, f"saving the offer to change the sites answered {response.status_code}"
    sites_page = local_path(response.headers["Location"])
    assert endpoint_of(app, sites_page) == "provider.application_sites"
    return sites_page


def _attendance_page(app, client, placement_id: int) -> str:
    """The latest week of the placement's attendance (this one, or one before, by the page's link to the week
    before) with a session the provider can record: the page with the cells htmx saves one at a time."""
    page = _path(app, "placements.attendance", placement_id=placement_id)
    week = clock.london_today() - timedelta(days=clock.london_today().weekday())
    for _ in range(6):
        if _forms_on(app, client, page, "placements.attendance_cell"):
            return page
        week -= timedelta(days=7)
        links = parse(page, client.get(page).get_data(as_text=True)).links
        page = next(
            local_path(link)
            for link in links
            if endpoint_of(app, local_path(link) or "") == "placements.attendance"
            and parse_qs(urlsplit(link).query).get("week") == [week.isoformat()]
        )
    raise AssertionError("no week of the placement has a session to record")


def test_forms_in_states_survive_hostile_input(states_world):
    world = states_world
    app, ids = world.app, world.ids
    manager, officer = signed_in(app, "manager"), signed_in(app, "send officer")
    provider_1, provider_8 = signed_in(app, "provider 1"), signed_in(app, "provider 8")
    two_factor_officer = world.client_of_two_factor_officer()
    successors = [ids["successor"]]

    def next_successor() -> int:
        successors.append(states.successor(successors[-1]))
        return successors[-1]

    def page(endpoint: str, key: str):
        return lambda record: _path(app, endpoint, **{key: record})

    sites_page = _sites_page(app, provider_8)
    remove_site = page("provider.remove_site", "site_id")
    try_again = page("manager.try_again_mail", "message_id")
    # (who, client, endpoint, the page that shows the form, the form's address if the page has several, renew)
    targets = [
        ("officer with two-factor", two_factor_officer, "account.turn_off_two_factor",
         _path(app, "account.turn_off_two_factor"), None, None),
        # Before the application is decided: deciding drafts the provider's SLA on the latest terms, which then are
        # in use and can no longer change (and a new draft version is made if they are).
        ("manager", manager, "manager.sla_terms_version",
         page("manager.sla_terms_version", "template_id")(ids["draft terms"]), None,
         _renewing(app, manager, states.draft_terms, page("manager.sla_terms_version", "template_id"),
                   "manager.sla_terms_version")),
        ("manager", manager, "manager.decide_application",
         page("manager.application_detail", "application_id")(ids["assessed application"]), None,
         _renewing(app, manager, states.assessed_application, page("manager.application_detail", "application_id"),
                   "manager.decide_application")),
        ("manager", manager, "manager.decide_off_dps",
         page("manager.decide_off_dps", "request_id")(ids["off-DPS request"]), None,
         _renewing(app, manager, states.off_dps_request, page("manager.decide_off_dps", "request_id"),
                   "manager.decide_off_dps")),
        ("manager", manager, "manager.propose_erasure",
         page("manager.propose_erasure", "child_id")(ids["child past retention"]), None, None),
        ("manager", manager, "manager.erasure",
         page("manager.erasure", "request_id")(ids["erasure proposed"]), None,
         _renewing(app, manager, states.erasure_proposed, page("manager.erasure", "request_id"), "manager.erasure")),
        ("manager", manager, "manager.reactivate_user",
         page("manager.user_detail", "user_id")(ids["deactivated user"]), None,
         _renewing(app, manager, lambda: states.deactivated_user(ids["deactivated user"]),
                   page("manager.user_detail", "user_id"), "manager.reactivate_user")),
        ("manager", manager, "manager.resend_invitation",
         page("manager.user_detail", "user_id")(ids["invited user"]), None, None),
        ("send officer", officer, "officer.award",
         page("officer.referral", "referral_id")(ids["scored referral"]), None,
         _renewing(app, officer, states.scored_referral, page("officer.referral", "referral_id"), "officer.award")),
        ("send officer", officer, "officer.new_placement",
         page("officer.new_placement", "referral_id")(ids["awarded referral"]), None,
         _renewing(app, officer, states.awarded_referral, page("officer.new_placement", "referral_id"),
                   "officer.new_placement")),
        ("send officer", officer, "officer.publish_referral",
         page("officer.publish_referral", "referral_id")(ids["complete draft"]), None,
         _renewing(app, officer, states.complete_draft, page("officer.publish_referral", "referral_id"),
                   "officer.publish_referral")),
        ("provider 1", provider_1, "placements.attendance_cell",
         _attendance_page(app, provider_1, ids["active placement"]), None, None),
        ("provider 8", provider_8, "provider.application_sites", sites_page, None, None),
        ("provider 8", provider_8, "provider.remove_site", sites_page, remove_site(ids["draft site"]),
         _renewing(app, provider_8, states.draft_with_on_site_provision, lambda _site: sites_page,
                   "provider.remove_site", action_of=remove_site)),
        ("manager", manager, "manager.try_again_mail", _path(app, "manager.undelivered_mail"),
         try_again(ids["undelivered email"]),
         _renewing(app, manager, states.undelivered_email, lambda _email: _path(app, "manager.undelivered_mail"),
                   "manager.try_again_mail", action_of=try_again)),
        ("manager", manager, "manager.try_all_again_mail", _path(app, "manager.undelivered_mail"), None,
         _renewing(app, manager, states.undelivered_email, lambda _email: _path(app, "manager.undelivered_mail"),
                   "manager.try_all_again_mail")),
        ("provider 1", provider_1, "provider.reconfirm", _path(app, "provider.reconfirmation"), None,
         _renewing(app, provider_1, next_successor, lambda _arrangement: _path(app, "provider.reconfirmation"),
                   "provider.reconfirm")),
    ]

    # Every route the crawl of the demo does not reach (but the public ones) is reached here, by its page's form.
    forms = [(who, client, endpoint, _form_on(app, client, path, endpoint, action=action), renew)
             for who, client, endpoint, path, action, renew in targets]
    reached = {endpoint_of(app, local_path(form.action), "POST") for _, _, _, form, _ in forms}
    assert all(why == "public" or why.startswith(IN_STATES) for why in NOT_REACHED_SIGNED_IN.values())
    expected = {endpoint for endpoint, why in NOT_REACHED_SIGNED_IN.items() if why.startswith(IN_STATES)}
    assert expected <= reached, f"not reached: {sorted(expected - reached)}"

    sent = refused = 0
    for who, client, endpoint, form, renew in forms:
        tally = fuzz_form(app, client, who, endpoint, form, renew=renew)
        print(f"{endpoint}: {tally}")
        # Every example reached its form (a record in the state was there, or was made again).
        assert tally["sent"] == tally["examples"] >= min(3, examples_per_form()), f"{endpoint}: {tally}"
        sent, refused = sent + tally["sent"], refused + tally["refused"]
    print(f"{len(forms)} forms, {sent} hostile submissions, {refused} refused")
    assert refused >= sent // 2
