"""No lost updates (issue 10, point 1): every form that edits a versioned record, opened in two sessions. The first
saves; the second, drawn before that save, is refused with 409, shows again what its user typed beside an explanation
of what changed meanwhile, and the database keeps the first save.

Each form is one row of FORMS. A session fills a form as a browser would (tests.web.form_fields reads the page's
inputs, so a row only names what its user changes), and the second session's change is always text of its own,
so the refused page can be searched for it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import unescape
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa

from portal import clock
from portal.extensions import db
from portal.models import (
    Application,
    ApplicationLot,
    ApplicationStatus,
    Child,
    Offer,
    OfferStatus,
    Placement,
    Provider,
    Referral,
    ReferralStatus,
    Score,
    Sla,
    SlaStatus,
    SlaTemplate,
    User,
)
from portal.services import applications, scoring
from portal.services.evaluation import field_name
from tests.factories import LotFactory, LotQuestionFactory, make_lot, make_user
from tests.factories_calloff import make_offer, make_referral, published_call_off
from tests.factories_dps import admit, make_provider, make_submitted_application
from tests.factories_placements import awarded_referral, make_placement
from tests.factories_slas import make_sla, make_template
from tests.helpers import sign_in

# After the factories' placements start (11 January 2027), so one can end and be reviewed.
PLACEMENT_NOW = datetime(2027, 2, 1, 10, 0, tzinfo=UTC)
HX = {"HX-Request": "true"}
# How a refused page says that someone else changed the record meanwhile (each service words it for its record).
EXPLAINED = re.compile(r"changed (this|these|it|or decided)|after you opened|while you had|saved now", re.I)


# ---- Filling a form as a browser would ----------------------------------------------------------------------------


class _FormReader(HTMLParser):
    """The fields of every <form method="post"> on a page: what a browser would send (checked boxes and radios,
    selected options, text as shown), keyed by the form's action."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[tuple[set[str], list[tuple[str, str]]]] = []
        self._fields: list[tuple[str, str]] | None = None
        self._textarea: str | None = None
        self._text = ""
        self._select: str | None = None
        self._select_first: str | None = None
        self._select_chosen = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and (attrs.get("method") or "").lower() == "post":
            self._fields = []
            self._actions = {(attrs.get("action") or "").split("?")[0]}
            self.forms.append((self._actions, self._fields))
        if self._fields is None:
            return
        if tag == "button" and attrs.get("formaction"):
            self._actions.add(attrs["formaction"].split("?")[0])  # a button that sends the form elsewhere
        name = attrs.get("name")
        if tag == "input" and name:
            kind = (attrs.get("type") or "text").lower()
            if kind in {"submit", "button", "file", "image", "reset"}:
                return
            if kind in {"checkbox", "radio"} and "checked" not in attrs:
                return
            self._fields.append((name, attrs.get("value") or ("on" if kind in {"checkbox", "radio"} else "")))
        elif tag == "textarea" and name:
            self._textarea, self._text = name, ""
        elif tag == "select" and name:
            self._select, self._select_first, self._select_chosen = name, None, False
        elif tag == "option" and self._select:
            value = attrs.get("value", "")
            if self._select_first is None:
                self._select_first = value
            if "selected" in attrs:
                self._fields.append((self._select, value))
                self._select_chosen = True

    def handle_data(self, data):
        if self._textarea is not None:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "textarea" and self._textarea is not None and self._fields is not None:
            self._fields.append((self._textarea, self._text.removeprefix("\n")))
            self._textarea = None
        elif tag == "select" and self._select is not None and self._fields is not None:
            if not self._select_chosen and self._select_first is not None:
                self._fields.append((self._select, self._select_first))
            self._select = None
        elif tag == "form":
            self._fields = None


def form_fields(page: str, action: str, path: str) -> dict[str, list[str]]:
    """What the browser would send from the form on ``page`` (at ``path``) that posts to ``action``; a form without
    an action posts to the page's own address."""
    reader = _FormReader()
    reader.feed(page)
    for actions, fields in reader.forms:
        if action in {each or path.split("?")[0] for each in actions}:
            data: dict[str, list[str]] = {}
            for name, value in fields:
                data.setdefault(name, []).append(value)
            return data
    raise AssertionError(f"no form posting to {action}; forms: {[actions for actions, _ in reader.forms]}")


def _text(response) -> str:
    return unescape(response.get_data(as_text=True))


# ---- The table of forms ---------------------------------------------------------------------------------------------


@dataclass
class Form:
    """One form that edits a versioned record.

    ``setup(app)`` makes the records and returns a context: ``users`` (the two people, or one person twice: two
    tabs), and whatever the paths and ``saved`` need. ``page`` and ``action`` are the form's page and where it posts
    (the page itself when None). ``first`` and ``second`` are what each session changes; ``typed`` is text of the
    second's that the refused page must show again. ``saved(ctx)`` reads the value the first save wrote, expected to
    be ``expected`` afterwards. ``first_page``/``first_action``/``first`` may name another form of the same record
    (a change that leaves the record editable, so it is the version that refuses the second, not the state).
    """

    id: str
    setup: Callable[[object], dict]
    page: Callable[[dict], str]
    second: dict
    typed: str
    saved: Callable[[dict], object]
    expected: object
    first: dict = field(default_factory=dict)
    action: Callable[[dict], str] | None = None
    first_page: Callable[[dict], str] | None = None
    first_action: Callable[[dict], str] | None = None
    first_status: int = 302
    htmx: bool = False
    # The routes' clock, from the context (None: the real one).
    now: Callable[[dict], datetime] | None = None


def _get(model, ident, attribute: str):
    found = db.session.get(model, ident)
    db.session.refresh(found)
    return getattr(found, attribute)


# ---- Set-ups --------------------------------------------------------------------------------------------------------


def _application_setup(app) -> dict:
    """A provider user with a draft application for lot 1, which has a question."""
    lot = LotFactory(number=1, title="Full Time Education Provision")
    question = LotQuestionFactory(lot_id=lot.id, text="How do you keep children safe?")
    user = make_user("provider")
    application = applications.start_application(user.provider)
    applications.save_lots(application, application.version, [str(lot.id)], complete=False)
    return {
        "users": (user, user),
        "provider_id": user.provider_id,
        "application_id": application.id,
        "question": question.id,
    }


def _application_with_site_setup(app) -> dict:
    ctx = _application_setup(app)
    application = db.session.get(Application, ctx["application_id"])
    site = applications.add_site(
        application, application.version, applications.SiteDetails("Main site", "1 High Street", "UB8 1UW")
    )
    return {**ctx, "site_id": site.id}


def _draft_referral_setup(app) -> dict:
    lot = make_lot(1, "Full Time Education Provision")
    officer = make_user("officer")
    referral = make_referral(officer, lot)
    return {"users": (officer, officer), "referral_id": referral.id, "child_id": referral.child_id}


def _placement_setup(app) -> dict:
    awarded = awarded_referral()
    placement = make_placement(awarded)
    return {"users": (awarded.officer, awarded.officer), "placement_id": placement.id}


def _draft_sla_setup(app) -> dict:
    lot = make_lot(1)
    provider = make_provider("SLA provider")
    admit(provider, lot, sla=False)
    sla = make_sla(provider, [lot], status=SlaStatus.DRAFT)
    managers = (make_user("manager", name="Morgan Manager"), make_user("manager", name="Max Manager"))
    return {"users": managers, "sla_id": sla.id, "provider_id": provider.id, "lot_id": lot.id}


def _sla_terms_setup(app) -> dict:
    """Terms no SLA uses yet, so they can still be changed."""
    managers = (make_user("manager", name="Morgan Manager"), make_user("manager", name="Max Manager"))
    return {"users": managers, "template_id": make_template().id}


def _sent_sla_setup(app) -> dict:
    lot = make_lot(1)
    provider = make_provider("SLA provider")
    admit(provider, lot, sla=False)
    sla = make_sla(provider, [lot], status=SlaStatus.SENT)
    user = make_user("provider", provider=provider)
    return {"users": (user, user), "sla_id": sla.id}


def _account_setup(app) -> dict:
    user = make_user("officer", email="olive@council.example")
    return {"users": (user, user), "user_id": user.id}


def _manager_user_setup(app) -> dict:
    managers = (make_user("manager", name="Morgan Manager"), make_user("manager", name="Max Manager"))
    officer = make_user("officer", email="olive@council.example", name="Olive Officer")
    return {"users": managers, "user_id": officer.id}


def _published_referral_setup(app) -> dict:
    call = published_call_off(providers=1)
    return {"users": (call.officer, call.officer), "referral_id": call.referral.id}


def _offer_setup(app) -> dict:
    """A published referral with one offer; the provider's user revises it in two tabs."""
    call = published_call_off(providers=1)
    offer = make_offer(call.referral, call.providers[0], call.provider_users[0])
    user = call.provider_users[0]
    return {"users": (user, user), "referral_id": call.referral.id, "offer_id": offer.id}


def _scoring_setup(app) -> dict:
    """A referral past its deadline with one offer, scored by two officers of the service."""
    call = published_call_off(providers=1)
    offer = make_offer(call.referral, call.providers[0], call.provider_users[0])
    colleague = make_user("officer", service=call.officer.service, name="Casey Colleague")
    criteria = [criterion.key for criterion in scoring.criteria(call.referral)]
    return {
        "users": (call.officer, colleague),
        "referral_id": call.referral.id,
        "offer_id": offer.id,
        "deadline": call.referral.deadline,
        "criteria": criteria,
    }


def _scores(value: str, comment: str):
    def fields(ctx):
        data = {}
        for key in ctx["criteria"]:
            data[field_name("score", key)] = value
            data[field_name("comment", key)] = comment
        return data

    return fields


def _accepted_sla_setup(app) -> dict:
    lot = make_lot(1)
    provider = make_provider("SLA provider")
    admit(provider, lot, sla=False)
    sla = make_sla(provider, [lot], status=SlaStatus.ACCEPTED)
    managers = (make_user("manager", name="Morgan Manager"), make_user("manager", name="Max Manager"))
    return {"users": managers, "sla_id": sla.id}


def _submitted_application_setup(app) -> dict:
    lot = make_lot(1)
    provider = make_provider("Applying provider")
    application = make_submitted_application(provider=provider, lots=[lot])
    managers = (make_user("manager", name="Morgan Manager"), make_user("manager", name="Max Manager"))
    return {"users": managers, "application_id": application.id, "lot_id": lot.id}


def _lot_notes(ctx) -> str:
    return db.session.scalar(
        sa.select(ApplicationLot.notes).where(
            ApplicationLot.application_id == ctx["application_id"], ApplicationLot.lot_id == ctx["lot_id"]
        )
    )


def _inactive_user_setup(app) -> dict:
    managers = (make_user("manager", name="Morgan Manager"), make_user("manager", name="Max Manager"))
    officer = make_user("officer", email="olive@council.example", name="Olive Officer", active=False)
    return {"users": managers, "user_id": officer.id}


FORMS = [
    # ---- The provider's application (sections a to e edit the provider profile and the application) ----
    Form(
        "application organisation",
        _application_setup,
        page=lambda ctx: "/provider/application/organisation",
        first={"legal_name": "First Tab Ltd", "action": "later"},
        second={"legal_name": "Second Tab Ltd", "action": "later"},
        typed="Second Tab Ltd",
        saved=lambda ctx: _get(Provider, ctx["provider_id"], "legal_name"),
        expected="First Tab Ltd",
    ),
    Form(
        "application safeguarding lead",
        _application_setup,
        page=lambda ctx: "/provider/application/safeguarding-lead",
        first={"dsl_name": "Dana First", "action": "later"},
        second={"dsl_name": "Dana Second", "action": "later"},
        typed="Dana Second",
        saved=lambda ctx: _get(Provider, ctx["provider_id"], "dsl_name"),
        expected="Dana First",
    ),
    Form(
        "application offer",
        _application_setup,
        page=lambda ctx: "/provider/application/offer",
        first={"summary": "Small groups, first tab", "action": "later"},
        second={"summary": "Outdoor learning, second tab", "action": "later"},
        typed="Outdoor learning, second tab",
        saved=lambda ctx: _get(Provider, ctx["provider_id"], "summary"),
        expected="Small groups, first tab",
    ),
    Form(
        "application sites",
        _application_setup,
        page=lambda ctx: "/provider/application/sites",
        first={"name": "First site", "address": "1 High Street", "postcode": "UB8 1UW"},
        second={"name": "Second site", "address": "2 Low Road", "postcode": "UB8 1UW"},
        typed="Second site",
        saved=lambda ctx: [site.name for site in _get(Provider, ctx["provider_id"], "sites")],
        expected=["First site"],
    ),
    Form(
        "application questions",
        _application_setup,
        page=lambda ctx: "/provider/application/questions",
        first={"answer-{question}": "Answered in the first tab", "action": "later"},
        second={"answer-{question}": "Answered in the second tab", "action": "later"},
        typed="Answered in the second tab",
        saved=lambda ctx: [answer.answer for answer in _get(Application, ctx["application_id"], "answers")],
        expected=["Answered in the first tab"],
    ),
    Form(
        "application site removal",
        _application_with_site_setup,
        first_page=lambda ctx: "/provider/application/sites",
        first={"name": "Second site", "address": "2 Low Road", "postcode": "UB8 1UW"},
        page=lambda ctx: "/provider/application/sites",
        action=lambda ctx: f"/provider/application/sites/{ctx['site_id']}/remove",
        second={},
        typed="Second site",  # the sites as they are now
        saved=lambda ctx: [site.name for site in _get(Provider, ctx["provider_id"], "sites")],
        expected=["Main site", "Second site"],
    ),
    Form(
        "application submit",
        _application_setup,
        first_page=lambda ctx: "/provider/application/organisation",
        first={"legal_name": "First Tab Ltd", "action": "later"},
        page=lambda ctx: "/provider/application/check",
        action=lambda ctx: "/provider/application/submit",
        second={},
        typed="First Tab Ltd",  # the answers as they are now
        saved=lambda ctx: _get(Application, ctx["application_id"], "status"),
        expected=ApplicationStatus.DRAFT,
    ),
    # ---- The officer's draft referral (the child is a record of its own) ----
    Form(
        "referral child",
        _draft_referral_setup,
        page=lambda ctx: f"/officer/referrals/{ctx['referral_id']}/draft/child",
        first={"home_school": "First Tab Academy"},
        second={"home_school": "Second Tab Academy"},
        typed="Second Tab Academy",
        saved=lambda ctx: _get(Child, ctx["child_id"], "home_school"),
        expected="First Tab Academy",
    ),
    Form(
        "referral provision",
        _draft_referral_setup,
        page=lambda ctx: f"/officer/referrals/{ctx['referral_id']}/draft/provision",
        first={"sessions": "Mornings, first tab"},
        second={"sessions": "Afternoons, second tab"},
        typed="Afternoons, second tab",
        saved=lambda ctx: _get(Referral, ctx["referral_id"], "sessions"),
        expected="Mornings, first tab",
    ),
    Form(
        "referral aims",
        _draft_referral_setup,
        page=lambda ctx: f"/officer/referrals/{ctx['referral_id']}/draft/aims",
        first={"aims-0-description": "Aim typed in the first tab"},
        second={"aims-0-description": "Aim typed in the second tab"},
        typed="Aim typed in the second tab",
        saved=lambda ctx: _get(Referral, ctx["referral_id"], "aims")[0].description,
        expected="Aim typed in the first tab",
    ),
    Form(
        "referral publish",
        _draft_referral_setup,
        first_page=lambda ctx: f"/officer/referrals/{ctx['referral_id']}/draft/provision",
        first={"sessions": "Mornings, first tab"},
        page=lambda ctx: f"/officer/referrals/{ctx['referral_id']}/publish",
        second={"quality_weight": "65", "leaks_checked": "y", "deadline_reason": "Urgent, typed in the second tab"},
        typed="Urgent, typed in the second tab",
        saved=lambda ctx: (
            _get(Referral, ctx["referral_id"], "status"),
            _get(Referral, ctx["referral_id"], "sessions"),
        ),
        expected=(ReferralStatus.DRAFT, "Mornings, first tab"),
    ),
    Form(
        "referral profile",
        _draft_referral_setup,
        page=lambda ctx: f"/officer/referrals/{ctx['referral_id']}/draft/profile",
        first={"profile": "Enjoys practical work (first tab)"},
        second={"profile": "Enjoys music (second tab)"},
        typed="Enjoys music (second tab)",
        saved=lambda ctx: _get(Referral, ctx["referral_id"], "profile"),
        expected="Enjoys practical work (first tab)",
    ),
    # ---- Placements ----
    Form(
        "placement change",
        _placement_setup,
        page=lambda ctx: f"/placements/{ctx['placement_id']}/change",
        first={"sessions": "Mornings, first tab", "reason": "First tab's reason"},
        second={"sessions": "Afternoons, second tab", "reason": "Second tab's reason"},
        typed="Afternoons, second tab",
        saved=lambda ctx: _get(Placement, ctx["placement_id"], "sessions"),
        expected="Mornings, first tab",
        now=lambda ctx: PLACEMENT_NOW,
    ),
    # ---- SLAs ----
    Form(
        "sla draft edit",
        _draft_sla_setup,
        page=lambda ctx: f"/manager/slas/{ctx['sla_id']}/edit",
        first={"lot_{lot_id}_day": "111.00"},
        second={"lot_{lot_id}_day": "117.45"},
        typed="117.45",
        saved=lambda ctx: str(_get(Sla, ctx["sla_id"], "lots")[0].max_day_rate),
        expected="111.00",
    ),
    Form(
        "sla send",
        _draft_sla_setup,
        first_page=lambda ctx: f"/manager/slas/{ctx['sla_id']}/edit",
        first={"lot_{lot_id}_day": "111.00"},
        page=lambda ctx: f"/slas/{ctx['sla_id']}",
        action=lambda ctx: f"/manager/slas/{ctx['sla_id']}/send",
        second={},
        typed="111.00",  # the rate as it is now
        saved=lambda ctx: (_get(Sla, ctx["sla_id"], "status"), str(_get(Sla, ctx["sla_id"], "lots")[0].max_day_rate)),
        expected=(SlaStatus.DRAFT, "111.00"),
    ),
    Form(
        "sla terms",
        _sla_terms_setup,
        page=lambda ctx: f"/manager/sla-terms/{ctx['template_id']}",
        first={"body_1": "Text of the first manager"},
        second={"body_1": "Text of the second manager"},
        typed="Text of the second manager",
        saved=lambda ctx: _get(SlaTemplate, ctx["template_id"], "sections")[0].body,
        expected="Text of the first manager",
    ),
    Form(
        "placement end",
        _placement_setup,
        first_page=lambda ctx: f"/placements/{ctx['placement_id']}/change",
        first={"sessions": "Mornings, first tab", "reason": "First tab's reason"},
        page=lambda ctx: f"/placements/{ctx['placement_id']}/end",
        second={"ended_on": ["29", "1", "2027"], "destination": "employment", "reason": "Ended in the second tab"},
        typed="Ended in the second tab",
        saved=lambda ctx: (
            _get(Placement, ctx["placement_id"], "sessions"),
            _get(Placement, ctx["placement_id"], "ended_on"),
        ),
        expected=("Mornings, first tab", None),
        now=lambda ctx: PLACEMENT_NOW,
    ),
    Form(
        "placement review",
        _placement_setup,
        first_page=lambda ctx: f"/placements/{ctx['placement_id']}/change",
        first={"sessions": "Mornings, first tab", "reason": "First tab's reason"},
        page=lambda ctx: f"/placements/{ctx['placement_id']}/reviews/new",
        second={"next_steps": "Next steps typed in the second tab"},
        typed="Next steps typed in the second tab",
        saved=lambda ctx: _get(Placement, ctx["placement_id"], "sessions"),
        expected="Mornings, first tab",
        now=lambda ctx: PLACEMENT_NOW,
    ),
    # ---- Offers and scores ----
    Form(
        "offer revision",
        _offer_setup,
        page=lambda ctx: f"/provider/opportunities/{ctx['referral_id']}/offer",
        first={"sessions": "Mornings, first tab"},
        second={"sessions": "Afternoons, second tab"},
        typed="Afternoons, second tab",
        saved=lambda ctx: _get(Offer, ctx["offer_id"], "sessions"),
        expected="Mornings, first tab",
    ),
    Form(
        "offer scores",
        _scoring_setup,
        page=lambda ctx: f"/officer/referrals/{ctx['referral_id']}/offers/{ctx['offer_id']}",
        action=lambda ctx: f"/officer/referrals/{ctx['referral_id']}/offers/{ctx['offer_id']}/score",
        first=_scores("5", "Excellent, said the first"),
        second=_scores("2", "Weak plan, said the second"),
        typed="Weak plan, said the second",
        saved=lambda ctx: {
            score.comment for score in db.session.scalars(sa.select(Score).where(Score.offer_id == ctx["offer_id"]))
        },
        expected={"Excellent, said the first"},
        now=lambda ctx: ctx["deadline"] + timedelta(minutes=1),
    ),
    Form(
        "offer withdraw",
        _offer_setup,
        first_page=lambda ctx: f"/provider/opportunities/{ctx['referral_id']}/offer",
        first={"sessions": "Mornings, first tab"},
        page=lambda ctx: f"/provider/opportunities/{ctx['referral_id']}",
        action=lambda ctx: f"/provider/opportunities/{ctx['referral_id']}/offer/withdraw",
        second={},
        typed="Mornings, first tab",  # the offer as it is now
        saved=lambda ctx: (_get(Offer, ctx["offer_id"], "status"), _get(Offer, ctx["offer_id"], "sessions")),
        expected=(OfferStatus.SUBMITTED, "Mornings, first tab"),
    ),
    # ---- Referrals once published ----
    Form(
        "referral withdraw",
        _published_referral_setup,
        page=lambda ctx: f"/officer/referrals/{ctx['referral_id']}/withdraw",
        first={"reason": "The child returned to school (first tab)"},
        second={"reason": "The family moved away (second tab)"},
        typed="The family moved away (second tab)",
        saved=lambda ctx: _get(Referral, ctx["referral_id"], "status"),
        expected=ReferralStatus.WITHDRAWN,
    ),
    # ---- Applications: the manager's assessment ----
    Form(
        "application assessment",
        _submitted_application_setup,
        page=lambda ctx: f"/manager/applications/{ctx['application_id']}",
        action=lambda ctx: f"/manager/applications/{ctx['application_id']}/assessment",
        first={"notes_{lot_id}": "Checked the insurance (first manager)"},
        second={"notes_{lot_id}": "Checked the references (second manager)"},
        typed="Checked the references (second manager)",
        saved=_lot_notes,
        expected="Checked the insurance (first manager)",
    ),
    Form(
        "application decision",
        _submitted_application_setup,
        page=lambda ctx: f"/manager/applications/{ctx['application_id']}",
        first_action=lambda ctx: f"/manager/applications/{ctx['application_id']}/assessment",
        first={"notes_{lot_id}": "Checked the insurance (first manager)"},
        action=lambda ctx: f"/manager/applications/{ctx['application_id']}/decide",
        second={"outcome_{lot_id}": "pass", "notes_{lot_id}": "Checked the references (second manager)"},
        typed="Checked the references (second manager)",
        saved=lambda ctx: (_get(Application, ctx["application_id"], "status"), _lot_notes(ctx)),
        expected=(ApplicationStatus.SUBMITTED, "Checked the insurance (first manager)"),
    ),
    # ---- SLAs on their way ----
    Form(
        "sla accept",
        _sent_sla_setup,
        page=lambda ctx: f"/provider/slas/{ctx['sla_id']}/accept",
        first={"signatory_name": "Pat First", "signatory_role": "Director"},
        second={"signatory_name": "Sam Second", "signatory_role": "Head of centre"},
        typed="Sam Second",
        saved=lambda ctx: _get(Sla, ctx["sla_id"], "signatory_name"),
        expected="Pat First",
    ),
    Form(
        "sla provider return",
        _sent_sla_setup,
        page=lambda ctx: f"/provider/slas/{ctx['sla_id']}/accept",
        first_action=lambda ctx: f"/provider/slas/{ctx['sla_id']}/accept",
        first={"signatory_name": "Pat First", "signatory_role": "Director"},
        action=lambda ctx: f"/provider/slas/{ctx['sla_id']}/return",
        second={"comment": "Please lower the day rate (second tab)"},
        typed="Please lower the day rate (second tab)",
        saved=lambda ctx: _get(Sla, ctx["sla_id"], "status"),
        expected=SlaStatus.ACCEPTED,
    ),
    Form(
        "sla manager return",
        _accepted_sla_setup,
        page=lambda ctx: "/manager/slas?tab=awaiting-approval",
        first_action=lambda ctx: f"/manager/slas/{ctx['sla_id']}/approve",
        action=lambda ctx: f"/manager/slas/{ctx['sla_id']}/return",
        second={"comment": "The KPI targets are too low (second manager)"},
        typed="The KPI targets are too low (second manager)",
        saved=lambda ctx: _get(Sla, ctx["sla_id"], "status"),
        expected=SlaStatus.APPROVED,
    ),
    Form(
        "sla manager return, htmx",
        _accepted_sla_setup,
        page=lambda ctx: "/manager/slas?tab=awaiting-approval",
        first_action=lambda ctx: f"/manager/slas/{ctx['sla_id']}/approve",
        first_status=200,
        action=lambda ctx: f"/manager/slas/{ctx['sla_id']}/return",
        second={"comment": "The KPI targets are too low (second manager)"},
        typed="The KPI targets are too low (second manager)",
        saved=lambda ctx: _get(Sla, ctx["sla_id"], "status"),
        expected=SlaStatus.APPROVED,
        htmx=True,
    ),
    # ---- Accounts ----
    Form(
        "account email",
        _account_setup,
        page=lambda ctx: "/account/email",
        first={"email": "first.tab@council.example", "current_password": "correct horse battery staple"},
        second={"email": "second.tab@council.example", "current_password": "correct horse battery staple"},
        typed="second.tab@council.example",
        saved=lambda ctx: _get(User, ctx["user_id"], "email"),
        expected="first.tab@council.example",
    ),
    Form(
        "manager deactivates a user",
        _manager_user_setup,
        page=lambda ctx: f"/manager/users/{ctx['user_id']}",
        action=lambda ctx: f"/manager/users/{ctx['user_id']}/deactivate",
        first={"reason": "Left the council (first manager)"},
        second={"reason": "Moved team (second manager)"},
        typed="Moved team (second manager)",
        saved=lambda ctx: _get(User, ctx["user_id"], "active"),
        expected=False,
    ),
    Form(
        "manager reactivates a user",
        _inactive_user_setup,
        page=lambda ctx: f"/manager/users/{ctx['user_id']}",
        action=lambda ctx: f"/manager/users/{ctx['user_id']}/reactivate",
        second={},
        typed="Olive Officer",
        saved=lambda ctx: _get(User, ctx["user_id"], "active"),
        expected=True,
    ),
]


def _fill(fields: dict[str, list[str]], changes, ctx: dict) -> dict[str, list[str]]:
    data = dict(fields)
    for name, value in (changes(ctx) if callable(changes) else changes).items():
        data[name.format(**ctx)] = value if isinstance(value, list) else [value]
    return data


@pytest.mark.parametrize("form", FORMS, ids=[form.id for form in FORMS])
def test_a_save_drawn_before_another_is_refused_with_409_keeping_what_was_typed(app, form: Form, monkeypatch):
    with app.app_context():
        ctx = form.setup(app)
        users = [user.email for user in ctx["users"]]
        db.session.remove()
    if form.now is not None:
        moment = form.now(ctx)
        monkeypatch.setattr(clock, "now", lambda: moment)
    sessions = []
    for email in users:
        client = app.test_client()
        sign_in(client, email)
        sessions.append(client)
    first, second = sessions

    second_page = form.page(ctx)
    second_action = (form.action or form.page)(ctx)
    first_page = (form.first_page or form.page)(ctx)
    # Another form of the same record posts to its own page unless told otherwise.
    first_action = (form.first_action or (form.first_page if form.first_page else form.action) or form.page)(ctx)
    # Both load the form before either saves.
    first_fields = form_fields(_text(first.get(first_page)), first_action, first_page)
    second_fields = form_fields(_text(second.get(second_page)), second_action, second_page)
    assert "version" in second_fields, "the form carries no version"

    saved = first.post(first_action, data=_fill(first_fields, form.first, ctx), headers=HX if form.htmx else None)
    assert saved.status_code == form.first_status, _text(saved)[:3000]

    refused = second.post(second_action, data=_fill(second_fields, form.second, ctx), headers=HX if form.htmx else None)
    page = _text(refused)
    assert refused.status_code == 409, page[:3000]
    assert form.typed in page, "what the second session typed is not shown again"
    assert EXPLAINED.search(page), "no explanation of what changed meanwhile"
    with app.app_context():
        assert form.saved(ctx) == form.expected


def test_htmx_swaps_a_409_so_the_refused_fragment_is_shown(client):
    """htmx 2 leaves a 4xx answer unswapped unless its config says otherwise: the layout's config must swap a 409
    (the first rule whose code matches wins, as in htmx), and no other 4xx or 5xx."""
    page = _text(client.get("/accessibility"))
    config = json.loads(re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", page).group(1))

    def swaps(status: int) -> bool:
        rule = next(rule for rule in config["responseHandling"] if re.match(rule["code"], str(status)))
        return rule["swap"]

    assert swaps(200) and swaps(409)
    assert not any(swaps(status) for status in (204, 400, 403, 404, 422, 500))
