"""The arithmetic of scoring (portal.services.scoring): Decimal quality and price scores, rounding, ranks and ties.

No database: the referral and offers are transient objects."""

from __future__ import annotations

from decimal import Decimal

from portal.models import Aim, Offer, Referral, Score
from portal.services import scoring


def _referral(quality_weight: int = 70, aims: int = 2) -> Referral:
    referral = Referral(quality_weight=quality_weight)
    referral.aims = [
        Aim(id=10 + n, position=n, description=f"Aim {n}", baseline="b", target=f"Target {n}", measure="m")
        for n in range(1, aims + 1)
    ]
    return referral


def _keys(referral: Referral) -> list[str]:
    return [criterion.key for criterion in scoring.criteria(referral)]


def _offer(offer_id: int, total: str, referral: Referral, scores: list[int] | None = None) -> Offer:
    offer = Offer(id=offer_id, total=Decimal(total))
    if scores is not None:
        offer.scores = [Score(criterion=key, score=value) for key, value in zip(_keys(referral), scores, strict=True)]
    return offer


def test_the_criteria_are_each_aim_then_delivery_and_safeguarding():
    referral = _referral(aims=2)
    assert _keys(referral) == ["aim:11", "aim:12", "delivery", "safeguarding"]
    assert scoring.criteria(referral)[0].label == "Aim 1: Aim 1"


def test_price_score_is_the_lowest_total_over_this_total_times_the_price_weight():
    prices = scoring.price_scores({1: Decimal("7200.00"), 2: Decimal("9000.00")}, 30)
    assert prices == {1: Decimal("30.00"), 2: Decimal("24.00")}
    assert all(isinstance(value, Decimal) for value in prices.values())
    assert str(prices[2]) == "24.00"


def test_scores_are_rounded_half_up_to_the_penny():
    # 7000 / 9000 x 30 = 23.333... ; 1000 / 8000 x 1 = 0.125 exactly (half up, not to even: 0.13)
    assert scoring.price_scores({1: Decimal("7000"), 2: Decimal("9000")}, 30)[2] == Decimal("23.33")
    assert scoring.price_scores({1: Decimal("1000"), 2: Decimal("8000")}, 1)[2] == Decimal("0.13")
    # Quality: 1 out of 15 x 70 = 4.666...
    assert scoring.quality_score({"a": 1, "b": 0, "c": 0}, ["a", "b", "c"], 70) == Decimal("4.67")


def test_quality_score_needs_every_criterion_scored():
    assert scoring.quality_score({"a": 4, "b": 4}, ["a", "b"], 70) == Decimal("56.00")
    assert scoring.quality_score({"a": 4}, ["a", "b"], 70) is None
    assert scoring.quality_score({}, [], 70) is None
    assert scoring.quality_score({"a": 5, "b": 5}, ["a", "b"], 70) == Decimal("70.00")
    assert scoring.quality_score({"a": 0, "b": 0}, ["a", "b"], 70) == Decimal("0.00")


def test_rank_orders_by_total_with_quality_and_price_in_decimal():
    referral = _referral(quality_weight=70)
    cheap_weak = _offer(1, "7200.00", referral, [3, 3, 3, 3])  # quality 42.00 + price 30.00 = 72.00
    dear_strong = _offer(2, "9000.00", referral, [5, 5, 5, 5])  # quality 70.00 + price 24.00 = 94.00
    results = scoring.rank(referral, [cheap_weak, dear_strong])
    assert [r.offer.id for r in results] == [2, 1]
    assert [(r.quality, r.price, r.total, r.rank) for r in results] == [
        (Decimal("70.00"), Decimal("24.00"), Decimal("94.00"), 1),
        (Decimal("42.00"), Decimal("30.00"), Decimal("72.00"), 2),
    ]


def test_equal_totals_share_a_rank_and_the_next_rank_is_skipped():
    referral = _referral(quality_weight=70)
    first = _offer(1, "8000", referral, [4, 4, 4, 4])
    second = _offer(2, "8000", referral, [4, 4, 4, 4])
    third = _offer(3, "8000", referral, [2, 2, 2, 2])
    results = scoring.rank(referral, [third, second, first])
    assert [(r.offer.id, r.rank) for r in results] == [(1, 1), (2, 1), (3, 3)]
    assert results[0].total == results[1].total == Decimal("86.00")


def test_a_single_offer_gets_the_whole_price_weight():
    referral = _referral(quality_weight=60)
    (only,) = scoring.rank(referral, [_offer(1, "12345.67", referral, [5, 4, 3, 2])])
    assert only.price == Decimal("40.00")
    assert only.quality == Decimal("42.00")  # 14 / 20 x 60
    assert only.total == Decimal("82.00") and only.rank == 1


def test_no_offers_rank_to_nothing():
    assert scoring.rank(_referral(), []) == []
    assert scoring.price_scores({}, 30) == {}


def test_offers_not_fully_scored_come_last_without_a_rank_or_total():
    referral = _referral()
    scored = _offer(2, "9000", referral, [1, 1, 1, 1])
    unscored = _offer(1, "7000", referral)
    partly = _offer(3, "7000", referral)
    partly.scores = [Score(criterion="delivery", score=5)]
    results = scoring.rank(referral, [unscored, partly, scored])
    assert [r.offer.id for r in results] == [2, 1, 3]
    assert results[0].rank == 1 and results[0].scored
    assert [(r.rank, r.total, r.quality, r.scored) for r in results[1:]] == [(None, None, None, False)] * 2
    # The price score is known before the quality is scored.
    assert results[1].price == Decimal("30.00")
    assert results[0].price == Decimal("23.33")
