"""The lock files (issue 10, point 9): every dependency pyproject.toml names is pinned in them with at least one hash,
at the version pyproject.toml pins; the runtime lock holds no test tool and agrees with the dev lock; and the venv
running these tests has exactly the locked versions installed."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
# A requirement of a lock: "name==version[ ; marker] \" then one indented "--hash=sha256:..." line per file.
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")
REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*(?:==\s*([^\s;,]+))?")
# The installer and the build backend are locked so that installing fetches nothing unchecked, but a venv can carry
# its own from its creation (python -m venv); make install brings them to the locked versions.
INSTALL_TOOLS = {"pip", "setuptools"}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Locked:
    version: str
    hashes: int = 0
    requirement: Requirement | None = None

    def applies_here(self) -> bool:
        """False for a package only another Python or platform needs (its marker says so)."""
        marker = self.requirement.marker
        return marker is None or marker.evaluate()


def read_lock(name: str) -> dict[str, Locked]:
    """{normalised name: Locked} for every requirement in a lock file."""
    entries: dict[str, Locked] = {}
    current = None
    for line in (ROOT / name).read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():  # a requirement; continuation lines (its hashes) are indented
            requirement = Requirement(line.rstrip(" \\"))
            [specifier] = requirement.specifier
            assert specifier.operator == "==", f"{name}: {line!r} is not a release pinned with =="
            current = normalise(requirement.name)
            assert current not in entries, f"{current} is pinned twice in {name}"
            entries[current] = Locked(specifier.version, requirement=requirement)
        if current is not None:
            entries[current].hashes += len(HASH.findall(line))
    return entries


def declared(*groups: str) -> dict[str, str | None]:
    """pyproject.toml's dependencies (and the optional groups named): {normalised name: pinned version or None}."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for group in groups:
        lines += project["optional-dependencies"][group]
    found = {}
    for line in lines:
        match = REQUIREMENT.match(line)
        assert match, line
        found[normalise(match.group(1))] = match.group(3)
    return found


@pytest.mark.parametrize(("lock", "groups"), [("requirements.lock", ()), ("requirements-dev.lock", ("dev",))])
def test_every_declared_dependency_is_locked_at_its_pin_with_hashes(lock, groups):
    locked = read_lock(lock)
    for name, pin in declared(*groups).items():
        assert name in locked, f"{name} (pyproject.toml) is missing from {lock}: run make update-lock"
        version = locked[name].version
        assert pin is None or version == pin, f"{name}: pyproject.toml pins {pin}, {lock} has {version}"
        assert locked[name].hashes >= 1, f"{name} has no --hash in {lock}"
    unhashed = [name for name, entry in locked.items() if entry.hashes == 0]
    assert not unhashed, f"no hash for {unhashed} in {lock}; pip --require-hashes would refuse it"
    assert INSTALL_TOOLS <= set(locked), f"{lock} must lock pip and setuptools so installing fetches nothing unchecked"


def test_the_runtime_lock_has_no_test_tool_and_agrees_with_the_dev_lock():
    runtime, dev = read_lock("requirements.lock"), read_lock("requirements-dev.lock")
    dev_only = set(declared("dev")) - set(declared())
    assert not dev_only & set(runtime), f"test tools in the runtime lock: {dev_only & set(runtime)}"
    disagree = {
        name: (entry.version, dev[name].version if name in dev else "missing")
        for name, entry in runtime.items()
        if name not in dev or dev[name].version != entry.version
    }
    assert not disagree, f"runtime lock vs dev lock: {disagree}"


def test_psycopgs_binary_extra_is_locked_at_psycopgs_version():
    # pyproject names psycopg[binary]; the extra is a package of its own that must move with it.
    for lock in ("requirements.lock", "requirements-dev.lock"):
        locked = read_lock(lock)
        assert locked["psycopg-binary"].version == locked["psycopg"].version, lock


def test_the_running_venv_has_exactly_the_locked_versions():
    wrong = {}
    for name, entry in read_lock("requirements-dev.lock").items():
        if name in INSTALL_TOOLS or not entry.applies_here():
            continue
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != entry.version:
            wrong[name] = (entry.version, installed)
    assert not wrong, f"locked vs installed (run make install-dev): {wrong}"
