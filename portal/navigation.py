"""The service navigation each role sees. An area adds its pages here as they are built."""

from __future__ import annotations

from flask import request, url_for

from portal.models import Role

NAVIGATION: dict[Role, list[tuple[str, str]]] = {
    Role.OFFICER: [
        ("Home", "officer.home"),
        ("Referrals", "officer.referrals"),
        ("Placements", "officer.caseload"),
        ("Directory", "directory.index"),
    ],
    Role.PROVIDER: [
        ("Home", "provider.home"),
        ("Opportunities", "provider.opportunities"),
        ("Placements", "provider.placements"),
        ("SLA", "provider.slas"),
        ("Application", "provider.application"),
        ("Documents", "provider.documents"),
        ("Colleagues", "provider.colleagues"),
    ],
    Role.MANAGER: [
        ("Home", "manager.home"),
        ("Applications", "manager.applications"),
        ("Referrals", "manager.referrals"),
        ("Placements", "manager.placements"),
        ("Oversight", "manager.oversight"),
        ("SLAs", "manager.slas"),
        ("Off-DPS requests", "manager.off_dps_requests"),
        ("Providers", "manager.providers"),
        ("Lots", "manager.lots"),
        ("Directory", "directory.index"),
        ("Users", "manager.users"),
        ("Audit", "manager.audit"),
    ],
}


def navigation_for(role: Role) -> list[dict]:
    return [
        {"text": text, "href": url_for(endpoint), "current": request.endpoint == endpoint}
        for text, endpoint in NAVIGATION[role]
    ]
