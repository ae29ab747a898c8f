"""The example consumer (examples/hello-python) against the local stack: what `make demo`, `make bench`
and the end-to-end tests share.

The AWS account is prepared as `lambda-ci bootstrap` would leave it (the deploy role and the function's
execution role exist), the jobs get what GitLab and the runner would give them (the ID token, AWS's
address), and what the pipeline did is read back from AWS with boto3.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import boto3

FUNCTION = "hello-python"
ALIAS = "live"
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
DEPLOY_ROLE = "gitlab-hello-python-deploy"
EXECUTION_ROLE = "hello-python-exec"


def client(service: str, endpoint: str):
    # Throwaway keys: moto wants some, and the user's own must never be picked up.
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def prepare_account(endpoint: str, issuer_url: str) -> None:
    """The roles that `lambda-ci bootstrap` would have made: one for the pipeline, one for the function."""
    iam = client("iam", endpoint)
    provider = issuer_url.removeprefix("http://").removeprefix("https://")
    iam.create_open_id_connect_provider(Url=issuer_url, ClientIDList=["sts.amazonaws.com"],
                                       ThumbprintList=["0" * 40])
    trusts = {
        DEPLOY_ROLE: {"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
                      "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{provider}"},
                      "Condition": {"StringEquals": {f"{provider}:aud": "sts.amazonaws.com"}}},
        EXECUTION_ROLE: {"Effect": "Allow", "Action": "sts:AssumeRole",
                         "Principal": {"Service": "lambda.amazonaws.com"}},
    }
    for name, statement in trusts.items():
        trust = {"Version": "2012-10-17", "Statement": [statement]}
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))


def job_variables(endpoint: str, token: str) -> dict[str, str]:
    """What GitLab (the ID token, empty under gitlab-ci-local) and the runner's network (AWS) give jobs."""
    return {"GITLAB_AWS_IDENTITY_TOKEN": token, "AWS_ENDPOINT_URL": endpoint,
            "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION}


@dataclass(frozen=True)
class Deployed:
    arn: str
    versions: list[str]  # published versions, oldest first
    alias_version: str
    code_sha256: str  # of the version the alias points at


def read_back(endpoint: str, function: str = FUNCTION, alias: str = ALIAS) -> Deployed:
    lam = client("lambda", endpoint)
    pages = lam.get_paginator("list_versions_by_function").paginate(FunctionName=function)
    versions = [v["Version"] for page in pages for v in page["Versions"] if v["Version"] != "$LATEST"]
    alias_version = lam.get_alias(FunctionName=function, Name=alias)["FunctionVersion"]
    configuration = lam.get_function_configuration(FunctionName=function, Qualifier=alias_version)
    return Deployed(configuration["FunctionArn"].rsplit(":", 1)[0], sorted(versions, key=int), alias_version,
                    configuration["CodeSha256"])


def issued_secrets(endpoint: str) -> set[str]:
    """Every secret key and session token that STS (moto) handed out, with their base64 forms: what a
    leak scan looks for in logs and artifacts."""
    import base64
    import urllib.request

    with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=10) as answer:
        roles = json.loads(answer.read()).get("sts", {}).get("AssumedRole", [])
    secrets = {role[key] for role in roles for key in ("secret_access_key", "session_token")}
    return secrets | {base64.b64encode(secret.encode()).decode() for secret in secrets}
