"""The pure parts of the benchmark: the targets of issue 9, the check of one measured row against them, and the
results as a Markdown report. No I/O here, so the suite can test it (tests/unit/test_bench_report.py)."""

from __future__ import annotations

# The targets (issue 9): on 2 cores, 16 concurrent connections.
P95_LIMIT_MS = 50.0
DASHBOARD_P95_LIMIT_MS = 300.0
MIN_BASELINE_RATIO = 0.5
MAX_STATEMENTS = 8
MAX_FRAGMENT_SHARE = 0.20
MAX_WORKER_RSS_MB = 200.0

DASHBOARD = "oversight dashboard"
# Rows judged on their size against their page's: the htmx fragment, and (for the two fragments htmx polls) the poll
# that finds nothing new, answered 304.
FRAGMENTS = ("fragment", "poll")


def p95_limit(page: str) -> float:
    return DASHBOARD_P95_LIMIT_MS if page == DASHBOARD else P95_LIMIT_MS


def row_from_wrk(page: str, variant: str, wrk: dict, *, statements: int | None, size_bytes: int | None) -> dict:
    """One measured row from the JSON that bench/wrk.lua prints (latencies in microseconds)."""
    seconds = wrk["duration_us"] / 1_000_000 or 1
    errors = wrk["non2xx"] + wrk["connect_errors"] + wrk["read_errors"] + wrk["write_errors"] + wrk["timeouts"]
    return {
        "page": page,
        "variant": variant,
        "requests": wrk["requests"],
        "rps": round(wrk["requests"] / seconds, 1),
        "p50_ms": round(wrk["p50_us"] / 1000, 1),
        "p95_ms": round(wrk["p95_us"] / 1000, 1),
        "p99_ms": round(wrk["p99_us"] / 1000, 1),
        "errors": errors,
        "statements": statements,
        "bytes": size_bytes,
    }


def check(row: dict, *, baseline_rps: float, page_bytes: int | None = None) -> list[str]:
    """What this row misses of the targets, as short phrases (empty: it passes). A fragment or poll row is also judged
    on its size against its page's (``page_bytes``)."""
    misses = []
    limit = p95_limit(row["page"])
    if row["p95_ms"] > limit:
        misses.append(f"p95 {row['p95_ms']:g} ms > {limit:g} ms")
    if baseline_rps and row["rps"] < MIN_BASELINE_RATIO * baseline_rps:
        misses.append(f"{row['rps'] / baseline_rps:.0%} of baseline < {MIN_BASELINE_RATIO:.0%}")
    if row["statements"] is None:
        misses.append("statements unknown")
    elif row["statements"] > MAX_STATEMENTS:
        misses.append(f"{row['statements']} statements > {MAX_STATEMENTS}")
    if row["errors"]:
        misses.append(f"{row['errors']} errors")
    if row["variant"] in FRAGMENTS and page_bytes and row["bytes"] is not None:
        share = row["bytes"] / page_bytes
        if share > MAX_FRAGMENT_SHARE:
            misses.append(f"fragment {share:.0%} of page > {MAX_FRAGMENT_SHARE:.0%}")
    return misses


def judge(rows: list[dict], baseline_rps: float) -> list[dict]:
    """Each row with its baseline ratio, its fragment share and its verdict (PASS, or FAIL with what it misses)."""
    page_bytes = {row["page"]: row["bytes"] for row in rows if row["variant"] == "page"}
    judged = []
    for row in rows:
        own_page_bytes = page_bytes.get(row["page"]) if row["variant"] in FRAGMENTS else None
        misses = check(row, baseline_rps=baseline_rps, page_bytes=own_page_bytes)
        judged.append(
            {
                **row,
                "baseline_ratio": round(row["rps"] / baseline_rps, 2) if baseline_rps else None,
                "fragment_share": round(row["bytes"] / own_page_bytes, 3)
                if own_page_bytes and row["bytes"] is not None
                else None,
                "misses": misses,
                "verdict": "FAIL" if misses else "PASS",
            }
        )
    return judged


def memory_misses(worker_rss_mb: dict[str, float]) -> list[str]:
    return [
        f"{server} worker {rss:g} MB > {MAX_WORKER_RSS_MB:g} MB"
        for server, rss in worker_rss_mb.items()
        if rss > MAX_WORKER_RSS_MB
    ]


def _cell(value, suffix: str = "") -> str:
    return "–" if value is None else f"{value:g}{suffix}" if isinstance(value, float) else f"{value}{suffix}"


def markdown(report: dict) -> str:
    """The report as Markdown: the run's facts, the baseline, one table per page, memory and the overall verdict."""
    machine, baseline = report["machine"], report["baseline"]
    lines = [
        f"# Benchmark {report['date']}, size {report['size']}",
        "",
        f"- Machine: {machine['nproc']} cores ({machine['cpu']}), {machine['ram_gb']} GB RAM, "
        f"load average {machine['load_before']} as the run began",
        f"- Commit: {report['commit']}; database: {report['database']}",
        f"- Data: {report['data']['set']}, "
        + ", ".join(f"{n:,} {table}" for table, n in report["data"]["rows"].items()),
        f"- Load: wrk, {report['connections']} connections, {report['duration']} s a run, on 127.0.0.1; "
        f"gunicorn {report['gunicorn']}",
        f"- Baseline (one query, one template): {baseline['rps']:g} req/s, p50 {baseline['p50_ms']:g} ms, "
        f"p95 {baseline['p95_ms']:g} ms, p99 {baseline['p99_ms']:g} ms, {baseline['errors']} errors",
        "",
    ]
    header = (
        "| | req/s | p50 ms | p95 ms | p99 ms | errors | statements | bytes | fragment/page | vs baseline | verdict |"
    )
    pages = list(dict.fromkeys(row["page"] for row in report["rows"]))
    for page in pages:
        lines += [f"## {page}", "", header, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for row in (row for row in report["rows"] if row["page"] == page):
            share = None if row["fragment_share"] is None else f"{row['fragment_share']:.0%}"
            ratio = None if row["baseline_ratio"] is None else f"{row['baseline_ratio']:.0%}"
            verdict = row["verdict"] + (": " + "; ".join(row["misses"]) if row["misses"] else "")
            cells = [row["variant"], row["rps"], row["p50_ms"], row["p95_ms"], row["p99_ms"], row["errors"],
                     row["statements"], row["bytes"], share, ratio, verdict]  # fmt: skip
            lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
        lines.append("")
    memory = ", ".join(f"{server} {rss:g} MB" for server, rss in report["worker_rss_mb"].items())
    lines += [f"Largest worker RSS after the load: {memory} (target ≤ {MAX_WORKER_RSS_MB:g} MB).", ""]
    memory_failures = memory_misses(report["worker_rss_mb"])
    passed = sum(not row["misses"] for row in report["rows"])
    verdict = "PASS" if passed == len(report["rows"]) and not memory_failures else "FAIL"
    lines.append(
        f"Overall: {verdict} ({passed} of {len(report['rows'])} rows pass; memory {'FAIL' if memory_failures else 'PASS'})."
    )
    return "\n".join(lines) + "\n"
