"""The provider's opportunities through the test client: the feed (full page, htmx fragment, pagination, a fixed
number of SQL statements), one referral's page, and making, revising, withdrawing and declining as plain form posts,
with errors next to the fields, conflicts, and the deadline kept by the server clock."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal import clock
from portal.clock import london_today
from portal.extensions import db
from portal.models import Invitation, Offer, OfferStatus, Referral, ReferralStatus
from tests.factories import make_lot, make_user
from tests.factories_calloff import (
    eligible_provider,
    make_offer,
    make_referral,
    offer_fields,
    publish,
    published_call_off,
)
from tests.helpers import count_queries, csrf_token, start_session

RESULTS = "opportunity-results"
HX = {"HX-Request": "true", "HX-Target": RESULTS}
REFERENCE_LINK = re.compile(r'href="/provider/opportunities/(\d+)"')


def _text(response) -> str:
    return response.get_data(as_text=True)


@dataclass
class Setting:
    referral_id: int
    aim_ids: list[int]
    provider_ids: list[int]
    emails: list[str]
    deadline: object
    age: str


@pytest.fixture
def setting(app) -> Setting:
    with app.app_context():
        call = published_call_off()
        return Setting(
            referral_id=call.referral.id,
            aim_ids=[aim.id for aim in call.referral.aims],
            provider_ids=[p.id for p in call.providers],
            emails=[u.email for u in call.provider_users],
            deadline=call.referral.deadline,
            age=f"{call.referral.profile_age} years old, {call.referral.profile_year_group}",
        )


def _signed_in(app, email: str):
    client = app.test_client()
    start_session(client, email)
    return client


@pytest.fixture
def provider_client(app, setting):
    return _signed_in(app, setting.emails[0])


def offer_data(setting: Setting, token: str, **changes) -> dict:
    start = london_today() + timedelta(days=40)
    data = {"csrf_token": token, "version": "", **offer_fields(setting.aim_ids, start)}
    data.update(changes)
    return data


def _offer(app, setting: Setting, n: int = 0) -> Offer | None:
    with app.app_context():
        offer = db.session.scalar(
            sa.select(Offer).where(
                Offer.referral_id == setting.referral_id, Offer.provider_id == setting.provider_ids[n]
            )
        )
        if offer is not None:
            db.session.expunge(offer)
        return offer


def _invitation(app, setting: Setting, n: int = 0) -> Invitation:
    with app.app_context():
        invitation = db.session.scalar(
            sa.select(Invitation).where(
                Invitation.referral_id == setting.referral_id, Invitation.provider_id == setting.provider_ids[n]
            )
        )
        db.session.expunge(invitation)
        return invitation


def _freeze(monkeypatch, moment) -> None:
    monkeypatch.setattr(clock, "now", lambda: moment)


# ---- The feed -------------------------------------------------------------------------------------------------------


def test_the_feed_shows_exactly_the_open_referrals_the_provider_is_invited_to_newest_first(app):
    with app.app_context():
        lot1, lot2 = make_lot(1), make_lot(2)
        officer = make_user("officer")
        eligible_provider(lot1, "Earlier provider")
        before = make_referral(officer, lot1)
        publish(before, officer, now=clock.now() - timedelta(hours=5))  # before this provider joined the lot
        mine = eligible_provider(lot1, "Mine")
        user = make_user("provider", provider=mine)
        older = make_referral(officer, lot1, child=before.child)
        publish(older, officer, now=clock.now() - timedelta(hours=4))
        newer = make_referral(officer, lot1, child=before.child, hours_per_week=20)
        publish(newer, officer, now=clock.now() - timedelta(hours=3))
        eligible_provider(lot2, "Other lot provider")
        other_lot = make_referral(officer, lot2, child=before.child)
        publish(other_lot, officer, now=clock.now() - timedelta(hours=2))
        make_referral(officer, lot1, child=before.child)  # a draft
        ids = {"before": before.id, "older": older.id, "newer": newer.id, "other_lot": other_lot.id}
        email = user.email
    client = _signed_in(app, email)
    page = _text(client.get("/provider/opportunities"))
    assert "<html" in page and f'id="{RESULTS}"' in page
    assert REFERENCE_LINK.findall(page) == [str(ids["newer"]), str(ids["older"])]
    assert f"R{ids['newer']:05d}" in page and f"R{ids['before']:05d}" not in page
    assert "2 referrals open for offers" in page
    assert re.search(r"Closes in \d+ days \(5pm on \d+ \w+ \d{4}\)", page)
    assert "Lot 1: Test lot 1" in page and "Invited" in page
    assert "years old, Year" in page
    assert "Social, emotional and mental health" in page and "11 January 2027" in page
    assert ">20<" in page.replace(" ", "").replace("\n", "")  # the newer one's hours a week
    # Without JavaScript, a refresh link; with it, the region asks again every 15 seconds.
    assert 'href="/provider/opportunities"' in page and 'hx-trigger="every 15s"' in page
    for referral_id in (ids["before"], ids["other_lot"]):
        assert client.get(f"/provider/opportunities/{referral_id}").status_code == 404


def test_the_fragment_is_served_to_htmx_and_a_new_opportunity_appears_in_it(app, provider_client, setting):
    response = provider_client.get("/provider/opportunities", headers=HX)
    partial = _text(response)
    assert {"HX-Request", "HX-Target"} <= {part.strip() for part in response.headers["Vary"].split(",")}
    assert "<html" not in partial and "{#" not in partial
    assert f'id="{RESULTS}"' in partial and 'hx-get="/provider/opportunities"' in partial
    assert REFERENCE_LINK.findall(partial) == [str(setting.referral_id)]
    # An htmx request for another target, or a history restore, gets the whole page.
    assert "<html" in _text(provider_client.get("/provider/opportunities", headers={"HX-Request": "true"}))
    restore = {**HX, "HX-History-Restore-Request": "true"}
    assert "<html" in _text(provider_client.get("/provider/opportunities", headers=restore))

    with app.app_context():
        referral = db.session.get(Referral, setting.referral_id)
        another = make_referral(referral.officer, referral.lot, child=referral.child)
        publish(another, referral.officer)
        another_id = another.id
    partial = _text(provider_client.get("/provider/opportunities", headers=HX))
    assert REFERENCE_LINK.findall(partial) == [str(another_id), str(setting.referral_id)]


def _open_referrals(app, count: int, provider_id: int) -> None:
    """``count`` open referrals the provider is invited to, written straight to the database (publishing each through
    the service would make this test slow)."""
    with app.app_context():
        template = db.session.scalar(sa.select(Referral).order_by(Referral.id))
        moment = clock.now()
        for n in range(count):
            referral = make_referral(template.officer, template.lot, child=template.child)
            referral.status = ReferralStatus.OPEN
            referral.round = 1
            referral.published_at = moment
            referral.deadline = moment + timedelta(days=3)
            referral.profile_age = 14
            referral.profile_year_group = "Year 9"
            db.session.add(
                Invitation(
                    referral_id=referral.id,
                    round=1,
                    provider_id=provider_id,
                    invited_at=moment - timedelta(minutes=n + 1),
                )
            )
        db.session.commit()


def test_the_feed_and_its_fragment_run_the_same_statements_for_3_or_30_opportunities(app, provider_client, setting):
    with app.app_context():
        engine = db.engine
    _open_referrals(app, 2, setting.provider_ids[0])
    with count_queries(engine) as three:
        assert "3 referrals open for offers" in _text(provider_client.get("/provider/opportunities"))
    with count_queries(engine) as three_fragment:
        provider_client.get("/provider/opportunities", headers=HX)
    _open_referrals(app, 27, setting.provider_ids[0])
    with count_queries(engine) as thirty:
        page = _text(provider_client.get("/provider/opportunities"))
    with count_queries(engine) as thirty_fragment:
        fragment = _text(provider_client.get("/provider/opportunities", headers=HX))
    assert "30 referrals open for offers" in page
    assert len(REFERENCE_LINK.findall(page)) == 25 and len(REFERENCE_LINK.findall(fragment)) == 25
    assert thirty.count == three.count, thirty.statements
    assert thirty_fragment.count == three_fragment.count, thirty_fragment.statements
    for statements in (thirty.statements, thirty_fragment.statements):
        selects = [s for s in statements if "referrals" in s and s.lstrip().upper().startswith("SELECT")]
        assert len(selects) == 2, selects  # the count, and one SELECT joining the invitation, offer, lot and needs
        assert not [s for s in statements if re.search(r"FROM (children|aims|scores)\b", s)]


def test_the_feed_pages_through_25_at_a_time_and_htmx_page_links_get_the_fragment(app, provider_client, setting):
    _open_referrals(app, 26, setting.provider_ids[0])
    first = _text(provider_client.get("/provider/opportunities"))
    assert len(REFERENCE_LINK.findall(first)) == 25 and "page 1 of 2" in first
    assert 'href="/provider/opportunities?page=2"' in first
    second = _text(provider_client.get("/provider/opportunities?page=2", headers=HX))
    assert "<html" not in second and len(REFERENCE_LINK.findall(second)) == 2
    # The fragment on page 2 keeps refreshing page 2.
    assert 'hx-get="/provider/opportunities?page=2"' in second
    assert "<html" in _text(provider_client.get("/provider/opportunities?page=2"))


def test_the_closed_tab_lists_closed_referrals_with_the_outcome_for_this_provider(app, provider_client, setting):
    with app.app_context():
        referral = db.session.get(Referral, setting.referral_id)
        referral.status = ReferralStatus.WITHDRAWN
        referral.withdrawal_reason = "The child's family moved away"
        db.session.commit()
    assert "No referrals are open for offers" in _text(provider_client.get("/provider/opportunities"))
    page = _text(provider_client.get("/provider/opportunities?show=closed"))
    assert REFERENCE_LINK.findall(page) == [str(setting.referral_id)]
    assert "1 closed referral" in page and "Withdrawn" in page
    fragment = _text(provider_client.get("/provider/opportunities?show=closed", headers=HX))
    assert "<html" not in fragment and 'hx-get="/provider/opportunities?show=closed"' in fragment
    detail = _text(provider_client.get(f"/provider/opportunities/{setting.referral_id}"))
    assert "The child&#39;s family moved away" in detail and 'id="offer-form"' not in detail


def test_past_the_deadline_the_referral_moves_to_closed_awaiting_a_decision(app, provider_client, setting, monkeypatch):
    _freeze(monkeypatch, setting.deadline + timedelta(seconds=1))
    assert REFERENCE_LINK.findall(_text(provider_client.get("/provider/opportunities"))) == []
    page = _text(provider_client.get("/provider/opportunities?show=closed"))
    assert REFERENCE_LINK.findall(page) == [str(setting.referral_id)] and "Awaiting decision" in page


# ---- One referral ---------------------------------------------------------------------------------------------------


def test_the_referral_page_shows_the_anonymised_profile_criteria_and_deadline_and_records_the_first_view(
    app, provider_client, setting
):
    assert _invitation(app, setting).viewed_at is None
    page = _text(provider_client.get(f"/provider/opportunities/{setting.referral_id}"))
    assert f"Referral R{setting.referral_id:05d}" in page
    for shown in (
        setting.age.split(",")[0],
        setting.age.split(", ")[1],
        "A bright, anxious pupil",
        "Monday to Friday mornings",
        "12 weeks",
        "Can travel independently by bus",
        "Baseline 1: attends 40% of sessions",
        "Target 2: attends 90% of sessions",
        "Measure 1: weekly attendance returns",
        "Attends 90% of sessions for six weeks",
        "Quality counts for <strong>70%</strong> and price for <strong>30%</strong>",
        "Delivery and staffing",
        "Safeguarding",
        "5:00pm",
        'id="offer-form"',
        "Decline this referral",
    ):
        assert shown in page, shown
    viewed = _invitation(app, setting).viewed_at
    assert viewed is not None
    provider_client.get(f"/provider/opportunities/{setting.referral_id}")
    assert _invitation(app, setting).viewed_at == viewed


def test_a_referral_the_provider_was_not_invited_to_is_404_on_every_route(app, setting):
    with app.app_context():
        outsider = eligible_provider(make_lot(2), "Outsider")
        email = make_user("provider", provider=outsider).email
    client = _signed_in(app, email)
    token = csrf_token(client)
    base = f"/provider/opportunities/{setting.referral_id}"
    assert client.get(base).status_code == 404
    assert client.get(f"{base}/offer").status_code == 404
    assert client.post(f"{base}/offer", data=offer_data(setting, token)).status_code == 404
    assert client.post(f"{base}/offer/withdraw", data={"csrf_token": token, "version": "1"}).status_code == 404
    assert client.post(f"{base}/decline", data={"csrf_token": token, "reason": "No"}).status_code == 404
    assert client.get("/provider/opportunities/999999").status_code == 404
    assert _offer(app, setting) is None


# ---- Offers as plain form posts -------------------------------------------------------------------------------------


def test_an_offer_is_made_revised_and_withdrawn_with_plain_form_posts(app, provider_client, setting):
    base = f"/provider/opportunities/{setting.referral_id}"
    token = csrf_token(provider_client, base)
    response = provider_client.post(f"{base}/offer", data=offer_data(setting, token))
    assert response.status_code == 302 and response.headers["Location"] == base
    page = _text(provider_client.get(base))
    assert "Offer made" in page and "Your offer" in page and "£7,200.00" in page and "Daily mentoring for aim 1" in page
    assert 'id="offer-form"' not in page and "Revise your offer" in page and "Withdraw your offer" in page
    offer = _offer(app, setting)
    assert offer.status is OfferStatus.SUBMITTED

    form_page = _text(provider_client.get(f"{base}/offer"))
    assert "Revise your offer" in form_page and 'value="7200.00"' in form_page
    assert (
        "Daily mentoring for aim 1</textarea>" in form_page
        and f'name="version" type="hidden" value="{offer.version}"' in form_page
    )

    data = offer_data(setting, token, version=str(offer.version), rate="100", total="6000")
    assert provider_client.post(f"{base}/offer", data=data).status_code == 302
    assert "Offer revised" in _text(provider_client.get(base))
    revised = _offer(app, setting)
    assert str(revised.total) == "6000.00" and revised.revised_at is not None

    response = provider_client.post(f"{base}/offer/withdraw", data={"csrf_token": token, "version": revised.version})
    assert response.status_code == 302
    page = _text(provider_client.get(base))
    assert "Offer withdrawn" in page and 'id="offer-form"' in page and "You withdrew your offer" in page
    assert _offer(app, setting).status is OfferStatus.WITHDRAWN


def test_a_refused_offer_is_shown_again_with_what_was_typed_and_each_error_next_to_its_field(
    app, provider_client, setting
):
    base = f"/provider/opportunities/{setting.referral_id}"
    token = csrf_token(provider_client, base)
    data = offer_data(setting, token, total="7000", sessions="", rate_type="hour", units_per_week="abc")
    data[f"aim_{setting.aim_ids[0]}"] = "Our own typed answer"
    data["start_date"] = ["31", "2", "2027"]
    response = provider_client.post(f"{base}/offer", data=data)
    page = _text(response)
    assert response.status_code == 200
    assert "There is a problem" in page and "<title>Error:" in page
    assert "Start date must be a real date" in page
    assert "Enter the sessions" in page
    assert "How many hours a week must be a number, like 5 or 2.5" in page
    assert 'href="#start_date-day"' in page and 'href="#sessions"' in page
    # What was typed is kept.
    assert "Our own typed answer</textarea>" in page and 'value="7000"' in page and 'value="abc"' in page
    assert 'value="31"' in page and 'value="hour" checked' in page
    # The total's check, with the right figure and how it was worked out, next to the total.
    data = offer_data(setting, token, total="7000")
    page = _text(provider_client.post(f"{base}/offer", data=data))
    message = "The total should be £7,200.00: £120.00 a day x 5 days a week x 12 weeks"
    assert message in page
    total_group = page[page.index('id="total-error"') - 600 : page.index('id="total-error"') + 300]
    assert "govuk-form-group--error" in page and message in total_group
    assert _offer(app, setting) is None


def test_a_stale_revision_is_409_with_what_was_typed_kept_and_the_saved_offer_shown(app, provider_client, setting):
    base = f"/provider/opportunities/{setting.referral_id}"
    token = csrf_token(provider_client, base)
    provider_client.post(f"{base}/offer", data=offer_data(setting, token))
    version = _offer(app, setting).version
    # A colleague revises first.
    colleague = _signed_in(app, _colleague(app, setting))
    data = offer_data(setting, csrf_token(colleague), version=str(version), transport="Colleague's transport plan")
    assert colleague.post(f"{base}/offer", data=data).status_code == 302

    data = offer_data(setting, token, version=str(version), transport="My own transport plan")
    response = provider_client.post(f"{base}/offer", data=data)
    page = _text(response)
    assert response.status_code == 409
    assert "Someone at your organisation changed this offer" in page
    assert "My own transport plan</textarea>" in page and "Colleague&#39;s transport plan" in page
    newer = _offer(app, setting)
    assert newer.transport == "Colleague's transport plan"
    assert f'value="{newer.version}"' in page  # sending again replaces the saved offer knowingly
    assert provider_client.post(f"{base}/offer", data={**data, "version": str(newer.version)}).status_code == 302
    assert _offer(app, setting).transport == "My own transport plan"


def _colleague(app, setting: Setting) -> str:
    with app.app_context():
        invitation = db.session.scalar(sa.select(Invitation).where(Invitation.provider_id == setting.provider_ids[0]))
        return make_user("provider", provider=invitation.provider).email


def test_declining_needs_a_reason_and_is_refused_while_an_offer_is_in(app, provider_client, setting):
    base = f"/provider/opportunities/{setting.referral_id}"
    token = csrf_token(provider_client, base)
    response = provider_client.post(f"{base}/decline", data={"csrf_token": token, "reason": ""})
    page = _text(response)
    assert response.status_code == 200 and "Enter the reason you are declining" in page
    assert 'href="#reason"' in page and 'id="reason-error"' in page

    provider_client.post(f"{base}/offer", data=offer_data(setting, token))
    response = provider_client.post(f"{base}/decline", data={"csrf_token": token, "reason": "Full"})
    assert response.status_code == 409 and "withdraw your offer first" in _text(response)
    assert _invitation(app, setting).declined_at is None

    offer = _offer(app, setting)
    provider_client.post(f"{base}/offer/withdraw", data={"csrf_token": token, "version": offer.version})
    response = provider_client.post(f"{base}/decline", data={"csrf_token": token, "reason": "No places this term"})
    assert response.status_code == 302
    page = _text(provider_client.get(base))
    assert "You have declined this referral" in page and "No places this term" in page
    assert "Decline this referral" not in page and 'id="offer-form"' in page
    assert _invitation(app, setting).decline_reason == "No places this term"
    # An offer after declining clears the decline.
    offer = _offer(app, setting)
    data = offer_data(setting, token, version=str(offer.version))
    assert provider_client.post(f"{base}/offer", data=data).status_code == 302
    assert _invitation(app, setting).declined_at is None


def test_an_offer_one_second_before_the_deadline_is_accepted_and_one_second_after_is_refused(app, setting, monkeypatch):
    base = f"/provider/opportunities/{setting.referral_id}"
    first, second = _signed_in(app, setting.emails[0]), _signed_in(app, setting.emails[1])
    _freeze(monkeypatch, setting.deadline - timedelta(seconds=1))
    response = first.post(f"{base}/offer", data=offer_data(setting, csrf_token(first, base)))
    assert response.status_code == 302
    assert _offer(app, setting, 0).status is OfferStatus.SUBMITTED

    _freeze(monkeypatch, setting.deadline + timedelta(seconds=1))
    token = csrf_token(second, base)
    response = second.post(f"{base}/offer", data=offer_data(setting, token))
    page = _text(response)
    assert response.status_code == 409
    assert "Offers closed at" in page and "5:00pm" in page
    assert 'id="offer-form"' not in page and "Decline this referral" not in page  # read only
    assert _offer(app, setting, 1) is None
    # The same for htmx requests, and for the other changes.
    response = second.post(f"{base}/offer", data=offer_data(setting, token), headers={"HX-Request": "true"})
    assert response.status_code == 409
    response = second.post(f"{base}/decline", data={"csrf_token": token, "reason": "Late"})
    assert response.status_code == 409 and _invitation(app, setting, 1).declined_at is None
    version = _offer(app, setting, 0).version
    token = csrf_token(first, base)
    response = first.post(f"{base}/offer/withdraw", data={"csrf_token": token, "version": version})
    assert response.status_code == 409 and _offer(app, setting, 0).status is OfferStatus.SUBMITTED
    page = _text(first.get(base))
    assert "Offers closed at" in page and "Withdraw your offer" not in page and "Awaiting decision" in page
    # The form page sends the provider back to the referral.
    response = first.get(f"{base}/offer")
    assert response.status_code == 302 and response.headers["Location"] == base


def test_the_officer_is_notified_of_a_new_offer_made_through_the_form(app, provider_client, setting):
    from portal.models import OutboxMessage

    base = f"/provider/opportunities/{setting.referral_id}"
    provider_client.post(f"{base}/offer", data=offer_data(setting, csrf_token(provider_client, base)))
    with app.app_context():
        referral = db.session.get(Referral, setting.referral_id)
        mails = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.to_address == referral.officer.email))
        [mail] = list(mails)
        assert mail.subject == f"New offer for referral R{setting.referral_id:05d}"
        assert "Offering provider 1 has made an offer" in mail.body


def test_an_awarded_referral_refuses_changes_with_409(app, provider_client, setting):
    with app.app_context():
        call_referral = db.session.get(Referral, setting.referral_id)
        invitation = db.session.scalar(sa.select(Invitation).where(Invitation.provider_id == setting.provider_ids[1]))
        user = make_user("provider", provider=invitation.provider)
        make_offer(call_referral, invitation.provider, user)
        call_referral.status = ReferralStatus.AWARDED
        db.session.commit()
    base = f"/provider/opportunities/{setting.referral_id}"
    token = csrf_token(provider_client, base)
    response = provider_client.post(f"{base}/offer", data=offer_data(setting, token))
    assert response.status_code == 409 and "has been awarded" in _text(response)
    assert "Awarded to another provider" in _text(response)
    assert _offer(app, setting) is None
