"""Who may use a route. Every view declares it: @public, or @roles(...) naming the roles allowed.

The declaration is kept on the view function (``view.access``) so the access test can compare every endpoint in
``app.url_map`` with its table.
"""

from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user

from portal.extensions import login_manager
from portal.models import Role

PUBLIC = "public"
# Any signed-in person, whatever their role: @roles(*ALL_ROLES).
ALL_ROLES = tuple(Role)


def public(view):
    view.access = PUBLIC
    return view


def roles(*allowed: Role):
    allowed_roles = frozenset(Role(r) for r in allowed)
    if not allowed_roles:
        raise ValueError("roles() needs at least one role")

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in allowed_roles:
                abort(403)
            return view(*args, **kwargs)

        wrapped.access = allowed_roles
        return wrapped

    return decorator


def role_home_endpoint(role: Role) -> str:
    return f"{Role(role).value}.home"
