"""The example's whole pipeline (examples/hello-python) under gitlab-ci-local, against moto and the local
OIDC issuer, asserting on what AWS holds afterwards."""

from __future__ import annotations

import json
import urllib.error
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.stack.example_pipeline import (
    ACCOUNT,
    ALIAS,
    FUNCTION,
    Deployed,
    issued_secrets,
    job_variables,
    prepare_account,
    read_back,
)
from tests.stack.gitlab_ci_local import EXAMPLE, ROOT, Pipeline
from tests.stack.leaks import find_secrets, token_secrets

COMPONENTS = {"build", "package", "deploy-lambda", "oidc-auth"}


@dataclass(frozen=True)
class Runs:
    consumer: Path
    token: str
    first: Pipeline
    after_first: Deployed
    second: Pipeline
    after_second: Deployed


@pytest.fixture(scope="module")
def runs(moto, issuer, sandbox) -> Runs:
    """The pipeline twice on the same commit: a first deploy, then one with nothing to change."""
    moto.reset()
    prepare_account(moto.url, issuer.url)
    consumer = sandbox.consumer(FUNCTION)
    token = issuer.mint()
    variables = job_variables(moto.url, token)

    first = sandbox.run(consumer, variables)
    assert first.returncode == 0, f"the first pipeline failed:\n{first.tail()}"
    after_first = read_back(moto.url)
    second = sandbox.run(consumer, variables)
    assert second.returncode == 0, f"the second pipeline failed:\n{second.tail()}"
    return Runs(consumer, token, first, after_first, second, read_back(moto.url))


def test_example_pins_the_catalog_version():
    catalog_version = yaml.safe_load((ROOT / "catalog.yml").read_text())["version"]
    includes = yaml.safe_load((EXAMPLE / ".gitlab-ci.yml").read_text())["include"]

    components = {i["component"].split("/")[-1].split("@")[0]: i["component"] for i in includes}
    assert set(components) == COMPONENTS
    for name, path in components.items():
        assert path == f"$CI_SERVER_FQDN/acme/lambda-ci/{name}@{catalog_version}"


@pytest.mark.e2e
def test_pipeline_deploys_the_package_and_moves_the_alias(runs):
    deployed = runs.after_first
    manifest = json.loads((runs.consumer / "dist" / "function.manifest.json").read_text())

    assert deployed.arn == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{FUNCTION}"
    assert deployed.versions == ["1"]
    assert deployed.alias_version == "1"
    assert deployed.code_sha256 == manifest["code_sha256"]
    assert set(runs.first.job_seconds) >= {"lambda-auth", "lambda-build", "lambda-package", "lambda-deploy"}


@pytest.mark.e2e
def test_deploy_job_reports_the_release_as_dotenv(runs):
    lines = (runs.consumer / "lambda-ci.env").read_text().splitlines()
    report = dict(line.split("=", 1) for line in lines if line)

    assert report["LAMBDA_FUNCTION_ARN"] == runs.after_second.arn
    assert report["LAMBDA_VERSION"] == runs.after_second.alias_version
    assert report["LAMBDA_ALIAS"] == ALIAS
    assert report["LAMBDA_CODE_SHA256"] == runs.after_second.code_sha256


@pytest.mark.e2e
def test_second_run_with_unchanged_code_publishes_no_version(runs):
    assert runs.after_second == runs.after_first


@pytest.mark.e2e
def test_no_log_shows_the_id_token(runs):
    outputs = sorted((runs.consumer / ".gitlab-ci-local" / "output").glob("*.log"))

    assert outputs, "gitlab-ci-local kept no job logs"
    for text in (runs.first.log, runs.second.log, *(path.read_text() for path in outputs)):
        assert runs.token not in text
        assert runs.token.split(".")[2] not in text  # not even the signature alone


@pytest.mark.e2e
def test_no_secret_in_any_log_artifact_dotenv_or_job_folder(runs, moto):
    """Every STS-issued secret key and session token, and the ID token (with their base64 forms), scanned
    for in both pipelines' logs and every file the runs left: job logs, artifacts, the dotenv report."""
    # moto 5.2's /moto-api/data.json answers 500 once a Lambda function was ever created (one of its
    # properties raises): STS's records are then out of reach here, and the scan looks for the ID token
    # only. tests/e2e/test_oidc_auth.py scans the STS secrets of every auth mode, where no function exists.
    try:
        issued = issued_secrets(moto.url)
    except urllib.error.HTTPError:
        issued = set()
    secrets = issued | token_secrets(runs.token)
    places = [runs.first.log, runs.second.log, runs.consumer / ".gitlab-ci-local", runs.consumer / "lambda-ci.env",
              runs.consumer / "dist"]
    assert [str(hit) for hit in find_secrets(places, secrets)] == []
