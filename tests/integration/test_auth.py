"""`lambda-ci auth` end to end against moto over HTTP, with tokens from the local issuer, and real clients
of its output: the AWS CLI v1 (credential_process, web identity, env) and boto3 in a fresh process.

moto accepts any token and any role, so these tests prove the plumbing (files, modes, refresh, secrets
kept out of output); the refusals and their lines are unit-tested with stubbed STS answers.
"""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lambda_ci import lambda_api, oidc, sts

ROLE = "arn:aws:iam::111122223333:role/gitlab-deploy"
ASSUMED = "arn:aws:sts::111122223333:assumed-role/gitlab-deploy/acme-orders-41-42"
AWS_CLI = str(Path(sys.executable).with_name("aws"))
BOTO3_WHOAMI = "import boto3; print(boto3.client('sts').get_caller_identity()['Arn'])"
# What a job's script does: eval the export lines, then run the AWS CLI v1 and boto3.
EVAL_THEN_WHOAMI = (f'eval "$({shlex.quote(sys.executable)} -m lambda_ci auth --mode "$1")" && '
                    f'{shlex.quote(AWS_CLI)} sts get-caller-identity --query Arn --output text && '
                    f'{shlex.quote(sys.executable)} -c "{BOTO3_WHOAMI}" && '
                    'printf "%s\n" "$AWS_SECRET_ACCESS_KEY" "$AWS_SESSION_TOKEN" > "$2"')


@pytest.fixture
def job(aws, issuer, tmp_path):
    """A GitLab job's environment, as the oidc-auth template sets it: no static keys, a fresh ID token."""
    environ = {name: value for name, value in os.environ.items()
               if name not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "CI_DEBUG_TRACE")}
    project = tmp_path / "project"
    project.mkdir()
    environ.update({
        "CI_PROJECT_DIR": str(project), "CI_PROJECT_PATH_SLUG": "acme-orders", "CI_PIPELINE_ID": "41",
        "CI_JOB_ID": "42", "GITLAB_AWS_IDENTITY_TOKEN": issuer.mint(), "LAMBDA_CI_ROLE_ARN": ROLE,
        "AWS_CONFIG_FILE": str(project / ".aws" / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(project / ".aws" / "credentials"), "AWS_PROFILE": "lambda-ci",
    })
    return environ


def run(environ, *command: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(command, env=environ, capture_output=True, text=True, timeout=60,
                          cwd=environ["CI_PROJECT_DIR"])
    if check:
        assert done.returncode == 0, done.stderr
    return done


def lambda_ci(environ, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run(environ, sys.executable, "-m", "lambda_ci", *args, check=check)


def whoami(environ) -> tuple[str, str]:
    """The caller's ARN according to the AWS CLI v1, then according to boto3."""
    cli = json.loads(run(environ, AWS_CLI, "sts", "get-caller-identity", "--output", "json").stdout)["Arn"]
    return cli, run(environ, sys.executable, "-c", BOTO3_WHOAMI).stdout.strip()


def cache(environ) -> dict:
    return json.loads((Path(environ["CI_PROJECT_DIR"]) / ".aws" / oidc.CACHE).read_text())


def assert_private(environ, *names: str) -> None:
    folder = Path(environ["CI_PROJECT_DIR"]) / ".aws"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for name in names:
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, name


def assert_no_secret(secrets, *outputs: subprocess.CompletedProcess) -> None:
    for done in outputs:
        for secret in secrets:
            assert secret not in done.stdout and secret not in done.stderr


def test_files_mode_serves_the_aws_cli_and_boto3_through_credential_process(job):
    auth = lambda_ci(job, "auth")
    assert auth.stdout == ""
    assert f"AWS: {ASSUMED} (account 111122223333) until " in auth.stderr
    assert whoami(job) == (ASSUMED, ASSUMED)
    assert_private(job, "config", "credentials", oidc.CACHE)
    cached = cache(job)["credentials"]
    secrets = [job["GITLAB_AWS_IDENTITY_TOKEN"], cached["SecretAccessKey"], cached["SessionToken"]]
    assert_no_secret(secrets, auth, lambda_ci(job, "auth", "--debug"))


def test_auth_process_prints_version_1_json_from_the_cache(job):
    lambda_ci(job, "auth")
    answer = json.loads(lambda_ci(job, "auth", "process").stdout)
    assert set(answer) == {"Version", "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration",
                           "AccountId"}
    assert answer["Version"] == 1 and answer["Expiration"].endswith("Z")
    assert answer["AccessKeyId"] == cache(job)["credentials"]["AccessKeyId"]


def test_auth_process_answers_from_the_cache_without_loading_the_sdk(job):
    """The AWS CLI runs credential_process once per command: from the cache, the answer loads no botocore
    (a fifth of a second a command). PYTHONPROFILEIMPORTTIME lists every module the process imports."""
    lambda_ci(job, "auth")
    answered = lambda_ci({**job, "PYTHONPROFILEIMPORTTIME": "1"}, "auth", "process")
    imported = {line.split("|")[-1].strip() for line in answered.stderr.splitlines() if line.startswith("import time:")}
    assert {"lambda_ci.inputs", "lambda_ci.credentials"} <= imported  # the listing covers the command's imports
    assert not {name for name in imported if name.split(".")[0] in ("botocore", "boto3")}
    assert json.loads(answered.stdout)["AccessKeyId"] == cache(job)["credentials"]["AccessKeyId"]


def aws_cli_whoami(environ) -> str:
    done = run(environ, AWS_CLI, "sts", "get-caller-identity", "--query", "Arn", "--output", "text")
    return done.stdout.strip()


def test_credential_process_refreshes_credentials_near_expiry(job):
    lambda_ci(job, "auth")
    first = cache(job)["credentials"]["AccessKeyId"]
    assert aws_cli_whoami(job) == ASSUMED
    assert cache(job)["credentials"]["AccessKeyId"] == first  # still fresh: reused
    stale = cache(job)
    soon = datetime.now(UTC) + timedelta(minutes=2)
    stale["credentials"]["Expiration"] = soon.strftime("%Y-%m-%dT%H:%M:%SZ")
    (Path(job["CI_PROJECT_DIR"]) / ".aws" / oidc.CACHE).write_text(json.dumps(stale))
    assert aws_cli_whoami(job) == ASSUMED
    assert cache(job)["credentials"]["AccessKeyId"] != first


def test_sts_is_called_again_only_when_the_cached_credentials_near_expiry(job, monkeypatch):
    for name, value in job.items():
        monkeypatch.setenv(name, value)
    calls = []
    real_assume = sts.assume

    def counted(*args, **kwargs):
        calls.append(1)
        return real_assume(*args, **kwargs)

    monkeypatch.setattr(sts, "assume", counted)
    target = oidc.role(oidc.with_defaults({"role_arn": ROLE, "session_duration": 900}), job)
    start = datetime.now(UTC)
    clock = [start]
    for seconds in (0, 60, 300, 449):
        clock[0] = start + timedelta(seconds=seconds)
        oidc.cached_credentials(target, job, lambda: clock[0])
    assert len(calls) == 1
    clock[0] = start + timedelta(seconds=451)  # 900 s session, refreshed with half of it left
    oidc.cached_credentials(target, job, lambda: clock[0])
    assert len(calls) == 2


def eval_then_whoami(job, mode: str, secrets_file: Path) -> subprocess.CompletedProcess:
    """The job's script with the exports alone: no config file, no profile."""
    environ = {**job, "AWS_CONFIG_FILE": os.devnull}
    del environ["AWS_PROFILE"]
    done = run(environ, "bash", "-c", EVAL_THEN_WHOAMI, "job", mode, str(secrets_file))
    assert done.stdout.splitlines() == [ASSUMED, ASSUMED]
    return done


def test_web_identity_mode_through_eval(job, tmp_path):
    done = eval_then_whoami(job, "web-identity", tmp_path / "secrets")
    assert_private(job, "config", "credentials", oidc.TOKEN_FILE)
    token = job["GITLAB_AWS_IDENTITY_TOKEN"]
    assert (Path(job["CI_PROJECT_DIR"]) / ".aws" / oidc.TOKEN_FILE).read_text() == token
    assert_no_secret([token], done)


def test_env_mode_through_eval_prints_no_secret(job, tmp_path):
    done = eval_then_whoami(job, "env", tmp_path / "secrets")
    secrets = (tmp_path / "secrets").read_text().splitlines()
    assert len(secrets) == 2 and all(secrets)
    assert_no_secret([*secrets, job["GITLAB_AWS_IDENTITY_TOKEN"]], done)


def test_static_keys_are_used_with_a_warning(job):
    environ = {**job, "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "static-secret"}
    del environ["LAMBDA_CI_ROLE_ARN"], environ["GITLAB_AWS_IDENTITY_TOKEN"]
    auth = lambda_ci(environ, "auth")
    assert ("WARNING: no role_arn: using the static keys in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY. "
            "Long-lived keys stay valid until someone rotates them, so one leak (a log, a fork's pipeline, a "
            "runner) gives lasting access; `lambda-ci bootstrap` creates a role for this project's ID "
            "tokens: set role_arn and delete the keys") in auth.stderr
    assert "AWS: static keys of arn:aws:sts::123456789012:user/moto (account 123456789012)" in auth.stderr
    config = (Path(job["CI_PROJECT_DIR"]) / ".aws" / "config").read_text()
    assert "region = us-east-1" in config and "credential_process" not in config
    assert whoami(environ) == ("arn:aws:sts::123456789012:user/moto",) * 2
    assert_no_secret(["static-secret"], auth)


def test_an_account_outside_allowed_account_ids_fails(job):
    done = lambda_ci(job, "auth", "--allowed-account-ids", "999999999999", check=False)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "lambda-ci auth: the credentials are for account 111122223333, which the `allowed_account_ids` input "
        "does not list (999999999999)")


def test_preflight_fails_before_sts(job, issuer):
    done = lambda_ci({**job, "GITLAB_AWS_IDENTITY_TOKEN": issuer.mint(aud="https://gitlab.example.com")},
                     "auth", check=False)
    assert done.returncode == 2
    assert done.stderr.startswith("lambda-ci auth: GITLAB_AWS_IDENTITY_TOKEN has aud `https://gitlab.example.com`")
    assert not (Path(job["CI_PROJECT_DIR"]) / ".aws").exists()


def test_session_for_other_commands(job, monkeypatch):
    for name, value in job.items():
        monkeypatch.setenv(name, value)
    boto = lambda_api.session({"role_arn": ROLE, "aws_region": "us-east-1", "audience": "sts.amazonaws.com"})
    assert boto.client("sts").get_caller_identity()["Arn"] == ASSUMED
    assert boto.get_credentials().method == "lambda-ci-web-identity"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE")
    ambient = lambda_api.session({"role_arn": "", "aws_region": "us-east-1"})
    assert ambient.client("sts").get_caller_identity()["Arn"] == "arn:aws:sts::123456789012:user/moto"
