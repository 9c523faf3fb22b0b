"""The world the hostile-input tests run in: the demo (small: no year of history), which has a record in every state
a form acts on (referrals open and past their deadline, offers to score and award, placements, SLAs in every state,
applications waiting and a draft), and people of each role signed in to it."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from portal.services import demo
from tests.fuzz import states
from tests.helpers import DEFAULT_PASSWORD, sign_in

# Who the tests act as: one of each role, and the people whose records have the most forms (the SEND officer owns
# the call-offs and placements; provider 1 has offers, placements and SLAs, provider 4 an invitation and an SLA sent
# to sign, provider 8 is still joining). The other demo users reach no form these do not.
PEOPLE = {
    "manager": "manager@council.example",
    "send officer": "send.officer@council.example",
    "provider 1": "provider1@provider.example",
    "provider 4": "provider4@provider.example",
    "provider 8": "provider8@provider.example",
}


@pytest.fixture
def demo_world(app, monkeypatch):
    # Every person signs in with a code; the tests sign in more often than a person would in a minute.
    monkeypatch.setitem(app.config, "TWO_FACTOR_RATE_LIMIT", "10000 per minute")
    monkeypatch.setitem(app.config, "RESET_RATE_LIMIT", "10000 per minute")
    with app.app_context():
        demo.seed_demo(full_year=False)
    return app


def signed_in(app, who: str, *, email: str | None = None, password: str = demo.DEMO_PASSWORD,
              totp_secret: str = demo.DEMO_TOTP_SECRET):
    """A client signed in as one of PEOPLE (or as ``email``, with its password and two-factor secret)."""
    client = app.test_client()
    response = sign_in(client, email or PEOPLE[who], password=password, totp_secret=totp_secret)
    assert response.status_code == 302 and "/sign-in" not in response.headers["Location"], f"{who} could not sign in"
    return client


@dataclass
class States:
    """The records states_world adds to the demo (ids, by what they are), and the officer who chose two-factor."""

    app: object
    ids: dict[str, int] = field(default_factory=dict)
    two_factor_officer: tuple[str, str] = ("", "")  # email, TOTP secret (password: tests.helpers.DEFAULT_PASSWORD)

    def client_of_two_factor_officer(self):
        email, secret = self.two_factor_officer
        return signed_in(self.app, "officer with two-factor", email=email, password=DEFAULT_PASSWORD,
                         totp_secret=secret)


@pytest.fixture
def states_world(demo_world):
    """The demo, and a record in each state it has none in (tests/fuzz/states.py says how each is made): an
    application with every lot assessed, an off-DPS request, a child past its retention period and another whose
    erasure a second manager proposed, a deactivated user, an invitation waiting, a draft version of the SLA terms, a
    referral whose offers are all scored, an awarded referral without its placement, a complete draft referral, a
    second site on the demo's draft application (which offers provision on site), a successor arrangement for provider
    1 to re-confirm, an email the outbox gave up, and an officer who chose two-factor."""
    app = demo_world
    with app.app_context():
        made = States(app, two_factor_officer=states.officer_with_two_factor())
        made.ids = {
            "assessed application": states.assessed_application(),
            "off-DPS request": states.off_dps_request(),
            "child past retention": states.child_past_retention(),
            "erasure proposed": states.erasure_proposed(),
            "deactivated user": states.deactivated_user(),
            "invited user": states.invited_user(),
            "draft terms": states.draft_terms(),
            "scored referral": states.scored_referral(),
            "awarded referral": states.awarded_referral(),
            "complete draft": states.complete_draft(),
            "draft site": states.draft_with_on_site_provision(),
            "successor": states.successor(),
            "active placement": states.active_placement(),
            "undelivered email": states.undelivered_email(),
        }
    return made
