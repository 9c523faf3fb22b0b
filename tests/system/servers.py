"""Helpers for the system tests: a scratch PostgreSQL database made by `flask db upgrade`, gunicorn servers with
production settings, a browser that talks to any of them, and a fingerprint of every table."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from http.cookiejar import CookieJar
from pathlib import Path

import sqlalchemy as sa

from bench.run import Server
from tests.helpers import create_empty_postgresql_database

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
FLASK = [str(BIN / "flask"), "--app", "wsgi"]
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
# Its own Redis database, so these servers' rate-limit counts and cache never mix with another run's on the same Redis.
REDIS_URL = os.environ.get("SYSTEM_TEST_REDIS_URL", "redis://127.0.0.1:6379/7")
GUNICORN_ARGS = ["--workers", "2", "--worker-class", "sync", "--timeout", "60", "--graceful-timeout", "5"]


# ---- The database ---------------------------------------------------------------------------------------------------


def create_scratch_database(test_url: str, name: str) -> str:
    """A new, empty database beside the suite's, migrated by `flask db upgrade` as a deployment would be."""
    url = sa.make_url(test_url).set(drivername="postgresql+psycopg", database=name)
    rendered = create_empty_postgresql_database(url)
    env = {**os.environ, "PORTAL_ENV": "development", "DATABASE_URL": rendered}
    done = subprocess.run([*FLASK, "db", "upgrade"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"flask db upgrade failed:\n{done.stdout}\n{done.stderr}"
    return rendered


@dataclass(frozen=True)
class TableState:
    rows: int
    digest: str  # md5 of every row's text, in order: any change to any column changes it


def fingerprint(engine: sa.Engine, skip: frozenset[str] = frozenset()) -> dict[str, TableState]:
    """Every table's row count and a digest of its whole content, read in one snapshot."""
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
        tables = [t for t in sa.inspect(conn).get_table_names() if t not in skip]
        states = {}
        for table in tables:
            digest_of_rows = "md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
            rows, digest = conn.execute(sa.text(f'SELECT count(*), {digest_of_rows} FROM "{table}" t')).one()
            states[table] = TableState(rows, digest)
    return states


def changes(before: dict[str, TableState], after: dict[str, TableState]) -> dict[str, int]:
    """The tables whose content changed, each with how many rows it gained."""
    return {
        table: after[table].rows - before[table].rows
        for table in sorted(after)
        if table not in before or after[table] != before[table]
    }


# ---- Servers --------------------------------------------------------------------------------------------------------


def production_env(database_url: str, **extra: str) -> dict[str, str]:
    """Production settings, but plain HTTP on loopback (no Secure cookie, no HSTS), one shared SECRET_KEY, Redis for
    the rate limits and the cache, and X-Forwarded-For trusted (one proxy), so a test can speak for many clients."""
    env = {
        **os.environ,
        "PORTAL_ENV": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "DATABASE_URL": database_url,
        "SESSION_COOKIE_SECURE": "false",
        "HSTS_ENABLED": "false",
        "RATELIMIT_STORAGE_URI": REDIS_URL,
        "CACHE_REDIS_URL": REDIS_URL,
        "PROXY_FIX_X_FOR": "1",
        "MAIL_TO_LOG": "false",
    }
    env.pop("TEST_DATABASE_URL", None)
    env.update(extra)
    return env


def start_server(name: str, env: dict[str, str], log_dir: Path, app: str = "wsgi:app") -> Server:
    """A gunicorn master (own process group) with two sync workers, ready to answer. Stop it with .stop()."""
    server = Server(name, app, ROOT, env, GUNICORN_ARGS, log_dir)
    try:
        server.wait_ready("/sign-in")
    except BaseException:
        server.stop()
        raise
    return server


def wait_for_workers(server: Server, count: int, gone: int | None = None, timeout: float = 30) -> list[int]:
    """Wait until the master runs ``count`` workers (none of them ``gone``): gunicorn replaces a killed worker."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = server.worker_pids()
        if len(pids) == count and gone not in pids:
            return pids
        time.sleep(0.1)
    raise AssertionError(f"{server.name}: workers {server.worker_pids()} after {timeout:g} s, wanted {count}")


def server_log(server: Server) -> str:
    return server.log.read_text(errors="replace")[-4000:]


# ---- A browser ------------------------------------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 3xx comes back as it is


@dataclass
class Response:
    status: int
    headers: dict
    text: str

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")


class Browser:
    """One person's browser. Its cookies go to whichever server it calls, as behind a load balancer; ``ip`` is the
    client address the (trusted) proxy reports in X-Forwarded-For."""

    def __init__(self, ip: str = "203.0.113.10"):
        self.ip = ip
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())

    def request(self, url: str, fields: dict | None = None, timeout: float = 30) -> Response:
        body = urllib.parse.urlencode(fields).encode() if fields is not None else None
        request = urllib.request.Request(url, data=body, headers={"X-Forwarded-For": self.ip})
        try:
            with self.opener.open(request, timeout=timeout) as response:
                return Response(response.status, dict(response.headers), response.read().decode())
        except urllib.error.HTTPError as error:
            return Response(error.code, dict(error.headers), error.read().decode())

    def csrf_token(self, base: str) -> str:
        """The session's CSRF token from a page that writes nothing (reading a referral page writes an audit row)."""
        page = self.request(base + "/accessibility")
        match = CSRF_META.search(page.text)
        assert page.status == 200 and match, f"no CSRF token on {base}/accessibility ({page.status})"
        return match.group(1)

    def submit(self, base: str, path: str, fields: dict, token: str | None = None, timeout: float = 30) -> Response:
        token = token or self.csrf_token(base)
        return self.request(base + path, {**fields, "csrf_token": token}, timeout=timeout)

    def sign_in(self, base: str, email: str, password: str) -> Response:
        return self.submit(base, "/sign-in", {"email": email, "password": password})
