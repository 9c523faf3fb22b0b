"""flask outbox send: one pass (as cron runs it) and --watch (as make run runs it), against a real SMTP server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import OutboxMessage
from portal.services import mail
from tests.smtp_server import free_port

ROOT = Path(__file__).resolve().parents[2]


def queue(app, count: int) -> None:
    with app.app_context():
        for i in range(count):
            mail.queue_email(f"person{i}@example.org", f"Subject {i}", f"Body {i}")
        db.session.commit()


def unsent(app) -> int:
    with app.app_context():
        return db.session.scalar(
            sa.select(sa.func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
        )


@pytest.fixture
def mail_settings(app, monkeypatch):
    """Change the shared app's mail settings for one test; the command's logger level is put back too."""
    level = app.logger.level

    def use(**settings):
        for key, value in settings.items():
            monkeypatch.setitem(app.config, key, value)

    yield use
    app.logger.setLevel(level)


def test_one_pass_sends_what_is_due_and_says_so(app, runner, smtp_server, mail_settings):
    mail_settings(MAIL_SERVER=smtp_server.host, MAIL_PORT=smtp_server.port, MAIL_TO_LOG=False)
    queue(app, 2)

    result = runner.invoke(args=["outbox", "send"])

    assert result.exit_code == 0, result.output
    assert result.output.strip() == "sent 2, failed 0, given up 0, waiting 0"
    assert sorted(r.message["Subject"] for r in smtp_server.received) == ["Subject 0", "Subject 1"]
    assert runner.invoke(args=["outbox", "send"]).output.strip() == "sent 0, failed 0, given up 0, waiting 0"
    assert len(smtp_server.received) == 2


def test_one_pass_with_the_server_down_records_the_failure_and_keeps_the_mail(app, runner, mail_settings):
    mail_settings(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), MAIL_TO_LOG=False)
    queue(app, 2)

    result = runner.invoke(args=["outbox", "send"])

    assert result.exit_code == 0, result.output  # recorded and retried later: not an error for cron to mail about
    assert "sent 0, failed 1, given up 0, waiting 2" in result.output
    assert unsent(app) == 2


def test_one_pass_says_how_many_it_gave_up(app, runner, smtp_server, mail_settings):
    """A refusal for good (550) gives the message up: counted as failed and given up, and no longer waiting."""
    mail_settings(MAIL_SERVER=smtp_server.host, MAIL_PORT=smtp_server.port, MAIL_TO_LOG=False)
    smtp_server.handler.refuse.add("person0@example.org")
    smtp_server.handler.answers["person1@example.org"] = "451 4.3.0 Try again later"
    queue(app, 3)

    result = runner.invoke(args=["outbox", "send"])

    assert result.exit_code == 0, result.output
    # The log lines (the given-up one at ERROR) come first.
    assert result.output.splitlines()[-1] == "sent 1, failed 2, given up 1, waiting 1"
    assert "not sent, given up" in result.output
    assert unsent(app) == 2
    assert runner.invoke(args=["outbox", "send"]).output.strip() == "sent 0, failed 0, given up 0, waiting 1"


def test_limit_caps_a_pass(app, runner, smtp_server, mail_settings):
    mail_settings(MAIL_SERVER=smtp_server.host, MAIL_PORT=smtp_server.port, MAIL_TO_LOG=False)
    queue(app, 3)
    result = runner.invoke(args=["outbox", "send", "--limit", "2"])
    assert result.output.strip() == "sent 2, failed 0, given up 0, waiting 1"


def test_mail_to_log_prints_the_message_in_the_log(app, runner, smtp_server, mail_settings, caplog):
    mail_settings(MAIL_SERVER=smtp_server.host, MAIL_PORT=smtp_server.port, MAIL_TO_LOG=True)
    queue(app, 1)

    result = runner.invoke(args=["outbox", "send"])

    assert result.exit_code == 0 and "sent 1, failed 0, given up 0, waiting 0" in result.output
    assert smtp_server.received == []
    # The command turns the app logger up to INFO itself (make run's worker shows invitation links this way).
    assert any("To: person0@example.org" in r.getMessage() and r.levelname == "INFO" for r in caplog.records)


def test_watch_keeps_sending_until_interrupted(app, database_url, smtp_server):
    """The real command in its own process, as `make run` starts it: mail queued while it runs goes out."""
    env = {
        **os.environ,
        "PORTAL_ENV": "test",
        "DATABASE_URL": database_url,
        "MAIL_SERVER": smtp_server.host,
        "MAIL_PORT": str(smtp_server.port),
        "MAIL_TO_LOG": "false",
        "PYTHONUNBUFFERED": "1",  # each line reaches the pipe as it is printed
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "outbox", "send", "--watch", "--interval", "1"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        # Ctrl-C as a terminal sends it: a suite started in the background (CI runs two at once) ignores SIGINT, and
        # a child would inherit that and never stop.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(worker.stdout), daemon=True)
    reader.start()
    try:
        queue(app, 1)
        # Interrupt only once the pass has printed its report: a SIGINT while the pass is still closing the SMTP
        # connection or counting what waits (a busy machine makes that window wide) would end it before the line.
        deadline = time.monotonic() + 30
        while not any("sent 1" in line for line in lines) and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.1)
        assert len(smtp_server.received) == 1
        assert unsent(app) == 0
    finally:
        worker.send_signal(signal.SIGINT)
        worker.wait(timeout=15)
        reader.join(timeout=5)
    output = "".join(lines)
    assert worker.returncode == 0, output
    assert "Sending mail from the outbox by SMTP every second" in output
    assert "sent 1, failed 0, given up 0, waiting 0" in output
    assert output.rstrip().endswith("Stopped sending mail.")
