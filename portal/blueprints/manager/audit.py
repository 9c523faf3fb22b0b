"""The audit trail for the manager: every event, searched by person, record, event and date, newest first; the
hash chain checked on demand (``?verify=1``, it walks the whole table); the search's events as CSV."""

from __future__ import annotations

import re
from datetime import date

from flask import redirect, render_template, request, url_for
from flask_htmx import HTMX
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSelect, GovTextInput
from wtforms import SelectField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import Length, ValidationError

from portal import csv_export
from portal.access import roles
from portal.blueprints.manager import bp
from portal.blueprints.manager.applications import page_number
from portal.extensions import db, htmx
from portal.models import AuditEvent, Role
from portal.pagination import govuk_pagination
from portal.services import audit, audit_chain
from portal.services.audit import Events

PER_PAGE = 50
FILTERS = ("event", "actor", "record", "date_from", "date_to")
RESULTS_ID = "audit-results"
DATE_HINT = "For example, 27 3 2026"
_DATE_PARTS = re.compile(r"\s*[\s/.\-]\s*")


def parse_date(text: str) -> date:
    """A date typed as day month year ("27 3 2026", "27/03/2026") or year-month-day ("2026-03-27").
    Raises ValueError for anything that is not a real date."""
    parts = _DATE_PARTS.split(text.strip())
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        raise ValueError(text)
    if len(parts[0]) == 4:
        year, month, day = parts
    else:
        day, month, year = parts
    if len(year) != 4:
        raise ValueError(text)
    return date(int(year), int(month), int(day))


class DateTextField(StringField):
    """A date in one text box. ``data`` keeps what was typed (so a rejected value is shown again); ``date`` is the
    parsed value, or None when the box is empty or wrong."""

    widget = GovTextInput()

    def __init__(self, label: str, **kwargs):
        kwargs.setdefault("description", DATE_HINT)
        kwargs.setdefault("render_kw", {"params": {"classes": "govuk-input--width-10"}, "inputmode": "numeric"})
        super().__init__(label, **kwargs)
        self.date: date | None = None

    def pre_validate(self, form) -> None:
        self.date = None
        if not (self.data or "").strip():
            return
        try:
            self.date = parse_date(self.data)
        except ValueError:
            raise ValidationError(f"{self.label.text} must be a real date, for example 27 3 2026") from None


class AuditFilterForm(FlaskForm):
    """The filters: a GET form, so no CSRF token (it changes nothing and its URL can be shared)."""

    class Meta:
        csrf = False

    event = SelectField(
        "Event",
        widget=GovSelect(),
        choices=[SelectChoice("", "All events")] + [SelectChoice(name, name.capitalize()) for name in Events.all()],
        validate_choice=False,
        default="",
    )
    actor = StringField(
        "Email address of the person",
        widget=GovTextInput(),
        description="Or part of it",
        render_kw={"spellcheck": "false", "autocomplete": "off"},
        validators=[Length(max=254, message="Email address must be 254 characters or fewer")],
    )
    record = StringField(
        "Record",
        widget=GovTextInput(),
        description="A reference such as R00012 or P00012, or a kind and a number such as child 7 or provider 3",
        render_kw={"spellcheck": "false", "autocomplete": "off"},
        validators=[Length(max=60, message="Record must be 60 characters or fewer")],
    )
    date_from = DateTextField("Date from")
    date_to = DateTextField("Date to")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.record_ref: audit.RecordRef | None = None

    def validate_record(self, field) -> None:
        self.record_ref = None
        if not (field.data or "").strip():
            return
        try:
            self.record_ref = audit.parse_record(field.data)
        except ValueError:
            raise ValidationError(
                "Enter a record as a reference such as R00012, or a kind and a number such as child 7"
            ) from None

    def search_filters(self) -> dict:
        """The service's filters from a validated form."""
        return {
            "event": self.event.data or None,
            "actor": self.actor.data or None,
            "record": self.record_ref,
            "date_from": self.date_from.date,
            "date_to": self.date_to.date,
        }

    def validate_event(self, field) -> None:
        if field.data and field.data not in Events.all():
            raise ValidationError("Select an event from the list")

    def validate_date_to(self, field) -> None:
        if self.date_from.date and field.date and field.date < self.date_from.date:
            raise ValidationError("Date to must be the same as or after date from")


@bp.get("/audit", endpoint="audit")
@roles(Role.MANAGER)
def audit_trail():
    form = AuditFilterForm(formdata=request.args)
    result = None
    filters = {}
    if form.validate():
        filters = {name: request.args[name].strip() for name in FILTERS if request.args.get(name, "").strip()}
        result = audit.search_events(**form.search_filters(), page=page_number(), per_page=PER_PAGE)
    # Checking the chain reads every event, so it runs only when asked (a GET: it changes nothing).
    verification = audit_chain.verify() if request.args.get("verify") == "1" else None
    context = {
        "form": form,
        "result": result,
        "filters": filters,
        "verification": verification,
        "pagination": govuk_pagination(
            result.page, result.pages, lambda number: url_for("manager.audit", **filters, page=number),
            label="Pages of audit events",
        )
        if result
        else None,
        "shown_details": audit.shown_details,
        "results_id": RESULTS_ID,
    }
    # Pagination links inside the results are boosted by htmx and replace only the results; every other request
    # (a plain GET, the filter form, htmx restoring history) gets the whole page.
    if _wants_results_only(htmx):
        return render_template("manager/partials/audit_results.html", **context)
    return render_template("manager/audit.html", **context)


def _wants_results_only(hx: HTMX) -> bool:
    return bool(hx) and hx.target == RESULTS_ID and not hx.history_restore_request


CSV_HEADER = (
    "Seq",
    "Occurred at (UTC)",
    "When (UK time)",
    "Event",
    "Who",
    "User id",
    "IP address",
    "Subject type",
    "Subject id",
    "Reason",
    "Details",
    "Previous hash",
    "Hash",
)


@bp.get("/audit.csv", endpoint="audit_csv")
@roles(Role.MANAGER)
def audit_csv():
    """The current search's events, in chain order, with the chain's columns, streamed."""
    form = AuditFilterForm(formdata=request.args)
    if not form.validate():
        # The page shows what is wrong next to the filters.
        return redirect(url_for("manager.audit", **{name: value for name, value in request.args.items()}))
    statement = audit.events_statement(**form.search_filters())
    columns = statement.with_only_columns(
        AuditEvent.seq,
        AuditEvent.occurred_at,
        AuditEvent.event,
        AuditEvent.actor_label,
        AuditEvent.actor_id,
        AuditEvent.ip_address,
        AuditEvent.subject_type,
        AuditEvent.subject_id,
        AuditEvent.reason,
        AuditEvent.details,
        AuditEvent.prev_hash,
        AuditEvent.hash,
    ).order_by(AuditEvent.seq.is_(None), AuditEvent.seq, AuditEvent.id)

    def rows():
        for row in db.session.execute(columns.execution_options(yield_per=1000)):
            details = "; ".join(f"{label}: {value}" for label, value in audit.shown_details_of(row.details))
            yield (
                row.seq,
                row.occurred_at.isoformat(timespec="microseconds") if row.occurred_at else None,
                row.occurred_at,
                row.event,
                row.actor_label,
                row.actor_id,
                row.ip_address,
                row.subject_type,
                row.subject_id,
                row.reason,
                details,
                row.prev_hash,
                row.hash,
            )

    return csv_export.download("audit-trail.csv", CSV_HEADER, rows())
