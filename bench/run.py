"""The load benchmark (issue 9): the portal under gunicorn on PostgreSQL, driven by wrk on 127.0.0.1 with signed-in
officers, providers and the manager on the five key pages and their htmx fragments, beside a bare baseline app in the
same run. Prints a table per page and writes bench/results/<date>-<size>.md and .json.

    make bench SIZE=S DURATION=20          # or: .venv/bin/python -m bench.run --size S --duration 20

Settings from the environment (all optional):
    BENCH_DATABASE_URL   the database (default postgresql://postgres@127.0.0.1:5432/bench_<size>); made, migrated
                         and seeded with `flask seed scale --size <SIZE> --force` when it has no users
    BENCH_WORKERS        gunicorn workers per server (default 2 per core)
    BENCH_WORKER_CLASS   sync (default) or gthread
    BENCH_THREADS        threads per gthread worker (default 2)
    BENCH_CONNECTIONS    concurrent connections (default 16)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from http.cookiejar import CookieJar
from pathlib import Path

import pyotp
import sqlalchemy as sa

from bench import report

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results"
LUA = ROOT / "bench" / "wrk.lua"
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
COOKIE_NAME = "ap_portal_session"
WARM_UP_SECONDS = 2
SAMPLES = 3  # plain requests per page and fragment, for the statement count and the size
USERS_PER_ROLE = 8

# The sign-ins of the two data sets: the scale generator's (issue 9) and the demo's (to develop against).
try:
    from portal.services.scale_seed import SCALE_PASSWORD, SCALE_TOTP_SECRET
except ImportError:  # the generator not there yet: the constants of the shared contract
    SCALE_PASSWORD, SCALE_TOTP_SECRET = "scale-bench-password-2026", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
from portal.services.demo import DEMO_PASSWORD, DEMO_TOTP_SECRET  # noqa: E402


@dataclass(frozen=True)
class KeyPage:
    name: str
    roles: tuple[str, ...]  # who loads it
    path: str  # the offer list's is a pattern filled with referral ids
    fragment_target: str  # HX-Target of its htmx fragment
    polled: bool  # the fragment is a background poll (htmx then also sends HX-Trigger: the element's own id)


KEY_PAGES = [
    KeyPage("offer list", ("officer",), "/officer/referrals/{id}", "referral-offers", polled=True),
    KeyPage("opportunities feed", ("provider",), "/provider/opportunities", "opportunity-results", polled=True),
    KeyPage("caseload", ("officer",), "/officer/placements", "caseload-results", polled=False),
    KeyPage("directory search", ("officer", "manager"), "/directory", "directory-results", polled=False),
    KeyPage(report.DASHBOARD, ("manager",), "/manager/oversight", "oversight-figures", polled=False),
]


class BenchError(Exception):
    pass


# ---- The database ---------------------------------------------------------------------------------------------------


def sa_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def prepare_database(url: str, size: str) -> None:
    """Make the database if missing; migrate it (so new indexes apply); seed it with the scale data if it is empty."""
    target = sa.make_url(sa_url(url))
    server = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database})
        if exists.scalar() is None:
            print(f"bench: creating database {target.database}")
            conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    server.dispose()
    env = {**os.environ, "PORTAL_ENV": "development", "DATABASE_URL": url}
    flask = [str(BIN / "flask"), "--app", "wsgi"]
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, timeout=600)
    with sa.create_engine(sa_url(url)).connect() as conn:
        has_users = conn.execute(sa.text("SELECT EXISTS (SELECT 1 FROM users)")).scalar()
    if not has_users:
        print(f"bench: seeding size {size} (flask seed scale)")
        subprocess.run(
            [*flask, "seed", "scale", "--size", size, "--force"], cwd=ROOT, env=env, check=True, timeout=1800
        )


def bench_users(url: str) -> tuple[str, dict[str, list[str]], str, str]:
    """The data set ("scale" or "demo"), the emails to sign in by role, and their password and two-factor secret."""
    engine = sa.create_engine(sa_url(url))
    with engine.connect() as conn:
        scale = conn.execute(sa.text("SELECT EXISTS (SELECT 1 FROM users WHERE email LIKE '%@scale.invalid')")).scalar()
        pattern = "%@scale.invalid" if scale else "%"
        emails = {}
        for role in ("officer", "provider", "manager"):
            rows = conn.execute(
                sa.text(
                    "SELECT email FROM users WHERE role = :role AND active AND email LIKE :pattern ORDER BY id LIMIT :n"
                ),
                {"role": role, "pattern": pattern, "n": USERS_PER_ROLE},
            )
            emails[role] = [row.email for row in rows]
    engine.dispose()
    if scale:
        return "scale", emails, SCALE_PASSWORD, SCALE_TOTP_SECRET
    return "demo", emails, DEMO_PASSWORD, DEMO_TOTP_SECRET


def pick_offer_list_referrals(conn: sa.Connection, limit: int = 40) -> list[tuple[int, str]]:
    """Published referrals with offers (open ones first, the newest first) and their officers' emails. Also used by
    tests/web/test_key_pages_at_scale.py, so the suite measures the offer list on the referrals the benchmark loads."""
    query = sa.text(
        "SELECT r.id, u.email FROM referrals r JOIN users u ON u.id = r.officer_id "
        "WHERE r.status <> 'draft' AND EXISTS (SELECT 1 FROM offers o WHERE o.referral_id = r.id) "
        "ORDER BY r.status = 'open' DESC, r.id DESC LIMIT :limit"
    )
    return [(row.id, row.email) for row in conn.execute(query, {"limit": limit})]


def offer_list_referrals(url: str, limit: int = 40) -> list[tuple[int, str]]:
    engine = sa.create_engine(sa_url(url))
    with engine.connect() as conn:
        rows = pick_offer_list_referrals(conn, limit)
    engine.dispose()
    return rows


def data_counts(url: str) -> dict[str, int]:
    tables = ["providers", "referrals", "offers", "placements", "attendance_marks", "audit_events"]
    engine = sa.create_engine(sa_url(url))
    with engine.connect() as conn:
        counts = {table: conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar() for table in tables}
    engine.dispose()
    return counts


# ---- HTTP: signing in through the real forms, plain requests ---------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 3xx comes back as it is: the sign-in steps read its Location


def _call(opener, url: str, data: dict | None = None, headers: dict | None = None) -> tuple[int, dict, bytes]:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def sign_in(base: str, email: str, password: str, totp_secret: str) -> str:
    """Sign in as a browser would (CSRF token, password, then a two-factor code if asked); the Cookie header value."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect())

    def form_post(path: str, fields: dict) -> tuple[int, dict]:
        status, _, page = _call(opener, base + path)
        match = CSRF_META.search(page.decode())
        if status != 200 or not match:
            raise BenchError(f"{path} gave {status} without a CSRF token")
        status, headers, _ = _call(opener, base + path, {**fields, "csrf_token": match.group(1)})
        return status, headers

    status, headers = form_post("/sign-in", {"email": email, "password": password})
    if status == 302 and headers.get("Location", "").endswith("/sign-in/two-factor"):
        totp = pyotp.TOTP(totp_secret)
        # A code is good once: if this step's was used (a run within 30 seconds), the next step's (within the drift).
        for at in (time.time(), time.time() + 30):
            status, headers = form_post("/sign-in/two-factor", {"code": totp.at(at)})
            if status == 302:
                break
    location = headers.get("Location", "")
    if status != 302 or "sign-in" in location or "two-factor" in location:
        raise BenchError(f"signing in {email} failed ({status} {location})")
    cookie = next((c for c in jar if c.name == COOKIE_NAME), None)
    if cookie is None:
        raise BenchError(f"no session cookie for {email}")
    return f"{COOKIE_NAME}={cookie.value}"


def fetch(base: str, path: str, headers: dict) -> tuple[int, dict, bytes]:
    return _call(urllib.request.build_opener(_NoRedirect()), base + path, headers=headers)


# ---- Servers -------------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A gunicorn master in its own process group, so stopping it stops its workers and nothing else."""

    def __init__(self, name: str, app: str, cwd: Path, env: dict, gunicorn_args: list[str], log_dir: Path):
        self.name, self.port = name, free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log_dir / f"{name}.log"
        command = [str(BIN / "gunicorn"), *gunicorn_args, "--bind", f"127.0.0.1:{self.port}", app]
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def wait_ready(self, path: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"{self.name} server exited:\n{self.log.read_text()[-2000:]}")
            try:
                status, _, _ = fetch(self.base, path, {})
                if status < 500:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise BenchError(f"{self.name} server not ready after {timeout:g} s")

    def worker_pids(self) -> list[int]:
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                # The parent pid is the 2nd field after the ")" closing the command name.
                if int(stat.rsplit(")", 1)[1].split()[1]) == self.process.pid:
                    pids.append(int(entry.name))
        return pids

    def max_worker_rss_mb(self) -> float:
        sizes = []
        for pid in self.worker_pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
            if match:
                sizes.append(int(match.group(1)) / 1024)
        return round(max(sizes, default=0.0), 1)

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)
        except ProcessLookupError:
            pass


# ---- Load ----------------------------------------------------------------------------------------------------------


def write_requests(path: Path, requests: list[tuple[str, dict]]) -> None:
    lines = [
        "\t".join([target, *(f"{name}: {value}" for name, value in headers.items())]) for target, headers in requests
    ]
    path.write_text("\n".join(lines) + "\n")


def run_wrk(base: str, requests_file: Path, seconds: int, connections: int) -> dict:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency",
               "-s", str(LUA), base, "--", str(requests_file)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return json.loads(lines[-1])


def sample(base: str, requests: list[tuple[str, dict]]) -> tuple[int | None, int]:
    """The most statements any of a few plain requests sent (None if the header is missing), and their median size."""
    statements, sizes = [], []
    for target, headers in requests[:SAMPLES]:
        status, response_headers, body = fetch(base, target, headers)
        expected = 304 if "If-None-Match" in headers else 200
        if status != expected:
            raise BenchError(f"{target} gave {status} to a plain request, not {expected}")
        header = response_headers.get("X-SQL-Statements")
        statements.append(None if header is None else int(header))
        sizes.append(len(body))
    return (None if None in statements else max(statements)), int(statistics.median(sizes))


def page_requests(page: KeyPage, cookies: dict[str, dict[str, str]], referrals: list[tuple[int, str]]):
    """(page requests, fragment requests): each a list of (path, headers), rotating over the signed-in users."""
    users = [cookie for role in page.roles for cookie in cookies[role].values()]
    if not users:
        raise BenchError(f"nobody signed in to load the {page.name}")
    if "{id}" in page.path:
        if not referrals:
            raise BenchError("no published referral with offers for the offer list")
        officers = cookies["officer"]
        # Each referral is loaded by its own officer when signed in (the usual case), or else by another one.
        plain = [
            (page.path.format(id=ident), {"Cookie": officers.get(email) or users[n % len(users)]})
            for n, (ident, email) in enumerate(referrals)
        ]
    else:
        plain = [(page.path, {"Cookie": cookie}) for cookie in users]
    htmx = {"HX-Request": "true", "HX-Target": page.fragment_target}
    if page.polled:
        htmx["HX-Trigger"] = page.fragment_target
    return plain, [(target, {**headers, **htmx}) for target, headers in plain]


def poll_requests(base: str, fragment: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    """The fragment as htmx polls it once the browser holds a copy: with that copy's ETag in If-None-Match, so the
    portal answers 304 with no body while nothing changes (portal.web.revalidated)."""
    polls = []
    for target, headers in fragment:
        status, response_headers, _ = fetch(base, target, headers)
        etag = response_headers.get("ETag")
        if status != 200 or etag is None:
            raise BenchError(f"{target} gave {status} {'with' if etag else 'without'} an ETag to a polled fragment")
        polls.append((target, {**headers, "If-None-Match": etag}))
    return polls


# ---- The run -------------------------------------------------------------------------------------------------------


def machine() -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    meminfo = Path("/proc/meminfo").read_text()
    cpu = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    ram_kb = int(re.search(r"^MemTotal:\s+(\d+) kB", meminfo, re.MULTILINE).group(1))
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu.group(1).strip() if cpu else "unknown",
        "ram_gb": round(ram_kb / 2**20, 1),
        # Anything else running on the same cores skews every figure: the 1-minute load average as the run began.
        "load_before": round(os.getloadavg()[0], 2),
    }


def git_commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + (" with uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") else "")


def gunicorn_settings() -> tuple[list[str], str]:
    workers = int(os.environ.get("BENCH_WORKERS") or 2 * (os.cpu_count() or 1))
    worker_class = os.environ.get("BENCH_WORKER_CLASS", "sync")
    args = ["--workers", str(workers), "--worker-class", worker_class, "--timeout", "60", "--graceful-timeout", "5"]
    described = f"{workers} {worker_class} workers"
    if worker_class == "gthread":
        threads = os.environ.get("BENCH_THREADS", "2")
        args += ["--threads", threads]
        described += f" × {threads} threads"
    return args, described


def portal_env(url: str, port_hint: str = "") -> dict:
    """Production settings, but plain HTTP on loopback: a fresh random SECRET_KEY (production refuses weak ones),
    session cookies without Secure (there is no TLS here), rate limits no sign-in of the run can reach."""
    return {
        **os.environ,
        "PORTAL_ENV": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "DATABASE_URL": url,
        "SESSION_COOKIE_SECURE": "false",
        "SQL_STATEMENT_HEADER": "1",
        "RATELIMIT_STORAGE_URI": "memory://",
        "LOGIN_RATE_LIMIT": "100000 per minute",
        "TWO_FACTOR_RATE_LIMIT": "100000 per minute",
    }


def run(size: str, duration: int, url: str) -> dict:
    connections = int(os.environ.get("BENCH_CONNECTIONS", "16"))
    started_on = machine()
    if started_on["load_before"] > 0.5:
        print(f"bench: warning: load average {started_on['load_before']} before the run; the figures will be low")
    if shutil.which("wrk") is None:
        raise BenchError("wrk is missing: apt-get install -y wrk (make bench installs it when root)")
    prepare_database(url, size)
    data_set, emails, password, totp_secret = bench_users(url)
    referrals = offer_list_referrals(url)
    gunicorn_args, gunicorn_described = gunicorn_settings()
    servers: list[Server] = []
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        scratch_dir = Path(scratch)
        try:
            portal = Server("portal", "wsgi:app", ROOT, portal_env(url), gunicorn_args, scratch_dir)
            servers.append(portal)
            baseline = Server("baseline", "app:app", ROOT / "bench" / "baseline", {**os.environ, "DATABASE_URL": url},
                              gunicorn_args, scratch_dir)  # fmt: skip
            servers.append(baseline)
            portal.wait_ready("/sign-in")
            baseline.wait_ready("/")

            cookies: dict[str, dict[str, str]] = {}
            for role, role_emails in emails.items():
                cookies[role] = {email: sign_in(portal.base, email, password, totp_secret) for email in role_emails}
                print(f"bench: signed in {len(cookies[role])} {role}s")

            plans = []
            for page in KEY_PAGES:
                plain, fragment = page_requests(page, cookies, referrals)
                variants = [("page", plain), ("fragment", fragment)]
                if page.polled:
                    variants.append(("poll", poll_requests(portal.base, fragment)))
                for variant, requests in variants:
                    file = scratch_dir / f"{page.name.replace(' ', '-')}-{variant}.tsv"
                    write_requests(file, requests)
                    plans.append((page.name, variant, requests, file))

            # Warm up every worker (imports, template compilation, connection pools) on a mix of everything.
            mix = scratch_dir / "warm-up.tsv"
            write_requests(mix, [request for plan in plans for request in plan[2]])
            baseline_file = scratch_dir / "baseline.tsv"
            write_requests(baseline_file, [("/", {})])
            run_wrk(portal.base, mix, WARM_UP_SECONDS, connections)
            run_wrk(baseline.base, baseline_file, WARM_UP_SECONDS, connections)

            print(f"bench: baseline, {duration} s")
            baseline_row = report.row_from_wrk("baseline", "page", run_wrk(baseline.base, baseline_file, duration,
                                               connections), statements=1, size_bytes=None)  # fmt: skip
            rows = []
            for name, variant, requests, file in plans:
                statements, size_bytes = sample(portal.base, requests)
                print(f"bench: {name} ({variant}), {duration} s")
                measured = run_wrk(portal.base, file, duration, connections)
                rows.append(report.row_from_wrk(name, variant, measured, statements=statements, size_bytes=size_bytes))
            worker_rss = {server.name: server.max_worker_rss_mb() for server in servers}
        finally:
            for server in servers:
                server.stop()

    return {
        "date": datetime.now().strftime("%Y-%m-%d %H:%M"),
        "size": size,
        "data": {"set": data_set, "rows": data_counts(url)},
        "database": sa.make_url(url).render_as_string(hide_password=True),
        "machine": started_on,
        "commit": git_commit(),
        "connections": connections,
        "duration": duration,
        "gunicorn": gunicorn_described,
        "baseline": baseline_row,
        "rows": report.judge(rows, baseline_row["rps"]),
        "worker_rss_mb": worker_rss,
    }


def _stop_on_signal(signum, frame):
    raise SystemExit(f"bench: stopped by signal {signum}")


def _out_of_time(signum, frame):
    raise BenchError("bench: out of time")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=["S", "M", "L"], default="S")
    parser.add_argument("--duration", type=int, default=20, help="seconds of load for each page and fragment")
    args = parser.parse_args(argv)
    url = os.environ.get("BENCH_DATABASE_URL") or f"postgresql://postgres@127.0.0.1:5432/bench_{args.size.lower()}"

    signal.signal(signal.SIGTERM, _stop_on_signal)
    signal.signal(signal.SIGALRM, _out_of_time)
    # Bounded overall: seeding L takes up to 10 minutes, then 12 load runs and the sign-ins.
    signal.alarm(1800 + 12 * (args.duration + 60))
    try:
        result = run(args.size, args.duration, url)
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    finally:
        signal.alarm(0)

    text = report.markdown(result)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / f"{result['date'][:10]}-{args.size}"
    stem.with_suffix(".md").write_text(text)
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"bench: wrote {stem}.md and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
