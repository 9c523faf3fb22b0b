"""Two app servers behave as one (issue 10, point 6): two gunicorn instances on two ports share one PostgreSQL and one
Redis, as two machines behind a load balancer would. A session signed in on one works on the other and sign-out on
either ends it on both; the sign-in rate limit and the account lockout count attempts made on both; two outbox
workers running at once send each message exactly once.

Runs on PostgreSQL only (see tests/system/conftest.py).
"""

from __future__ import annotations

import asyncio
import re
import secrets
import subprocess

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from bench.run import Server
from portal.extensions import db
from portal.models import OutboxMessage
from portal.services import lockout
from portal.services.mail import queue_email
from tests.factories import make_user
from tests.helpers import DEFAULT_PASSWORD
from tests.smtp_server import Collector, free_port
from tests.system.servers import FLASK, ROOT, Browser, production_env, server_log

LOGIN_LIMIT = 5  # sign-in attempts per minute from one address, counted over both servers
LOCKED_MESSAGE = "There have been too many attempts to sign in with this email address"
MESSAGES = 200


def _client_ip() -> str:
    """A fresh client address: each test's rate-limit counts start at zero, whatever ran before on this Redis."""
    return f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


@pytest.fixture(scope="module")
def shared_env(scratch_url, redis_url) -> dict[str, str]:
    """One deployment's settings (one SECRET_KEY, one database, one Redis) for both servers and the workers."""
    return production_env(scratch_url, LOGIN_RATE_LIMIT=f"{LOGIN_LIMIT} per minute")


@pytest.fixture(scope="module")
def servers(shared_env, tmp_path_factory) -> tuple[Server, Server]:
    logs = tmp_path_factory.mktemp("logs")
    started: list[Server] = []
    try:
        for name in ("a", "b"):  # both boot at once
            started.append(Server(name, "wsgi:app", ROOT, shared_env, ["--workers", "2", "--timeout", "60"], logs))
        for server in started:
            server.wait_ready("/sign-in")
        yield started[0], started[1]
    finally:
        for server in started:
            server.stop()


@pytest.fixture(scope="module")
def officers(scratch_app) -> list[str]:
    with scratch_app.app_context():
        emails = [make_user("officer", name=f"Officer {n}").email for n in range(3)]
        db.session.remove()
    return emails


def test_a_session_signed_in_on_one_server_works_on_the_other_and_sign_out_on_either_ends_it_on_both(
    servers, officers
):
    a, b = servers
    browser = Browser(ip=_client_ip())
    signed_in = browser.sign_in(a.base, officers[0], DEFAULT_PASSWORD)
    assert signed_in.status == 302 and "sign-in" not in signed_in.location, (signed_in.status, server_log(a))
    home = signed_in.location.replace(a.base, "")

    for server in (a, b):
        page = browser.request(server.base + home)
        assert page.status == 200, (server.name, page.status, page.location)
        assert "Officer 0" in page.text

    # The same cookie in another tab (or a copy someone kept): it must stop working everywhere at sign-out.
    other_tab = Browser(ip=browser.ip)
    for cookie in browser.jar:
        other_tab.jar.set_cookie(cookie)
    assert other_tab.request(a.base + home).status == 200

    signed_out = browser.submit(b.base, "/sign-out", {})
    assert signed_out.status == 302 and signed_out.location.endswith("/sign-in"), signed_out
    for server in (a, b):
        page = other_tab.request(server.base + home)
        assert page.status == 302 and "/sign-in" in page.location, (server.name, page.status, page.location)


def test_the_sign_in_rate_limit_counts_attempts_on_both_servers(servers):
    a, b = servers
    browser = Browser(ip=_client_ip())
    email = f"nobody-{secrets.token_hex(4)}@example.org"
    # LOGIN_LIMIT attempts, spread over the two servers, are all answered ...
    for n in range(LOGIN_LIMIT):
        response = browser.sign_in((a, b)[n % 2].base, email, "not the password")
        assert response.status == 200, (n, response.status)
        assert "Enter a correct email address and password" in response.text
    # ... and the next one is refused by either, though neither has seen LOGIN_LIMIT attempts itself.
    for server in (a, b):
        response = browser.sign_in(server.base, email, "not the password")
        assert response.status == 429, (server.name, response.status)


def test_the_lockout_counts_failures_on_both_servers(servers, officers, scratch_app):
    a, b = servers
    email = officers[1]
    # Each guess from another address (a spread-out attack), so no rate limit gets in the way.
    for _ in range(lockout.MAX_FAILURES - 1):
        response = Browser(ip=_client_ip()).sign_in(a.base, email, "a wrong guess")
        assert response.status == 200 and LOCKED_MESSAGE not in response.text
    response = Browser(ip=_client_ip()).sign_in(b.base, email, "a wrong guess")
    assert response.status == 200 and LOCKED_MESSAGE in response.text

    # Locked on both, even with the right password.
    for server in (a, b):
        response = Browser(ip=_client_ip()).sign_in(server.base, email, DEFAULT_PASSWORD)
        assert response.status == 200 and LOCKED_MESSAGE in response.text, (server.name, response.status)
    # Another account is not affected.
    response = Browser(ip=_client_ip()).sign_in(b.base, officers[2], DEFAULT_PASSWORD)
    assert response.status == 302 and "sign-in" not in response.location


class SlowCollector(Collector):
    """Takes a moment over each message, as a real server does, so two workers are surely sending at the same time."""

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(0.01)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def slow_smtp_server():
    handler = SlowCollector()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, handler
    controller.stop()


MESSAGE_ID = re.compile(r"<outbox-(\d+)\.")
REPORT = re.compile(r"^sent (\d+), failed (\d+), given up (\d+), waiting (\d+)$", re.MULTILINE)


def test_two_outbox_workers_at_once_send_each_message_exactly_once(shared_env, scratch_app, slow_smtp_server):
    controller, handler = slow_smtp_server
    with scratch_app.app_context():
        for n in range(MESSAGES):
            queue_email(f"person{n}@example.org", f"Message {n}", f"Body of message {n}")
        db.session.commit()
        due = set(db.session.scalars(sa.select(OutboxMessage.id).where(OutboxMessage.sent_at.is_(None))))
        db.session.remove()
    assert len(due) >= MESSAGES

    env = {**shared_env, "MAIL_SERVER": controller.hostname, "MAIL_PORT": str(controller.port)}
    command = [*FLASK, "outbox", "send", "--limit", str(len(due) + 50)]
    workers = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = []
    try:
        for worker in workers:
            out, err = worker.communicate(timeout=60)
            assert worker.returncode == 0, err
            outputs.append(out)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()

    reports = [tuple(int(x) for x in REPORT.search(out).groups()) for out in outputs]
    sent = [report[0] for report in reports]
    assert sum(sent) == len(due) and all(report[1] == 0 for report in reports), reports
    assert all(count > 0 for count in sent), f"the workers did not overlap, so this proves nothing: {reports}"

    received = [int(MESSAGE_ID.match(r.message["Message-ID"]).group(1)) for r in handler.received]
    assert len(received) == len(due), f"{len(received)} deliveries of {len(due)} messages"
    assert set(received) == due
    with scratch_app.app_context():
        unsent = db.session.scalar(sa.select(sa.func.count()).where(OutboxMessage.sent_at.is_(None)))
        db.session.remove()
    assert unsent == 0
