"""The benchmark's pure parts (bench/report.py): a wrk result read into a row, the targets of issue 9 checked, the
Markdown report. The benchmark itself never runs in the suite (`make bench` does)."""

from bench import report

WRK = {"requests": 2000, "duration_us": 10_000_000, "bytes": 1, "p50_us": 12_345, "p95_us": 40_000, "p99_us": 61_000,
       "max_us": 90_000, "non2xx": 0, "connect_errors": 0, "read_errors": 0, "write_errors": 0, "timeouts": 0}  # fmt: skip


def _row(page="caseload", variant="page", **changes):
    row = report.row_from_wrk(page, variant, WRK, statements=6, size_bytes=20_000)
    return {**row, **changes}


def test_a_wrk_result_becomes_a_row_in_requests_per_second_and_milliseconds():
    row = report.row_from_wrk("caseload", "page", {**WRK, "non2xx": 3, "timeouts": 1}, statements=6, size_bytes=9)
    assert row["rps"] == 200.0
    assert (row["p50_ms"], row["p95_ms"], row["p99_ms"]) == (12.3, 40.0, 61.0)
    assert row["errors"] == 4  # redirects and 4xx/5xx (non2xx) and socket errors alike


def test_a_row_within_every_target_passes():
    assert report.check(_row(), baseline_rps=300) == []


def test_each_missed_target_is_named():
    row = _row(p95_ms=51.0, rps=149.0, statements=9, errors=2)
    assert report.check(row, baseline_rps=300) == [
        "p95 51 ms > 50 ms",
        "50% of baseline < 50%",
        "9 statements > 8",
        "2 errors",
    ]
    assert report.check(_row(statements=None), baseline_rps=300) == ["statements unknown"]


def test_the_dashboard_has_its_own_latency_target():
    assert report.check(_row(page=report.DASHBOARD, p95_ms=299.0), baseline_rps=300) == []
    assert report.check(_row(page=report.DASHBOARD, p95_ms=301.0), baseline_rps=300) == ["p95 301 ms > 300 ms"]


def test_a_fragment_is_judged_on_its_share_of_its_page():
    rows = [_row(bytes=20_000), _row(variant="fragment", bytes=4_000), _row(page="directory search", bytes=10_000),
            _row(page="directory search", variant="fragment", bytes=2_100)]  # fmt: skip
    judged = report.judge(rows, baseline_rps=300)
    assert [row["verdict"] for row in judged] == ["PASS", "PASS", "PASS", "FAIL"]
    assert judged[1]["fragment_share"] == 0.2
    assert judged[3]["misses"] == ["fragment 21% of page > 20%"]
    assert judged[0]["baseline_ratio"] == 0.67


def test_a_poll_answered_304_is_judged_on_its_share_of_its_page_too():
    judged = report.judge([_row(bytes=20_000), _row(variant="poll", bytes=0), _row(variant="poll", bytes=5_000)], 300)
    assert [row["fragment_share"] for row in judged] == [None, 0.0, 0.25]
    assert judged[2]["misses"] == ["fragment 25% of page > 20%"]


def test_worker_memory_over_the_limit_is_reported():
    assert report.memory_misses({"portal": 120.0, "baseline": 50.0}) == []
    assert report.memory_misses({"portal": 201.5}) == ["portal worker 201.5 MB > 200 MB"]


def test_the_markdown_report_has_a_table_per_page_and_the_overall_verdict():
    rows = report.judge([_row(), _row(variant="fragment", bytes=3_000), _row(page=report.DASHBOARD, p95_ms=400.0)], 300)
    text = report.markdown(
        {
            "date": "2026-11-25 10:00",
            "size": "S",
            "data": {"set": "scale", "rows": {"referrals": 2000, "offers": 10_000}},
            "database": "postgresql://postgres@127.0.0.1:5432/bench_s",
            "machine": {"nproc": 2, "cpu": "Test CPU", "ram_gb": 8.0, "load_before": 0.1},
            "commit": "abc1234",
            "connections": 16,
            "duration": 20,
            "gunicorn": "4 sync workers",
            "baseline": {"rps": 300.0, "p50_ms": 5.0, "p95_ms": 9.0, "p99_ms": 12.0, "errors": 0},
            "rows": rows,
            "worker_rss_mb": {"portal": 120.0, "baseline": 50.0},
        }
    )
    assert "## caseload" in text and f"## {report.DASHBOARD}" in text
    assert "| page | 200 | 12.3 | 40 | 61 | 0 | 6 | 20000 | – | 67% | PASS |" in text
    assert "| fragment | 200 | 12.3 | 40 | 61 | 0 | 6 | 3000 | 15% | 67% | PASS |" in text
    assert "FAIL: p95 400 ms > 300 ms" in text
    assert "2,000 referrals, 10,000 offers" in text
    assert "Overall: FAIL (2 of 3 rows pass; memory PASS)." in text
