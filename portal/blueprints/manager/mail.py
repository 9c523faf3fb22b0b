"""The managers' undelivered mail: the emails the outbox gave up, and trying one again.

Registered on the manager blueprint (imported at the bottom of portal/blueprints/manager/__init__.py).
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from portal import clock
from portal.access import roles
from portal.blueprints.auth.forms import ActionForm
from portal.blueprints.manager import bp
from portal.blueprints.manager.applications import page_number
from portal.extensions import db
from portal.models import Role
from portal.pagination import govuk_pagination
from portal.services import outbox
from portal.services.errors import IllegalTransition, NotFound
from portal.web import client_ip


@bp.get("/mail/undelivered")
@roles(Role.MANAGER)
def undelivered_mail():
    result = outbox.undelivered(page=page_number())
    return render_template(
        "manager/undelivered_mail.html",
        result=result,
        give_up_days=outbox.GIVE_UP_AFTER.days,
        pagination=govuk_pagination(
            result.page,
            result.pages,
            lambda number: url_for("manager.undelivered_mail", page=number),
            label="Pages of undelivered emails",
        ),
    )


@bp.post("/mail/undelivered/<int:message_id>/try-again")
@roles(Role.MANAGER)
def try_again_mail(message_id: int):
    if ActionForm().validate_on_submit():
        try:
            message = outbox.try_again(current_user, message_id, now=clock.now(), ip=client_ip())
        except NotFound:
            abort(404)
        except IllegalTransition as error:
            flash(error.message, "info")
        else:
            db.session.commit()
            flash(f"The email to {message.to_address} will be sent again the next time the outbox runs.", "success")
    page = page_number()
    return redirect(url_for("manager.undelivered_mail", page=page if page > 1 else None))


@bp.post("/mail/undelivered/try-again")
@roles(Role.MANAGER)
def try_all_again_mail():
    if ActionForm().validate_on_submit():
        count = outbox.try_all_again(current_user, now=clock.now(), ip=client_ip())
        db.session.commit()
        if count:
            emails = f"{count} email{'s' if count != 1 else ''}"
            flash(f"{emails} will be sent again the next time the outbox runs.", "success")
        else:
            flash("There was no undelivered email to try again.", "info")
    return redirect(url_for("manager.undelivered_mail"))
