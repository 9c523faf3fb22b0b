"""How quantities and money are shown."""

from __future__ import annotations

from decimal import Decimal

import pytest

from portal.formatting import money, quantity


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("10.0"), "10"),  # Decimal.normalize() would show "1E+1"
        (Decimal("15.0"), "15"),
        (Decimal("2.5"), "2.5"),
        (Decimal("0.5"), "0.5"),
        (40, "40"),
        (None, ""),
    ],
)
def test_quantities_lose_trailing_zeros_and_never_use_an_exponent(value, shown):
    assert quantity(value) == shown


def test_money_has_pence_and_thousands():
    assert money(Decimal("7200")) == "£7,200.00"
    assert money(None) == ""
