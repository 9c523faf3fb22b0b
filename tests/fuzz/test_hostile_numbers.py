"""The money and quantity parsers behind the offer, variation and placement forms: any text gives a Decimal or a
DomainError with a message, never another exception (a 27-digit rate once raised decimal.InvalidOperation, a 500)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from portal.services import offers
from portal.services.errors import DomainError

numbers_as_typed = st.one_of(
    st.text(max_size=40),
    st.from_regex(r"\A£?-?[0-9,]{0,60}(\.[0-9]{0,40})?\Z"),
    st.sampled_from(["1" * 27, "9" * 100, "1" * 40 + ".5", "0.0000000000000000000000000001", "1e309", "NaN", "Infinity"]),
)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(numbers_as_typed)
def test_parse_money_gives_an_amount_or_a_message(text):
    try:
        value = offers.parse_money(text, name="rate", field="rate")
    except DomainError as error:
        assert error.message and error.field == "rate"
    else:
        assert Decimal(0) < value <= offers.MONEY_MAX and value == value.quantize(Decimal("0.01"))


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(numbers_as_typed)
def test_parse_quantity_gives_a_number_or_a_message(text):
    try:
        value = offers.parse_quantity(text, name="hours a week", field="hours", maximum=Decimal(40))
    except DomainError as error:
        assert error.message and error.field == "hours"
    else:
        assert Decimal(0) < value <= 40


def test_a_rate_too_long_for_the_decimal_context_is_refused_with_a_message():
    for text in ("1" * 27, "1" * 40 + ".5"):
        try:
            offers.parse_money(text, name="rate", field="rate")
        except DomainError as error:
            assert "or less" in error.message
        else:
            raise AssertionError(f"{text} was accepted")
