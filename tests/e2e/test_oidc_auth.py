"""oidc-auth as a consumer uses it: jobs of their own that `extends` the hidden job, in each mode, get
credentials that the real AWS CLI v1 and boto3 accept; static keys work with a warning. Run by
gitlab-ci-local against moto and the local OIDC issuer."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.stack.example_pipeline import ACCOUNT, DEPLOY_ROLE, issued_secrets, job_variables, prepare_account

pytestmark = pytest.mark.e2e

ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{DEPLOY_ROLE}"
STATIC_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSTATICKEY"
MODES = ("files", "web-identity", "env")
# What each consumer job runs: the AWS CLI (credential_process in files mode), then boto3 in a new process.
CHECKS = ["aws sts get-caller-identity --query Arn --output text",
          "python3 -c 'import boto3; print(\"boto3:\", boto3.client(\"sts\").get_caller_identity()[\"Arn\"])'"]


def pipeline() -> str:
    include, jobs = [], {}
    for mode in MODES:
        hidden = f".aws-{mode}"
        include.append({"component": "$CI_SERVER_FQDN/acme/lambda-ci/oidc-auth@0.1.0",
                        "inputs": {"role_arn": ROLE_ARN, "mode": mode, "hidden_job": hidden,
                                   "job_prefix": f"{mode}-"}})
        jobs[f"use-{mode}"] = {"extends": hidden, "stage": "deploy", "script": CHECKS}
    include.append({"component": "$CI_SERVER_FQDN/acme/lambda-ci/oidc-auth@0.1.0",
                    "inputs": {"hidden_job": ".aws-static", "job_prefix": "static-"}})
    # Static keys as a project keeps them in CI variables: here on the jobs of that include only, so that
    # they do not shadow the role in the other modes' jobs.
    static_keys = {"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7STATIC", "AWS_SECRET_ACCESS_KEY": STATIC_SECRET}
    jobs["static-auth"] = {"variables": static_keys}
    jobs["use-static"] = {"extends": ".aws-static", "stage": "deploy", "script": CHECKS, "variables": static_keys}
    return yaml.safe_dump({"include": include, **jobs}, sort_keys=False)


@pytest.fixture(scope="module")
def run(moto, issuer, sandbox):
    moto.reset()
    prepare_account(moto.url, issuer.url)
    consumer = sandbox.consumer("auth-consumer", source=None, files={".gitlab-ci.yml": pipeline()})
    token = issuer.mint()
    result = sandbox.run(consumer, job_variables(moto.url, token))
    assert result.returncode == 0, result.tail(80)
    return result, token, consumer, issued_secrets(moto.url)


def job_log(log: str, job: str) -> str:
    return "\n".join(line for line in log.splitlines() if re.match(rf"{re.escape(job)}\s", line))


@pytest.mark.parametrize("mode", MODES)
def test_each_mode_gives_the_aws_cli_and_boto3_the_assumed_role(run, mode):
    log = job_log(run[0].log, f"use-{mode}")
    assumed = f"arn:aws:sts::{ACCOUNT}:assumed-role/{DEPLOY_ROLE}/"
    assert re.search(rf"> {re.escape(assumed)}\S+$", log, re.M), log  # the AWS CLI
    assert f"boto3: {assumed}" in log, log


def test_the_check_job_of_each_include_passes(run):
    for mode in MODES:
        assert re.search(rf"^{mode}-auth\s.*finished in", run[0].log, re.M)


def test_static_keys_are_used_with_a_warning_pointing_to_bootstrap(run):
    log = job_log(run[0].log, "use-static")
    assert "WARNING: no role_arn: using the static keys in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY." in log, log
    assert "`lambda-ci bootstrap` creates a role for this project's ID tokens" in log, log
    assert f"boto3: arn:aws:sts::{ACCOUNT}:user/moto" in log, log  # moto's identity for any access key


def test_no_secret_reaches_the_log_or_the_job_folders(run):
    pipeline, token, consumer, issued = run
    assert len(issued) >= 2 * 2 * len(MODES)  # each job assumed the role: the scan has something to find
    secrets = issued | {token, token.split(".")[2]}
    assert [s for s in secrets | {STATIC_SECRET} if s in pipeline.log] == []
    # The static key is in this test's own pipeline file (a project keeps it in a CI variable): not scanned.
    for path in (consumer / ".gitlab-ci-local").rglob("*"):
        if path.is_file() and path.stat().st_size < 5_000_000:
            content = path.read_bytes()
            assert [s for s in secrets if s.encode() in content] == [], path


def test_credentials_do_not_outlive_the_job(run):
    consumer = run[2]
    leftovers = list((consumer / ".gitlab-ci-local").rglob(".aws/*"))
    assert leftovers == []
