import os
import subprocess
import sys
from pathlib import Path

import pytest

from portal.config import DEVELOPMENT_DATA_ENCRYPTION_KEY, ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]
# Fixed, so the parameters below have the same ids in every xdist worker.
NEW_KEY, OLD_KEY = "vTkb2rGSixkhsqa5z2mP-3-Tst1j0pZwu_v4NF36unk=", "KZiBFxUmCxEN1G_M0PhKksy-m3fiRP_CuVPZ5j_ZkLE="


def test_development_defaults_to_a_sqlite_file_under_instance():
    config = load_config({"PORTAL_ENV": "development"})
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{ROOT / 'instance' / 'portal.sqlite3'}"
    assert config["SESSION_COOKIE_SECURE"] is False
    assert config["HSTS_ENABLED"] is False
    assert config["RATELIMIT_STORAGE_URI"] == "memory://"


def test_production_is_the_default_and_needs_a_secret_key():
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config({})


@pytest.mark.parametrize("key", ["", "dev", "changeme", "insecure-development-key", "short-but-random-7f3a"])
def test_production_refuses_weak_secret_keys(key):
    with pytest.raises(ConfigError):
        load_config({"PORTAL_ENV": "production", "SECRET_KEY": key})


def test_production_settings():
    config = load_config(
        {
            "PORTAL_ENV": "production",
            "SECRET_KEY": "k" * 40,
            "DATA_ENCRYPTION_KEY": f"{NEW_KEY}, {OLD_KEY}",
            "DATABASE_URL": "postgresql://app@db/portal",
            "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
            "MAIL_SERVER": "smtp.council.example",
            "MAIL_PORT": "587",
        }
    )
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://app@db/portal"
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["SESSION_COOKIE_HTTPONLY"] is True
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert config["HSTS_ENABLED"] is True
    assert config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/0"
    assert (config["MAIL_SERVER"], config["MAIL_PORT"]) == ("smtp.council.example", 587)
    assert config["DATA_ENCRYPTION_KEYS"] == [NEW_KEY, OLD_KEY]  # the first encrypts


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "DATA_ENCRYPTION_KEY must be set in production"),
        ("not-a-key", "must be one or more Fernet keys"),
        (f"{NEW_KEY},abc", "must be one or more Fernet keys"),
        (DEVELOPMENT_DATA_ENCRYPTION_KEY, "must not be the development key"),
        (f"{NEW_KEY},{DEVELOPMENT_DATA_ENCRYPTION_KEY}", "must not be the development key"),
    ],
)
def test_production_needs_a_data_encryption_key_of_its_own(key, message):
    with pytest.raises(ConfigError, match=message):
        load_config({"PORTAL_ENV": "production", "SECRET_KEY": "k" * 40, "DATA_ENCRYPTION_KEY": key})


def test_development_and_tests_use_the_development_data_key_unless_given_one():
    assert load_config({"PORTAL_ENV": "development"})["DATA_ENCRYPTION_KEYS"] == [DEVELOPMENT_DATA_ENCRYPTION_KEY]
    assert load_config({"PORTAL_ENV": "test", "DATA_ENCRYPTION_KEY": NEW_KEY})["DATA_ENCRYPTION_KEYS"] == [NEW_KEY]


def test_unknown_environment_is_refused():
    with pytest.raises(ConfigError, match="PORTAL_ENV"):
        load_config({"PORTAL_ENV": "staging-ish"})


def test_production_without_secret_key_stops_with_one_clear_line():
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "PORTAL_ENV"}}
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("portal: configuration error: SECRET_KEY must be set")
