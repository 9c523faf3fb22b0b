"""Writing a referral: the child, the draft's sections, publishing and withdrawing; the officer's referral list.

Any officer may open a draft's pages; only officers of the referral's service may save them (the service refuses
anyone else, answered with 403), and only while it is a draft (anything else is a 409 page saying why). Every form
carries the version of what it was drawn from: a save over a newer version is refused with 409, what was typed is
kept, and what is saved now is shown beside it.

The child's identity is shown only on these pages and only through children.read_child, which audits each read.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy.orm.exc import StaleDataError

from portal import clock, submissions
from portal.access import roles
from portal.blueprints.officer import bp
from portal.blueprints.officer.referral_forms import (
    EXCLUSION_LABELS,
    AimsForm,
    ChildForm,
    ProfileForm,
    ProvisionForm,
    PublishForm,
    ReferralFilterForm,
    WithdrawForm,
    child_data,
    profile_data,
    provision_data,
)
from portal.clock import london_today
from portal.extensions import db, htmx
from portal.formatting import long_date, quantity
from portal.forms import whole_number
from portal.models import Child, Need, Referral, Role
from portal.pagination import govuk_pagination
from portal.services import children, referral_drafts, referrals
from portal.services.eligibility import eligible_providers
from portal.services.errors import Conflict, DomainError, FieldErrors, IllegalTransition, NotAllowed, NotFound
from portal.services.referral_drafts import AimText, Section
from portal.services.referrals import PublishTerms, Stage
from portal.web import client_ip

RESULTS_ID = "referral-results"
SECTION_ENDPOINTS = {
    Section.CHILD: "officer.referral_child",
    Section.PROVISION: "officer.referral_provision",
    Section.AIMS: "officer.referral_aims",
    Section.PROFILE: "officer.referral_profile",
}


def _referral_or_404(referral_id: int) -> Referral:
    try:
        return referrals.get_referral(referral_id)
    except NotFound:
        abort(404)


def _commit() -> None:
    """Commit a publish or a withdrawal: a change someone else committed in the meantime is a conflict."""
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise Conflict(
            "Someone else changed this referral at the same moment, so nothing you sent was saved. Check the "
            "referral as it is now, then try again."
        ) from None


def _not_now(error: DomainError, *, typed: list[tuple[str, str]] | None = None, stale: bool = False):
    """A change the referral's stage refuses (409). ``stale``: the page it came from was drawn before someone else's
    change, and the message says so; ``typed`` (label, text) pairs are shown, so nothing typed is lost."""
    message = f"Someone else changed this referral while you had it open. {error.message}" if stale else error.message
    typed = [(label, text) for label, text in typed or [] if text]
    return (
        render_template(
            "errors/error.html", status=409, title="You cannot change this referral now", message=message, typed=typed
        ),
        409,
    )


def _show_errors(form: FlaskForm, errors: dict[str, str], *, keep_existing: bool = False) -> None:
    """Put each message next to its field (the first field when the service names one the form does not have)."""
    for name, message in errors.items():
        field = _field(form, name)
        if keep_existing and field.errors:
            continue
        field.errors = [*field.errors, message]
    if isinstance(form, AimsForm):
        form.aims.errors = [entry.errors for entry in form.aims.entries]
        if not any(form.aims.errors):
            form.aims.errors = []


def _field(form: FlaskForm, name: str):
    if isinstance(form, AimsForm) and name not in ("version", "csrf_token"):
        # "aims-<n>-<part>" is that part of aim n; anything else about the aims goes by the first one.
        parts = name.split("-")
        index = int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else 0
        index = min(index, len(form.aims.entries) - 1)
        return form.aims.entries[index].form[parts[2] if len(parts) == 3 else "description"]
    if name in form:
        return form[name]
    return next(field for field in form if field.type not in ("CSRFTokenField", "HiddenField"))


def _save(form: FlaskForm, save, check, *, version_now):
    """Check the form and save through the service; commit when it worked.

    Returns ``(response, conflict)``: a response to send (a redirect after saving, or a 409 or 403 page), or None with
    the form ready to show again (the problems next to the fields, or ``conflict``, the message of a stale save, with
    the form's version moved on so that saving again goes through)."""
    if not form.validate():
        # The form's own problems (a date that is not a date): the service's checks run too, so every problem is shown.
        try:
            check()
        except FieldErrors as error:
            _show_errors(form, error.errors, keep_existing=True)
        except DomainError:
            pass
        return None, None
    try:
        save()
    except NotAllowed:
        db.session.rollback()
        abort(403)
    except IllegalTransition as error:
        db.session.rollback()
        return _not_now(error), None
    except Conflict as error:
        db.session.rollback()
        form.version.data = str(version_now())
        return None, error.message
    except FieldErrors as error:
        db.session.rollback()
        _show_errors(form, error.errors)
    except DomainError as error:
        db.session.rollback()
        _show_errors(form, {error.field or "": error.message})
    else:
        db.session.commit()
        return True, None
    return None, None


def _draft_or_redirect(referral_id: int, action: referrals.Action = referrals.Action.EDIT):
    """The draft and None; or, with the response to send instead: on a GET, a redirect to the referral's page once
    it is published (or ended); on a POST, 403 unless the officer may change it, and 409 once it is not a draft
    (checked before the form, so the answer is the same whatever was sent; the service checks again)."""
    referral = _referral_or_404(referral_id)
    if request.method != "POST":
        if referral.status.value != Stage.DRAFT.value:
            return referral, redirect(url_for("officer.referral", referral_id=referral.id))
        return referral, None
    try:
        referrals.ensure_may_act(referral, current_user)
        referrals.ensure_stage(referral, action, clock.now())
    except NotAllowed:
        abort(403)
    except IllegalTransition as error:
        return referral, _not_now(error)
    return referral, None


def _read_child(referral: Referral, purpose: str) -> Child:
    """The child's record for this page (audited), committed with its audit event."""
    child = children.read_child(referral, current_user, ip=client_ip(), purpose=purpose)
    db.session.commit()
    return child


def _leak_rows(referral: Referral) -> list[dict]:
    """What the task list and the publish page warn about: each part that gives the child away, what was found, and
    where to change it."""
    rows = []
    for part, found in children.profile_leaks(referral).items():
        if part.startswith("aim "):
            label, section = part.capitalize(), Section.AIMS
        elif part == "profile":
            label, section = "The profile", Section.PROFILE
        else:
            label, section = part.replace("_", " ").capitalize(), Section.PROVISION
        rows.append(
            {"part": label, "found": found, "href": url_for(SECTION_ENDPOINTS[section], referral_id=referral.id)}
        )
    return rows


def _section_page(template: str, referral: Referral, form, *, conflict=None, saved_now=None, status=200, **context):
    return (
        render_template(
            template,
            referral=referral,
            reference=referrals.reference(referral),
            form=form,
            conflict=conflict,
            saved_now=saved_now,
            can_edit=referrals.may_act(referral, current_user),
            task_list_url=url_for("officer.referral_draft", referral_id=referral.id),
            **context,
        ),
        status,
    )


def _next_after_save(referral: Referral, section: Section):
    flash(f"{section.title} saved", "success")
    return redirect(url_for("officer.referral_draft", referral_id=referral.id))


def _fresh(referral_id: int) -> Referral:
    db.session.expire_all()
    return _referral_or_404(referral_id)


# ---- The list -------------------------------------------------------------------------------------------------------


def referral_list(endpoint: str, template: str, link):
    """The list page of an area (the officer's or the manager's): filters, one page of referrals, and the results
    region alone when htmx asks for it. ``link(row)`` is the address of a row's referral."""
    form = ReferralFilterForm(formdata=request.args, choices=referrals.filter_choices())
    result = pagination = None
    if form.validate():
        result = referrals.search(form.filters(), now=clock.now(), page=max(1, request.args.get("page", 1, type=int)))
        kept = form.query_args()
        pagination = govuk_pagination(
            result.page,
            result.pages,
            lambda number: url_for(endpoint, **kept, page=number),
            label="Pages of referrals",
        )
    context = {
        "form": form,
        "result": result,
        "pagination": pagination,
        "results_id": RESULTS_ID,
        "list_url": url_for(endpoint),
        "link": link,
        "reference": referrals.reference,
        "Stage": Stage,
    }
    if htmx and htmx.target == RESULTS_ID and not htmx.history_restore_request:
        response = render_template("officer/partials/referral_results.html", **context)
    else:
        response = render_template(template, **context)
    return response, {"Vary": "HX-Request, HX-Target"}


def _officer_link(row) -> str:
    if row.stage is Stage.DRAFT:
        return url_for("officer.referral_draft", referral_id=row.referral.id)
    return url_for("officer.referral", referral_id=row.referral.id)


@bp.get("/referrals", endpoint="referrals")
@roles(Role.OFFICER)
def referral_index():
    return referral_list("officer.referrals", "officer/referrals/list.html", _officer_link)


# ---- Starting a referral: the child ---------------------------------------------------------------------------------


@bp.route("/referrals/new", methods=["GET", "POST"])
@roles(Role.OFFICER)
@submissions.single_submit("referral")
def new_referral():
    form = ChildForm()
    if form.is_submitted():
        today = london_today(clock.now())
        started = None

        def save():
            nonlocal started
            claimed = submissions.claim(submissions.sent_token(), current_user, "referral")
            started = referral_drafts.start_referral(form.details(), current_user, now=clock.now(), ip=client_ip())
            submissions.made(claimed, url_for("officer.referral_draft", referral_id=started.referral.id))

        done, _ = _save(form, save, lambda: referral_drafts.check_child(form.details(), today), version_now=lambda: "")
        if done is True:
            reference = referrals.reference(started.referral)
            if started.reused:
                flash(f"This child was already recorded: check their details. Draft referral {reference} started.")
            else:
                flash(f"Draft referral {reference} started", "success")
            return redirect(url_for("officer.referral_draft", referral_id=started.referral.id))
        if done is not None:
            return done
    return render_template("officer/referrals/child.html", form=form, referral=None, conflict=None, saved_now=None)


# ---- The draft's task list -------------------------------------------------------------------------------------------


@bp.get("/referrals/<int:referral_id>/draft")
@roles(Role.OFFICER)
def referral_draft(referral_id: int):
    referral, elsewhere = _draft_or_redirect(referral_id)
    if elsewhere:
        return elsewhere
    progress = referral_drafts.progress(referral)
    leaks = _leak_rows(referral)
    child = _read_child(referral, "Writing the draft referral")
    items = []
    for section in Section:
        status = progress.statuses[section]
        items.append(
            {
                "title": {"text": section.title},
                "href": url_for(SECTION_ENDPOINTS[section], referral_id=referral.id),
                "status": _status_display(status),
            }
        )
    publish_item = {"title": {"text": "Check and publish"}}
    if progress.complete:
        publish_item["href"] = url_for("officer.publish_referral", referral_id=referral.id)
        publish_item["status"] = {"tag": {"text": "Not started", "classes": "govuk-tag--blue"}}
    else:
        publish_item["status"] = {
            "text": "Cannot start yet",
            "classes": "govuk-task-list__status--cannot-start-yet",
        }
        publish_item["hint"] = {"text": "Complete every section first"}
    return render_template(
        "officer/referrals/draft.html",
        referral=referral,
        reference=referrals.reference(referral),
        child=child,
        other_referrals=referral_drafts.referral_count_for(child.id) - 1,
        progress=progress,
        sections=len(Section),
        items=items,
        publish_item=publish_item,
        leaks=leaks,
        can_edit=referrals.may_act(referral, current_user),
    )


def _status_display(status: referral_drafts.Status) -> dict:
    if status is referral_drafts.Status.COMPLETED:
        return {"text": status.value}
    colour = "govuk-tag--blue" if status is referral_drafts.Status.NOT_STARTED else "govuk-tag--light-blue"
    return {"tag": {"text": status.value, "classes": colour}}


# ---- The child's details --------------------------------------------------------------------------------------------


def _child_rows(child: Child) -> list[tuple[str, str]]:
    """The child's record as (label, value) lines."""
    excluded = EXCLUSION_LABELS[child.exclusion_status]
    if child.exclusion_date:
        excluded = f"{excluded} on {long_date(child.exclusion_date)}"
    return [
        ("Name", child.full_name),
        ("Date of birth", long_date(child.date_of_birth)),
        ("UPN", child.upn),
        ("Gender", child.gender.value.capitalize()),
        ("Home school", child.home_school or "No school"),
        ("On-roll status", child.on_roll_status.value.capitalize()),
        ("EHC plan", "Yes" if child.ehc_plan else "No"),
        ("Looked after", "Yes" if child.looked_after else "No"),
        ("Exclusion status", excluded),
    ]


@bp.route("/referrals/<int:referral_id>/draft/child", methods=["GET", "POST"])
@roles(Role.OFFICER)
def referral_child(referral_id: int):
    referral, elsewhere = _draft_or_redirect(referral_id)
    if elsewhere:
        return elsewhere
    conflict = saved_now = None
    status = 200
    if request.method == "POST":
        form = ChildForm()
        today = london_today(clock.now())

        def save():
            referral_drafts.update_child(
                referral.id, form.details(), current_user, version=form.version.data, now=clock.now(), ip=client_ip()
            )

        def version_now():
            return db.session.get(Child, referral.child_id).version

        done, conflict = _save(
            form, save, lambda: referral_drafts.check_child(form.details(), today), version_now=version_now
        )
        if done is True:
            return _next_after_save(referral, Section.CHILD)
        if done is not None:
            return done
        if conflict:
            status = 409
            referral = _fresh(referral_id)
            saved_now = _child_rows(_read_child(referral, "Showing the details saved now after a conflicting change"))
    else:
        child = _read_child(referral, "Checking the child's details on a draft referral")
        form = ChildForm(data=child_data(child))
    return (
        render_template(
            "officer/referrals/child.html",
            form=form,
            referral=referral,
            reference=referrals.reference(referral),
            conflict=conflict,
            saved_now=saved_now,
            can_edit=referrals.may_act(referral, current_user),
            task_list_url=url_for("officer.referral_draft", referral_id=referral.id),
        ),
        status,
    )


# ---- The provision needed -------------------------------------------------------------------------------------------


def _provision_rows(referral: Referral) -> list[tuple[str, str]]:
    return [
        ("Lot", referral.lot.label if referral.lot else "Not chosen"),
        ("Hours per week", quantity(referral.hours_per_week)),
        ("Sessions", referral.sessions),
        ("Start date", long_date(referral.start_date)),
        ("Weeks", "" if referral.duration_weeks is None else str(referral.duration_weeks)),
        ("Location", referral.location),
        ("Travel needs", referral.travel_needs),
        ("Reintegration criteria", referral.reintegration_criteria),
    ]


@bp.route("/referrals/<int:referral_id>/draft/provision", methods=["GET", "POST"])
@roles(Role.OFFICER)
def referral_provision(referral_id: int):
    referral, elsewhere = _draft_or_redirect(referral_id)
    if elsewhere:
        return elsewhere
    lots = referrals.all_lots()
    conflict = saved_now = None
    if request.method == "POST":
        form = ProvisionForm(lots=lots)
        today = london_today(clock.now())

        def save():
            referral_drafts.save_provision(
                referral.id, form.details(), current_user, version=form.version.data, now=clock.now(), ip=client_ip()
            )

        done, conflict = _save(
            form,
            save,
            lambda: referral_drafts.check_provision(form.details(), today),
            version_now=lambda: _fresh(referral_id).version,
        )
        if done is True:
            return _next_after_save(referral, Section.PROVISION)
        if done is not None:
            return done
        if conflict:
            referral = _fresh(referral_id)
            saved_now = _provision_rows(referral)
    else:
        form = ProvisionForm(lots=lots, data=provision_data(referral))
    return _section_page(
        "officer/referrals/provision.html",
        referral,
        form,
        conflict=conflict,
        saved_now=saved_now,
        status=409 if conflict else 200,
        lots=lots,
    )


# ---- The aims -------------------------------------------------------------------------------------------------------


def _aims_form_with(texts: list[AimText], version) -> AimsForm:
    """A form showing these aims (after "Add another aim" or "Remove": nothing is saved, nothing is checked)."""
    form = AimsForm(formdata=None, data={"version": version, "aims": texts or [AimText()]})
    return form


def _aim_rows(referral: Referral) -> list[tuple[str, str]]:
    return [
        (
            f"Aim {aim.position}",
            f"{aim.description} (baseline: {aim.baseline}; target: {aim.target}; measured by: {aim.measure})",
        )
        for aim in referral.aims
    ] or [("Aims", "None saved")]


@bp.route("/referrals/<int:referral_id>/draft/aims", methods=["GET", "POST"])
@roles(Role.OFFICER)
def referral_aims(referral_id: int):
    referral, elsewhere = _draft_or_redirect(referral_id)
    if elsewhere:
        return elsewhere
    conflict = saved_now = None
    if request.method == "POST":
        form = AimsForm()
        texts = form.texts()
        action = request.form.get("action", "save")
        remove = request.form.get("remove")
        if remove is not None or action == "add":
            # Buttons of the same form (CSRFProtect has checked the token): redraw it with one aim more or fewer.
            # Nothing is checked or saved until "Save and continue".
            if remove is not None and remove.isdigit() and int(remove) < len(texts):
                del texts[int(remove)]
            form = _aims_form_with(texts, form.version.data)
            if action == "add" and remove is None:
                if len(texts) >= referral_drafts.MAX_AIMS:
                    _show_errors(form, {"aims": f"A referral can have up to {referral_drafts.MAX_AIMS} aims"})
                else:
                    form.aims.append_entry(AimText())
            return _section_page("officer/referrals/aims.html", referral, form, max_aims=referral_drafts.MAX_AIMS)

        def save():
            referral_drafts.replace_aims(
                referral.id, texts, current_user, version=form.version.data, now=clock.now(), ip=client_ip()
            )

        done, conflict = _save(
            form,
            save,
            lambda: referral_drafts.check_aims(texts),
            version_now=lambda: _fresh(referral_id).version,
        )
        if done is True:
            return _next_after_save(referral, Section.AIMS)
        if done is not None:
            return done
        if conflict:
            referral = _fresh(referral_id)
            saved_now = _aim_rows(referral)
    else:
        texts = [
            AimText(description=a.description, baseline=a.baseline, target=a.target, measure=a.measure)
            for a in referral.aims
        ]
        form = _aims_form_with(texts, referral.version)
    return _section_page(
        "officer/referrals/aims.html",
        referral,
        form,
        conflict=conflict,
        saved_now=saved_now,
        status=409 if conflict else 200,
        max_aims=referral_drafts.MAX_AIMS,
    )


# ---- The profile for providers --------------------------------------------------------------------------------------


def _profile_rows(referral: Referral) -> list[tuple[str, str]]:
    return [
        ("Needs", ", ".join(need.label for need in sorted(referral.need_codes, key=list(Need).index)) or "None"),
        ("Area", referral.area.label if referral.area else "Not chosen"),
        ("Profile", referral.profile),
    ]


@bp.route("/referrals/<int:referral_id>/draft/profile", methods=["GET", "POST"])
@roles(Role.OFFICER)
def referral_profile(referral_id: int):
    referral, elsewhere = _draft_or_redirect(referral_id)
    if elsewhere:
        return elsewhere
    conflict = saved_now = None
    if request.method == "POST":
        form = ProfileForm()

        def save():
            referral_drafts.save_profile(
                referral.id, form.details(), current_user, version=form.version.data, now=clock.now(), ip=client_ip()
            )

        done, conflict = _save(
            form,
            save,
            lambda: referral_drafts.check_profile(form.details()),
            version_now=lambda: _fresh(referral_id).version,
        )
        if done is True:
            return _next_after_save(referral, Section.PROFILE)
        if done is not None:
            return done
        if conflict:
            referral = _fresh(referral_id)
            saved_now = _profile_rows(referral)
    else:
        form = ProfileForm(data=profile_data(referral))
    return _section_page(
        "officer/referrals/profile.html",
        referral,
        form,
        conflict=conflict,
        saved_now=saved_now,
        status=409 if conflict else 200,
        seen=referral_drafts.shown_age(referral, london_today(clock.now())),
    )


# ---- Check and publish ----------------------------------------------------------------------------------------------


def _weight(form: PublishForm) -> int | None:
    text = (form.quality_weight.data or "").strip()
    return int(text) if text.isdigit() else None


@bp.route("/referrals/<int:referral_id>/publish", methods=["GET", "POST"])
@roles(Role.OFFICER)
def publish_referral(referral_id: int):
    referral, elsewhere = _draft_or_redirect(referral_id, referrals.Action.PUBLISH)
    if elsewhere:
        return elsewhere
    now = clock.now()
    today = london_today(now)
    if referral_drafts.progress(referral).missing:
        flash("Complete every section before you check and publish the referral.")
        return redirect(url_for("officer.referral_draft", referral_id=referral.id))
    leaks = _leak_rows(referral)
    conflict = None
    status = 200
    if request.method == "POST":
        form = PublishForm()
        if not leaks:
            del form.leaks_checked
        if form.validate():
            terms = PublishTerms(
                deadline_date=form.deadline.data,
                deadline_reason=form.deadline_reason.data or "",
                quality_weight=_weight(form),
                leaks_checked=bool(leaks) and bool(form.leaks_checked.data),
            )
            try:
                published = referrals.publish(
                    referral.id, current_user, version=whole_number(form.version.data), terms=terms, now=now, ip=client_ip()
                )
                _commit()
            except NotAllowed:
                db.session.rollback()
                abort(403)
            except IllegalTransition as error:
                db.session.rollback()
                return _not_now(error)
            except Conflict as error:
                db.session.rollback()
                referral = _fresh(referral_id)
                leaks = _leak_rows(referral)
                form.version.data = str(referral.version)
                conflict = error.message
                status = 409
            except FieldErrors:
                db.session.rollback()
                flash("Complete every section before you check and publish the referral.")
                return redirect(url_for("officer.referral_draft", referral_id=referral.id))
            except DomainError as error:
                db.session.rollback()
                _show_errors(form, {error.field or "deadline": error.message})
            else:
                count = len(published.invited)
                flash(
                    f"Referral {referrals.reference(published.referral)} published: {count} "
                    f"provider{'s' if count != 1 else ''} invited",
                    "success",
                )
                return redirect(url_for("officer.referral", referral_id=referral.id))
    else:
        form = PublishForm(
            data={
                "version": referral.version,
                "deadline": referrals.default_deadline(today),
                "quality_weight": str(referrals.DEFAULT_QUALITY_WEIGHT),
            }
        )
        if not leaks:
            del form.leaks_checked
    child = _read_child(referral, "Checking the referral before publishing it")
    return (
        render_template(
            "officer/referrals/publish.html",
            referral=referral,
            reference=referrals.reference(referral),
            form=form,
            conflict=conflict,
            leaks=leaks,
            child_rows=_child_rows(child),
            seen=referral_drafts.shown_age(referral, today),
            invited=len(eligible_providers(referral.lot, today)),
            default_deadline=referrals.default_deadline(today),
            can_edit=referrals.may_act(referral, current_user),
            section_url=lambda section: url_for(SECTION_ENDPOINTS[section], referral_id=referral.id),
            Section=Section,
            task_list_url=url_for("officer.referral_draft", referral_id=referral.id),
        ),
        status,
    )


# ---- Withdrawing ----------------------------------------------------------------------------------------------------


@bp.route("/referrals/<int:referral_id>/withdraw", methods=["GET", "POST"])
@roles(Role.OFFICER)
def withdraw_referral(referral_id: int):
    referral = _referral_or_404(referral_id)
    now = clock.now()
    if request.method == "POST" and not referrals.may_act(referral, current_user):
        abort(403)
    try:
        stage = referrals.ensure_stage(referral, referrals.Action.WITHDRAW, now)
    except IllegalTransition as error:
        if request.method == "POST":
            sent = whole_number(request.form.get("version"))
            return _not_now(
                error,
                typed=[(str(WithdrawForm.reason.args[0]), request.form.get("reason", ""))],
                stale=sent is not None and sent != referral.version,
            )
        flash(error.message)
        return redirect(url_for("officer.referral", referral_id=referral.id))
    conflict = None
    status = 200
    if request.method == "POST":
        form = WithdrawForm()
        if form.validate():
            try:
                referrals.withdraw(
                    referral.id,
                    current_user,
                    version=whole_number(form.version.data),
                    reason=form.reason.data or "",
                    now=now,
                    ip=client_ip(),
                )
                _commit()
            except NotAllowed:
                db.session.rollback()
                abort(403)
            except IllegalTransition as error:
                db.session.rollback()
                return _not_now(error)
            except Conflict as error:
                db.session.rollback()
                referral = _fresh(referral_id)
                form.version.data = str(referral.version)
                conflict, status = error.message, 409
            except DomainError as error:
                db.session.rollback()
                _show_errors(form, {error.field or "reason": error.message})
            else:
                flash(f"Referral {referrals.reference(referral)} withdrawn", "success")
                return redirect(url_for("officer.referral", referral_id=referral.id))
    else:
        form = WithdrawForm(data={"version": referral.version})
    return (
        render_template(
            "officer/referrals/withdraw.html",
            referral=referral,
            reference=referrals.reference(referral),
            form=form,
            conflict=conflict,
            stage=stage,
            Stage=Stage,
            can_edit=referrals.may_act(referral, current_user),
            back_url=url_for(
                "officer.referral_draft" if stage is Stage.DRAFT else "officer.referral", referral_id=referral.id
            ),
        ),
        status,
    )
