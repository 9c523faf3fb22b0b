"""The SLA page and its printable copy."""

from portal.blueprints.slas import bp  # noqa: F401
