"""The provider's compliance documents: what it has of each type and its status, and uploading a new one.

Registered on the provider blueprint (imported at the bottom of portal/blueprints/provider/__init__.py).
"""

from __future__ import annotations

from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from govuk_frontend_wtf.wtforms_widgets import GovDateInput, GovFileInput, GovSubmitInput
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import DateField, HiddenField, SubmitField

from portal import submissions
from portal.access import roles
from portal.blueprints.provider import bp
from portal.clock import london_today
from portal.models import Role
from portal.services import documents
from portal.services.errors import FieldErrors, NotFound
from portal.web import client_ip

# Where "from" may send the provider back to after an upload (never an address from the request).
RETURN_TO = {"application": "provider.application_documents"}


class DayMonthYearField(DateField):
    """A GOV.UK date input (day, month, year boxes). Blank is no date; anything that is not a real date is an error
    shown next to the field, with what was typed kept (the widget redraws raw_data)."""

    def process_formdata(self, valuelist):
        self.data = None
        parts = [value.strip() for value in valuelist or []]
        # The widget redraws exactly three boxes from raw_data, whatever a hand-made request sent.
        self.raw_data = (list(valuelist or []) + ["", "", ""])[:3]
        if not any(parts):
            return
        if len(parts) != 3 or not all(part.isdigit() for part in parts):
            raise ValueError(f"{self.label.text} must be a real date, like 31 3 2027")
        day, month, year = (int(part) for part in parts)
        if year < 1000:
            raise ValueError("Year must include 4 numbers")
        try:
            self.data = date(year, month, day)
        except ValueError:
            raise ValueError(f"{self.label.text} must be a real date, like 31 3 2027") from None


class UploadForm(FlaskForm):
    file = FileField(
        "Upload a file",
        widget=GovFileInput(),
        description="A PDF, Word document (DOCX), PNG or JPEG, smaller than 10 MB.",
    )
    expires_on = DayMonthYearField(
        "Expiry date",
        widget=GovDateInput(),
        description="The date the cover or the document runs out. For example, 31 3 2027.",
    )
    return_to = HiddenField()
    submit = SubmitField("Upload", widget=GovSubmitInput())


def _upload_form(document_type, **kwargs) -> UploadForm:
    form = UploadForm(**kwargs)
    if not document_type.has_expiry:
        del form.expires_on
    return form


def _document_type(document_type_id: int):
    try:
        return documents.get_document_type(document_type_id)
    except NotFound:
        abort(404)


@bp.get("/documents", endpoint="documents")
@roles(Role.PROVIDER)
def documents_page():
    today = london_today()
    return render_template(
        "provider/documents.html",
        rows=documents.overview(current_user.provider_id, today),
        DocumentStatus=documents.DocumentStatus,
        today=today,
    )


@bp.route("/documents/<int:document_type_id>", methods=["GET", "POST"])
@roles(Role.PROVIDER)
@submissions.single_submit("document upload")
def upload_document(document_type_id: int):
    document_type = _document_type(document_type_id)
    form = _upload_form(document_type, data={"return_to": request.args.get("from", "")})
    if form.validate_on_submit():
        try:
            # Where it leads is known before: the service commits the claim with the document.
            claimed = submissions.claim(submissions.sent_token(), current_user, "document upload")
            submissions.made(claimed, url_for(RETURN_TO.get(form.return_to.data, "provider.documents")))
            documents.upload(
                current_user.provider,
                document_type,
                form.file.data,
                form.expires_on.data if document_type.has_expiry else None,
                current_user,
                ip=client_ip(),
            )
        except FieldErrors as error:
            for name, message in error.errors.items():
                if name in form:
                    form[name].errors.append(message)
        else:
            flash(f"{document_type.name} uploaded", "success")
            return redirect(url_for(RETURN_TO.get(form.return_to.data, "provider.documents")))
    elif form.is_submitted() and not form.file.errors:
        # Another field is wrong: a browser never sends the file again, so ask for it next to the file input.
        chosen = form.file.data is not None and bool(form.file.data.filename)
        form.file.errors.append(documents.CHOOSE_AGAIN if chosen else documents.CHOOSE_FILE)
    return _render_upload(document_type, form)


def _render_upload(document_type, form, status: int = 200):
    current = documents.current_documents(current_user.provider_id).get(document_type.id)
    return (
        render_template(
            "provider/upload_document.html",
            form=form,
            document_type=document_type,
            current=current,
            back_url=url_for(RETURN_TO.get(form.return_to.data or "", "provider.documents")),
        ),
        status,
    )


@bp.errorhandler(RequestEntityTooLarge)
def too_large(error):
    """A file far over the limit is refused before it is read: show the upload page with the message next to the
    file input (the rest of what was typed cannot be read back), rather than the generic 413 page."""
    if (
        request.endpoint == "provider.upload_document"
        and current_user.is_authenticated
        and current_user.role is Role.PROVIDER
    ):
        document_type = _document_type(request.view_args["document_type_id"])
        form = _upload_form(document_type, formdata=None)
        form.file.errors = [documents.TOO_LARGE]
        return _render_upload(document_type, form, status=413)
    from portal.errors import ERROR_PAGES, render_error

    return render_error(413, *ERROR_PAGES[413])
