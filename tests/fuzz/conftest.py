"""The world the hostile-input tests run in: the demo (small: no year of history), which has a record in every state
a form acts on (referrals open and past their deadline, offers to score and award, placements, SLAs in every state,
applications waiting and a draft), and people of each role signed in to it."""

from __future__ import annotations

import pytest

from portal.services import demo
from tests.helpers import sign_in

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


def signed_in(app, who: str):
    client = app.test_client()
    response = sign_in(client, PEOPLE[who], password=demo.DEMO_PASSWORD, totp_secret=demo.DEMO_TOTP_SECRET)
    assert response.status_code == 302 and "/sign-in" not in response.headers["Location"], f"{who} could not sign in"
    return client
