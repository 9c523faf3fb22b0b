"""The application service: starting one, saving each section (bad input refused, nothing saved), statuses derived
from the data, what stops a submission, submitting, read-only once submitted, and the optimistic lock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import (
    Application,
    ApplicationStatus,
    AuditEvent,
    DeliveryMode,
    LotOutcome,
    Need,
    Notification,
    OutboxMessage,
    Provider,
    Role,
)
from portal.models.base import utcnow
from portal.services import applications
from portal.services.applications import (
    ApplicationChanged,
    IncompleteApplication,
    NoLotsLeft,
    NotEditable,
    Offer,
    OrganisationDetails,
    SafeguardingLead,
    Section,
    SiteDetails,
    Status,
)
from portal.services.audit import Events
from portal.services.errors import FieldErrors, NotFound
from tests.factories import LotFactory, LotQuestionFactory, ProviderFactory, make_user
from tests.factories_dps import add_document, admit, complete_profile, require

pytestmark = pytest.mark.usefixtures("app_context")

GOOD_ORGANISATION = OrganisationDetails(
    legal_name="Acme Learning Ltd",
    company_number="01234567",
    address="1 High Street\nUxbridge",
    postcode="ub81uw",
    registered="no",
)


def _draft(provider=None):
    provider = provider or ProviderFactory()
    return applications.start_application(provider)


def _reload(application) -> Application:
    db.session.expire_all()
    return db.session.get(Application, application.id)


def _errors(call) -> dict[str, str]:
    with pytest.raises(FieldErrors) as caught:
        call()
    return caught.value.errors


# ---- Starting -------------------------------------------------------------------------------------------------------


def test_starting_makes_one_draft_and_starting_again_returns_it():
    LotFactory()
    provider = ProviderFactory()
    first = applications.start_application(provider)
    second = applications.start_application(provider)
    assert first.id == second.id and first.status is ApplicationStatus.DRAFT
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Application)) == 1


def test_a_provider_admitted_to_every_lot_cannot_start_one():
    lot = LotFactory()
    provider = ProviderFactory()
    admit(provider, lot)
    with pytest.raises(NoLotsLeft):
        applications.start_application(provider)


def test_a_new_application_after_a_decision_offers_only_the_lots_not_admitted_to():
    lot_1, lot_2 = LotFactory(), LotFactory()
    provider = ProviderFactory()
    old = applications.start_application(provider)
    old.status = ApplicationStatus.DECIDED
    db.session.commit()
    admit(provider, lot_1, application=old)
    new = applications.start_application(provider)
    assert new.id != old.id
    assert [lot.id for lot in applications.available_lots(provider.id)] == [lot_2.id]
    with pytest.raises(FieldErrors) as caught:
        applications.save_lots(new, new.version, [str(lot_1.id)], complete=True)
    assert caught.value.errors == {"lots": "Select lots from the list"}


def test_a_removed_admission_makes_the_lot_available_again():
    lot = LotFactory()
    provider = ProviderFactory()
    admission = admit(provider, lot)
    admission.removed_on = date(2026, 1, 5)
    db.session.commit()
    assert [l.id for l in applications.available_lots(provider.id)] == [lot.id]


# ---- Organisation details -------------------------------------------------------------------------------------------


def test_organisation_details_are_all_required_to_continue_and_nothing_is_saved():
    LotFactory()
    application = _draft()
    errors = _errors(lambda: applications.save_organisation(application, 1, OrganisationDetails(), complete=True))
    assert errors == {
        "legal_name": "Enter your organisation's legal name",
        "company_number": "Enter a company number or a charity number, or both",
        "address": "Enter your organisation's address",
        "postcode": "Enter your organisation's postcode",
        "registered": "Select yes if your organisation is registered with Ofsted as an independent school",
    }
    assert _reload(application).version == 1


def test_a_registered_provider_needs_its_ofsted_urn_and_grade():
    LotFactory()
    application = _draft()
    details = OrganisationDetails(**{**vars(GOOD_ORGANISATION), "registered": "yes"})
    errors = _errors(lambda: applications.save_organisation(application, 1, details, complete=True))
    assert set(errors) == {"ofsted_urn", "ofsted_grade"}
    details.ofsted_urn, details.ofsted_grade = "123456", "good"
    applications.save_organisation(application, 1, details, complete=True)
    provider = _reload(application).provider
    assert provider.registered is True and provider.ofsted_urn == "123456" and provider.ofsted_grade.value == "good"


def test_badly_formed_answers_are_refused_even_in_a_draft():
    LotFactory()
    application = _draft()
    details = OrganisationDetails(
        company_number="12",
        charity_number="charity!",
        postcode="not a postcode",
        ofsted_urn="12a",
        ofsted_grade="superb",
    )
    errors = _errors(lambda: applications.save_organisation(application, 1, details, complete=False))
    assert set(errors) == {"company_number", "charity_number", "postcode", "ofsted_urn", "ofsted_grade"}
    assert _reload(application).provider.company_number == ""


def test_a_draft_saves_what_was_typed_and_the_section_is_in_progress():
    LotFactory()
    application = _draft()
    assert applications.progress(application).statuses[Section.ORGANISATION] is Status.NOT_STARTED
    applications.save_organisation(application, 1, OrganisationDetails(legal_name="Acme"), complete=False)
    application = _reload(application)
    assert application.provider.legal_name == "Acme" and application.version == 2
    assert applications.progress(application).statuses[Section.ORGANISATION] is Status.IN_PROGRESS
    applications.save_organisation(application, 2, GOOD_ORGANISATION, complete=True)
    application = _reload(application)
    assert application.provider.postcode == "UB8 1UW"  # tidied
    assert applications.progress(application).statuses[Section.ORGANISATION] is Status.COMPLETED


def test_saying_not_registered_clears_the_ofsted_details():
    LotFactory()
    application = _draft()
    details = OrganisationDetails(**{**vars(GOOD_ORGANISATION), "ofsted_urn": "123456", "ofsted_grade": "good"})
    applications.save_organisation(application, 1, details, complete=True)
    provider = _reload(application).provider
    assert provider.registered is False and provider.ofsted_urn == "" and provider.ofsted_grade is None


# ---- Safeguarding lead and offer ------------------------------------------------------------------------------------


def test_the_safeguarding_lead_needs_every_answer_and_a_real_email_and_phone():
    LotFactory()
    application = _draft()
    errors = _errors(lambda: applications.save_safeguarding_lead(application, 1, SafeguardingLead(), complete=True))
    assert set(errors) == {"dsl_name", "dsl_role", "dsl_phone", "dsl_email"}
    bad = SafeguardingLead("Dana", "Head", "call me", "dana at example")
    errors = _errors(lambda: applications.save_safeguarding_lead(application, 1, bad, complete=False))
    assert errors == {
        "dsl_phone": "Enter a telephone number, like 01895 250111 or +44 7700 900982",
        "dsl_email": "Enter an email address in the correct format, like name@example.org",
    }
    good = SafeguardingLead("Dana", "Head", "+44 1895 250111", "Dana@Example.org")
    applications.save_safeguarding_lead(application, 1, good, complete=True)
    application = _reload(application)
    assert application.provider.dsl_email == "dana@example.org"
    assert applications.progress(application).statuses[Section.SAFEGUARDING_LEAD] is Status.COMPLETED


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"age_from": "3"}, "age_from", "The youngest age must be between 4 and 25"),
        ({"age_to": "26"}, "age_to", "The oldest age must be between 4 and 25"),
        ({"age_from": "eleven"}, "age_from", "Enter the youngest age as a whole number, like 11"),
        (
            {"age_from": "16", "age_to": "11"},
            "age_to",
            "The oldest age must be the same as or more than the youngest age",
        ),
        ({"capacity": "0"}, "capacity", "Enter how many children you can take at once as a whole number, like 12"),
        ({"capacity": "-3"}, "capacity", "Enter how many children you can take at once as a whole number, like 12"),
        ({"needs": ["telepathy"]}, "needs", "Select needs from the list"),
        ({"summary": "x" * 5001}, "summary", "Your summary must be 5,000 characters or fewer"),
    ],
)
def test_the_offer_refuses_bad_answers(change, field, message):
    LotFactory()
    application = _draft()
    offer = Offer(
        summary="We teach",
        needs=["semh"],
        age_from="11",
        age_to="16",
        areas=["north"],
        capacity="10",
        delivery_modes=["online"],
    )
    for name, value in change.items():
        setattr(offer, name, value)
    errors = _errors(lambda: applications.save_offer(application, 1, offer, complete=True))
    assert errors[field] == message
    assert _reload(application).provider.summary == ""


def test_on_site_delivery_needs_a_site():
    LotFactory()
    application = _draft()
    offer = Offer(
        summary="We teach",
        needs=["semh", "autism"],
        age_from="11",
        age_to="16",
        areas=["north"],
        capacity="10",
        delivery_modes=["on-site"],
    )
    errors = _errors(lambda: applications.save_offer(application, 1, offer, complete=True))
    assert errors == {"sites": "Add at least one site, because you deliver provision on site"}
    applications.save_offer(application, 1, offer, complete=False)  # a draft keeps it
    application = _reload(application)
    assert applications.progress(application).statuses[Section.OFFER] is Status.IN_PROGRESS
    site_errors = _errors(lambda: applications.add_site(application, 2, SiteDetails("", "", "nowhere")))
    assert set(site_errors) == {"name", "address", "postcode"}
    applications.add_site(application, 2, SiteDetails("Main", "1 High St", "UB8 1UW"))
    application = _reload(application)
    provider = application.provider
    assert provider.need_codes == {Need.SEMH, Need.AUTISM} and provider.delivery_mode_codes == {DeliveryMode.ON_SITE}
    assert applications.progress(application).statuses[Section.OFFER] is Status.COMPLETED


def test_a_provider_can_remove_only_its_own_sites():
    LotFactory()
    mine, theirs = _draft(), _draft()
    applications.add_site(theirs, 1, SiteDetails("Theirs", "2 Low St", "UB8 2AA"))
    their_site = _reload(theirs).provider.sites[0]
    with pytest.raises(NotFound):
        applications.remove_site(mine, 1, their_site.id)
    assert len(_reload(theirs).provider.sites) == 1


# ---- Lots, questions and documents ----------------------------------------------------------------------------------


def test_questions_and_documents_cannot_start_until_lots_are_chosen():
    LotFactory()
    application = _draft()
    statuses = applications.progress(application).statuses
    assert statuses[Section.LOTS] is Status.NOT_STARTED
    assert statuses[Section.QUESTIONS] is Status.CANNOT_START and statuses[Section.DOCUMENTS] is Status.CANNOT_START
    errors = _errors(lambda: applications.save_lots(application, 1, [], complete=True))
    assert errors == {"lots": "Select the lots you are applying for"}


def test_questions_are_the_chosen_lots_current_ones_each_required_and_at_most_5000_characters():
    lot, other = LotFactory(), LotFactory()
    first = LotQuestionFactory(lot_id=lot.id, position=2, text="Second question")
    second = LotQuestionFactory(lot_id=lot.id, position=1, text="First question")
    LotQuestionFactory(lot_id=lot.id, position=0, text="Retired question", retired_at=utcnow())
    LotQuestionFactory(lot_id=other.id, text="A question for a lot not chosen")
    application = _draft()
    applications.save_lots(application, 1, [str(lot.id)], complete=True)
    application = _reload(application)
    [(chosen, questions)] = applications.questions_for(application)
    assert chosen.id == lot.id and [q.text for q in questions] == ["First question", "Second question"]
    assert applications.progress(application).statuses[Section.QUESTIONS] is Status.NOT_STARTED

    errors = _errors(
        lambda: applications.save_answers(application, 2, {first.id: "x" * 5001, second.id: "  "}, complete=True)
    )
    assert errors == {
        f"answer-{second.id}": "Answer this question",
        f"answer-{first.id}": "Your answer must be 5,000 characters or fewer",
    }
    applications.save_answers(application, 2, {second.id: "We will."}, complete=False)
    application = _reload(application)
    assert applications.progress(application).statuses[Section.QUESTIONS] is Status.IN_PROGRESS
    applications.save_answers(application, 3, {second.id: "We will.", first.id: "x" * 5000}, complete=True)
    assert applications.progress(_reload(application)).statuses[Section.QUESTIONS] is Status.COMPLETED


def test_documents_are_complete_when_every_required_type_has_a_current_unexpired_document():
    lot = LotFactory()
    require(lot, "public-liability", "safeguarding-policy")
    provider = ProviderFactory()
    application = _draft(provider)
    applications.save_lots(application, 1, [lot.id], complete=True)
    today = date(2026, 12, 1)

    def documents_status():
        return applications.progress(_reload(application), today).statuses[Section.DOCUMENTS]

    assert documents_status() is Status.NOT_STARTED
    add_document(provider, "public-liability", expires_on=today - timedelta(days=1))
    assert documents_status() is Status.NOT_STARTED  # expired counts as missing
    problems = applications.progress(_reload(application), today).problems
    assert [p.message for p in problems if p.section is Section.DOCUMENTS] == [
        "Public liability insurance has expired",
        "Safeguarding policy is missing",
    ]
    add_document(provider, "public-liability", expires_on=today)  # expires today: still valid today
    assert documents_status() is Status.IN_PROGRESS
    add_document(provider, "safeguarding-policy", expires_on=today + timedelta(days=365))
    assert documents_status() is Status.COMPLETED
    # The newest document is the current one: an expired upload after a valid one makes the type expired.
    add_document(provider, "safeguarding-policy", expires_on=today - timedelta(days=3))
    assert documents_status() is Status.IN_PROGRESS


# ---- Submitting -----------------------------------------------------------------------------------------------------


def _complete_application(with_documents=True):
    lot = LotFactory(title="Full Time Education Provision")
    question = LotQuestionFactory(lot_id=lot.id, text="How do you keep children safe?")
    require(lot, "public-liability")
    provider = complete_profile(ProviderFactory(name="Acme Learning"))
    user = make_user(Role.PROVIDER, provider=provider, email="first@acme.example")
    colleague = make_user(Role.PROVIDER, provider=provider, email="second@acme.example", manages_colleagues=False)
    application = applications.start_application(provider)
    applications.save_lots(application, application.version, [lot.id], complete=True)
    applications.save_answers(application, application.version, {question.id: "Like this."}, complete=True)
    if with_documents:
        add_document(provider, "public-liability", expires_on=date(2030, 1, 1))
    return _reload(application), user, colleague, lot


def test_submitting_is_refused_until_every_section_is_complete():
    application, user, _, _ = _complete_application(with_documents=False)
    with pytest.raises(IncompleteApplication) as caught:
        applications.submit(application, application.version, by=user)
    assert [(p.section, p.message) for p in caught.value.problems] == [
        (Section.DOCUMENTS, "Public liability insurance is missing")
    ]
    assert _reload(application).status is ApplicationStatus.DRAFT


def test_submitting_sends_it_to_the_council_in_one_transaction():
    application, user, colleague, lot = _complete_application()
    manager = make_user(Role.MANAGER, email="manager@council.example")
    make_user(Role.MANAGER, email="gone@council.example", active=False)
    # Friday 18 December 2026, 5pm in London: 10 working days skip Christmas Day, Boxing Day (Monday 28th, in lieu)
    # and New Year's Day.
    now = datetime(2026, 12, 18, 17, 0, tzinfo=UTC)
    applications.submit(application, application.version, by=user, ip="192.0.2.1", now=now)

    application = _reload(application)
    assert application.status is ApplicationStatus.SUBMITTED
    assert application.submitted_at == now
    assert application.decision_due_on == date(2027, 1, 6)
    assert [row.outcome for row in application.lots] == [LotOutcome.PENDING]
    [event] = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.event == Events.APPLICATION_SUBMITTED)).all()
    assert event.actor_id == user.id and event.subject_id == application.id
    assert event.details["decision_due_on"] == "2027-01-06"
    recipients = sorted(db.session.scalars(sa.select(OutboxMessage.to_address)).all())
    assert recipients == sorted([user.email, colleague.email, manager.email])
    manager_note = db.session.scalar(sa.select(Notification).where(Notification.user_id == manager.id))
    assert manager_note.subject == "New application from Acme Learning" and "6 January 2027" in manager_note.body


def test_the_submission_date_is_the_london_date():
    application, user, _, _ = _complete_application()
    # 23:30 UTC on Sunday 28 June 2026 is 00:30 on Monday 29 June in London (BST).
    applications.submit(application, application.version, by=user, now=datetime(2026, 6, 28, 23, 30, tzinfo=UTC))
    assert _reload(application).decision_due_on == date(2026, 7, 13)  # 10 working days after Monday 29 June


def test_only_the_chosen_lots_answers_are_submitted():
    application, user, _, lot = _complete_application()
    other = LotFactory()
    stale = LotQuestionFactory(lot_id=other.id)
    applications.save_lots(application, application.version, [lot.id, other.id], complete=True)
    application = _reload(application)
    applications.save_answers(application, application.version, {stale.id: "kept while a draft"}, complete=False)
    application = _reload(application)
    applications.save_lots(application, application.version, [lot.id], complete=True)
    application = _reload(application)
    assert stale.id in {a.question_id for a in application.answers}  # a draft keeps it, in case the lot comes back
    applications.submit(application, application.version, by=user)
    assert stale.id not in {a.question_id for a in _reload(application).answers}


def test_a_submitted_application_is_read_only():
    application, user, _, lot = _complete_application()
    applications.submit(application, application.version, by=user)
    application = _reload(application)
    for call in (
        lambda: applications.save_organisation(application, application.version, GOOD_ORGANISATION, complete=True),
        lambda: applications.save_lots(application, application.version, [lot.id], complete=True),
        lambda: applications.add_site(application, application.version, SiteDetails("A", "B", "UB8 1UW")),
        lambda: applications.submit(application, application.version, by=user),
    ):
        with pytest.raises(NotEditable):
            call()
    # A provider with an open (submitted) application gets it back rather than a second one.
    assert applications.start_application(application.provider).id == application.id


# ---- Optimistic locking ---------------------------------------------------------------------------------------------


def test_a_save_from_a_page_drawn_before_another_change_is_refused():
    LotFactory()
    application = _draft()
    applications.save_organisation(application, 1, OrganisationDetails(legal_name="From tab one"), complete=False)
    with pytest.raises(ApplicationChanged) as caught:
        applications.save_organisation(application, 1, OrganisationDetails(legal_name="From tab two"), complete=False)
    assert caught.value.message.startswith("Someone else changed this application (last changed ")
    assert _reload(application).provider.legal_name == "From tab one"


def test_a_change_committed_between_reading_and_writing_is_caught_by_the_version_column():
    lot = LotFactory()
    application = _draft()
    application = _reload(application)
    assert application.version == 1
    # Someone else saves the application after this request read it (another connection, committed).
    with db.engine.begin() as connection:
        connection.execute(
            sa.update(Application).where(Application.id == application.id).values(version=Application.version + 1)
        )
    with pytest.raises(ApplicationChanged):
        applications.save_lots(application, 1, [lot.id], complete=True)
    assert _reload(application).lots == []  # nothing of the stale save was kept


def test_a_missing_or_garbled_version_is_treated_as_stale():
    LotFactory()
    application = _draft()
    for version in (None, "", "abc"):
        with pytest.raises(ApplicationChanged):
            applications.save_organisation(application, version, GOOD_ORGANISATION, complete=True)


# ---- Home page state ------------------------------------------------------------------------------------------------


def test_the_provider_state_shows_admissions_rejections_and_document_warnings():
    lot_1, lot_2 = LotFactory(), LotFactory()
    require(lot_1, "public-liability")
    provider = ProviderFactory()
    application = applications.start_application(provider)
    applications.save_lots(application, 1, [lot_1.id, lot_2.id], complete=True)
    application = _reload(application)
    application.status = ApplicationStatus.DECIDED
    application.lots[0].outcome = LotOutcome.PASS
    application.lots[1].outcome = LotOutcome.FAIL
    application.lots[1].notes = "No evidence of enhanced DBS checks"
    db.session.commit()
    admit(provider, lot_1, application=application)

    state = applications.provider_state(db.session.get(Provider, provider.id), date(2026, 12, 1))
    assert state.open_application is None and state.decided.id == application.id
    assert [(r.lot.id, r.reason) for r in state.rejected] == [(lot_2.id, "No evidence of enhanced DBS checks")]
    [standing] = state.standings
    assert standing.admitted and not standing.compliant and standing.missing_documents == ["Public liability insurance"]
    assert [row.document_type.code for row in state.document_warnings] == ["public-liability"]
    assert state.can_apply  # lot 2 is still open to it
