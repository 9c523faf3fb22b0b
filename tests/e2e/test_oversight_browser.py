"""The oversight dashboard in a real browser, on the demo's full academic year: the filters swap the figures with
htmx, and work as a plain GET form without JavaScript; a chart is an SVG with a title, a description and its data
table beside it; the figures download as CSV with a byte-order mark. axe-core runs on every state shown."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

from playwright.sync_api import expect

from portal.models import Role
from portal.services.demo import seed_demo
from tests.e2e.helpers import axe, sign_in
from tests.factories import make_user

LOT_1 = "Lot 1: Full Time Education Provision"


def _set_up(app) -> SimpleNamespace:
    with app.app_context():
        seed_demo(full_year=True)
        manager = make_user(Role.MANAGER, name="Oversight Manager")
        return SimpleNamespace(email=manager.email, role=manager.role)


def test_the_dashboard_filters_charts_and_csv(app, new_page, tmp_path):
    manager = _set_up(app)
    page = new_page()
    sign_in(page, manager)
    page.goto("/manager/oversight")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    axe(page)

    page.get_by_label("This academic year").check()
    page.get_by_label("Lot", exact=True).select_option(label=LOT_1)
    page.get_by_role("button", name="Show figures").click()
    expect(page).to_have_url(re.compile(r"lot=\d+"))  # htmx swapped the figures and pushed the filtered address
    expect(page.locator("main")).to_contain_text("Figures for the")
    axe(page)

    chart = page.locator("svg[role='img']").first
    expect(chart).to_be_visible()
    title = chart.locator("title").text_content()
    assert title
    assert chart.locator("desc").count() == 1
    expect(page.locator("caption", has_text=title).first).to_be_attached()

    with page.expect_download() as download:
        page.get_by_role("link", name="Download these figures (CSV)").click()
    saved = Path(tmp_path) / "figures.csv"
    download.value.save_as(saved)
    text = saved.read_text(encoding="utf-8")
    assert text.startswith("\ufeff")
    assert "Referrals made" in text

    plain = new_page(java_script_enabled=False)
    sign_in(plain, manager)
    plain.goto("/manager/oversight")
    plain.get_by_label("This academic year").check()
    plain.get_by_label("Lot", exact=True).select_option(label=LOT_1)
    plain.get_by_role("button", name="Show figures").click()
    expect(plain).to_have_url(re.compile(r"period=year.*lot=\d+|lot=\d+.*period=year"))
    expect(plain.locator("main")).to_contain_text("Figures for the")
