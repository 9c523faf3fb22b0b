"""Live parts poll on a timer; a poll is not the person doing something, so it must not keep a session alive."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import time_machine

from portal.blueprints.officer.calloff import LIVE_ID
from portal.blueprints.provider.opportunities import RESULTS_ID
from portal.signin import BACKGROUND_TRIGGERS
from tests.factories_calloff import published_call_off
from tests.helpers import sign_in

TEMPLATES = Path(__file__).resolve().parents[2] / "portal" / "templates"


def test_every_polling_element_is_marked_as_background():
    polling = []
    for template in TEMPLATES.rglob("*.html"):
        for tag in re.findall(r"<[a-z]+\s[^>]*hx-trigger=\"every [^>]*>", template.read_text(), re.S):
            polling.append(template.name)
            assert "data-background-poll" in tag, f"{template}: a polling element without data-background-poll"
    assert len(polling) >= 3
    assert {"notification-bell", RESULTS_ID, LIVE_ID} <= BACKGROUND_TRIGGERS


def test_the_live_lists_polls_do_not_keep_an_idle_session_alive(app, client, user_factory):
    with app.app_context():
        call = published_call_off()
        officer_email, referral_id = call.officer.email, call.referral.id
    poll = {"HX-Request": "true", "HX-Trigger": LIVE_ID, "HX-Target": LIVE_ID}
    with time_machine.travel(call.referral.deadline - timedelta(days=2), tick=False) as clock:
        sign_in(client, officer_email)
        assert client.get(f"/officer/referrals/{referral_id}").status_code == 200
        for _ in range(29):
            clock.shift(timedelta(minutes=1, seconds=1))
            assert client.get(f"/officer/referrals/{referral_id}", headers=poll).status_code == 200
        clock.shift(timedelta(minutes=2))
        ended = client.get(f"/officer/referrals/{referral_id}", headers=poll)
    assert (ended.status_code, ended.headers["HX-Redirect"]) == (204, "/sign-in")
