"""Known devices: a browser where a person has signed in fully carries a signed cookie naming their address and a
random device id, and its failed sign-ins for that address are counted apart (portal.services.lockout). So a stranger
who knows an address and locks it by guessing does not lock its owner out of the browser they use, while the
stranger's own guesses stay limited as before (OWASP's "device cookies").

The cookie holds the SHA-256 of the address (never the address) and the id, signed with SECRET_KEY; one address a
browser, the last one signed in. A cookie for another address, or one that does not verify, is no cookie.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from flask import Response, current_app, request
from itsdangerous import BadSignature, URLSafeSerializer

from portal.services.lockout import email_key

COOKIE = "ap_portal_device"
KEEP_FOR = timedelta(days=365)


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="known device")


def device_for(email: str | None) -> str | None:
    """This browser's device id for ``email``, if it carries a valid cookie for that address."""
    raw = request.cookies.get(COOKIE)
    if not raw or not email:
        return None
    try:
        data = _serializer().loads(raw)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("e") != email_key(email) or not isinstance(data.get("d"), str):
        return None
    return data["d"]


def remember(response: Response, email: str) -> None:
    """After a full sign-in: this browser is a known device for ``email`` (its id kept if it was already)."""
    device = device_for(email) or secrets.token_urlsafe(16)
    response.set_cookie(
        COOKIE,
        _serializer().dumps({"e": email_key(email), "d": device}),
        max_age=int(KEEP_FOR.total_seconds()),
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )
