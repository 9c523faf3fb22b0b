"""Hostile input never breaks the portal (issue 10, point 3).

Every form a person of each role can reach (found by following the links of the demo's pages, so with real ids and
the page's real CSRF and single-use tokens) is sent long, empty, unicode (astral, right-to-left, combining), control
characters, NUL, text where numbers and dates belong, several values for one field, missing and extra fields, as a
plain form and as htmx. Every answer is a 2xx, 3xx or 4xx, never a 500; a refusal says something, and writes no row.

Hypothesis runs derandomized (the same examples on every run, so CI is reproducible) and briefly: FUZZ_EXAMPLES
examples a form (6 by default, about a minute a database for the module).
"""

from __future__ import annotations

from tests.fuzz.conftest import PEOPLE, signed_in
from tests.fuzz.hostile import fuzz_form, send
from tests.fuzz.pages import TOKEN_FIELDS, Form, Snapshot, crawl, endpoint_of

# Sending these would end the session the fuzz runs in (tested in the sign-in and session tests).
ENDS_THE_SESSION = {"auth.logout", "account.sign_out_everywhere"}

# POST routes whose form no crawl of the demo reaches, with why. Each is still refused without a CSRF token (tests/
# fuzz/test_hostile_routes.py, at a made-up address) and to the wrong roles (tests/web/test_access.py).
IN_STATES = "reached in test_hostile_forms_in_states.py"
NOT_REACHED_SIGNED_IN = {
    # Public: half-way through signing in, registering, or an emailed link: tests/fuzz/test_hostile_public.py.
    "auth.login": "public", "auth.two_factor_code": "public", "auth.recovery_codes_saved": "public",
    "auth.forgot_password": "public", "auth.set_password": "public", "auth.register": "public",
    # States the small demo has no record in, or a page no link leads to: the fuzz there adds the record to the demo
    # (states_world), reads the form from its page and asserts it reached every one of these.
    "account.turn_off_two_factor": f"{IN_STATES}: only an officer who chose two-factor (no demo officer has)",
    "manager.decide_off_dps": f"{IN_STATES}: no off-DPS request in the demo",
    "manager.propose_erasure": f"{IN_STATES}: no child past its retention period in the small demo",
    "manager.erasure": f"{IN_STATES}: no erasure proposed in the demo",
    "manager.reactivate_user": f"{IN_STATES}: no deactivated user in the demo",
    "manager.resend_invitation": f"{IN_STATES}: no invitation waiting in the demo",
    "manager.sla_terms_version": f"{IN_STATES}: no draft version of the terms in the demo",
    "officer.award": f"{IN_STATES}: offered once every offer is scored",
    "officer.new_placement": f"{IN_STATES}: every awarded demo referral has its placement",
    "officer.publish_referral": f"{IN_STATES}: the demo draft is not complete",
    "provider.application_sites": f"{IN_STATES}: only the offer page's 'Save and change your sites' (a POST) leads "
    "to the sites page",
    "provider.remove_site": f"{IN_STATES}: on the sites page",
    "provider.reconfirm": f"{IN_STATES}: no successor arrangement in the demo",
    "manager.try_again_mail": f"{IN_STATES}: no email given up in the demo (no mail is sent in it)",
    "manager.try_all_again_mail": f"{IN_STATES}: no email given up in the demo (no mail is sent in it)",
}


def _pick_forms(app, people_crawls) -> list[tuple[str, str, Form]]:
    """Two forms a route at most, whoever found them (two different referrals, or a form at two places)."""
    chosen: dict[str, dict[tuple[str, str], tuple[str, str, Form]]] = {}
    for who, result in people_crawls:
        for endpoint, forms in sorted(result.forms_by_endpoint(app).items()):
            if endpoint in ENDS_THE_SESSION:
                continue
            for form in forms:
                picked = chosen.setdefault(endpoint, {})
                if len(picked) < 2 and (form.method, form.action) not in picked:
                    picked[(form.method, form.action)] = (who, endpoint, form)
    return [entry for picked in chosen.values() for entry in picked.values()]


def test_every_form_survives_hostile_input(demo_world):
    app = demo_world
    # The manager goes last: deactivating a user or deciding an application changes what the others can reach.
    order = [who for who in PEOPLE if who != "manager"] + ["manager"]
    clients = {who: signed_in(app, who) for who in order}
    crawls = [(who, crawl(app, clients[who], ["/"], check_writes=False)) for who in order]

    forms = _pick_forms(app, crawls)
    post_endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if "POST" in rule.methods}
    reached = {endpoint for _, endpoint, form in forms if form.method == "post"}
    missing = sorted(post_endpoints - reached - NOT_REACHED_SIGNED_IN.keys() - ENDS_THE_SESSION)
    assert not missing, f"POST routes whose form no crawl found (add the record to the demo or a reason): {missing}"

    sent = refused = 0
    for who, endpoint, form in forms:
        tally = fuzz_form(app, clients[who], who, endpoint, form)
        sent, refused = sent + tally["sent"], refused + tally["refused"]
    # Guards against a fuzz that checks nothing: most examples reach their form, and most hostile ones are refused.
    print(f"{len(forms)} forms, {sent} hostile submissions, {refused} refused")
    assert sent >= 3 * len(forms) and refused >= sent // 2


def test_the_crawl_reads_forms_as_a_browser_would(demo_world):
    """Guards the fuzz against checking nothing: the parser finds fields, choices and the tokens."""
    app = demo_world
    client = signed_in(app, "send officer")
    result = crawl(app, client, ["/"], check_writes=False)
    by_endpoint = result.forms_by_endpoint(app)
    assert len(by_endpoint) >= 10
    some_form = next(form for forms in by_endpoint.values() for form in forms if form.method == "post")
    assert "csrf_token" in some_form.default_data()
    assert endpoint_of(app, "/sign-in", "POST") == "auth.login"


def test_a_nul_byte_anywhere_is_refused_with_a_message_and_saves_nothing(demo_world):
    """PostgreSQL cannot store a NUL in text: every form, each text field and the query given one, gets a 400 that
    says so (never the 500 psycopg's error would be), on both databases."""
    app = demo_world
    checked = 0
    for who in PEOPLE:
        client = signed_in(app, who)
        for endpoint, forms in sorted(crawl(app, client, ["/"], check_writes=False).forms_by_endpoint(app).items()):
            form = forms[0]
            if endpoint in ENDS_THE_SESSION or not form.text_fields:
                continue
            data = form.default_data()
            for text_field in form.text_fields:
                if text_field.name not in TOKEN_FIELDS:
                    data.setlist(text_field.name, ["before\x00after"])
            before = Snapshot(app)
            response = send(client, form, data, htmx=False)
            where = f"{who}: {form.method.upper()} {form.action} ({endpoint})"
            assert response.status_code == 400, f"{where} answered {response.status_code}"
            assert "a NUL byte" in response.get_data(as_text=True), where
            assert not before.unexpected_changes(), where
            checked += 1
    assert checked >= 40
