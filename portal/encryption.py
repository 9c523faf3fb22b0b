"""Secrets kept encrypted at rest: the two-factor (TOTP) keys, with which anyone could mint a person's codes.

A column of type ``EncryptedString`` holds a Fernet token (AES-128-CBC and HMAC-SHA256, from ``cryptography``) and
reads back as the plain text. The keys come from DATA_ENCRYPTION_KEY, which lives in the environment and never in the
database, so a copy of the database or of a backup alone gives up no secret. DATA_ENCRYPTION_KEY is one or more keys,
comma-separated: the first encrypts, any of them decrypts, so a key is replaced by putting the new one first,
running ``flask secrets rotate`` (which writes every secret again under the first key), then dropping the old one.
"""

from __future__ import annotations

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app


class UnreadableSecret(Exception):
    """A stored secret cannot be read with the configured keys."""


def parse_keys(text: str) -> list[str]:
    """The keys in DATA_ENCRYPTION_KEY, first (the one that encrypts) first. Raises ValueError for one that is not a
    Fernet key (32 random bytes in URL-safe base64: ``python -c "from cryptography.fernet import Fernet;
    print(Fernet.generate_key().decode())"``)."""
    keys = [key.strip() for key in text.split(",") if key.strip()]
    if not keys:
        raise ValueError("no key given")
    for key in keys:
        Fernet(key)  # raises ValueError for anything but 32 bytes of URL-safe base64
    return keys


def cipher() -> MultiFernet:
    keys = current_app.config["DATA_ENCRYPTION_KEYS"]
    cached = current_app.extensions.get("data_encryption")
    if cached is None or cached[0] != keys:
        cached = (keys, MultiFernet([Fernet(key) for key in keys]))
        current_app.extensions["data_encryption"] = cached
    return cached[1]


def encrypt(plain: str) -> str:
    return cipher().encrypt(plain.encode()).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return cipher().decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeEncodeError):
        raise UnreadableSecret(
            "A stored secret cannot be decrypted with DATA_ENCRYPTION_KEY: the key it was written with is missing"
        ) from None


class EncryptedString(sa.TypeDecorator):
    """A string stored encrypted (see the module's docstring). Never compared in SQL: each token is different."""

    impl = sa.String
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else encrypt(value)

    def process_result_value(self, value, dialect):
        return None if value is None else decrypt(value)
