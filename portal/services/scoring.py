"""The award criteria and the arithmetic of scoring, in Decimal. No database here: evaluation and the provider's
outcome page both call these, so an officer and a provider always see the same figures.

- Quality: each criterion (how the offer meets each aim, delivery and staffing, safeguarding) is scored 0 to 5, all
  criteria weigh the same, and the quality score is (sum of scores / (5 x number of criteria)) x the quality weight.
- Price: the lowest total / this offer's total x the price weight.
- The total is quality + price; offers are ranked by it, equal totals sharing a rank (1, 1, 3).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from portal.models import Offer, Referral

MAX_SCORE = 5
CENT = Decimal("0.01")
DELIVERY = "delivery"
SAFEGUARDING = "safeguarding"


@dataclass(frozen=True)
class Criterion:
    key: str
    label: str
    hint: str = ""


def aim_key(aim_id: int) -> str:
    return f"aim:{aim_id}"


def criteria(referral: Referral) -> list[Criterion]:
    """The quality criteria fixed when the referral was published: one per aim, then delivery and safeguarding."""
    found = [
        Criterion(aim_key(aim.id), f"Aim {aim.position}: {aim.description}", f"Target: {aim.target}")
        for aim in referral.aims
    ]
    found.append(Criterion(DELIVERY, "Delivery and staffing", "Hours, sessions, location, staffing ratio, transport"))
    found.append(Criterion(SAFEGUARDING, "Safeguarding", "The provider's safeguarding arrangements for this child"))
    return found


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def quality_score(scores: Mapping[str, int], keys: list[str], quality_weight: int) -> Decimal | None:
    """The weighted quality score, or None until every criterion has a score."""
    if not keys or any(key not in scores for key in keys):
        return None
    achieved = sum(Decimal(scores[key]) for key in keys)
    return _money(achieved / (MAX_SCORE * len(keys)) * quality_weight)


def price_scores(totals: Mapping[int, Decimal], price_weight: int) -> dict[int, Decimal]:
    """Each offer's price score by offer id: the lowest total gets the whole price weight."""
    if not totals:
        return {}
    lowest = min(totals.values())
    return {offer_id: _money(lowest / total * price_weight) for offer_id, total in totals.items()}


@dataclass(frozen=True)
class Result:
    offer: Offer
    scores: dict[str, int]
    quality: Decimal | None
    price: Decimal
    total: Decimal | None
    rank: int | None  # None until the offer is fully scored

    @property
    def scored(self) -> bool:
        return self.quality is not None


def rank(referral: Referral, offers: Iterable[Offer]) -> list[Result]:
    """The live offers with their scores, best total first (ties share a rank); offers not fully scored last."""
    offers = list(offers)
    keys = [criterion.key for criterion in criteria(referral)]
    prices = price_scores({offer.id: offer.total for offer in offers}, referral.price_weight)
    results = []
    for offer in offers:
        scores = {score.criterion: score.score for score in offer.scores}
        quality = quality_score(scores, keys, referral.quality_weight)
        price = prices[offer.id]
        results.append(
            Result(
                offer=offer,
                scores=scores,
                quality=quality,
                price=price,
                total=None if quality is None else quality + price,
                rank=None,
            )
        )
    scored = sorted((r for r in results if r.total is not None), key=lambda r: (-r.total, r.offer.total, r.offer.id))
    ranked = []
    for position, result in enumerate(scored, start=1):
        shared = ranked[-1].rank if ranked and ranked[-1].total == result.total else position
        ranked.append(Result(**{**result.__dict__, "rank": shared}))
    unscored = sorted((r for r in results if r.total is None), key=lambda r: r.offer.id)
    return ranked + unscored
