"""The common-password list (Royce Williams' 20,000, as Django ships it) and the checks against the user's own
email address and name."""

import gzip

import pytest

from portal.services import passwords
from portal.services.errors import DomainError


def _refusal(password, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as error:
        passwords.check_password_policy(password, **kwargs)
    assert error.value.field == "password"
    return error.value


def test_the_list_ships_gzipped_with_at_least_ten_thousand_entries():
    with gzip.open(passwords.COMMON_PASSWORDS_PATH, "rt", encoding="utf-8") as lines:
        assert sum(1 for line in lines if line.strip()) >= 10_000
    assert len(passwords.common_passwords()) >= 10_000


def test_the_list_is_read_once():
    assert passwords.common_passwords() is passwords.common_passwords()


# Real entries of the list, 12 characters or more (so only the list can refuse them).
@pytest.mark.parametrize(
    "password", ["password1234", "qwertyuiop[]", "1qaz2wsx3edc", "q1w2e3r4t5y6", "qwerty123456", "international"]
)
def test_a_password_on_the_list_is_refused(password):
    assert password in passwords.common_passwords()
    assert _refusal(password).message == (
        "Choose a password that is harder to guess: this one is on a list of common passwords"
    )


@pytest.mark.parametrize("password", ["Password1234", "  QWERTY123456  ", "InterNational"])
def test_the_list_is_compared_lower_cased_and_stripped(password):
    assert "on a list of common passwords" in _refusal(password).message


@pytest.mark.parametrize(
    "password", ["x" * 128, "correct horse battery staple", "a perfectly fine password", "🙂 unusual and long enough"]
)
def test_long_or_uncommon_passwords_are_accepted(password):
    passwords.check_password_policy(password, email="sam@example.org", name="Sam Jones")


def test_the_email_address_as_the_password_is_refused():
    assert _refusal("sam.jones@example.org", email="sam.jones@example.org").message == (
        "Your password must not contain your email address"
    )


def test_a_password_containing_the_email_address_is_refused_in_any_case():
    _refusal("my login is SAM.JONES@example.org!", email="sam.jones@example.org")


def test_the_name_as_the_password_is_refused():
    refusal = _refusal("  Samantha Jones-Smith ", name="Samantha Jones-Smith")
    assert refusal.message == "Your password must not be your name"


def test_without_email_or_name_only_length_and_the_list_apply():
    passwords.check_password_policy("sam.jones@example.org")
