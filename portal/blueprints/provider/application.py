"""The provider's application to join the DPS: the task list, one page per section, check your answers, submit.

A provider only ever has its own application, so no route takes an application id: each finds the open application
of the signed-in user's provider. Every section form carries the version of the application it was drawn from; a
save over a newer version is refused (the service says "changed elsewhere") and what was typed is shown again.

Registered on the provider blueprint (imported at the bottom of portal/blueprints/provider/__init__.py).
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovCharacterCount,
    GovCheckboxesInput,
    GovRadioInput,
    GovTextArea,
    GovTextInput,
)
from markupsafe import Markup, escape
from wtforms import HiddenField, RadioField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields import SelectChoice
from wtforms.validators import Length

from portal import conflicts, submissions
from portal.access import roles
from portal.blueprints.auth.forms import ActionForm
from portal.blueprints.provider import bp
from portal.models import ApplicationStatus, Area, DeliveryMode, Need, OfstedGrade, Role
from portal.services import applications, documents
from portal.services.applications import Section, Status
from portal.services.errors import DomainError, FieldErrors, NotFound
from portal.web import client_ip

SECTION_ENDPOINTS = {
    Section.ORGANISATION: "provider.application_organisation",
    Section.SAFEGUARDING_LEAD: "provider.application_safeguarding_lead",
    Section.OFFER: "provider.application_offer",
    Section.LOTS: "provider.application_lots",
    Section.QUESTIONS: "provider.application_questions",
    Section.DOCUMENTS: "provider.application_documents",
}
# Generous caps on what a form reads; the service holds the real rules and their messages.
CAP = [Length(max=20_000)]


def section_url(section: Section) -> str:
    return url_for(SECTION_ENDPOINTS[section])


# ---- Forms ----------------------------------------------------------------------------------------------------------


class SectionForm(FlaskForm):
    """Every section form says which version of the application it was drawn from."""

    version = HiddenField()


class OrganisationForm(SectionForm):
    legal_name = StringField(
        "Legal name",
        widget=GovTextInput(),
        description="As registered with Companies House or the Charity Commission.",
        render_kw={"autocomplete": "organization", "spellcheck": "false"},
        validators=CAP,
    )
    company_number = StringField(
        "Company number",
        widget=GovTextInput(),
        description="Enter a company number, a charity number, or both. For example, 01234567 or SC123456.",
        render_kw={"spellcheck": "false", "params": {"classes": "govuk-input--width-10"}},
        validators=CAP,
    )
    charity_number = StringField(
        "Charity number",
        widget=GovTextInput(),
        render_kw={"spellcheck": "false", "params": {"classes": "govuk-input--width-10"}},
        validators=CAP,
    )
    address = TextAreaField(
        "Registered address",
        widget=GovTextArea(),
        render_kw={"autocomplete": "street-address", "rows": 4},
        validators=CAP,
    )
    postcode = StringField(
        "Postcode",
        widget=GovTextInput(),
        render_kw={
            "autocomplete": "postal-code",
            "spellcheck": "false",
            "params": {"classes": "govuk-input--width-10"},
        },
        validators=CAP,
    )
    registered = RadioField(
        "Is your organisation registered with Ofsted as an independent school?",
        widget=GovRadioInput(),
        description="A setting that educates 5 or more pupils full time, or one looked-after child or child with an "
        "EHC plan full time, must be registered.",
        choices=[SelectChoice("yes", "Yes"), SelectChoice("no", "No")],
        validate_choice=False,
    )
    ofsted_urn = StringField(
        "Ofsted unique reference number (URN)",
        widget=GovTextInput(),
        description="Only if you are registered. 6 or 7 digits, like 123456.",
        render_kw={"spellcheck": "false", "inputmode": "numeric", "params": {"classes": "govuk-input--width-10"}},
        validators=CAP,
    )
    ofsted_grade = RadioField(
        "Latest Ofsted grade",
        widget=GovRadioInput(),
        description="Only if you are registered.",
        choices=[SelectChoice(grade.value, grade.value.capitalize()) for grade in OfstedGrade],
        validate_choice=False,
    )
    about = SelectMultipleField(
        "About your organisation",
        widget=GovCheckboxesInput(),
        description="Select all that apply. The council reports how many small and voluntary sector providers are on "
        "the dynamic purchasing system.",
        choices=[
            SelectChoice("small_business", "A small or medium-sized enterprise (fewer than 250 staff)"),
            SelectChoice("voluntary_sector", "A voluntary, community or social enterprise organisation"),
        ],
        validate_choice=False,
    )


class SafeguardingLeadForm(SectionForm):
    dsl_name = StringField(
        "Full name", widget=GovTextInput(), render_kw={"autocomplete": "off", "spellcheck": "false"}, validators=CAP
    )
    dsl_role = StringField(
        "Role or job title", widget=GovTextInput(), render_kw={"autocomplete": "off"}, validators=CAP
    )
    dsl_phone = StringField(
        "Telephone number",
        widget=GovTextInput(),
        description="A number the council can call during the school day.",
        render_kw={"autocomplete": "off", "type": "tel", "params": {"classes": "govuk-input--width-20"}},
        validators=CAP,
    )
    dsl_email = StringField(
        "Email address",
        widget=GovTextInput(),
        render_kw={"autocomplete": "off", "spellcheck": "false", "type": "email"},
        validators=CAP,
    )


class OfferForm(SectionForm):
    summary = TextAreaField(
        "Summary of what you offer",
        widget=GovCharacterCount(),
        description="Council officers read this in the directory of providers. Say who you work with and how.",
        validators=CAP,
    )
    needs = SelectMultipleField(
        "Needs you can meet",
        widget=GovCheckboxesInput(),
        description="Select all that apply.",
        choices=[SelectChoice(need.value, need.label) for need in Need],
        validate_choice=False,
    )
    age_from = StringField(
        "Youngest",
        widget=GovTextInput(),
        render_kw={"inputmode": "numeric", "spellcheck": "false", "params": {"classes": "govuk-input--width-3"}},
        validators=CAP,
    )
    age_to = StringField(
        "Oldest",
        widget=GovTextInput(),
        render_kw={"inputmode": "numeric", "spellcheck": "false", "params": {"classes": "govuk-input--width-3"}},
        validators=CAP,
    )
    areas = SelectMultipleField(
        "Areas where you work",
        widget=GovCheckboxesInput(),
        description="Select all that apply.",
        choices=[SelectChoice(area.value, area.label) for area in Area],
        validate_choice=False,
    )
    capacity = StringField(
        "How many children can you take at once?",
        widget=GovTextInput(),
        render_kw={"inputmode": "numeric", "spellcheck": "false", "params": {"classes": "govuk-input--width-4"}},
        validators=CAP,
    )
    delivery_modes = SelectMultipleField(
        "How you deliver provision",
        widget=GovCheckboxesInput(),
        description="Select all that apply. If you deliver on site, add your sites below.",
        choices=[SelectChoice(mode.value, mode.label) for mode in DeliveryMode],
        validate_choice=False,
    )
    # Not an input: carries the message when on-site delivery has no site, for the error summary.
    sites = HiddenField()


class SiteForm(SectionForm):
    name = StringField("Site name", widget=GovTextInput(), render_kw={"autocomplete": "off"}, validators=CAP)
    address = TextAreaField("Address", widget=GovTextArea(), render_kw={"rows": 3}, validators=CAP)
    postcode = StringField(
        "Postcode",
        widget=GovTextInput(),
        render_kw={"spellcheck": "false", "params": {"classes": "govuk-input--width-10"}},
        validators=CAP,
    )


class LotsForm(SectionForm):
    lots = SelectMultipleField(
        "Which lots are you applying for?",
        widget=GovCheckboxesInput(),
        description="Select all that apply.",
        validate_choice=False,
    )


def questions_form(groups, **kwargs) -> SectionForm:
    """A form with a text area for each question of the chosen lots."""

    class QuestionsForm(SectionForm):
        pass

    for _lot, questions in groups:
        for question in questions:
            setattr(
                QuestionsForm,
                applications.answer_field(question.id),
                TextAreaField(
                    question.text, widget=GovCharacterCount(), description=question.guidance or None, validators=CAP
                ),
            )
    return QuestionsForm(**kwargs)


# ---- Helpers --------------------------------------------------------------------------------------------------------


def _open_application():
    return applications.open_application(current_user.provider_id)


def _draft_or_redirect():
    """The open draft, or a redirect to the application page (nothing open, or submitted and read-only)."""
    application = _open_application()
    if application is None or application.status is not ApplicationStatus.DRAFT:
        return None, redirect(url_for("provider.application"))
    return application, None


def _complete() -> bool:
    """ "Save and continue" checks every answer; "Save and come back later" only what was typed."""
    return request.form.get("action") != "later"


def _after_save(section: Section):
    """Back to the task list, where the section's status shows what was saved."""
    return redirect(url_for("provider.application"))


def _show_errors(form, error: FieldErrors) -> None:
    for name, message in error.errors.items():
        form[name].errors.append(message)


def _render_section(template: str, application, form, *, conflict: str | None = None, **context):
    """The section's page; after a stale save (``conflict``), HTTP 409 with what is saved now beside the form."""
    return (
        render_template(
            template,
            application=application,
            form=form,
            conflict=conflict,
            saved_now=getattr(form, "saved_now", None),
            task_list_url=url_for("provider.application"),
            **context,
        ),
        409 if conflict else 200,
    )


def _handle(form, application, save, section: Section, current=None):
    """Run a section's save; on a problem return None with the form ready to show again, else the redirect.
    ``current()`` gives the values the form is drawn from: after a stale save, those that differ from what was
    typed are shown beside the form (``form.saved_now``)."""
    try:
        save()
    except FieldErrors as error:
        _show_errors(form, error)
    except applications.ApplicationChanged as error:
        form.version.data = str(application.version)  # shown again with what was typed; saving again goes through
        if current is not None:
            form.saved_now = conflicts.saved_now(form, current())
        return None, error.message
    except applications.NotEditable as error:
        flash(error.message, "info")
        return redirect(url_for("provider.application")), None
    else:
        return _after_save(section), None
    return None, None


# ---- The application page and starting one --------------------------------------------------------------------------


@bp.get("/application")
@roles(Role.PROVIDER)
def application():
    provider_id = current_user.provider_id
    open_one = _open_application()
    if open_one is not None and open_one.status is ApplicationStatus.DRAFT:
        result = applications.progress(open_one)
        items = []
        for section in Section:
            status = result.statuses[section]
            item = {"title": {"text": section.title}, "status": _status_display(status)}
            if status is not Status.CANNOT_START:
                item["href"] = section_url(section)
            else:
                item["hint"] = {"text": "Choose your lots first"}
            items.append(item)
        return render_template(
            "provider/application/task_list.html",
            application=open_one,
            progress=result,
            items=items,
            sections=len(Section),
        )
    if open_one is not None:
        return render_template(
            "provider/application/submitted.html", application=open_one, **_answers_context(open_one)
        )
    return render_template(
        "provider/application/start.html",
        latest=applications.latest_application(provider_id),
        available=applications.available_lots(provider_id),
        admitted=applications.admitted_lots(provider_id),
        form=ActionForm(),
    )


def _status_display(status: Status) -> dict:
    if status is Status.COMPLETED:
        return {"text": status.value}
    if status is Status.CANNOT_START:
        return {"text": status.value, "classes": "govuk-task-list__status--cannot-start-yet"}
    colour = "govuk-tag--blue" if status is Status.NOT_STARTED else "govuk-tag--light-blue"
    return {"tag": {"text": status.value, "classes": colour}}


@bp.post("/application/start")
@roles(Role.PROVIDER)
@submissions.single_submit("application")
def start_application():
    try:
        # Where it leads is known before: the claim is committed with the draft by the service.
        claimed = submissions.claim(submissions.sent_token(), current_user, "application")
        submissions.made(claimed, url_for("provider.application"))
        applications.start_application(current_user.provider)
    except DomainError as error:
        flash(error.message, "info")
    return redirect(url_for("provider.application"))


# ---- Sections -------------------------------------------------------------------------------------------------------


def _organisation_data(application) -> dict:
    provider = application.provider
    return {
        "version": application.version,
        "legal_name": provider.legal_name,
        "company_number": provider.company_number,
        "charity_number": provider.charity_number,
        "address": provider.address,
        "postcode": provider.postcode,
        "registered": {True: "yes", False: "no"}.get(provider.registered),
        "ofsted_urn": provider.ofsted_urn,
        "ofsted_grade": provider.ofsted_grade.value if provider.ofsted_grade else None,
        "about": [name for name in ("small_business", "voluntary_sector") if getattr(provider, name)],
    }


@bp.route("/application/organisation", methods=["GET", "POST"])
@roles(Role.PROVIDER)
def application_organisation():
    application, elsewhere = _draft_or_redirect()
    if elsewhere:
        return elsewhere
    form = OrganisationForm(data=_organisation_data(application))
    conflict = None
    if form.validate_on_submit():
        details = applications.OrganisationDetails(
            legal_name=form.legal_name.data,
            company_number=form.company_number.data,
            charity_number=form.charity_number.data,
            address=form.address.data,
            postcode=form.postcode.data,
            registered=form.registered.data,
            ofsted_urn=form.ofsted_urn.data,
            ofsted_grade=form.ofsted_grade.data,
            small_business="small_business" in (form.about.data or []),
            voluntary_sector="voluntary_sector" in (form.about.data or []),
        )
        done, conflict = _handle(
            form,
            application,
            lambda: applications.save_organisation(application, form.version.data, details, complete=_complete()),
            Section.ORGANISATION,
            lambda: _organisation_data(application),
        )
        if done:
            return done
    return _render_section("provider/application/organisation.html", application, form, conflict=conflict)


def _safeguarding_lead_data(application) -> dict:
    provider = application.provider
    return {
        "version": application.version,
        "dsl_name": provider.dsl_name,
        "dsl_role": provider.dsl_role,
        "dsl_phone": provider.dsl_phone,
        "dsl_email": provider.dsl_email,
    }


@bp.route("/application/safeguarding-lead", methods=["GET", "POST"])
@roles(Role.PROVIDER)
def application_safeguarding_lead():
    application, elsewhere = _draft_or_redirect()
    if elsewhere:
        return elsewhere
    form = SafeguardingLeadForm(data=_safeguarding_lead_data(application))
    conflict = None
    if form.validate_on_submit():
        details = applications.SafeguardingLead(
            dsl_name=form.dsl_name.data,
            dsl_role=form.dsl_role.data,
            dsl_phone=form.dsl_phone.data,
            dsl_email=form.dsl_email.data,
        )
        done, conflict = _handle(
            form,
            application,
            lambda: applications.save_safeguarding_lead(application, form.version.data, details, complete=_complete()),
            Section.SAFEGUARDING_LEAD,
            lambda: _safeguarding_lead_data(application),
        )
        if done:
            return done
    return _render_section("provider/application/safeguarding_lead.html", application, form, conflict=conflict)


def _offer_data(application) -> dict:
    provider = application.provider
    return {
        "version": application.version,
        "summary": provider.summary,
        "needs": [n.need.value for n in provider.needs],
        "age_from": "" if provider.age_from is None else str(provider.age_from),
        "age_to": "" if provider.age_to is None else str(provider.age_to),
        "areas": [a.area.value for a in provider.areas],
        "capacity": "" if provider.capacity is None else str(provider.capacity),
        "delivery_modes": [m.mode.value for m in provider.delivery_modes],
    }


@bp.route("/application/offer", methods=["GET", "POST"])
@roles(Role.PROVIDER)
def application_offer():
    application, elsewhere = _draft_or_redirect()
    if elsewhere:
        return elsewhere
    provider = application.provider
    form = OfferForm(data=_offer_data(application))
    conflict = None
    if form.validate_on_submit():
        action = request.form.get("action")
        details = applications.Offer(
            summary=form.summary.data,
            needs=form.needs.data or [],
            age_from=form.age_from.data,
            age_to=form.age_to.data,
            areas=form.areas.data or [],
            capacity=form.capacity.data,
            delivery_modes=form.delivery_modes.data or [],
        )
        # "Save and add a site" keeps what was typed (as a draft) and opens the sites page.
        complete = action not in {"later", "sites"}
        done, conflict = _handle(
            form,
            application,
            lambda: applications.save_offer(application, form.version.data, details, complete=complete),
            Section.OFFER,
            lambda: _offer_data(application),
        )
        if done and action == "sites":
            return redirect(url_for("provider.application_sites"))
        if done:
            return done
    return _render_section(
        "provider/application/offer.html", application, form, conflict=conflict, sites=provider.sites
    )


@bp.route("/application/sites", methods=["GET", "POST"])
@roles(Role.PROVIDER)
@submissions.single_submit("site")
def application_sites():
    application, elsewhere = _draft_or_redirect()
    if elsewhere:
        return elsewhere
    form = SiteForm(data={"version": application.version})
    conflict = None
    if form.validate_on_submit():
        details = applications.SiteDetails(name=form.name.data, address=form.address.data, postcode=form.postcode.data)
        try:
            # Where it leads is known before: the service commits the claim with the site.
            claimed = submissions.claim(submissions.sent_token(), current_user, "site")
            submissions.made(claimed, url_for("provider.application_sites"))
            site = applications.add_site(application, form.version.data, details)
        except FieldErrors as error:
            _show_errors(form, error)
        except applications.ApplicationChanged as error:
            form.version.data = str(application.version)
            conflict = error.message
        else:
            flash(f"{site.name} added", "success")
            return redirect(url_for("provider.application_sites"))
    return _render_section(
        "provider/application/sites.html",
        application,
        form,
        conflict=conflict,
        sites=application.provider.sites,
        # Never read from the request: after a stale add, removing a site must carry the version as it is now.
        remove_form=SectionForm(formdata=None, data={"version": application.version}),
    )


@bp.post("/application/sites/<int:site_id>/remove")
@roles(Role.PROVIDER)
def remove_site(site_id: int):
    application, elsewhere = _draft_or_redirect()
    if elsewhere:
        return elsewhere
    form = SectionForm()
    try:
        applications.remove_site(application, form.version.data, site_id)
    except NotFound:
        abort(404)
    except applications.ApplicationChanged as error:
        # The sites as they are now, with why nothing was removed (409).
        return _render_section(
            "provider/application/sites.html",
            application,
            SiteForm(formdata=None, data={"version": application.version}),
            conflict=error.message,
            sites=application.provider.sites,
            remove_form=SectionForm(formdata=None, data={"version": application.version}),
        )
    else:
        flash("Site removed", "success")
    return redirect(url_for("provider.application_sites"))


@bp.route("/application/lots", methods=["GET", "POST"])
@roles(Role.PROVIDER)
def application_lots():
    application, elsewhere = _draft_or_redirect()
    if elsewhere:
        return elsewhere
    available = applications.available_lots(application.provider_id)
    form = LotsForm(data={"version": application.version, "lots": [str(row.lot_id) for row in application.lots]})
    form.lots.choices = [SelectChoice(str(lot.id), lot.label) for lot in available]
    conflict = None
    if form.validate_on_submit():
        done, conflict = _handle(
            form,
            application,
            lambda: applications.save_lots(application, form.version.data, form.lots.data or [], complete=_complete()),
            Section.LOTS,
            lambda: {"lots": [str(row.lot_id) for row in application.lots]},
        )
        if done:
            return done
    return _render_section(
        "provider/application/lots.html",
        application,
        form,
        conflict=conflict,
        available=available,
        admitted=applications.admitted_lots(application.provider_id),
    )


@bp.route("/application/questions", methods=["GET", "POST"])
@roles(Role.PROVIDER)
def application_questions():
    application, elsewhere = _draft_or_redirect()
    if elsewhere:
        return elsewhere
    groups = applications.questions_for(application)
    if not application.lots:
        flash("Choose the lots you are applying for first", "info")
        return redirect(url_for("provider.application_lots"))
    def answers_now() -> dict:
        answers = {answer.question_id: answer.answer for answer in application.answers}
        data = {"version": application.version}
        for _lot, questions in groups:
            for question in questions:
                data[applications.answer_field(question.id)] = answers.get(question.id, "")
        return data

    form = questions_form(groups, data=answers_now())
    conflict = None
    if form.validate_on_submit():
        typed = {
            question.id: form[applications.answer_field(question.id)].data
            for _lot, questions in groups
            for question in questions
        }
        done, conflict = _handle(
            form,
            application,
            lambda: applications.save_answers(application, form.version.data, typed, complete=_complete()),
            Section.QUESTIONS,
            answers_now,
        )
        if done:
            return done
    return _render_section(
        "provider/application/questions.html",
        application,
        form,
        conflict=conflict,
        groups=groups,
        answer_field=applications.answer_field,
        max_answer=applications.MAX_ANSWER,
    )


@bp.get("/application/documents")
@roles(Role.PROVIDER)
def application_documents():
    application, elsewhere = _draft_or_redirect()
    if elsewhere:
        return elsewhere
    lot_ids = [row.lot_id for row in application.lots]
    if not lot_ids:
        flash("Choose the lots you are applying for first", "info")
        return redirect(url_for("provider.application_lots"))
    return render_template(
        "provider/application/documents.html",
        application=application,
        rows=documents.required_for_lots(application.provider_id, lot_ids),
        DocumentStatus=documents.DocumentStatus,
    )


# ---- Check your answers and submit ----------------------------------------------------------------------------------


def _lines(text: str | None) -> dict:
    """A summary list value keeping the line breaks people typed (escaped, then joined with <br>)."""
    text = (text or "").strip()
    if not text:
        return {"text": "Not given"}
    return {"html": Markup("<br>").join(escape(line) for line in text.splitlines())}


def _yes_no(value: bool | None) -> str:
    return {True: "Yes", False: "No"}.get(value, "Not given")


def _row(key: str, value, section: Section | None) -> dict:
    row = {"key": {"text": key}, "value": value if isinstance(value, dict) else {"text": value or "Not given"}}
    if section is not None:
        row["actions"] = {
            "items": [{"href": section_url(section), "text": "Change", "visuallyHiddenText": key.lower()}]
        }
    return row


def summary_sections(application, *, change: bool) -> list[dict]:
    """Every section's answers as GOV.UK summary list rows, with Change links while the application is a draft."""
    provider = application.provider

    def link(section: Section):
        return section if change else None

    org = Section.ORGANISATION
    org_rows = [
        _row("Legal name", provider.legal_name, link(org)),
        _row("Company number", provider.company_number, link(org)),
        _row("Charity number", provider.charity_number, link(org)),
        _row("Registered address", _lines(provider.address), link(org)),
        _row("Postcode", provider.postcode, link(org)),
        _row("Registered with Ofsted as an independent school", _yes_no(provider.registered), link(org)),
    ]
    if provider.registered:
        org_rows += [
            _row("Ofsted URN", provider.ofsted_urn, link(org)),
            _row(
                "Latest Ofsted grade",
                provider.ofsted_grade.value.capitalize() if provider.ofsted_grade else "",
                link(org),
            ),
        ]
    org_rows += [
        _row("Small or medium-sized enterprise", _yes_no(provider.small_business), link(org)),
        _row("Voluntary, community or social enterprise", _yes_no(provider.voluntary_sector), link(org)),
    ]
    dsl = Section.SAFEGUARDING_LEAD
    dsl_rows = [
        _row("Name", provider.dsl_name, link(dsl)),
        _row("Role", provider.dsl_role, link(dsl)),
        _row("Telephone", provider.dsl_phone, link(dsl)),
        _row("Email address", provider.dsl_email, link(dsl)),
    ]
    offer = Section.OFFER
    ages = (
        f"{provider.age_from} to {provider.age_to}"
        if provider.age_from is not None and provider.age_to is not None
        else ""
    )
    sites = "\n".join(f"{site.name}, {site.postcode}" for site in provider.sites)
    offer_rows = [
        _row("Summary", _lines(provider.summary), link(offer)),
        _row("Needs you can meet", _lines("\n".join(n.need.label for n in provider.needs)), link(offer)),
        _row("Ages", ages, link(offer)),
        _row("Areas", _lines("\n".join(a.area.label for a in provider.areas)), link(offer)),
        _row("Children at once", "" if provider.capacity is None else str(provider.capacity), link(offer)),
        _row("How you deliver", _lines("\n".join(m.mode.label for m in provider.delivery_modes)), link(offer)),
        _row("Sites", _lines(sites), link(offer)),
    ]
    lots_rows = [
        _row("Lots applied for", _lines("\n".join(row.lot.label for row in application.lots)), link(Section.LOTS))
    ]
    answers = {answer.question_id: answer.answer for answer in application.answers}
    question_rows = [
        _row(question.text, _lines(answers.get(question.id)), link(Section.QUESTIONS))
        for _lot, questions in applications.questions_for(application)
        for question in questions
    ]
    document_rows = [
        _row(
            row.document_type.name,
            f"{row.status.value}"
            + (
                f" (expires {row.current.expires_on.day} {row.current.expires_on:%B %Y})"
                if row.current is not None and row.current.expires_on
                else ""
            ),
            link(Section.DOCUMENTS),
        )
        for row in documents.required_for_lots(application.provider_id, [row.lot_id for row in application.lots])
    ]
    return [
        {"section": org, "rows": org_rows},
        {"section": dsl, "rows": dsl_rows},
        {"section": offer, "rows": offer_rows},
        {"section": Section.LOTS, "rows": lots_rows},
        {"section": Section.QUESTIONS, "rows": question_rows},
        {"section": Section.DOCUMENTS, "rows": document_rows},
    ]


def _answers_context(application) -> dict:
    draft = application.status is ApplicationStatus.DRAFT
    return {"summary": summary_sections(application, change=draft), "section_url": section_url}


@bp.get("/application/check")
@roles(Role.PROVIDER)
def application_check():
    application, elsewhere = _draft_or_redirect()
    if elsewhere:
        return elsewhere
    return _render_check(application, problems=None)


def _render_check(application, problems, conflict: str | None = None, status: int = 200):
    return (
        render_template(
            "provider/application/check.html",
            application=application,
            submit_form=SectionForm(formdata=None, data={"version": application.version}),
            problems=problems,
            conflict=conflict,
            **_answers_context(application),
        ),
        status,
    )


@bp.post("/application/submit")
@roles(Role.PROVIDER)
def submit_application():
    application, elsewhere = _draft_or_redirect()
    if elsewhere:
        return elsewhere
    form = SectionForm()
    try:
        applications.submit(application, form.version.data, by=current_user, ip=client_ip())
    except applications.IncompleteApplication as error:
        return _render_check(application, problems=error.problems)
    except applications.ApplicationChanged as error:
        return _render_check(application, problems=None, conflict=error.message, status=409)
    except applications.NotEditable as error:
        flash(error.message, "info")
        return redirect(url_for("provider.application"))
    flash("Your application has been submitted", "success")
    return redirect(url_for("provider.application"))
