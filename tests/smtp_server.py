"""A real SMTP server on loopback (aiosmtpd) for the mail tests, and a port where nothing listens."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    """A loopback port nothing listens on (connecting to it is refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    peer: tuple  # the client's address and port: one per SMTP connection
    login: bytes | None  # the user name the client logged in with, if it did


@dataclass
class Collector:
    """The aiosmtpd handler: keeps what it receives; refuses recipients listed in ``refuse`` for good (550), and
    answers a recipient in ``answers`` with its reply there (e.g. "450 4.2.1 ..." to refuse it for now). ``asked``
    lists every recipient a client named, in order, refused or not."""

    received: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    answers: dict[str, str] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)
    # The reply to MAIL FROM when set (e.g. "553 ..." to refuse the sender for good).
    sender_answer: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.sender_answer:
            return self.sender_answer
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.lock:
            self.asked.append(address)
        if address in self.refuse:
            return "550 5.1.1 No such mailbox here"
        if address in self.answers:
            return self.answers[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), message, session.peer, _login(session))
            )
        return "250 Message accepted for delivery"


def _login(session) -> bytes | None:
    return getattr(session.auth_data, "login", None) if session.authenticated else None


@dataclass
class SMTPServer:
    host: str
    port: int
    handler: Collector

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def mail_config(self, app, **overrides) -> dict:
        """The app's config pointed at this server, mail really sent (not logged)."""
        return {**app.config, "MAIL_SERVER": self.host, "MAIL_PORT": self.port, "MAIL_TO_LOG": False, **overrides}


def start_smtp_server(**smtp_parameters) -> tuple[Controller, SMTPServer]:
    handler = Collector()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **smtp_parameters)
    controller.start()
    return controller, SMTPServer(controller.hostname, controller.port, handler)


@pytest.fixture
def smtp_server():
    controller, server = start_smtp_server()
    yield server
    controller.stop()


USERNAME, PASSWORD = "portal", "s3cret-smtp-password"


def _authenticate(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USERNAME.encode(),
        PASSWORD.encode(),
    )
    # handled=False: on failure the server answers 535 itself.
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


@pytest.fixture
def smtp_server_with_login():
    """A server that offers AUTH over plain loopback (no TLS certificate in the tests); Received.login says whether
    the client logged in."""
    controller, server = start_smtp_server(authenticator=_authenticate, auth_require_tls=False)
    yield server
    controller.stop()
