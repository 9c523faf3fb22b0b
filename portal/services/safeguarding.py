"""Who holds safeguarding responsibility for a child in a placement: one rule, used by the placement form's htmx
prompt, by its plain post, and by the save itself.

The rules (DOMAIN.md, "A placement", after KCSIE):

1. The child is on the provider's roll: the provider holds responsibility (it is the child's school now).
2. The AP is supplementary support: whoever commissioned it (the council service, or the school).
3. The child stays on a school's roll and the school commissions: the school, which must have the provider's written
   confirmation of its staff checks.
4. Otherwise (main provision commissioned by the council for a child on no roll, or on a school's roll): the
   commissioning council service, which arranges the child's education.

A school can commission only for a child on its roll, so a child on no roll with a school commissioning is refused
with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from portal.models import Commissioner, CouncilService, OnRoll, Placement, Provider, ProvisionRole, ResponsibleParty


@dataclass(frozen=True)
class Responsibility:
    """The party the answers name, or why the answers do not fit together (``party`` is None)."""

    party: ResponsibleParty | None
    why: str
    # The school keeps responsibility: it needs the provider's staff checks confirmed in writing.
    needs_staff_checks_confirmation: bool = False


def responsibility(on_roll: OnRoll, provision_role: ProvisionRole, commissioner: Commissioner) -> Responsibility:
    if on_roll is OnRoll.PROVIDER:
        return Responsibility(
            ResponsibleParty.PROVIDER, "The child is on the provider's roll, so the provider holds responsibility."
        )
    if commissioner is Commissioner.SCHOOL and on_roll is OnRoll.NONE:
        return Responsibility(
            None,
            "A school can commission alternative provision only for a child on its roll. Choose the school the child "
            "is on roll with, or that a council service commissions the placement.",
        )
    if provision_role is ProvisionRole.SUPPLEMENTARY:
        if commissioner is Commissioner.SCHOOL:
            return Responsibility(
                ResponsibleParty.SCHOOL,
                "The placement is supplementary support commissioned by the school, so the school keeps "
                "responsibility.",
                needs_staff_checks_confirmation=True,
            )
        return Responsibility(
            ResponsibleParty.SERVICE,
            "The placement is supplementary support, so the council service that commissions it holds responsibility.",
        )
    if commissioner is Commissioner.SCHOOL:
        return Responsibility(
            ResponsibleParty.SCHOOL,
            "The child stays on the school's roll and the school commissions the placement, so the school remains "
            "responsible.",
            needs_staff_checks_confirmation=True,
        )
    return Responsibility(
        ResponsibleParty.SERVICE,
        "The council service commissions the child's main provision, so it holds responsibility.",
    )


@dataclass(frozen=True)
class Contact:
    """A responsible party and its Designated Safeguarding Lead."""

    party: ResponsibleParty
    organisation: str
    dsl_name: str
    dsl_role: str
    dsl_email: str
    dsl_phone: str

    @property
    def complete(self) -> bool:
        return bool(self.dsl_name and self.dsl_email)


def contact_for(
    party: ResponsibleParty,
    *,
    provider: Provider,
    service: CouncilService,
    school_name: str = "",
    school_dsl_name: str = "",
    school_dsl_email: str = "",
    school_dsl_phone: str = "",
) -> Contact:
    """The party's DSL. The provider's and the service's are read from their records at the time (never a stale copy);
    a school is not on the portal, so the officer records its DSL on the placement."""
    if party is ResponsibleParty.PROVIDER:
        return Contact(
            party, provider.name, provider.dsl_name, provider.dsl_role, provider.dsl_email, provider.dsl_phone
        )
    if party is ResponsibleParty.SERVICE:
        return Contact(party, service.name, service.dsl_name, service.dsl_role, service.dsl_email, service.dsl_phone)
    return Contact(
        party,
        school_name or "The school",
        school_dsl_name,
        "Designated Safeguarding Lead",
        school_dsl_email,
        school_dsl_phone,
    )


def placement_contact(placement: Placement) -> Contact:
    return contact_for(
        placement.responsible_party,
        provider=placement.provider,
        service=placement.service,
        school_name=placement.school_name,
        school_dsl_name=placement.school_dsl_name,
        school_dsl_email=placement.school_dsl_email,
        school_dsl_phone=placement.school_dsl_phone,
    )
