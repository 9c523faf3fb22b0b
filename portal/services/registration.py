"""A provider registers itself: the organisation and its first user, who gets an emailed link to set a password.

Whether or not the email address already has an account, the person registering sees the same answer (no one can
use the page to learn who has an account); an organisation name that is taken is said plainly, because providers'
names are public. Plain arguments in, domain errors out; commits.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models import Provider, Role, TokenPurpose, User
from portal.services import account_tokens, accounts, audit
from portal.services.audit import Events
from portal.services.errors import DomainError, FieldErrors
from portal.services.mail import notify, queue_email

NAME_TAKEN = "An organisation with this name is registered already. If it is yours, ask its first user to invite you"
VERIFY_SUBJECT = "Confirm your email address for Alternative provision commissioning"


@dataclass(frozen=True)
class Registration:
    """What happened, for the audit trail and tests only: the page shows the same whatever it says."""

    user: User | None
    provider: Provider | None

    @property
    def created(self) -> bool:
        return self.user is not None


def _name_taken(name: str) -> bool:
    return db.session.scalar(sa.select(sa.exists().where(sa.func.lower(Provider.name) == name.lower())))


def register(*, organisation_name: str, contact_name: str, email: str, ip: str | None) -> Registration:
    """Make the provider and its first user (no password; they look after their colleagues' accounts) and email a
    link, valid 72 hours, to confirm the address and set a password. FieldErrors for a missing or malformed answer
    or a taken organisation name. An address that has an account already makes nothing and is audited; its owner
    is told by email."""
    organisation_name = " ".join((organisation_name or "").split())
    contact_name = " ".join((contact_name or "").split())
    errors: dict[str, str] = {}
    if not organisation_name:
        errors["organisation_name"] = "Enter your organisation's name"
    elif len(organisation_name) > 200:
        errors["organisation_name"] = "Organisation name must be 200 characters or fewer"
    elif _name_taken(organisation_name):
        errors["organisation_name"] = NAME_TAKEN
    if not contact_name:
        errors["contact_name"] = "Enter your full name"
    elif len(contact_name) > 200:
        errors["contact_name"] = "Name must be 200 characters or fewer"
    normalised = ""
    if not (email or "").strip():
        errors["email"] = "Enter your email address"
    else:
        try:
            normalised = accounts.normalise_email(email)
        except DomainError as error:
            errors["email"] = error.message
        else:
            if len(normalised) > 254:
                errors["email"] = "Email address must be 254 characters or fewer"
    if errors:
        raise FieldErrors(errors)

    existing = accounts.find_user_by_email(normalised)
    if existing is not None:
        audit.record(
            Events.REGISTRATION_EMAIL_IN_USE,
            actor_label=normalised,
            ip=ip,
            subject=existing,
            organisation=organisation_name,
        )
        queue_email(
            existing.email,
            "Someone tried to register with your email address",
            f"Someone, perhaps you, tried to register {organisation_name} for Alternative provision commissioning "
            "with this email address. It already has an account, so nothing was changed.\n\n"
            f"To sign in, go to {current_app.config['BASE_URL']}/sign-in. If you have forgotten your password, "
            "use 'Forgotten your password?' on that page.\n\nIf this was not you, you can ignore this email.",
        )
        db.session.commit()
        return Registration(user=None, provider=None)

    try:
        provider = Provider(name=organisation_name)
        db.session.add(provider)
        db.session.flush()
        user = accounts.create_user(
            email=normalised, name=contact_name, role=Role.PROVIDER, provider_name=provider.name
        )
        raw = account_tokens.issue(user, TokenPurpose.INVITATION)
        body = (
            f"Dear {user.name},\n\n"
            f"Thank you for registering {provider.name} for Alternative provision commissioning, "
            f"{current_app.config['COUNCIL_NAME']}'s service for alternative provision.\n\n"
            f"To confirm your email address and set your password, open this link:\n\n{account_tokens.link(raw)}\n\n"
            "The link expires in 72 hours and works once.\n\n"
            f"Then sign in with this email address ({user.email}) and your new password. The first time you sign in "
            "you will set up two-factor authentication with an authenticator app on your phone. Then you can apply to "
            "join the dynamic purchasing system.\n\n"
            "If you did not register, you can ignore this email."
        )
        notify(
            user,
            VERIFY_SUBJECT,
            body,
            portal_body="Welcome. The link to confirm your email address and set your password was sent to your "
            "email address.",
        )
        audit.record(
            Events.PROVIDER_REGISTERED,
            actor=user,
            ip=ip,
            subject=provider,
            organisation=provider.name,
            email=user.email,
        )
        db.session.commit()
    except IntegrityError:
        # Someone registered the same name or address a moment ago.
        db.session.rollback()
        if _name_taken(organisation_name):
            raise FieldErrors({"organisation_name": NAME_TAKEN}) from None
        return Registration(user=None, provider=None)
    return Registration(user=user, provider=provider)
