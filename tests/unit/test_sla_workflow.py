"""The SLA workflow service: every allowed transition by the right person, every forbidden one (refused by the table,
or by who is asking), editing drafts only, checksums, variations that leave the old version as it was, termination,
notifications and the audit trail."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import AuditEvent, KpiKind, Notification, OutboxMessage, Role, SlaComment, SlaStatus
from portal.services import sla_workflow, slas
from portal.services.audit import Events
from portal.services.errors import Conflict, DomainError, FieldErrors, IllegalTransition, NotAllowed, NotFound
from portal.services.sla_workflow import kpi_field, rate_field
from tests.factories import ProviderFactory, make_lots, make_user
from tests.factories_slas import make_sla, make_template

NOW = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)
TODAY = date(2026, 6, 15)


@pytest.fixture
def world(app_context):
    make_template()
    lots = make_lots(2)
    provider = ProviderFactory(name="Bright Futures")
    other = ProviderFactory(name="Elsewhere Learning")
    return {
        "lots": lots,
        "provider": provider,
        "user": make_user(Role.PROVIDER, provider=provider, name="Pat Provider"),
        "colleague": make_user(Role.PROVIDER, provider=provider, name="Sam Colleague"),
        "outsider": make_user(Role.PROVIDER, provider=other),
        "manager": make_user(Role.MANAGER, name="Morgan Manager"),
        "officer": make_user(Role.OFFICER),
    }


def _fresh(status: SlaStatus, lots):
    """An SLA in the state for a provider of its own, and that provider's user."""
    provider = ProviderFactory()
    return make_sla(provider, lots, status=status), make_user(Role.PROVIDER, provider=provider)


def _rates(sla, day="", session="", hour=""):
    return {lot.lot_id: (day, session, hour) for lot in sla.lots}


def _targets(value="90"):
    return dict.fromkeys(KpiKind, value)


def _outbox_to(email: str) -> list[OutboxMessage]:
    return list(db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.to_address == email)))


def _events(event: str) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.event == event)))


# ---- Editing a draft ------------------------------------------------------------------------------------------------


def test_the_manager_saves_a_drafts_rates_and_targets(world):
    sla = make_sla(world["provider"], world["lots"], status=SlaStatus.DRAFT, caps=(None, None, None))
    before = sla.version
    sla_workflow.update_draft(
        sla.id,
        world["manager"],
        rates=_rates(sla, "£1,200.5", "60", ""),
        kpi_targets=_targets("85.5"),
        version=before,
        now=NOW,
        ip="10.1.1.1",
    )
    db.session.commit()
    db.session.refresh(sla)
    assert [(x.max_day_rate, x.max_session_rate, x.max_hour_rate) for x in sla.lots] == [
        (Decimal("1200.50"), Decimal("60.00"), None)
    ] * 2
    assert {kpi.target for kpi in sla.kpis} == {Decimal("85.50")}
    assert sla.version == before + 1, "the SLA's version moves on when only its rates change"
    [event] = _events(Events.SLA_EDITED)
    assert event.actor_id == world["manager"].id and event.ip_address == "10.1.1.1"


@pytest.mark.parametrize(
    ("day", "message"),
    [
        ("-5", "must be more than £0"),
        ("0", "must be more than £0"),
        ("12.345", "no more than 2 decimal places"),
        ("twelve", "must be an amount in pounds, like 120 or 120.50"),
        ("NaN", "must be an amount in pounds"),
        ("99999999999", "must be £1,000,000.00 or less"),
        ("1e3", "must be an amount in pounds"),
    ],
)
def test_a_bad_rate_is_refused_next_to_its_field(world, day, message):
    sla = make_sla(world["provider"], world["lots"], status=SlaStatus.DRAFT)
    lot_id = world["lots"][0].id
    with pytest.raises(FieldErrors) as refused:
        sla_workflow.update_draft(
            sla.id,
            world["manager"],
            rates={lot_id: (day, "50", "20"), world["lots"][1].id: ("100", "50", "20")},
            kpi_targets=_targets(),
            version=sla.version,
            now=NOW,
        )
    assert message in refused.value.errors[rate_field(lot_id, "day")]
    assert list(refused.value.errors) == [rate_field(lot_id, "day")]


@pytest.mark.parametrize("target", ["101", "-1", "", "lots", "50.123"])
def test_a_bad_kpi_target_is_refused(world, target):
    sla = make_sla(world["provider"], world["lots"], status=SlaStatus.DRAFT)
    targets = _targets()
    targets[KpiKind.REPORTS_ON_TIME] = target
    with pytest.raises(FieldErrors) as refused:
        sla_workflow.update_draft(
            sla.id,
            world["manager"],
            rates=_rates(sla, "1", "1", "1"),
            kpi_targets=targets,
            version=sla.version,
            now=NOW,
        )
    assert list(refused.value.errors) == [kpi_field(KpiKind.REPORTS_ON_TIME)]


@pytest.mark.parametrize("status", [SlaStatus.SENT, SlaStatus.ACCEPTED, SlaStatus.APPROVED, SlaStatus.TERMINATED])
def test_only_a_draft_can_be_edited(world, status):
    sla = make_sla(world["provider"], world["lots"], status=status)
    stored = sla.checksum
    with pytest.raises(IllegalTransition) as refused:
        sla_workflow.update_draft(
            sla.id,
            world["manager"],
            rates=_rates(sla, "1", "1", "1"),
            kpi_targets=_targets(),
            version=sla.version,
            now=NOW,
        )
    assert "cannot be edited" in refused.value.message
    if status is SlaStatus.ACCEPTED:
        assert "only returned or approved and then varied" in refused.value.message
    if status is SlaStatus.APPROVED:
        assert "only varied" in refused.value.message
    db.session.rollback()
    db.session.refresh(sla)
    assert sla.checksum == stored and slas.checksum(sla) == stored


def test_only_the_manager_edits_a_draft(world):
    sla = make_sla(world["provider"], world["lots"], status=SlaStatus.DRAFT)
    for user in (world["user"], world["officer"]):
        with pytest.raises(NotAllowed):
            sla_workflow.update_draft(
                sla.id, user, rates=_rates(sla, "1", "1", "1"), kpi_targets=_targets(), version=sla.version, now=NOW
            )


def test_a_stale_version_saves_nothing(world):
    sla = make_sla(world["provider"], world["lots"], status=SlaStatus.DRAFT)
    with pytest.raises(Conflict):
        sla_workflow.update_draft(
            sla.id,
            world["manager"],
            rates=_rates(sla, "1", "1", "1"),
            kpi_targets=_targets(),
            version=sla.version - 1,
            now=NOW,
        )
    db.session.rollback()
    db.session.refresh(sla)
    assert sla.lots[0].max_day_rate == Decimal("500.00")


# ---- Sending, accepting, returning, approving --------------------------------------------------------------------


def test_sending_needs_every_rate_and_tells_the_providers_users(world):
    sla = make_sla(world["provider"], world["lots"], status=SlaStatus.DRAFT, caps=(Decimal("100"), None, Decimal("20")))
    with pytest.raises(FieldErrors) as refused:
        sla_workflow.send(sla.id, world["manager"], version=sla.version, now=NOW)
    assert set(refused.value.errors) == {rate_field(lot.id, "session") for lot in world["lots"]}
    assert "maximum session rate" in refused.value.message
    db.session.rollback()

    for sla_lot in sla.lots:
        sla_lot.max_session_rate = Decimal("50")
    db.session.commit()
    sla_workflow.send(sla.id, world["manager"], version=sla.version, now=NOW, ip="10.0.0.9")
    db.session.commit()
    db.session.refresh(sla)
    assert sla.status is SlaStatus.SENT and sla.sent_at == NOW and sla.sent_by_id == world["manager"].id
    assert sla.checksum == slas.checksum(sla) and len(sla.checksum) == 64
    for user in (world["user"], world["colleague"]):
        [message] = _outbox_to(user.email)
        assert "ready for you to accept" in message.subject and f"/slas/{sla.id}" in message.body
    assert _outbox_to(world["outsider"].email) == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 2
    assert len(_events(Events.SLA_SENT)) == 1


def test_the_providers_user_accepts_with_a_signatory(world):
    sla = make_sla(world["provider"], world["lots"], status=SlaStatus.SENT)
    with pytest.raises(FieldErrors) as refused:
        sla_workflow.accept(
            sla.id, world["user"], signatory_name=" ", signatory_role="x" * 201, version=sla.version, now=NOW
        )
    assert set(refused.value.errors) == {"signatory_name", "signatory_role"}
    db.session.rollback()
    sla_workflow.accept(
        sla.id,
        world["user"],
        signatory_name="Alex Director",
        signatory_role="Director",
        version=sla.version,
        now=NOW,
        ip="203.0.113.7",
    )
    db.session.commit()
    db.session.refresh(sla)
    assert sla.status is SlaStatus.ACCEPTED
    assert (sla.accepted_at, sla.accepted_by_id, sla.accepted_ip) == (NOW, world["user"].id, "203.0.113.7")
    assert (sla.signatory_name, sla.signatory_role) == ("Alex Director", "Director")
    [message] = _outbox_to(world["manager"].email)
    assert "waiting for your approval" in message.subject
    [event] = _events(Events.SLA_ACCEPTED)
    assert event.details["signatory_name"] == "Alex Director" and event.ip_address == "203.0.113.7"


def test_only_the_providers_own_users_accept(world):
    sla = make_sla(world["provider"], world["lots"], status=SlaStatus.SENT)
    for user in (world["outsider"], world["manager"], world["officer"]):
        with pytest.raises(NotAllowed):
            sla_workflow.accept(sla.id, user, signatory_name="A", signatory_role="B", version=sla.version, now=NOW)
    db.session.rollback()
    db.session.refresh(sla)
    assert sla.status is SlaStatus.SENT


def test_what_changed_after_sending_cannot_be_accepted(world):
    sla = make_sla(world["provider"], world["lots"], status=SlaStatus.SENT)
    sla.lots[0].max_day_rate = Decimal("999.00")
    db.session.commit()
    with pytest.raises(Conflict) as refused:
        sla_workflow.accept(sla.id, world["user"], signatory_name="A", signatory_role="B", version=sla.version, now=NOW)
    assert "not the same as when it was sent" in refused.value.message


def test_the_provider_returns_a_sent_sla_with_comments(world):
    sla = make_sla(world["provider"], world["lots"], status=SlaStatus.SENT)
    with pytest.raises(DomainError) as refused:
        sla_workflow.return_with_comments(sla.id, world["user"], comment="  ", version=sla.version, now=NOW)
    assert refused.value.field == "comment"
    db.session.rollback()
    sla_workflow.return_with_comments(
        sla.id, world["user"], comment="The hourly rate is too low.", version=sla.version, now=NOW
    )
    db.session.commit()
    db.session.refresh(sla)
    assert sla.status is SlaStatus.DRAFT and sla.checksum == ""
    [comment] = sla.comments
    assert (comment.comment, comment.returned_from, comment.by_id) == (
        "The hourly rate is too low.",
        SlaStatus.SENT,
        world["user"].id,
    )
    [message] = _outbox_to(world["manager"].email)
    assert "The hourly rate is too low." in message.body


def test_the_manager_returns_an_accepted_sla_and_the_acceptance_is_cleared(world):
    sla = make_sla(world["provider"], world["lots"], status=SlaStatus.ACCEPTED)
    sla_workflow.return_with_comments(sla.id, world["manager"], comment="Add lot 3.", version=sla.version, now=NOW)
    db.session.commit()
    db.session.refresh(sla)
    assert sla.status is SlaStatus.DRAFT
    assert (sla.accepted_at, sla.accepted_by_id, sla.signatory_name, sla.checksum) == (None, None, "", "")
    assert sla.comments[0].returned_from is SlaStatus.ACCEPTED
    assert [m.subject for m in _outbox_to(world["user"].email)] == [
        "Your SLA (version 1) has been returned with comments"
    ]


def test_the_return_loop_keeps_every_comment(world):
    sla = make_sla(world["provider"], world["lots"], status=SlaStatus.SENT)
    sla_workflow.return_with_comments(sla.id, world["user"], comment="First round", version=sla.version, now=NOW)
    sla_workflow.send(sla.id, world["manager"], version=sla.version, now=NOW)
    sla_workflow.accept(sla.id, world["user"], signatory_name="A", signatory_role="B", version=sla.version, now=NOW)
    sla_workflow.return_with_comments(sla.id, world["manager"], comment="Second round", version=sla.version, now=NOW)
    db.session.commit()
    comments = db.session.scalars(sa.select(SlaComment.comment).order_by(SlaComment.id)).all()
    assert comments == ["First round", "Second round"]


def test_only_a_manager_approves(world):
    sla = make_sla(world["provider"], world["lots"], status=SlaStatus.ACCEPTED)
    for user in (world["user"], world["officer"]):
        with pytest.raises(NotAllowed):
            sla_workflow.approve(sla.id, user, version=sla.version, now=NOW)
    sla_workflow.approve(sla.id, world["manager"], version=sla.version, now=NOW)
    db.session.commit()
    db.session.refresh(sla)
    assert sla.status is SlaStatus.APPROVED and sla.approved_at == NOW and sla.approved_by_id == world["manager"].id
    assert "has been approved" in _outbox_to(world["user"].email)[0].subject


# ---- Every transition --------------------------------------------------------------------------------------------


def _act(target: SlaStatus, sla, user):
    """The workflow function that moves an SLA to ``target``."""
    common = {"version": sla.version, "now": NOW}
    if target is SlaStatus.SENT:
        return sla_workflow.send(sla.id, user, **common)
    if target is SlaStatus.ACCEPTED:
        return sla_workflow.accept(sla.id, user, signatory_name="A Signer", signatory_role="Director", **common)
    if target is SlaStatus.DRAFT:
        return sla_workflow.return_with_comments(sla.id, user, comment="Please change it", **common)
    if target is SlaStatus.APPROVED:
        return sla_workflow.approve(sla.id, user, **common)
    if target is SlaStatus.TERMINATED:
        return sla_workflow.terminate(sla.id, user, terminated_on=TODAY, reason="Provider closed", **common)
    raise AssertionError(target)


def _right_user(role: Role, own_user, world):
    return own_user if role is Role.PROVIDER else world["manager"]


@pytest.mark.parametrize(("pair", "role"), list(slas.TRANSITIONS.items()), ids=lambda v: str(v))
def test_every_allowed_transition_by_the_right_person(world, pair, role):
    start, target = pair
    sla, own_user = _fresh(start, world["lots"])
    _act(target, sla, _right_user(role, own_user, world))
    db.session.commit()
    db.session.refresh(sla)
    assert sla.status is target


@pytest.mark.parametrize(("pair", "role"), list(slas.TRANSITIONS.items()), ids=lambda v: str(v))
def test_every_allowed_transition_refuses_everyone_else(world, pair, role):
    start, target = pair
    sla, own_user = _fresh(start, world["lots"])
    others = [world["officer"], world["outsider"]] + ([world["manager"]] if role is Role.PROVIDER else [own_user])
    for user in others:
        with pytest.raises(NotAllowed):
            _act(target, sla, user)
        db.session.rollback()
    db.session.refresh(sla)
    assert sla.status is start


FORBIDDEN = [
    (start, target)
    for start, target in itertools.product(SlaStatus, SlaStatus)
    if (start, target) not in slas.TRANSITIONS and target is not SlaStatus.SUPERSEDED
]


@pytest.mark.parametrize(("start", "target"), FORBIDDEN, ids=lambda v: v.name)
def test_every_forbidden_transition_is_refused_whoever_asks(world, start, target):
    assert len(FORBIDDEN) == 6 * 5 - len(slas.TRANSITIONS)
    sla, own_user = _fresh(start, world["lots"])
    for user in (world["manager"], own_user):
        with pytest.raises(IllegalTransition):
            _act(target, sla, user)
        db.session.rollback()
    db.session.refresh(sla)
    assert sla.status is start


@pytest.mark.parametrize("start", list(SlaStatus), ids=lambda v: v.name)
def test_nobody_supersedes_by_hand(world, start):
    sla, own_user = _fresh(start, world["lots"])
    for user in (world["manager"], own_user):
        with pytest.raises(IllegalTransition):
            slas.ensure_transition(sla, SlaStatus.SUPERSEDED, user)


# ---- Variation ---------------------------------------------------------------------------------------------------


def test_a_variation_goes_through_every_step_and_leaves_the_old_version_unchanged(world):
    old = make_sla(world["provider"], world["lots"][:1], status=SlaStatus.APPROVED)
    stored, text = old.checksum, slas.canonical(old)
    manager, user = world["manager"], world["user"]

    draft = sla_workflow.vary(old.id, manager, now=NOW)
    db.session.commit()
    assert (draft.number, draft.previous_id, draft.status) == (2, old.id, SlaStatus.DRAFT)
    with pytest.raises(IllegalTransition) as again:
        sla_workflow.vary(old.id, manager, now=NOW)
    assert again.value.sla_id == draft.id and "already being worked on" in again.value.message
    db.session.rollback()

    sla_workflow.update_draft(
        draft.id,
        manager,
        rates=_rates(draft, "650", "300", "110"),
        kpi_targets=_targets("92"),
        version=draft.version,
        now=NOW,
    )
    sla_workflow.send(draft.id, manager, version=draft.version, now=NOW)
    sla_workflow.accept(draft.id, user, signatory_name="A", signatory_role="B", version=draft.version, now=NOW)
    sla_workflow.approve(draft.id, manager, version=draft.version, now=NOW)
    db.session.commit()
    db.session.expire_all()

    assert old.status is SlaStatus.SUPERSEDED and old.superseded_at == NOW
    assert old.checksum == stored and slas.checksum(old) == stored and slas.canonical(old) == text
    assert old.lots[0].max_day_rate == Decimal("500.00")
    assert draft.status is SlaStatus.APPROVED and draft.lots[0].max_day_rate == Decimal("650.00")
    assert slas.approved(world["provider"].id).id == draft.id
    [event] = _events(Events.SLA_APPROVED)
    assert event.details["superseded_sla_id"] == old.id


@pytest.mark.parametrize("status", [SlaStatus.DRAFT, SlaStatus.SENT, SlaStatus.ACCEPTED, SlaStatus.TERMINATED])
def test_only_an_approved_sla_is_varied_and_only_by_the_manager(world, status):
    sla = make_sla(world["provider"], world["lots"], status=status)
    with pytest.raises(IllegalTransition):
        sla_workflow.vary(sla.id, world["manager"], now=NOW)
    with pytest.raises(NotAllowed):
        sla_workflow.vary(sla.id, world["user"], now=NOW)


# ---- Termination -------------------------------------------------------------------------------------------------


def test_termination_needs_a_date_in_the_term_and_a_reason(world):
    sla = make_sla(world["provider"], world["lots"], status=SlaStatus.APPROVED, starts_on=date(2025, 1, 6))
    end = slas.ends_on(sla)
    for day, reason, fields in [
        (None, "", {"terminated_on", "reason"}),
        (date(2025, 1, 5), "Closed", {"terminated_on"}),
        (end.replace(day=end.day + 1), "Closed", {"terminated_on"}),
    ]:
        with pytest.raises(FieldErrors) as refused:
            sla_workflow.terminate(
                sla.id, world["manager"], terminated_on=day, reason=reason, version=sla.version, now=NOW
            )
        assert set(refused.value.errors) == fields
        db.session.rollback()
    sla_workflow.terminate(
        sla.id, world["manager"], terminated_on=end, reason="Provider closed", version=sla.version, now=NOW
    )
    db.session.commit()
    db.session.refresh(sla)
    assert (
        sla.status is SlaStatus.TERMINATED and sla.terminated_on == end and sla.termination_reason == "Provider closed"
    )
    assert "terminated" in _outbox_to(world["user"].email)[0].subject
    assert len(_events(Events.SLA_TERMINATED)) == 1


# ---- Reading -----------------------------------------------------------------------------------------------------


def test_a_provider_sees_only_its_own_slas(world):
    sla = make_sla(world["provider"], world["lots"], status=SlaStatus.SENT)
    assert slas.visible_sla(sla.id, world["user"]).id == sla.id
    assert slas.visible_sla(sla.id, world["manager"]).id == sla.id
    for user in (world["outsider"], world["officer"]):
        with pytest.raises(NotFound):
            slas.visible_sla(sla.id, user)


def test_the_queue_tabs_and_the_expiring_flag(world):
    lots = world["lots"]
    accepted = make_sla(ProviderFactory(), lots, status=SlaStatus.ACCEPTED)
    draft = make_sla(ProviderFactory(), lots, status=SlaStatus.DRAFT)
    sent = make_sla(ProviderFactory(), lots, status=SlaStatus.SENT)
    approved = make_sla(ProviderFactory(), lots, status=SlaStatus.APPROVED)
    # The arrangement (PCR 2015) ends on 23 February 2029 at the latest: within 90 days of 1 December 2028.
    late = date(2028, 12, 1)
    assert [row.sla.id for row in sla_workflow.queue("awaiting-approval", 1, TODAY).items] == [accepted.id]
    assert [row.sla.id for row in sla_workflow.queue("drafts", 1, TODAY).items] == [draft.id]
    assert [row.sla.id for row in sla_workflow.queue("sent", 1, TODAY).items] == [sent.id]
    assert [row.sla.id for row in sla_workflow.queue("in-force", 1, TODAY).items] == [approved.id]
    assert sla_workflow.queue("all", 1, TODAY).total == 4
    assert sla_workflow.queue("expiring", 1, TODAY).total == 0 and sla_workflow.expiring_count(TODAY) == 0
    [row] = sla_workflow.queue("expiring", 1, late).items
    assert row.sla.id == approved.id and row.expiring and row.ends_on == date(2029, 2, 23)
    assert sla_workflow.expiring_count(late) == 1
    assert sla_workflow.expiring_count(date(2028, 11, 1)) == 0
