"""Response headers every page carries: a strict Content-Security-Policy with a per-request nonce, and friends."""

from __future__ import annotations

import secrets

from flask import Flask, g, request


def csp_nonce() -> str:
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def content_security_policy(nonce: str) -> str:
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
            "style-src 'self'",
            "img-src 'self'",
            "font-src 'self'",
            "connect-src 'self'",
            "form-action 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ]
    )


# A download (a compliance document, an export) is never a page of the portal: should a browser render one inline
# after all (an old browser, a type it sniffs), it may run nothing, load nothing and reach nothing of the portal.
DOWNLOAD_CSP = "default-src 'none'; sandbox; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def is_download(response) -> bool:
    return response.headers.get("Content-Disposition", "").startswith("attachment")


NUL_TITLE = "There is a problem with what you sent"
NUL_MESSAGE = (
    "It contained a character the portal cannot store (a NUL byte, which no keyboard types). "
    "Go back, remove it and send it again."
)


def _sent_text(app: Flask):
    """Every string the request names: the address's parts, the query and the form (field names too). A body over
    the size limit is left to the route, which refuses it with its own message before reading it."""
    yield from (value for value in (request.view_args or {}).values() if isinstance(value, str))
    for name, values in request.args.lists():
        yield name
        yield from values
    if request.method in {"POST", "PUT", "PATCH"} and (request.content_length or 0) <= app.config["MAX_CONTENT_LENGTH"]:
        for name, values in request.form.lists():
            yield name
            yield from values


def init_security_headers(app: Flask) -> None:
    @app.before_request
    def refuse_nul_bytes():
        # PostgreSQL cannot hold a NUL in text (psycopg raises, which would be a 500 wherever it is saved or searched
        # for), and no person types one: refuse the whole request with a message, before any route reads it.
        if any("\x00" in text for text in _sent_text(app)):
            from portal.errors import render_error

            return render_error(400, NUL_TITLE, NUL_MESSAGE)

    @app.context_processor
    def inject_nonce():
        return {"cspNonce": csp_nonce()}

    @app.after_request
    def set_security_headers(response):
        headers = response.headers
        policy = DOWNLOAD_CSP if is_download(response) else content_security_policy(csp_nonce())
        headers["Content-Security-Policy"] = policy
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = "same-origin"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        headers["Permissions-Policy"] = "camera=(), geolocation=(), microphone=(), payment=(), usb=()"
        if app.config["HSTS_ENABLED"]:
            headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        if request.endpoint != "static":
            # Pages may hold a child's details: no browser or proxy keeps a copy (unless the route chose, as the
            # polled fragments do through portal.web.revalidated, which never show a child).
            headers.setdefault("Cache-Control", "no-store")
        return response
