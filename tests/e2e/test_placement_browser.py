"""A placement from award to destination in a real browser, one browser context per person.

The officer sets up the placement from the awarded offer, and the safeguarding prompt changes (htmx, no reload) as the
three answers change. The provider marks last week's attendance a day at a time with one unexplained absence, and the
officer is alerted. The provider submits a progress report, the officer records the review, then ends the placement
with a destination. axe-core (WCAG 2.2 A/AA) runs on every page and state shown.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import timedelta
from types import SimpleNamespace

import sqlalchemy as sa
from playwright.sync_api import Page, expect

from portal.clock import london_today
from portal.extensions import db
from portal.models import AttendanceMark, Role
from portal.services import placement_setup
from tests.e2e.helpers import axe, sign_in
from tests.factories import make_user
from tests.factories_placements import awarded_referral

PROVIDER_NAME = "Placing provider 1"
SERVICE_DSL = "Sam Service-Lead"


def _set_up(app) -> SimpleNamespace:
    """An awarded referral whose offer started last Monday; the provider's user is also its DSL (so is alerted)."""
    today = london_today()
    last_monday = today - timedelta(days=today.weekday() + 7)
    with app.app_context():
        from portal.extensions import db

        officer = make_user(Role.OFFICER, name="Olive Officer")
        officer.service.dsl_name = SERVICE_DSL
        officer.service.dsl_email = "service.dsl@council.example"
        db.session.commit()
        awarded = awarded_referral(officer=officer, start_date=last_monday)
        awarded.provider.dsl_email = awarded.provider_user.email
        db.session.commit()
        return SimpleNamespace(
            officer=SimpleNamespace(email=officer.email, role=officer.role),
            provider=SimpleNamespace(email=awarded.provider_user.email, role=awarded.provider_user.role),
            referral_id=awarded.referral.id,
            provider_name=awarded.provider.name,
            last_monday=last_monday,
            today=today,
        )


def _prompt(page: Page):
    return page.locator("#responsibility-prompt")


def _fill_date(page: Page, group: str, day) -> None:
    fieldset = page.get_by_role("group", name=group)
    fieldset.get_by_label("Day", exact=True).fill(str(day.day))
    fieldset.get_by_label("Month", exact=True).fill(str(day.month))
    fieldset.get_by_label("Year", exact=True).fill(str(day.year))


def test_a_placement_from_award_to_destination(app, live_server, browser):
    setting = _set_up(app)
    officer_context = browser.new_context(base_url=live_server)
    provider_context = browser.new_context(base_url=live_server)
    officer, provider = officer_context.new_page(), provider_context.new_page()
    try:
        # --- The officer sets up the placement; the prompt follows the answers -----------------------------------
        sign_in(officer, setting.officer)
        officer.goto(f"/officer/referrals/{setting.referral_id}")
        officer.get_by_role("button", name="Set up the placement").or_(
            officer.get_by_role("link", name="Set up the placement")
        ).click()
        expect(officer.get_by_role("heading", level=1)).to_contain_text("placement")
        axe(officer)

        officer.get_by_label("Main site").check()
        roll = officer.get_by_role("group", name="Who is the child on roll with during the placement?")
        role = officer.get_by_role("group", name="Is the placement the child's main provision or supplementary support?")
        commissioner = officer.get_by_role("group", name="Who commissions the placement?")

        roll.get_by_label("The home school").check()
        officer.get_by_label("The school's name").fill("Marblewick Academy")
        role.get_by_label("Supplementary support").check()
        commissioner.get_by_label("A council service").check()
        expect(_prompt(officer)).to_contain_text("the commissioning service")
        expect(_prompt(officer)).to_contain_text(SERVICE_DSL)
        axe(officer)

        commissioner.get_by_label("The school").check()
        expect(_prompt(officer)).to_contain_text("written confirmation of the provider's staff checks")
        axe(officer)

        roll.get_by_label("The provider").check()
        expect(_prompt(officer)).to_contain_text(setting.provider_name)
        expect(_prompt(officer)).to_contain_text("Dana Lead")
        expect(_prompt(officer)).not_to_contain_text("staff checks")
        axe(officer)

        _prompt(officer).get_by_role("checkbox").check()
        officer.get_by_role("button", name="Set up the placement").click()
        expect(officer.get_by_role("heading", level=1)).to_contain_text(setting.provider_name)
        expect(officer.locator("main")).to_contain_text("the provider")
        placement_path = officer.url.split(live_server, 1)[1]
        axe(officer)

        # --- The provider marks last week, one unexplained absence -----------------------------------------------
        sign_in(provider, setting.provider)
        provider.goto("/provider/placements")
        axe(provider)
        provider.goto(f"{placement_path}/attendance?week={setting.last_monday.isoformat()}")
        axe(provider)
        for offset in range(5):
            day = setting.last_monday + timedelta(days=offset)
            button = provider.get_by_role("button", name=f"Mark {day:%A} {day.day} {day:%B} present").or_(
                provider.get_by_role("button", name=f"Mark {day:%A} present")
            )
            if button.count():  # a bank holiday has no session to mark
                button.first.click()
                expect(button).to_have_count(0)
        wednesday = setting.last_monday + timedelta(days=2)
        cell = provider.get_by_label(f"{wednesday:%A} {wednesday.day} {wednesday:%B}, afternoon")
        # The week as the provider finds it next time (so htmx has processed every cell it now holds).
        provider.reload()
        cell.select_option("O")
        expect(provider.locator("#attendance-status")).to_contain_text("Saved")
        axe(provider)

        # Another window marks that session otherwise; this page still shows "O", so its next change is refused
        # (409, swapped into the cell) and says whose mark stands. Chosen again from there, it is saved.
        with app.app_context():
            db.session.execute(
                sa.update(AttendanceMark)
                .where(AttendanceMark.day == wednesday, AttendanceMark.session == "pm")
                .values(code="M")
            )
            db.session.commit()
        cell.select_option("I")
        expect(provider.locator("#attendance-status")).to_contain_text("Not saved")
        expect(provider.locator(f"#code-{wednesday.isoformat()}-pm-error")).to_contain_text("recorded M (Medical")
        axe(provider)
        cell.select_option("O")
        expect(provider.locator("#attendance-status")).to_contain_text("Saved")

        officer.goto("/notifications/")
        expect(officer.locator("main")).to_contain_text("unexplained absence")
        axe(officer)

        # --- The provider's progress report, then the officer's review ------------------------------------------
        provider.goto(f"{placement_path}/reports/new")
        axe(provider)
        for group in provider.get_by_role("group", name="Progress towards aim").all():
            group.get_by_label("On target").check()
        for n in (1, 2):
            provider.get_by_label(f"Evidence for aim {n}").fill(f"Attended every session but one (aim {n})")
        provider.get_by_label("The child's own view").fill("I like the farm days best.")
        provider.get_by_role("button", name="Submit the report").click()
        expect(provider.locator("main")).to_contain_text("I like the farm days best.")
        axe(provider)

        officer.goto(f"{placement_path}/reviews/new")
        expect(officer.locator("main")).to_contain_text("I like the farm days best.")
        axe(officer)
        _fill_date(officer, "Date the review was held", setting.today)
        for group in officer.get_by_role("group", name="Progress towards aim").all():
            group.get_by_label("On target").check()
        officer.get_by_label("Next steps").fill("Two days a week back at the home school from next half term.")
        officer.get_by_role("group", name="How ready is the child to return to school?").get_by_label(
            "Ready to return within a term"
        ).check()
        _fill_date(officer, "Date of the next review", setting.today + timedelta(weeks=5))
        officer.get_by_role("button", name="Record the review").click()
        expect(officer.locator("main")).to_contain_text("Two days a week back at the home school")
        axe(officer)

        # --- The end, with a destination -------------------------------------------------------------------------
        officer.goto(f"{placement_path}/end")
        axe(officer)
        officer.get_by_role("button", name="End the placement").click()
        expect(officer.locator(".govuk-error-summary")).to_contain_text("Choose where the child went next")
        axe(officer)
        _fill_date(officer, "End date", setting.today)
        officer.get_by_label("Back to the home school").check()
        officer.get_by_label("Why did the placement end?").fill("Ready to return: the aims were met.")
        officer.get_by_role("button", name="End the placement").click()
        expect(officer.get_by_role("heading", level=1)).to_contain_text(setting.provider_name)
        expect(officer.locator("main")).to_contain_text("Back to the home school")
        expect(officer.locator("main")).to_contain_text("Ended")
        axe(officer)
    finally:
        officer_context.close()
        provider_context.close()


@contextmanager
def _all_three_answered_at_once(app, live_server, browser, monkeypatch, delay):
    """The officer answers the three questions one after another as fast as the browser can, while the server takes
    ``delay(terms)`` seconds over each prompt. Yields the page and the placing provider's name."""
    setting = _set_up(app)
    real_prompt_for = placement_setup.prompt_for

    def slowed(terms, provider, service):
        time.sleep(delay(terms))
        return real_prompt_for(terms, provider, service)

    monkeypatch.setattr(placement_setup, "prompt_for", slowed)
    context = browser.new_context(base_url=live_server)
    officer = context.new_page()
    try:
        sign_in(officer, setting.officer)
        officer.goto(f"/officer/referrals/{setting.referral_id}/placement")
        officer.get_by_role("group", name="Who is the child on roll with during the placement?").get_by_label(
            "The provider"
        ).check()
        officer.get_by_role(
            "group", name="Is the placement the child's main provision or supplementary support?"
        ).get_by_label("Supplementary support").check()
        officer.get_by_role("group", name="Who commissions the placement?").get_by_label("A council service").check()
        yield officer, setting.provider_name
    finally:
        context.close()


def test_the_prompt_follows_the_last_answer_when_an_earlier_one_answers_while_it_is_on_its_way(
    app, live_server, browser, monkeypatch
):
    """The other order: an earlier answer's prompt comes back while the last answer's is still on its way. Its swap
    replaces the prompt element, so the last answer's swap, aimed at the element that was there when it was asked
    for, would land nowhere and the page would keep the earlier prompt. The questions share one request queue
    (hx-sync on #safeguarding, replace): a new answer cancels the request in flight, so only the last one swaps."""
    last_answer_slowest = lambda terms: 2.0 if terms.commissioner is not None else 0.5  # noqa: E731
    with _all_three_answered_at_once(app, live_server, browser, monkeypatch, last_answer_slowest) as (officer, name):
        expect(_prompt(officer)).to_contain_text(name)
        expect(_prompt(officer)).not_to_contain_text("Answer the three questions")


def test_the_prompt_follows_the_last_answer_when_an_earlier_one_answers_late(app, live_server, browser, monkeypatch):
    """Each question asks for the prompt on its own, so on a busy server an earlier answer's prompt can come back
    after a later one's. It never replaces it: the swap replaces the prompt element itself (outerHTML), so a late
    answer lands on the element it was asked for, which is no longer on the page."""
    earlier_answers_slow = lambda terms: 1.5 if terms.commissioner is None else 0  # noqa: E731
    with _all_three_answered_at_once(app, live_server, browser, monkeypatch, earlier_answers_slow) as (officer, name):
        expect(_prompt(officer)).to_contain_text(name)
        officer.wait_for_timeout(2_500)  # the two earlier answers' prompts would have come back by now
        expect(_prompt(officer)).to_contain_text(name)
        expect(_prompt(officer)).not_to_contain_text("Answer the three questions")
