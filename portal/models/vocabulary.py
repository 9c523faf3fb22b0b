"""Fixed lists the forms and the directory share. Codes are stored; labels are shown."""

from __future__ import annotations

import enum


class Need(enum.StrEnum):
    SEMH = "semh"
    AUTISM = "autism"
    SLCN = "slcn"
    LEARNING = "learning"
    SENSORY_PHYSICAL = "sensory-physical"
    MEDICAL = "medical"
    ANXIETY_EBSA = "anxiety-ebsa"
    EXCLUSION = "exclusion"
    POST16 = "post16"

    @property
    def label(self) -> str:
        return NEED_LABELS[self]


NEED_LABELS = {
    Need.SEMH: "Social, emotional and mental health",
    Need.AUTISM: "Autism",
    Need.SLCN: "Speech, language and communication",
    Need.LEARNING: "Learning difficulties (moderate or specific)",
    Need.SENSORY_PHYSICAL: "Sensory or physical needs",
    Need.MEDICAL: "Medical needs, too ill to attend school",
    Need.ANXIETY_EBSA: "Anxiety and emotionally based school avoidance",
    Need.EXCLUSION: "Excluded or at risk of exclusion",
    Need.POST16: "Post-16 and preparation for adulthood",
}


class DeliveryMode(enum.StrEnum):
    ON_SITE = "on-site"
    COMMUNITY = "community"
    HOME = "home"
    ONLINE = "online"

    @property
    def label(self) -> str:
        return {"on-site": "On site", "community": "In the community", "home": "At home", "online": "Online"}[self]


class Area(enum.StrEnum):
    """Where in (and around) the borough a provider works."""

    NORTH = "north"
    CENTRAL = "central"
    SOUTH = "south"
    OUT_OF_BOROUGH = "out-of-borough"

    @property
    def label(self) -> str:
        return {
            "north": "North (Harefield, Northwood, Ruislip, Eastcote, Ickenham)",
            "central": "Central (Uxbridge, Hillingdon, Cowley)",
            "south": "South (Hayes, Yiewsley, West Drayton, Harlington, Heathrow villages)",
            "out-of-borough": "Outside the borough",
        }[self]


class OfstedGrade(enum.StrEnum):
    OUTSTANDING = "outstanding"
    GOOD = "good"
    REQUIRES_IMPROVEMENT = "requires improvement"
    INADEQUATE = "inadequate"
    NOT_YET_INSPECTED = "not yet inspected"
