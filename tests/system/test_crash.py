"""Crashes lose nothing (issue 10, point 5): a gunicorn worker killed with SIGKILL in the middle of an award leaves
the database with all of that request or none of it, and every request answered before the kill is still there.

An award writes several tables in one transaction: the referral, its offers, the audit event (and the audit chain's
head), a notification and an outbox message for each provider's user. The worker is held at a named point of that
transaction by tests/system/crash_app.py (a test-only entry point; see its docstring for why it is safe), killed
there, and gunicorn starts a new worker. Every table of the database is then compared, row for row, with a snapshot
taken before the request (nothing of it) or with what a completed award writes (all of it).

Runs on PostgreSQL only (see tests/system/conftest.py).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.clock import now as clock_now
from portal.extensions import db
from portal.models import Offer, OfferStatus, Referral, ReferralStatus
from portal.services import audit_chain, evaluation, scoring
from portal.services.children import upn_check_letter
from portal.services.evaluation import ScoreEntry
from tests.factories import make_lot, make_user
from tests.factories_calloff import eligible_provider, make_child, make_offer, make_referral, publish
from tests.helpers import DEFAULT_PASSWORD
from tests.system.servers import (
    Browser,
    Response,
    changes,
    fingerprint,
    production_env,
    server_log,
    start_server,
    wait_for_workers,
)

# A request may touch its session's last-seen time (at most once a minute) in a commit of its own, before the award:
# that table is no part of what the award writes.
NOT_THE_AWARDS = frozenset({"user_sessions"})
REFERRALS_NEEDED = 6  # two per crash point: one awarded before the kill, one awarded when it comes


@dataclass
class ReadyToAward:
    referral_id: int
    version: int
    offer_id: int


@dataclass
class World:
    officer_email: str
    referrals: list[ReadyToAward]


def _load_world(app) -> World:
    """Referrals past their deadline, each with two fully scored offers, all of one officer."""
    with app.app_context():
        lot = make_lot(1)
        officer = make_user("officer", name="Robin Referrer")
        providers = [eligible_provider(lot, f"Crash-proof provider {n}") for n in (1, 2)]
        users = [make_user("provider", provider=provider) for provider in providers]
        published_at = clock_now() - timedelta(days=14)  # offers closed 4 days ago
        ready = []
        for n in range(REFERRALS_NEEDED):
            digits = f"{900000000000 + n:012d}"
            child = make_child(officer, upn=upn_check_letter("?" + digits) + digits)  # a UPN is unique
            referral = publish(make_referral(officer, lot, child=child), officer, now=published_at, days=10)
            offers = [make_offer(referral, provider, user) for provider, user in zip(providers, users, strict=True)]
            for offer in offers:
                entries = {criterion.key: ScoreEntry(4, "Good") for criterion in scoring.criteria(referral)}
                evaluation.save_scores(
                    referral.id, offer.id, officer, offer_version=offer.version, entries=entries, now=clock_now()
                )
            db.session.commit()
            db.session.refresh(referral)
            ready.append(ReadyToAward(referral.id, referral.version, offers[0].id))
        email = officer.email
        db.session.remove()
    return World(email, ready)


@pytest.fixture(scope="module")
def world(scratch_app) -> World:
    return _load_world(scratch_app)


@pytest.fixture(scope="module")
def crash_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("crash")


@pytest.fixture(scope="module")
def server(scratch_url, redis_url, crash_dir, tmp_path_factory):
    env = production_env(scratch_url, PORTAL_TEST_CRASH_DIR=str(crash_dir))
    server = start_server("crash", env, tmp_path_factory.mktemp("logs"), app="tests.system.crash_app:app")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def officer(server, world) -> Browser:
    browser = Browser()
    response = browser.sign_in(server.base, world.officer_email, DEFAULT_PASSWORD)
    assert response.status == 302 and "sign-in" not in response.location, response
    return browser


def _award(browser: Browser, base: str, ready: ReadyToAward, token: str, timeout: float = 30) -> Response:
    fields = {
        "version": str(ready.version),
        "offer_id": str(ready.offer_id),
        "rationale": "The best value: a strong plan for the aims at a fair day rate",
    }
    return browser.submit(base, f"/officer/referrals/{ready.referral_id}/award", fields, token=token, timeout=timeout)


def _wait_until_held(crash_dir, timeout: float = 20) -> tuple[int, str]:
    paused = crash_dir / "paused"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if paused.exists():
            pid, point = paused.read_text().split()
            paused.unlink()
            return int(pid), point
        time.sleep(0.02)
    raise AssertionError("the award request never reached the crash point")


def _award_state(app, referral_id: int) -> tuple[ReferralStatus, list[OfferStatus]]:
    with app.app_context():
        referral = db.session.get(Referral, referral_id)
        statuses = db.session.scalars(sa.select(Offer.status).where(Offer.referral_id == referral_id).order_by(Offer.id))
        state = referral.status, list(statuses)
        db.session.remove()
    return state


def _chain_intact(app) -> audit_chain.Verification:
    with app.app_context():
        result = audit_chain.verify()
        db.session.remove()
    return result


@pytest.mark.parametrize(
    "point, kept",
    [("flushed", False), ("before_commit", False), ("after_commit", True)],
    ids=["after-the-first-flush", "everything-flushed-before-commit", "after-commit-before-the-response"],
)
def test_a_worker_killed_mid_award_leaves_all_or_nothing_and_keeps_earlier_successes(
    point, kept, server, world, officer, crash_dir, scratch_app, scratch_engine
):
    answered, interrupted = world.referrals.pop(), world.referrals.pop()
    token = officer.csrf_token(server.base)

    # A request that succeeds before the crash: what a whole award writes, table by table.
    before = fingerprint(scratch_engine, skip=NOT_THE_AWARDS)
    response = _award(officer, server.base, answered, token)
    assert response.status == 302, (response.status, server_log(server))
    after_answered = fingerprint(scratch_engine, skip=NOT_THE_AWARDS)
    one_award = changes(before, after_answered)
    assert {"referrals", "offers", "audit_events", "notifications", "outbox_messages"} <= set(one_award)
    assert one_award["audit_events"] == 1 and one_award["outbox_messages"] == 2 and one_award["notifications"] == 2

    # The next award is held at the point, and its worker killed there.
    (crash_dir / "armed").write_text(point)
    outcome: dict = {}

    def press_award():
        try:
            outcome["response"] = _award(officer, server.base, interrupted, token, timeout=60)
        except OSError as error:  # the connection dropped with the worker: no answer at all
            outcome["error"] = error

    pressing = threading.Thread(target=press_award)
    pressing.start()
    try:
        pid, held_at = _wait_until_held(crash_dir)
        assert held_at == point
        os.kill(pid, signal.SIGKILL)
    finally:
        pressing.join(timeout=60)
    assert "response" not in outcome, f"the killed request was answered: {outcome}"
    assert "error" in outcome
    # gunicorn replaces the worker; the database has let go of the dead connection's transaction by now or soon.
    wait_for_workers(server, count=2, gone=pid)

    after_crash = fingerprint(scratch_engine, skip=NOT_THE_AWARDS)
    if kept:
        # Committed before the kill: all of it, exactly what a completed award writes, though no answer came.
        assert changes(after_answered, after_crash) == one_award
        assert _award_state(scratch_app, interrupted.referral_id) == (
            ReferralStatus.AWARDED,
            [OfferStatus.AWARDED, OfferStatus.UNSUCCESSFUL],
        )
    else:
        # Not committed: none of it, in any table.
        assert changes(after_answered, after_crash) == {}
        assert _award_state(scratch_app, interrupted.referral_id) == (
            ReferralStatus.OPEN,
            [OfferStatus.SUBMITTED, OfferStatus.SUBMITTED],
        )
    # The award answered before the kill is all still there, and the audit chain has no gap or fork.
    assert _award_state(scratch_app, answered.referral_id) == (
        ReferralStatus.AWARDED,
        [OfferStatus.AWARDED, OfferStatus.UNSUCCESSFUL],
    )
    verification = _chain_intact(scratch_app)
    assert verification.intact, verification.message

    # The officer, who saw no answer, presses Award again on the restarted server.
    retry = _award(officer, server.base, interrupted, token)
    after_retry = fingerprint(scratch_engine, skip=NOT_THE_AWARDS)
    if kept:
        # Refused with a clear message; nothing of the award is written twice (reading the page again is audited).
        assert retry.status == 409
        assert "You awarded this referral at" in retry.text and "It cannot be awarded again" in retry.text
        assert set(changes(after_crash, after_retry)) <= {"audit_events", "audit_chain_head"}
    else:
        assert retry.status == 302, (retry.status, server_log(server))
        assert changes(after_crash, after_retry) == one_award
    assert _chain_intact(scratch_app).intact
