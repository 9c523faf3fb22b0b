"""Pages anyone may read: the front door and the accessibility statement."""

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

from portal.access import public, role_home_endpoint

bp = Blueprint("pages", __name__)


@bp.get("/")
@public
def index():
    if current_user.is_authenticated:
        return redirect(url_for(role_home_endpoint(current_user.role)))
    return redirect(url_for("auth.login"))


@bp.get("/accessibility")
@public
def accessibility():
    return render_template("pages/accessibility.html")
