"""Reproducible installs: the lock file agrees with pyproject.toml, the linters are pinned, the Slack
libraries whose private parts we use are bounded, and the LICENSE is the one pyproject names."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
LOCK = REPO / "requirements.lock"


def _name(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()


def locked() -> dict[str, Version]:
    pins = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", LOCK.read_text(encoding="utf-8"), re.M)
    return {_name(name): Version(version) for name, version in pins}


def test_the_lock_pins_every_deployment_dependency_within_pyproject(tmp_path):
    pins = locked()
    wanted = PYPROJECT["project"]["dependencies"] + PYPROJECT["project"]["optional-dependencies"]["postgres"]
    for line in wanted:
        req = Requirement(line)
        assert _name(req.name) in pins, f"{req.name} is not in requirements.lock: refresh it (README)"
        assert req.specifier.contains(pins[_name(req.name)], prereleases=True), (
            f"requirements.lock pins {req.name}=={pins[_name(req.name)]}, outside pyproject's {req.specifier}")
    text = LOCK.read_text(encoding="utf-8")
    assert text.count("--hash=sha256:") >= len(pins), "every pin is hash-checked"
    assert "uv pip compile pyproject.toml --extra postgres" in text


def test_the_linters_are_pinned_exactly():
    test_extra = {_name(Requirement(r).name): Requirement(r) for r in PYPROJECT["project"]["optional-dependencies"]["test"]}
    for linter in ("ruff", "mypy", "import-linter"):
        (spec,) = test_extra[linter].specifier
        assert spec.operator == "==", f"{linter} is not pinned: {test_extra[linter]}"


def test_slack_libraries_are_bounded_below_their_next_minor():
    # bot.app.web replaces bolt's Ack and its request context's ack; bot.app.slack_http overrides
    # WebClient._perform_urllib_http_request_internal. A minor release may change either.
    assert "_perform_urllib_http_request_internal" in (REPO / "bot/app/slack_http.py").read_text(encoding="utf-8")
    deps = {_name(Requirement(r).name): Requirement(r) for r in PYPROJECT["project"]["dependencies"]}
    pins = locked()
    for name in ("slack-bolt", "slack-sdk"):
        uppers = [Version(s.version) for s in deps[name].specifier if s.operator == "<"]
        assert uppers, f"{name} has no upper bound"
        locked_version = pins[name]
        assert uppers[0] <= Version(f"{locked_version.major}.{locked_version.minor + 1}"), (
            f"{name}'s bound {uppers[0]} lets a new minor in untested")


def test_the_license_file_is_the_license_pyproject_names():
    assert PYPROJECT["project"]["license"] == {"text": "MIT"}
    text = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n")
    assert "Permission is hereby granted, free of charge" in text


def test_the_readme_starts_with_the_two_commands_then_the_python_version_and_a_venv():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    first_block = readme.split("```")[1]
    assert first_block.strip().splitlines()[:2] == [
        "pip install -e . && qmf-bot demo        # a whole quarter, offline, on SQLite",
        "pip install -e '.[test]' && pytest      # the whole test suite",
    ]
    before_running = readme.split("## Running it for real")[0]
    assert "python3.11 -m venv .venv" in before_running and ". .venv/bin/activate" in before_running
    assert PYPROJECT["project"]["requires-python"] == ">=3.11"
    assert "uv pip compile pyproject.toml --extra postgres" in readme
    assert "pip install --require-hashes -r requirements.lock" in readme
