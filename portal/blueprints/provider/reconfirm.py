"""A provider re-confirms its place in the lots carried over to a successor arrangement (portal.services.arrangements):
until it does, it is not invited to call-offs in them."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from portal import clock
from portal.access import roles
from portal.blueprints.auth.forms import ActionForm
from portal.blueprints.provider import bp
from portal.extensions import db
from portal.models import Role
from portal.services import arrangements
from portal.web import client_ip


@bp.get("/reconfirm", endpoint="reconfirmation")
@roles(Role.PROVIDER)
def reconfirmation():
    waiting = arrangements.awaiting_reconfirmation(current_user.provider_id)
    return render_template("provider/reconfirm.html", waiting=waiting, action_form=ActionForm())


@bp.post("/reconfirm", endpoint="reconfirm")
@roles(Role.PROVIDER)
def reconfirm():
    form = ActionForm()
    if not form.validate_on_submit():
        return redirect(url_for("provider.reconfirmation"))
    count = arrangements.reconfirm(current_user.provider_id, current_user, now=clock.now(), ip=client_ip())
    db.session.commit()
    if count:
        flash(
            f"You have re-confirmed your place in {count} {'lot' if count == 1 else 'lots'} of the new arrangement.",
            "success",
        )
    return redirect(url_for("provider.reconfirmation"))
