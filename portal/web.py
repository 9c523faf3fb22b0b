"""What routes read from the request to hand to services (services never see the request)."""

from __future__ import annotations

from flask import request


def client_ip() -> str | None:
    # ProxyFix (PROXY_FIX_X_FOR) has already put the real client address here behind a trusted load balancer.
    return request.remote_addr


def user_agent() -> str:
    return (request.user_agent.string or "")[:300]
