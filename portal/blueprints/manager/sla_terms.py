"""The manager's SLA terms: the versions of the terms, a new version (a copy of the latest), and each version's
sections, which can be changed until an SLA uses the version.

The form is plain HTML: each section is a heading and a text box with a "Remove this section" tick; an empty pair at
the end adds a section, and "Add another section" shows one more empty pair without saving.

Registered on the manager blueprint (imported at the bottom of portal/blueprints/manager/__init__.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovCheckboxInput, GovSubmitInput, GovTextArea, GovTextInput
from wtforms import BooleanField, HiddenField, StringField, SubmitField, TextAreaField
from wtforms.validators import Length

from portal import clock, conflicts, submissions
from portal.access import roles
from portal.blueprints.auth.forms import ActionForm
from portal.blueprints.manager import bp
from portal.blueprints.manager.applications import page_number
from portal.extensions import db
from portal.forms import whole_number
from portal.models import Role, SlaTemplate
from portal.pagination import govuk_pagination
from portal.services import sla_terms
from portal.services.errors import Conflict, FieldErrors, IllegalTransition, NotFound
from portal.services.sla_terms import BODY_MAX, HEADING_MAX, SECTIONS_MAX, body_field, heading_field
from portal.web import client_ip


def remove_field(index: int) -> str:
    return f"remove_{index}"


def sections_form(count: int, *, formdata=None, data: dict | None = None) -> FlaskForm:
    """``count`` heading/text pairs, each with a "Remove this section" tick."""

    class Form(FlaskForm):
        version = HiddenField()
        count = HiddenField()
        submit = SubmitField("Save the terms", widget=GovSubmitInput())
        add_section = SubmitField("Add another section", widget=GovSubmitInput())

    for index in range(1, count + 1):
        setattr(
            Form,
            heading_field(index),
            StringField(
                f"Heading of section {index}",
                widget=GovTextInput(),
                validators=[
                    Length(
                        max=HEADING_MAX, message=f"The heading of a section must be {HEADING_MAX} characters or fewer"
                    )
                ],
            ),
        )
        setattr(
            Form,
            body_field(index),
            TextAreaField(
                f"Text of section {index}",
                widget=GovTextArea(),
                description="In Markdown: a blank line between paragraphs, “- ” at the start of each item of a "
                "list, **bold**, *italic*, [a link](https://example.org).",
                validators=[
                    Length(max=BODY_MAX, message=f"The text of a section must be {BODY_MAX} characters or fewer")
                ],
            ),
        )
        setattr(Form, remove_field(index), BooleanField(f"Remove section {index}", widget=GovCheckboxInput()))
    form = Form(formdata=formdata, data=data or {})
    form.count.data = str(count)
    return form


def _saved(template: SlaTemplate) -> dict:
    data = {"version": str(template.version)}
    for index, section in enumerate(template.sections, 1):
        data[heading_field(index)] = section.heading
        data[body_field(index)] = section.body
    return data


def _form_for(template: SlaTemplate) -> FlaskForm:
    """The template's sections, and an empty pair at the end to add one."""
    return sections_form(len(template.sections) + 1, data=_saved(template))


def _template_or_404(template_id: int) -> SlaTemplate:
    try:
        return sla_terms.get_template(template_id)
    except NotFound:
        abort(404)


def _page(
    template: SlaTemplate,
    form: FlaskForm | None,
    *,
    error: str | None = None,
    status: int = 200,
    saved_now: list | None = None,
):
    used = sla_terms.used_by(template.id)
    latest = db.session.scalar(sa.select(sa.func.max(SlaTemplate.number)))
    return (
        render_template(
            "manager/sla_terms_version.html",
            template=template,
            used=used,
            latest=template.number == latest,
            form=form if not used else None,
            count=whole_number(form.count.data) if form is not None and not used else 0,
            error=error,
            saved_now=saved_now,
            action_form=ActionForm(),
        ),
        status,
    )


@bp.get("/sla-terms", endpoint="sla_terms")
@roles(Role.MANAGER)
def sla_terms_list():
    result = sla_terms.terms_page(page_number())
    pagination = govuk_pagination(
        result.page, result.pages, lambda number: url_for("manager.sla_terms", page=number), label="Pages of versions"
    )
    return render_template("manager/sla_terms.html", result=result, pagination=pagination, action_form=ActionForm())


@bp.post("/sla-terms/new")
@roles(Role.MANAGER)
@submissions.single_submit("SLA terms version")
def new_sla_terms():
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        claimed = submissions.claim(submissions.sent_token(), current_user, "SLA terms version")
        template = sla_terms.new_version(current_user, now=clock.now(), ip=client_ip())
        submissions.made(claimed, url_for("manager.sla_terms_version", template_id=template.id))
    except Conflict as error:
        flash(error.message, "info")
        return redirect(url_for("manager.sla_terms"))
    db.session.commit()
    flash(f"Version {template.number} of the terms made, a copy of the latest. New SLAs use it from now on.", "success")
    return redirect(url_for("manager.sla_terms_version", template_id=template.id))


def _sent_sections(form: FlaskForm, count: int) -> tuple[list[tuple[str, str]], list[int]]:
    """The sections to keep, in order (removed and wholly empty pairs left out), and the form index of each."""
    sections, indexes = [], []
    for index in range(1, count + 1):
        if form[remove_field(index)].data:
            continue
        heading = (form[heading_field(index)].data or "").strip()
        body = (form[body_field(index)].data or "").strip()
        if not heading and not body:
            continue
        sections.append((heading, body))
        indexes.append(index)
    return sections, indexes


def _show_errors(form: FlaskForm, error: FieldErrors, indexes: list[int]) -> None:
    """The service numbers the sections it was sent (removed and empty pairs left out); each message goes beside the
    form's own pair, unless the form already refused that field."""
    for name, message in error.errors.items():
        kind, _, number = name.rpartition("_")
        position = whole_number(number) or 1
        index = indexes[position - 1] if position <= len(indexes) else 1
        target = form[f"{kind}_{index}"] if f"{kind}_{index}" in form._fields else form[heading_field(1)]
        if not target.errors:
            target.errors = [*target.errors, message]


@bp.route("/sla-terms/<int:template_id>", methods=["GET", "POST"])
@roles(Role.MANAGER)
def sla_terms_version(template_id: int):
    template = _template_or_404(template_id)
    if request.method == "GET":
        return _page(template, _form_for(template))
    used = sla_terms.used_by(template.id)
    if used:
        # Read-only once used: the page as it is, with why, and nothing saved.
        return _page(template, None, error=sla_terms.in_use(used).message, status=409)
    count = min(max(1, whole_number(request.form.get("count")) or 1), SECTIONS_MAX + 1)
    if request.form.get("add_section"):
        # Another empty pair, without saving: what was typed stays.
        form = sections_form(min(count + 1, SECTIONS_MAX + 1), formdata=request.form)
        return _page(template, form)
    form = sections_form(count, formdata=request.form)
    valid = form.validate_on_submit()
    sections, indexes = _sent_sections(form, count)
    if not valid:
        # Every problem at once: the form's own (lengths), and the service's (missing headings or text).
        try:
            sla_terms.check_sections(sections)
        except FieldErrors as error:
            _show_errors(form, error, indexes)
        return _page(template, form)
    try:
        sla_terms.save_sections(
            template.id,
            current_user,
            sections,
            version=whole_number(form.version.data),
            now=clock.now(),
            ip=client_ip(),
        )
    except IllegalTransition as error:
        db.session.rollback()
        return _page(_template_or_404(template_id), None, error=error.message, status=409)
    except Conflict as error:
        db.session.rollback()
        fresh = _template_or_404(template_id)
        # What was typed stays, beside what is saved now; sent again, having looked, it is saved.
        form.version.data = str(fresh.version)
        saved_now = conflicts.saved_now(form, _saved(fresh))
        return _page(fresh, form, error=error.message, status=409, saved_now=saved_now)
    except FieldErrors as error:
        _show_errors(form, error, indexes)
        return _page(template, form)
    db.session.commit()
    flash(f"Version {template.number} of the terms saved.", "success")
    return redirect(url_for("manager.sla_terms_version", template_id=template.id))
