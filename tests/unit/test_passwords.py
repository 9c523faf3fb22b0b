import pytest
from argon2 import PasswordHasher, extract_parameters
from argon2.low_level import Type

from portal.services import passwords
from portal.services.errors import DomainError


def test_hash_is_argon2id_at_owasp_minimum(production_password_hashing):
    parameters = extract_parameters(passwords.hash_password("a perfectly fine password"))
    assert parameters.type is Type.ID
    assert (parameters.memory_cost, parameters.time_cost, parameters.parallelism) == (19456, 2, 1)


def test_verify_accepts_the_password_and_nothing_else():
    stored = passwords.hash_password("a perfectly fine password")
    assert passwords.verify_password(stored, "a perfectly fine password")
    assert not passwords.verify_password(stored, "a perfectly fine passworD")
    assert not passwords.verify_password(None, "a perfectly fine password")
    assert not passwords.verify_password("not-a-hash", "a perfectly fine password")


def test_a_hash_with_older_parameters_needs_rehashing(production_password_hashing):
    old = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("a perfectly fine password")
    assert passwords.needs_rehash(old)
    assert not passwords.needs_rehash(passwords.hash_password("a perfectly fine password"))


@pytest.mark.parametrize("password", ["x" * 12, "🙂" * 12, " " * 12, "x" * 128, "x" * 256])
def test_policy_accepts_any_characters_of_allowed_length(password):
    passwords.check_password_policy(password)


@pytest.mark.parametrize("password", ["", "x" * 11, "x" * 257])
def test_policy_refuses_wrong_lengths(password):
    with pytest.raises(DomainError) as error:
        passwords.check_password_policy(password)
    assert error.value.field == "password"
