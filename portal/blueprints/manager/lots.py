"""The manager's lots: the list, and for each lot its application questions (add, edit, move, retire) and the
compliance documents it requires.

Registered on the manager blueprint (imported at the bottom of portal/blueprints/manager/__init__.py).
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovCheckboxesInput, GovSubmitInput, GovTextArea
from wtforms import HiddenField, SelectMultipleField, SubmitField, TextAreaField
from wtforms.fields import SelectChoice
from wtforms.validators import InputRequired, Length

from portal import submissions
from portal.access import roles
from portal.blueprints.auth.forms import ActionForm
from portal.blueprints.manager import bp
from portal.blueprints.manager.applications import page_number, show_error, today
from portal.models import Role
from portal.pagination import govuk_pagination
from portal.services import lot_questions
from portal.services.errors import DomainError, NotFound
from portal.services.lot_questions import GUIDANCE_MAX, TEXT_MAX
from portal.web import client_ip


class QuestionForm(FlaskForm):
    text = TextAreaField(
        "Question",
        widget=GovTextArea(),
        validators=[
            InputRequired(message="Enter the question"),
            Length(max=TEXT_MAX, message=f"The question must be {TEXT_MAX} characters or fewer"),
        ],
    )
    guidance = TextAreaField(
        "Guidance for applicants (optional)",
        widget=GovTextArea(),
        description="Shown under the question: what a good answer covers, or the evidence to give.",
        validators=[Length(max=GUIDANCE_MAX, message=f"The guidance must be {GUIDANCE_MAX} characters or fewer")],
    )
    submit = SubmitField("Add question", widget=GovSubmitInput())


class EditQuestionForm(QuestionForm):
    seen = HiddenField()  # the question's fingerprint when the page was drawn
    submit = SubmitField("Save question", widget=GovSubmitInput())


class RequiredDocumentsForm(FlaskForm):
    document_types = SelectMultipleField(
        "Documents the lot requires",
        widget=GovCheckboxesInput(),
        description="A provider admitted to the lot is invited to its call-offs only while it has a valid document "
        "of each type ticked.",
        coerce=int,
    )
    seen = HiddenField()  # the required types when the page was drawn
    submit = SubmitField("Save required documents", widget=GovSubmitInput())

    def __init__(self, *args, document_types, **kwargs):
        super().__init__(*args, **kwargs)
        self.document_types.choices = [SelectChoice(t.id, t.name) for t in document_types]


def _lot_or_404(lot_id: int):
    try:
        return lot_questions.get_lot(lot_id)
    except NotFound:
        abort(404)


def _questions_page(lot, *, question_form=None, documents_form=None):
    view = lot_questions.lot_questions(lot)
    question_form = question_form or QuestionForm(formdata=None)
    documents_form = documents_form or RequiredDocumentsForm(
        formdata=None,
        document_types=view.document_types,
        data={"document_types": sorted(view.required), "seen": lot_questions.required_fingerprint(view.required)},
    )
    failed = question_form if question_form.errors else (documents_form if documents_form.errors else None)
    return render_template(
        "manager/lot_questions.html",
        view=view,
        lot=lot,
        question_form=question_form,
        documents_form=documents_form,
        action_form=ActionForm(),
        form=failed,
    )


@bp.get("/lots", endpoint="lots")
@roles(Role.MANAGER)
def lot_list():
    result = lot_questions.lots_page(today=today(), page=page_number())
    pagination = govuk_pagination(
        result.page, result.pages, lambda number: url_for("manager.lots", page=number), label="Pages of lots"
    )
    return render_template("manager/lots.html", result=result, pagination=pagination)


@bp.route("/lots/<int:lot_id>/questions", methods=["GET", "POST"], endpoint="lot_questions")
@roles(Role.MANAGER)
@submissions.single_submit("lot question")
def lot_questions_page(lot_id: int):
    lot = _lot_or_404(lot_id)
    if request.method == "GET":
        return _questions_page(lot)
    form = QuestionForm()
    if form.validate_on_submit():
        try:
            # Where it leads is known before: the service commits the claim with the question.
            claimed = submissions.claim(submissions.sent_token(), current_user, "lot question")
            submissions.made(claimed, url_for("manager.lot_questions", lot_id=lot.id))
            lot_questions.add_question(
                lot.id, current_user, text=form.text.data, guidance=form.guidance.data or "", ip=client_ip()
            )
        except DomainError as error:
            show_error(form, error, "text")
        else:
            flash("Question added. Applications submitted from now on answer it.", "success")
            return redirect(url_for("manager.lot_questions", lot_id=lot.id))
    return _questions_page(lot, question_form=form)


@bp.route("/lots/<int:lot_id>/questions/<int:question_id>/edit", methods=["GET", "POST"])
@roles(Role.MANAGER)
def edit_lot_question(lot_id: int, question_id: int):
    lot = _lot_or_404(lot_id)
    try:
        question = lot_questions.get_question(lot, question_id)
    except NotFound:
        abort(404)
    current = lot_questions.fingerprint(question)
    form = EditQuestionForm(data={"text": question.text, "guidance": question.guidance, "seen": current})
    if form.validate_on_submit():
        try:
            lot_questions.edit_question(
                lot.id,
                question.id,
                current_user,
                text=form.text.data,
                guidance=form.guidance.data or "",
                seen=form.seen.data,
                ip=client_ip(),
            )
        except DomainError as error:
            show_error(form, error, "text")
            form.seen.data = current  # what the user typed stays; sent again, it goes through
        else:
            flash("Question saved.", "success")
            return redirect(url_for("manager.lot_questions", lot_id=lot.id))
    answered = lot_questions.is_answered(question)
    return render_template("manager/edit_lot_question.html", form=form, lot=lot, question=question, answered=answered)


@bp.post("/lots/<int:lot_id>/questions/<int:question_id>/move")
@roles(Role.MANAGER)
def move_lot_question(lot_id: int, question_id: int):
    lot = _lot_or_404(lot_id)
    if ActionForm().validate_on_submit():
        try:
            lot_questions.move_question(
                lot.id, question_id, current_user, direction=request.form.get("direction", ""), ip=client_ip()
            )
        except NotFound:
            abort(404)
        except DomainError as error:
            flash(error.message, "info")
    return redirect(url_for("manager.lot_questions", lot_id=lot.id, _anchor=f"question-{question_id}"))


@bp.post("/lots/<int:lot_id>/questions/<int:question_id>/retire")
@roles(Role.MANAGER)
def retire_lot_question(lot_id: int, question_id: int):
    lot = _lot_or_404(lot_id)
    if ActionForm().validate_on_submit():
        try:
            question = lot_questions.retire_question(lot.id, question_id, current_user, ip=client_ip())
        except NotFound:
            abort(404)
        except DomainError as error:
            flash(error.message, "info")
        else:
            flash(f"Question retired: “{question.text}”. Applications that answered it keep their answers.", "success")
    return redirect(url_for("manager.lot_questions", lot_id=lot.id))


@bp.post("/lots/<int:lot_id>/documents")
@roles(Role.MANAGER)
def lot_documents(lot_id: int):
    lot = _lot_or_404(lot_id)
    view = lot_questions.lot_questions(lot)
    form = RequiredDocumentsForm(document_types=view.document_types)
    if form.validate_on_submit():
        try:
            lot_questions.set_required_documents(
                lot.id,
                current_user,
                document_type_ids=form.document_types.data or [],
                seen=form.seen.data,
                ip=client_ip(),
            )
        except DomainError as error:
            show_error(form, error, "document_types")
            # The ticks stay as the manager chose them; sent again, having looked, they are saved.
            form.seen.data = lot_questions.required_fingerprint(view.required)
        else:
            flash("Required documents saved.", "success")
            return redirect(url_for("manager.lot_questions", lot_id=lot.id, _anchor="required-documents"))
    return _questions_page(lot, documents_form=form)
