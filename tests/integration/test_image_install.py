"""What the Containerfile does, without a container engine: the lambda-ci wheel builds, and it installs
into a clean venv from nothing but a wheelhouse of the pinned requirements (`--no-index`), with
catalog.yml and the templates inside it, so `lambda-ci --version` and `lambda-ci render` work there.

Making the wheelhouse downloads the pinned wheels (from the configured index: PyPI, or a mirror)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "requirements" / "image.txt"
VERSION = re.search(r'__version__ = "(.+)"', (ROOT / "scripts/lambda_ci/__init__.py").read_text())[1]


def run(*command: str, env: dict | None = None, cwd: Path | None = None) -> str:
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=600)
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("image")
    wheelhouse = work / "wheelhouse"
    try:
        run(sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--no-deps",
            "-r", str(REQUIREMENTS), "-d", str(wheelhouse))
    except AssertionError as error:
        if "Could not find a version" in str(error) or "connection" in str(error).lower():
            pytest.skip(f"the pinned wheels cannot be downloaded here: {error}")
        raise
    # The wheel as the pipeline's wheel job builds it (hatchling is a dev dependency: no download).
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
        "--wheel-dir", str(wheelhouse), str(ROOT))
    venv = work / "venv"
    run(sys.executable, "-m", "venv", str(venv))
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON", "VIRTUAL_ENV"))}
    clean["PIP_CONFIG_FILE"] = os.devnull  # no index, no find-links, no constraints from the machine
    pip = [str(venv / "bin" / "python"), "-m", "pip"]
    run(*pip, "install", "--quiet", "--no-index", "--find-links", str(wheelhouse), "-r", str(REQUIREMENTS),
        env=clean)
    run(*pip, "install", "--quiet", "--no-index", "--no-deps", str(next(wheelhouse.glob("lambda_ci-*.whl"))),
        env=clean)
    run(*pip, "check", env=clean)
    return venv


def test_the_wheel_holds_the_catalog_and_templates(installed):
    (wheel,) = installed.parent.glob("wheelhouse/lambda_ci-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "lambda_ci/catalog.yml" in names
    components = ("build", "package", "deploy-lambda", "oidc-auth")
    assert {f"lambda_ci/templates/{c}/template.yml" for c in components} <= names


def test_nothing_but_the_pins_and_lambda_ci_is_installed(installed):
    frozen = run(str(installed / "bin" / "python"), "-m", "pip", "freeze", "--all", env={"PIP_CONFIG_FILE": os.devnull})
    names = {line.split("==")[0].split(" @ ")[0].lower().replace("_", "-") for line in frozen.splitlines()}
    pinned = {line.split("==")[0].lower() for line in REQUIREMENTS.read_text().splitlines()
              if line.strip() and not line.startswith("#")}
    assert names - {"pip", "setuptools"} == pinned | {"lambda-ci"}


def test_lambda_ci_runs_from_the_install(installed, tmp_path):
    lambda_ci = str(installed / "bin" / "lambda-ci")
    assert run(lambda_ci, "--version", cwd=tmp_path).strip() == f"lambda-ci {VERSION}"
    jobs = yaml.safe_load(run(lambda_ci, "render", "package", "--input", "layer=true", cwd=tmp_path))
    assert jobs["lambda-package"]["variables"]["LAMBDA_CI_LAYER"] is True
    location = run(str(installed / "bin" / "python"), "-c", "import lambda_ci.catalog as c; print(c.catalog_path())",
                   cwd=tmp_path)
    assert location.startswith(str(installed))  # the packaged catalog.yml, not this checkout's
