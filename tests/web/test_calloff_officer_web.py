"""The officer's live referral page, scoring, the award, a new round and asking to commission off the DPS, through
the test client: plain forms (no JavaScript), the htmx fragment, 409s for state errors, 403s for other services, and
the statement budget of the polled fragment."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from portal import clock
from portal.extensions import db
from portal.models import (
    AuditEvent,
    CouncilService,
    Invitation,
    OffDpsRequest,
    Offer,
    OfferStatus,
    Referral,
    ReferralStatus,
    Role,
    Score,
    User,
)
from portal.services import scoring
from portal.services.audit import Events
from portal.services.evaluation import field_name
from tests.factories import make_user
from tests.factories_calloff import (
    CHILD_IDENTIFIERS,
    CHILD_UPN,
    make_offer,
    make_referral,
    publish,
    published_call_off,
)
from tests.helpers import count_queries, csrf_token, start_session

LIVE = {"HX-Request": "true", "HX-Target": "referral-offers"}
VERSION = re.compile(r'<input[^>]*name="version"[^>]*value="(\d+)"')
SCORES_SEEN = re.compile(r'<input[^>]*name="scores_seen"[^>]*value="([0-9a-f]+)"')


def _text(response) -> str:
    return response.get_data(as_text=True)


def _version(page: str) -> str:
    match = VERSION.search(page)
    assert match, "no version field on the page"
    return match.group(1)


def _count(app, model, *conditions) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*conditions))


def _setting(app, *, providers: int = 3, offers: int = 1) -> dict:
    """A published referral; the first ``offers`` providers have offered (totals 7200, 7300 ...). Ids only."""
    with app.app_context():
        call = published_call_off(providers=providers)
        referral = call.referral
        made = [
            make_offer(
                referral,
                call.providers[n],
                call.provider_users[n],
                total=Decimal(7200 + 100 * n),
                delivery_and_staffing=f"Delivery plan of provider {n + 1}",
            )
            for n in range(offers)
        ]
        return {
            "referral": referral.id,
            "officer_email": call.officer.email,
            "officer": call.officer.id,
            "service": call.officer.service_id,
            "deadline": referral.deadline,
            "providers": [p.id for p in call.providers],
            "provider_emails": [u.email for u in call.provider_users],
            "offers": [o.id for o in made],
            "criteria": [c.key for c in scoring.criteria(referral)],
        }


def _signed_in(app, email: str):
    client = app.test_client()
    start_session(client, email)
    return client


@pytest.fixture
def after_deadline(monkeypatch):
    """Freeze the routes' clock just after a deadline: after_deadline(setting)."""

    def freeze(setting):
        moment = setting["deadline"] + timedelta(minutes=1)
        monkeypatch.setattr(clock, "now", lambda: moment)
        return moment

    return freeze


def _seen(page: str) -> str:
    """The fingerprint of the saved scores a score form carries."""
    match = SCORES_SEEN.search(page)
    assert match, "no scores_seen field on the page"
    return match.group(1)


def _score_data(setting, token, version, value="4", comment="Solid", seen=""):
    data = {"csrf_token": token, "version": version, "scores_seen": seen}
    for key in setting["criteria"]:
        data[field_name("score", key)] = value
        data[field_name("comment", key)] = comment
    return data


def _score_through_the_form(client, setting, offer_id, value="4", comment="Solid"):
    path = f"/officer/referrals/{setting['referral']}/offers/{offer_id}"
    page = _text(client.get(path))
    response = client.post(
        f"{path}/score", data=_score_data(setting, csrf_token(client), _version(page), value, comment, _seen(page))
    )
    assert response.status_code == 302, _text(response)
    return response


# ---- The page and its live section -----------------------------------------------------------------------------------


def test_the_page_shows_the_child_and_each_invited_providers_response_and_the_offers(app):
    setting = _setting(app, providers=4, offers=1)
    with app.app_context():
        invitations = {
            i.provider_id: i
            for i in db.session.scalars(sa.select(Invitation).where(Invitation.referral_id == setting["referral"]))
        }
        invitations[setting["providers"][1]].declined_at = clock.now()
        invitations[setting["providers"][1]].decline_reason = "No places until the spring term"
        invitations[setting["providers"][2]].viewed_at = clock.now()
        db.session.commit()
    client = _signed_in(app, setting["officer_email"])
    viewed_before = _count(app, AuditEvent, AuditEvent.event == Events.CHILD_RECORD_VIEWED)

    response = client.get(f"/officer/referrals/{setting['referral']}")
    page = _text(response)

    assert response.status_code == 200
    assert "Zephyrine Quillfeather" in page and CHILD_UPN in page and "14 March 2012" in page
    assert "Marblewick Academy" in page
    assert "Lot 1:" in page and "Quality 70%, price 30%" in page
    for name, state in (
        ("Offering provider 1", "Offered"),
        ("Offering provider 2", "Declined"),
        ("Offering provider 3", "Viewed"),
        ("Offering provider 4", "Invited"),
    ):
        row = re.search(rf"<tr[^>]*>\s*<td[^>]*>{name}</td>.*?</tr>", page, re.S)
        assert row and f">{state}</strong>" in row.group(0), name
    assert "No places until the spring term" in page
    offer_link = f'href="/officer/referrals/{setting["referral"]}/offers/{setting["offers"][0]}"'
    assert offer_link in page and "£7,200.00" in page
    assert 'hx-trigger="every 10s"' in page and f'hx-get="/officer/referrals/{setting["referral"]}"' in page
    assert ">Refresh<" in page
    assert 'aria-live="polite"' in page and "1 offer from 4 invited providers, 1 declined. Open." in page
    assert "HX-Request, HX-Target" in response.headers["Vary"]
    # Reading the page read the child's record: one audit event, with the purpose.
    assert _count(app, AuditEvent, AuditEvent.event == Events.CHILD_RECORD_VIEWED) == viewed_before + 1
    with app.app_context():
        event = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.event == Events.CHILD_RECORD_VIEWED).order_by(AuditEvent.id.desc())
        ).first()
        assert event.details["purpose"] == "referral page" and event.actor_id == setting["officer"]


def test_the_polled_fragment_shows_no_child_identity_and_writes_no_audit_rows(app):
    setting = _setting(app, providers=3, offers=2)
    client = _signed_in(app, setting["officer_email"])
    client.get(f"/officer/referrals/{setting['referral']}")
    events = _count(app, AuditEvent)

    response = client.get(f"/officer/referrals/{setting['referral']}", headers=LIVE)
    fragment = _text(response)

    assert response.status_code == 200
    assert "<html" not in fragment and 'id="referral-offers"' in fragment
    for identifier in CHILD_IDENTIFIERS:
        assert identifier not in fragment, identifier
    assert _count(app, AuditEvent) == events
    assert "Offering provider 1" in fragment and "Offering provider 2" in fragment
    assert 'hx-trigger="every 10s"' in fragment
    # The status line outside the section, which screen readers announce, is updated out of band.
    status = re.search(r'<p id="offers-status"[^>]*>(.*?)</p>', fragment, re.S)
    assert status and 'aria-live="polite"' in status.group(0) and 'hx-swap-oob="innerHTML"' in status.group(0)
    assert status.group(1).strip() == "2 offers from 3 invited providers. Open."


def test_the_fragment_stops_polling_once_offers_close_and_shows_the_ranked_table(app, after_deadline):
    setting = _setting(app, providers=2, offers=2)
    client = _signed_in(app, setting["officer_email"])
    after_deadline(setting)
    fragment = _text(client.get(f"/officer/referrals/{setting['referral']}", headers=LIVE))
    assert "hx-trigger" not in fragment and ">Refresh<" not in fragment
    assert "Ranked offers" in fragment and "Not fully scored" in fragment
    assert "2 offers from 2 invited providers. Evaluating." in fragment
    assert "Score every offer before you award" in fragment
    for identifier in CHILD_IDENTIFIERS:
        assert identifier not in fragment


def test_the_page_and_fragment_run_the_same_number_of_statements_with_2_and_20_offers(app, after_deadline):
    few = _setting(app, providers=21, offers=2)
    many = _another_referral(app, few, offers=20)
    with app.app_context():
        engine = db.engine
    client = _signed_in(app, few["officer_email"])

    def count(setting, headers, heading: str) -> list[str]:
        path = f"/officer/referrals/{setting['referral']}"
        client.get(path, headers=headers)  # warm up (the session's first touch)
        with count_queries(engine) as counter:
            page = _text(client.get(path, headers=headers))
        offers = len(setting["offers"])
        assert f"{offers} offers from 21 invited providers" in page and heading in page
        assert len(re.findall(rf'href="{path}/offers/\d+"', page)) >= offers
        return counter.statements

    for stage, heading in (("open", "Offers received"), ("evaluating", "Ranked offers")):
        if stage == "evaluating":
            after_deadline(few)
        for headers in (LIVE, {}):
            small, large = count(few, headers, heading), count(many, headers, heading)
            assert len(large) == len(small), (stage, headers, "\n".join(large))


def _another_referral(app, setting, *, offers: int = 1) -> dict:
    """A second published referral in the same lot (so the same providers are invited), for the same child, with an
    offer from each of the first ``offers`` providers; ids only."""
    with app.app_context():
        first = db.session.get(Referral, setting["referral"])
        officer = db.session.get(User, setting["officer"])
        referral = make_referral(officer, first.lot, child=first.child)
        publish(referral, officer)
        made = []
        for n in range(offers):
            provider_user = db.session.scalar(sa.select(User).where(User.email == setting["provider_emails"][n]))
            made.append(make_offer(referral, provider_user.provider, provider_user, total=Decimal(7200 + 100 * n)))
        return {"referral": referral.id, "offers": [offer.id for offer in made]}


def test_a_draft_goes_to_its_task_list(app):
    with app.app_context():
        officer = make_user("officer")
        draft = make_referral(officer, None)
        ids = (draft.id, officer.email)
    client = _signed_in(app, ids[1])
    response = client.get(f"/officer/referrals/{ids[0]}")
    assert response.status_code == 302 and response.headers["Location"] == f"/officer/referrals/{ids[0]}/draft"


def test_an_unknown_referral_or_an_offer_of_another_referral_is_404(app):
    setting = _setting(app, offers=1)
    other = _another_referral(app, setting)
    client = _signed_in(app, setting["officer_email"])
    assert client.get("/officer/referrals/999999").status_code == 404
    assert client.get(f"/officer/referrals/{setting['referral']}/offers/{other['offers'][0]}").status_code == 404
    token = csrf_token(client)
    response = client.post(
        f"/officer/referrals/{setting['referral']}/offers/{other['offers'][0]}/score", data={"csrf_token": token}
    )
    assert response.status_code == 404


# ---- Scoring and the award, without JavaScript -----------------------------------------------------------------------


def test_scoring_and_awarding_work_as_plain_forms(app, after_deadline):
    setting = _setting(app, providers=2, offers=2)
    client = _signed_in(app, setting["officer_email"])
    after_deadline(setting)
    offer_page = _text(client.get(f"/officer/referrals/{setting['referral']}/offers/{setting['offers'][0]}"))
    assert "Delivery plan of provider 1" in offer_page and "We will meet aim 1" in offer_page
    assert "Score this offer" in offer_page and "£7,200.00" in offer_page

    _score_through_the_form(client, setting, setting["offers"][0], value="5", comment="Excellent")
    _score_through_the_form(client, setting, setting["offers"][1], value="3", comment="Adequate")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Score)) == 2 * len(setting["criteria"])
        scored = db.session.scalar(sa.select(AuditEvent.id).where(AuditEvent.event == Events.OFFER_SCORED))
        assert scored is not None

    page = _text(client.get(f"/officer/referrals/{setting['referral']}"))
    ranked = re.search(r'id="ranking".*?</table>', page, re.S).group(0)
    assert ranked.index("Offering provider 1") < ranked.index("Offering provider 2")
    assert "100.00" in ranked  # 70.00 quality + 30.00 price
    assert f'action="/officer/referrals/{setting["referral"]}/award"' in page
    response = client.post(
        f"/officer/referrals/{setting['referral']}/award",
        data={
            "csrf_token": csrf_token(client),
            "version": _version(page),
            "offer_id": str(setting["offers"][0]),
            "rationale": "Highest quality and the lowest price",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/officer/referrals/{setting['referral']}"
    page = _text(client.get(response.headers["Location"]))
    assert "awarded to Offering provider 1" in page  # the flash
    assert "Highest quality and the lowest price" in page and "Awarded to" in page
    assert "/award" not in page
    with app.app_context():
        assert db.session.get(Referral, setting["referral"]).status is ReferralStatus.AWARDED
        statuses = [db.session.get(Offer, offer_id).status for offer_id in setting["offers"]]
        assert statuses == [OfferStatus.AWARDED, OfferStatus.UNSUCCESSFUL]


def test_a_refused_score_is_shown_next_to_the_field_with_what_was_typed_kept(app, after_deadline):
    setting = _setting(app, providers=2, offers=2)
    client = _signed_in(app, setting["officer_email"])
    after_deadline(setting)
    path = f"/officer/referrals/{setting['referral']}/offers/{setting['offers'][0]}"
    page = _text(client.get(path))
    data = _score_data(
        setting, csrf_token(client), _version(page), value="4", comment="Typed comment kept", seen=_seen(page)
    )
    first = setting["criteria"][0]
    data[field_name("score", first)] = "0"
    data[field_name("comment", first)] = ""
    response = client.post(f"{path}/score", data=data)
    page = _text(response)
    assert response.status_code == 200
    assert "There is a problem" in page
    assert "a score of 0 or 1 needs a comment" in page
    assert page.count("Typed comment kept") == len(setting["criteria"]) - 1
    assert _count(app, Score) == 0


def test_a_score_for_an_offer_revised_since_the_page_loaded_is_a_conflict(app, after_deadline):
    setting = _setting(app, providers=2, offers=2)
    client = _signed_in(app, setting["officer_email"])
    after_deadline(setting)
    path = f"/officer/referrals/{setting['referral']}/offers/{setting['offers'][0]}"
    page = _text(client.get(path))
    stale = _version(page)
    with app.app_context():
        offer = db.session.get(Offer, setting["offers"][0])
        offer.safeguarding = "A revised safeguarding plan"
        db.session.commit()
    data = _score_data(setting, csrf_token(client), stale, comment="My notes", seen=_seen(page))
    response = client.post(f"{path}/score", data=data)
    page = _text(response)
    assert response.status_code == 409
    assert "Offering provider 1 changed this offer after you opened it" in page
    assert "A revised safeguarding plan" in page and "My notes" in page
    assert _version(page) == str(int(stale) + 1)
    assert _count(app, Score) == 0


def test_scores_saved_by_a_colleague_since_the_page_loaded_are_never_overwritten(app, after_deadline):
    setting = _setting(app, providers=2, offers=2)
    with app.app_context():
        officer = db.session.get(User, setting["officer"])
        colleague = make_user("officer", service=officer.service, name="Casey Colleague").email
        officer_name = officer.name
    first, second = _signed_in(app, setting["officer_email"]), _signed_in(app, colleague)
    after_deadline(setting)
    path = f"/officer/referrals/{setting['referral']}/offers/{setting['offers'][0]}"
    first_page, second_page = _text(first.get(path)), _text(second.get(path))
    saved = first.post(
        f"{path}/score",
        data=_score_data(setting, csrf_token(first), _version(first_page), "5", "Excellent", _seen(first_page)),
    )
    assert saved.status_code == 302
    stale = _score_data(setting, csrf_token(second), _version(second_page), "2", "Weak plan", _seen(second_page))
    response = second.post(f"{path}/score", data=stale)
    page = _text(response)
    assert response.status_code == 409
    assert f"{officer_name} saved scores for this offer at" in page and "Weak plan" in page
    with app.app_context():
        scores = db.session.scalars(sa.select(Score).where(Score.offer_id == setting["offers"][0])).all()
        assert {(score.score, score.comment) for score in scores} == {(5, "Excellent")}
    # The form now carries the scores as they are, so the colleague can save over them knowingly.
    again = _score_data(setting, csrf_token(second), _version(page), "2", "Weak plan", _seen(page))
    assert second.post(f"{path}/score", data=again).status_code == 302


def _every_offer_scored(app, after_deadline):
    """Two offers past the deadline, both scored by the officer: the referral page, which offers the award."""
    setting = _setting(app, providers=2, offers=2)
    client = _signed_in(app, setting["officer_email"])
    after_deadline(setting)
    for offer_id in setting["offers"]:
        _score_through_the_form(client, setting, offer_id)
    page = _text(client.get(f"/officer/referrals/{setting['referral']}"))
    return setting, client, page


def test_an_award_refused_for_its_rationale_keeps_the_choice_and_says_why(app, after_deadline):
    setting, client, page = _every_offer_scored(app, after_deadline)
    response = client.post(
        f"/officer/referrals/{setting['referral']}/award",
        data={"csrf_token": csrf_token(client), "version": _version(page), "offer_id": str(setting["offers"][1])},
    )
    page = _text(response)
    assert response.status_code == 200
    assert "Write the rationale for the award" in page
    assert re.search(rf'value="{setting["offers"][1]}"\s+checked', page) or re.search(
        rf'checked[^>]*value="{setting["offers"][1]}"', page
    )
    with app.app_context():
        assert db.session.get(Referral, setting["referral"]).status is ReferralStatus.OPEN


def test_an_offer_id_too_big_for_a_database_integer_is_refused_as_no_choice(app, after_deadline):
    """Found by the hostile-input fuzz (tests/fuzz/test_hostile_forms_in_states.py): an offer id past what an integer
    column holds went to the database as a parameter: a 500 (PostgreSQL: integer out of range from 2**31; SQLite:
    OverflowError from 2**63). No offer has such an id: it is no choice."""
    setting, client, page = _every_offer_scored(app, after_deadline)
    for too_big in (str(2**31), str(-(2**31) - 1), str(2**63), "9" * 30):
        response = client.post(
            f"/officer/referrals/{setting['referral']}/award",
            data={"csrf_token": csrf_token(client), "version": _version(page), "offer_id": too_big, "rationale": "Best"},
        )
        assert response.status_code == 200, too_big
        assert "Choose the offer to award" in _text(response)
    with app.app_context():
        assert db.session.get(Referral, setting["referral"]).status is ReferralStatus.OPEN


def test_an_htmx_award_on_a_closed_referral_gets_409_with_the_message_in_the_fragment(app, after_deadline):
    setting, client, page = _every_offer_scored(app, after_deadline)
    version = _version(page)
    with app.app_context():
        referral = db.session.get(Referral, setting["referral"])
        referral.status = ReferralStatus.WITHDRAWN
        referral.withdrawal_reason = "The family moved away"
        db.session.commit()
    response = client.post(
        f"/officer/referrals/{setting['referral']}/award",
        data={
            "csrf_token": csrf_token(client),
            "version": version,
            "offer_id": str(setting["offers"][0]),
            "rationale": "Best",
        },
        headers={"HX-Request": "true", "HX-Target": "referral-offers"},
    )
    fragment = _text(response)
    assert response.status_code == 409
    assert "<html" not in fragment
    assert "You cannot award this referral now. This referral has been withdrawn." in fragment
    for identifier in CHILD_IDENTIFIERS:
        assert identifier not in fragment
    # Without htmx: the whole page, 409, with the same message.
    response = client.post(
        f"/officer/referrals/{setting['referral']}/award",
        data={"csrf_token": csrf_token(client), "version": version, "offer_id": str(setting["offers"][0])},
    )
    assert response.status_code == 409 and "This referral has been withdrawn." in _text(response)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Offer).where(Offer.status == "awarded")) == 0


def test_a_second_officer_pressing_award_is_told_who_awarded_it(app, after_deadline):
    setting = _setting(app, providers=2, offers=2)
    with app.app_context():
        make_user(
            "officer",
            service=db.session.get(CouncilService, setting["service"]),
            email="casey@council.example",
            name="Casey Colleague",
        )
    first = _signed_in(app, "casey@council.example")
    second = _signed_in(app, setting["officer_email"])
    after_deadline(setting)
    for offer_id in setting["offers"]:
        _score_through_the_form(first, setting, offer_id)
    pages = [_text(client.get(f"/officer/referrals/{setting['referral']}")) for client in (first, second)]
    for client, page, offer_id in zip((first, second), pages, setting["offers"], strict=True):
        response = client.post(
            f"/officer/referrals/{setting['referral']}/award",
            data={
                "csrf_token": csrf_token(client),
                "version": _version(page),
                "offer_id": str(offer_id),
                "rationale": "Best value",
            },
        )
        last = response
    assert last.status_code == 409
    assert "Another officer (Casey Colleague) awarded this referral at" in _text(last)
    with app.app_context():
        assert db.session.get(Offer, setting["offers"][0]).status is OfferStatus.AWARDED


# ---- Who may act ---------------------------------------------------------------------------------------------------


def test_an_officer_of_another_service_reads_the_page_but_gets_403_on_every_action(app, after_deadline):
    setting = _setting(app, providers=2, offers=2)
    with app.app_context():
        make_user("officer", email="elsewhere@council.example")
    client = _signed_in(app, "elsewhere@council.example")
    after_deadline(setting)
    referral = f"/officer/referrals/{setting['referral']}"
    page = _text(client.get(referral))
    assert "Only officers in" in page and "/award" not in page and "/republish" not in page
    offer_page = _text(client.get(f"{referral}/offers/{setting['offers'][0]}"))
    assert "Score this offer" not in offer_page
    token = csrf_token(client)
    posts = {
        f"{referral}/offers/{setting['offers'][0]}/score": _score_data(setting, token, "1"),
        f"{referral}/award": {"csrf_token": token, "version": "1", "offer_id": setting["offers"][0], "rationale": "x"},
        f"{referral}/republish": {"csrf_token": token, "version": "1"},
        f"{referral}/off-dps": {"csrf_token": token, "version": "1", "reason": "x"},
    }
    for path, data in posts.items():
        assert client.post(path, data=data).status_code == 403, path
    for path in (f"{referral}/republish", f"{referral}/off-dps"):
        assert client.get(path).status_code == 403, path
    assert _count(app, Score) == 0 and _count(app, OffDpsRequest) == 0


def test_a_provider_gets_403_on_every_officer_and_manager_call_off_route(app):
    setting = _setting(app, providers=2, offers=1)
    with app.app_context():
        manager = make_user("manager")
        request_id = OffDpsRequest(referral_id=setting["referral"], reason="x", requested_by_id=setting["officer"])
        db.session.add(request_id)
        db.session.commit()
        request_id = request_id.id
        del manager
    client = _signed_in(app, setting["provider_emails"][0])
    token = csrf_token(client)
    referral = f"/officer/referrals/{setting['referral']}"
    gets = [
        referral,
        f"{referral}/offers/{setting['offers'][0]}",
        f"{referral}/republish",
        f"{referral}/off-dps",
        f"/manager/referrals/{setting['referral']}",
        "/manager/off-dps",
        f"/manager/off-dps/{request_id}",
    ]
    for path in gets:
        response = client.get(path)
        assert response.status_code == 403, path
        for identifier in CHILD_IDENTIFIERS:
            assert identifier not in _text(response)
    assert client.get(referral, headers=LIVE).status_code == 403
    posts = [
        f"{referral}/offers/{setting['offers'][0]}/score",
        f"{referral}/award",
        f"{referral}/republish",
        f"{referral}/off-dps",
        f"/manager/off-dps/{request_id}",
    ]
    for path in posts:
        assert client.post(path, data={"csrf_token": token}).status_code == 403, path


# ---- A new round and off the DPS -----------------------------------------------------------------------------------


def test_republishing_opens_a_new_round_and_a_short_deadline_needs_a_reason(app, after_deadline):
    setting = _setting(app, providers=2, offers=1)
    client = _signed_in(app, setting["officer_email"])
    path = f"/officer/referrals/{setting['referral']}/republish"
    response = client.get(path)
    assert response.status_code == 409 and "You cannot republish this referral now" in _text(response)
    moment = after_deadline(setting)
    page = _text(client.get(path))
    assert "Republish with a new deadline" in page and "This opens round 2" in page
    default = clock.london_today(moment) + timedelta(days=10)
    assert f'value="{default.year}"' in page

    short = clock.london_today(moment) + timedelta(days=3)
    data = {
        "csrf_token": csrf_token(client),
        "version": _version(page),
        "deadline": [str(short.day), str(short.month), str(short.year)],
        "deadline_reason": "",
    }
    response = client.post(path, data=data)
    assert response.status_code == 200
    assert "Give the reason for a deadline shorter than 10 days" in _text(response)
    assert f'value="{short.day}"' in _text(response)
    data["deadline_reason"] = "Sixth day of a permanent exclusion"
    response = client.post(path, data=data)
    assert response.status_code == 302
    page = _text(client.get(response.headers["Location"]))
    assert "republished (round 2): 2 providers invited" in page
    assert "Earlier rounds (1), for the record" in page
    with app.app_context():
        referral = db.session.get(Referral, setting["referral"])
        assert referral.round == 2 and referral.deadline_reason == "Sixth day of a permanent exclusion"


def test_asking_the_manager_to_commission_off_the_dps(app, after_deadline):
    setting = _setting(app, providers=2, offers=0)
    with app.app_context():
        make_user("manager", email="morgan@council.example")
    client = _signed_in(app, setting["officer_email"])
    path = f"/officer/referrals/{setting['referral']}/off-dps"
    assert client.get(path).status_code == 409  # offers still coming in
    after_deadline(setting)
    page = _text(client.get(f"/officer/referrals/{setting['referral']}"))
    assert "No offers were made in this round" in page and f'href="{path}"' in page
    page = _text(client.get(path))
    response = client.post(path, data={"csrf_token": csrf_token(client), "version": _version(page), "reason": " "})
    assert response.status_code == 200 and "Enter why the provision should be commissioned off the DPS" in _text(
        response
    )
    response = client.post(
        path, data={"csrf_token": csrf_token(client), "version": _version(page), "reason": "No provider offered"}
    )
    assert response.status_code == 302
    page = _text(client.get(response.headers["Location"]))
    assert "sent to the manager" in page and "Waiting for the manager" in page and f'href="{path}"' not in page
    again = client.get(path)
    assert again.status_code == 409 and "already waiting for the manager" in _text(again)
    assert _count(app, OffDpsRequest) == 1


def test_the_manager_reads_the_same_page_without_action_forms(app, after_deadline):
    setting = _setting(app, providers=2, offers=2)
    with app.app_context():
        make_user(Role.MANAGER, email="morgan@council.example")
    client = _signed_in(app, "morgan@council.example")
    after_deadline(setting)
    page = _text(client.get(f"/manager/referrals/{setting['referral']}"))
    assert "Zephyrine Quillfeather" in page and "Ranked offers" in page and "Read only" in page
    assert '<form method="post" action="/officer' not in page and "/republish" not in page
    with app.app_context():
        event = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.event == Events.CHILD_RECORD_VIEWED).order_by(AuditEvent.id.desc())
        ).first()
        assert event.details["purpose"] == "manager oversight"
    fragment = _text(client.get(f"/manager/referrals/{setting['referral']}", headers=LIVE))
    assert "<html" not in fragment and "Ranked offers" in fragment
    for identifier in CHILD_IDENTIFIERS:
        assert identifier not in fragment
