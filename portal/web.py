"""What routes read from the request to hand to services (services never see the request)."""

from __future__ import annotations

from flask import Response, make_response, request


def client_ip() -> str | None:
    # ProxyFix (PROXY_FIX_X_FOR) has already put the real client address here behind a trusted load balancer.
    return request.remote_addr


def user_agent() -> str:
    return (request.user_agent.string or "")[:300]


def revalidated(body: str, headers: dict[str, str]) -> Response:
    """A fragment htmx polls, made so the browser revalidates it: it carries an ETag of its bytes, and a poll that
    finds nothing new gets 304 with no body (the browser hands htmx its copy). Only for fragments that never show a
    child's identity: the browser keeps a private copy of them."""
    response = make_response(body, 200, headers)
    response.headers["Cache-Control"] = "private, no-cache"
    response.add_etag()
    return response.make_conditional(request)
