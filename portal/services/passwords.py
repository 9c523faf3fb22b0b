"""Password hashing (argon2id at OWASP's minimum parameters) and the password policy."""

from __future__ import annotations

import functools
import gzip
from pathlib import Path

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from portal.services.errors import DomainError

# OWASP Password Storage Cheat Sheet, argon2id minimum: m=19 MiB, t=2, p=1.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, hash_len=32, salt_len=16, type=Type.ID)

MIN_LENGTH = 12
MAX_LENGTH = 256

# Verified against when the email is unknown, so a wrong email costs the same time as a wrong password.
_DUMMY_HASH = _hasher.hash("no account has this password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def check_password_policy(password: str, *, email: str | None = None, name: str | None = None) -> None:
    """Length and a list of common passwords: no composition rules, any characters (NCSC, NIST SP 800-63B)."""
    if len(password) < MIN_LENGTH:
        raise DomainError(f"Password must be {MIN_LENGTH} characters or more", field="password")
    if len(password) > MAX_LENGTH:
        raise DomainError(f"Password must be {MAX_LENGTH} characters or fewer", field="password")
    if password.strip().lower() in common_passwords():
        raise DomainError(TOO_COMMON, field="password")
    if email and email.strip().lower() in password.lower():
        raise DomainError("Your password must not contain your email address", field="password")
    if name and name.strip() and password.strip().lower() == name.strip().lower():
        raise DomainError("Your password must not be your name", field="password")


TOO_COMMON = "Choose a password that is harder to guess: this one is on a list of common passwords"
# Royce Williams' list of the 20,000 most common passwords, as Django ships it (see portal/data/README.md).
COMMON_PASSWORDS_PATH = Path(__file__).resolve().parent.parent / "data" / "common-passwords.txt.gz"


@functools.cache
def common_passwords() -> frozenset[str]:
    """The common-password list, lower-cased, read once per process."""
    with gzip.open(COMMON_PASSWORDS_PATH, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip().lower() for line in lines if line.strip())
