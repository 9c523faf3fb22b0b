"""The five key pages (issue 9) and their htmx fragments on generated data: the statement count of each on size S
equals its count on a generated set about 2.5 times larger, and is at most 8 (the dashboard's cache miss excepted:
equal on both sizes only). tests/web/test_key_page_statements.py does the same on small hand-built data.

Both data sets come from the real generator (portal.services.scale_seed), one after the other in one module-scoped
fixture: generate, measure, empty the tables, the next size. Run with ``-n 0 -s`` for the table of figures."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import aliased

from bench.run import pick_offer_list_referrals
from portal import clock
from portal.extensions import db
from portal.models import Invitation, Offer, Placement, PlacementStatus, Provider, Referral, Role, User
from portal.services import cache, scale_seed
from portal.services.referrals import Stage, stage_column, stage_condition
from tests.conftest import delete_all_rows
from tests.helpers import count_queries, sign_in
from tests.web.test_key_page_statements import STATEMENT_BUDGET

S = scale_seed.SIZES["S"]
# The same council (officers, services) with 2.5 times the providers and referrals, and L's share of awards (two
# placements for every five referrals, S has one in five): each officer's referrals and caseload, each provider's
# invitations and the dashboard's period all grow. The years, and the shares of open and draft referrals, are S's.
LARGER = dataclasses.replace(S, name="S2", providers=125, referrals=5_000, placements=2_000)
# The offer list's stages on the generated data. Evaluating is left to test_key_page_statements.py: the generator
# decides its history within days of each deadline and gives its open ones a deadline to come, so an evaluating
# referral (every invited provider has answered) happens only by chance: 2 on S, none on S2.
OFFER_LIST_STAGES = (Stage.OPEN, Stage.AWARDED, Stage.WITHDRAWN)
DASHBOARD_MISS = "oversight, cache miss"
KEY_PAGES = (
    *(f"offer list, {stage}" for stage in OFFER_LIST_STAGES),
    "opportunities",
    "caseload",
    "directory",
    "oversight",
    DASHBOARD_MISS,
)
VARIANTS = ("page", "fragment")


@dataclass(frozen=True)
class KeyPage:
    """Who reads which page on this data set, the htmx headers of its fragment, and what was picked (for the table)."""

    name: str
    email: str
    path: str
    target: str
    polled: bool = False
    picked: str = ""
    rows: int = 0  # how many of what it lists the picked reader has (offers, invitations, placements)

    @property
    def fragment_headers(self) -> dict[str, str]:
        headers = {"HX-Request": "true", "HX-Target": self.target}
        if self.polled:  # htmx names the polling element in HX-Trigger (as bench/run.py sends it)
            headers["HX-Trigger"] = self.target
        return headers


@dataclass
class Measured:
    rows: dict[str, int]
    pages: dict[str, KeyPage]
    statements: dict[tuple[str, str], list[str]]
    seconds: tuple[float, float, float] = (0.0, 0.0, 0.0)  # generating, measuring, emptying the tables


# ---- Picking who reads what on the generated data -----------------------------------------------------------------


def _offer_list_pages(now: datetime) -> list[KeyPage]:
    """For each stage, of the referrals the benchmark loads (bench/run.py: with offers, open first, newest first),
    the one with the most offers, read by its own officer."""
    candidates = pick_offer_list_referrals(db.session.connection(), limit=1_000_000)
    offers = sa.select(sa.func.count()).where(Offer.referral_id == Referral.id).scalar_subquery()
    facts = {
        row.id: (row.stage, row.offers)
        for row in db.session.execute(
            sa.select(Referral.id, stage_column(now), offers.label("offers")).where(
                Referral.id.in_([ident for ident, _ in candidates])
            )
        )
    }
    pages = []
    for stage in OFFER_LIST_STAGES:
        in_stage = [(ident, email) for ident, email in candidates if facts[ident][0] == stage]
        assert in_stage, f"no {stage} referral with offers in the generated data"
        ident, email = max(in_stage, key=lambda pick: facts[pick[0]][1])  # max keeps the first of equals
        picked = f"referral {ident}, {facts[ident][1]} offers"
        pages.append(KeyPage(f"offer list, {stage}", email, f"/officer/referrals/{ident}", "referral-offers",
                             polled=True, picked=picked, rows=facts[ident][1]))  # fmt: skip
    return pages


def _busiest(column, *conditions):
    """The id with the most rows under the conditions (the lowest id of equals), and that count."""
    count = sa.func.count().label("n")
    query = sa.select(column, count).where(*conditions).group_by(column).order_by(count.desc(), column).limit(1)
    return db.session.execute(query).one()


def _key_pages(now: datetime) -> list[KeyPage]:
    # An alias: the open stage's own condition has an EXISTS over invitations, which must not correlate with these.
    invited = aliased(Invitation)
    provider_id, invitations = _busiest(
        invited.provider_id, invited.referral_id == Referral.id, stage_condition(Stage.OPEN, now)
    )
    provider_email = db.session.scalar(
        sa.select(User.email).where(User.provider_id == provider_id, User.role == Role.PROVIDER).order_by(User.id)
    )
    officer_id, placements = _busiest(Placement.officer_id, Placement.status == PlacementStatus.ACTIVE)
    officer_email = db.session.get(User, officer_id).email
    return [
        *_offer_list_pages(now),
        KeyPage("opportunities", provider_email, "/provider/opportunities", "opportunity-results", polled=True,
                picked=f"provider {provider_id}, invited to {invitations} open referrals", rows=invitations),
        KeyPage("caseload", officer_email, "/officer/placements", "caseload-results",
                picked=f"officer {officer_id}, {placements} active placements", rows=placements),
        KeyPage("directory", officer_email, "/directory", "directory-results", picked=f"officer {officer_id}"),
        KeyPage("oversight", scale_seed.MANAGER_EMAIL, "/manager/oversight", "oversight-figures",
                picked="the manager, this term"),
    ]  # fmt: skip


# ---- Measuring ---------------------------------------------------------------------------------------------------


def _get(client, path: str, headers: dict[str, str] | None = None):
    response = client.get(path, headers=headers or {})
    assert response.status_code == 200, (path, headers, response.status_code)
    return response


def _measure(app) -> Measured:
    now = clock.now()
    with app.app_context():
        pages = {page.name: page for page in _key_pages(now)}
        rows = {
            model.__tablename__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (Provider, Referral, Offer, Invitation, Placement)
        }
        engine = db.engine
    clients = {}
    statements: dict[tuple[str, str], list[str]] = {}

    def read(name: str, page: KeyPage, before=None) -> None:
        client = clients[page.email]
        for variant, headers in (("page", {}), ("fragment", page.fragment_headers)):
            if before is not None:
                before()
            with count_queries(engine) as counter:
                _get(client, page.path, headers)
            statements[(name, variant)] = counter.statements

    for page in pages.values():
        if page.email not in clients:
            clients[page.email] = app.test_client()
            signed_in = sign_in(
                clients[page.email], page.email, scale_seed.SCALE_PASSWORD, scale_seed.SCALE_TOTP_SECRET
            )
            assert signed_in.status_code == 302, page.email
        # Warm up: the session's first touch, first-request work and the dashboard's cache are not the page's.
        _get(clients[page.email], page.path)
        _get(clients[page.email], page.path, page.fragment_headers)
        read(page.name, page)
    # The dashboard again, its figures computed afresh: the cache emptied before each request.
    read(DASHBOARD_MISS, pages["oversight"], before=cache.bump)
    return Measured(rows, pages, statements)


def _print_table(measured: dict[str, Measured]) -> None:
    small, large = measured[S.name], measured[LARGER.name]
    print(f"\nKey pages' SQL statements on generated data, {S.name} / {LARGER.name}")
    print("rows: " + ", ".join(f"{table} {small.rows[table]}/{large.rows[table]}" for table in small.rows))
    for size in (small, large):
        print("seconds generating, measuring, emptying: " + ", ".join(f"{s:.1f}" for s in size.seconds))
    print(f"{'page':<28} {'page':>7} {'fragment':>9}   picked on {S.name} | on {LARGER.name}")
    for name in KEY_PAGES:
        figures = [f"{len(small.statements[(name, v)])}/{len(large.statements[(name, v)])}" for v in VARIANTS]
        base = "oversight" if name == DASHBOARD_MISS else name
        print(f"{name:<28} {figures[0]:>7} {figures[1]:>9}   {small.pages[base].picked} | {large.pages[base].picked}")


@pytest.fixture(scope="module")
def measured(app) -> dict[str, Measured]:
    """Generate S, measure, empty the tables; the same for the larger size. One clock for both, so both are generated
    relative to the same day and their pages read at the same moment."""
    moment = datetime.now(UTC)
    results = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(clock, "now", lambda: moment)
        patch.setattr(scale_seed, "london_today", lambda: clock.london_today(moment))
        for size in (S, LARGER):
            started = time.monotonic()
            try:
                with app.app_context():
                    scale_seed.generate(size)
                generated = time.monotonic()
                # The generator writes in bulk, past the ORM's cache invalidation.
                cache.bump()
                results[size.name] = _measure(app)
                measured_at = time.monotonic()
            finally:
                delete_all_rows(app)
            results[size.name].seconds = (generated - started, measured_at - generated, time.monotonic() - measured_at)
    _print_table(results)
    return results


def _failure(name: str, variant: str, measured: dict[str, Measured], sizes=(S, LARGER)) -> str:
    """The statements themselves, so a failing run says what was added."""
    lines = []
    for size in sizes:
        statements = measured[size.name].statements[(name, variant)]
        lines += [f"--- {name} ({variant}) on {size.name}: {len(statements)} statements", *statements]
    return "\n".join(lines)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", KEY_PAGES)
def test_a_key_page_runs_as_many_statements_on_s_as_on_a_larger_generated_set(measured, name, variant):
    small = measured[S.name].statements[(name, variant)]
    large = measured[LARGER.name].statements[(name, variant)]
    assert len(small) == len(large), _failure(name, variant, measured)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", [name for name in KEY_PAGES if name != DASHBOARD_MISS])
def test_a_key_page_runs_at_most_the_statement_budget_on_generated_data(measured, name, variant):
    for size in (S, LARGER):
        statements = measured[size.name].statements[(name, variant)]
        assert len(statements) <= STATEMENT_BUDGET, _failure(name, variant, measured, sizes=[size])


def test_the_larger_set_is_larger_where_the_pages_read_and_the_dashboard_was_read_warm_and_cold(measured):
    """Equal counts prove something only if the larger set is larger where each page reads, and the two dashboard
    readings only if one came from the cache and the other computed the figures."""
    small, large = measured[S.name], measured[LARGER.name]
    for table, count in small.rows.items():
        assert large.rows[table] >= 2 * count, table
    for name in ("opportunities", "caseload"):
        assert large.pages[name].rows >= 2 * small.pages[name].rows, name
    for size in (small, large):
        for variant in VARIANTS:
            assert len(size.statements[(DASHBOARD_MISS, variant)]) > len(size.statements[("oversight", variant)])
