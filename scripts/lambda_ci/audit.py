"""`lambda-ci audit-role`: what is weak or broken in a deploy role's trust for GitLab ID tokens, one line
per finding with its fix (exit 1), or `no findings` (exit 0). Reads the role through IAM (`--role-name`,
which also checks its MaxSessionDuration and its OIDC provider's client IDs) or a trust policy JSON file."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lambda_ci import aws, inputs, policy, sts
from lambda_ci.errors import BadInput, OperationFailed


def _fail(what: str, error: Exception) -> OperationFailed:
    code, message = sts.describe(error)
    return OperationFailed(f"{what} failed ({code}: {message})")


def _read_file(path: str) -> dict[str, Any]:
    try:
        document = json.loads(Path(path).read_text())
    except OSError as error:
        raise BadInput(f"`policy_file` input: cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise BadInput(f"`policy_file` input: {path} is not a JSON document (not UTF-8 text)") from None
    except json.JSONDecodeError as error:
        raise BadInput(f"`policy_file` input: {path} is not JSON ({error.msg}, line {error.lineno})") from None
    if isinstance(document, dict) and "AssumeRolePolicyDocument" in document.get("Role", {}):
        document = document["Role"]["AssumeRolePolicyDocument"]  # `aws iam get-role` output works too
    if not isinstance(document, dict) or "Statement" not in document:
        raise BadInput(f"`policy_file` input: {path} is not an IAM policy document (no Statement)")
    return document


def _role_findings(name: str, host: str, project: str, audience: str, duration: int) -> list[str]:
    iam = aws.client("iam")
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except (ClientError, BotoCoreError) as error:
        raise _fail(f"reading the IAM role {name}", error) from None
    document = role["AssumeRolePolicyDocument"]
    if isinstance(document, str):
        document = json.loads(document)
    findings = policy.trust_findings(document, host, project, audience)
    findings += policy.session_findings(name, int(role.get("MaxSessionDuration", 3600)), duration)
    for provider in policy.federated_providers(document):
        try:
            client_ids = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=provider).get("ClientIDList", [])
        except ClientError as error:
            if sts.describe(error)[0] != "NoSuchEntity":
                raise _fail(f"reading the IAM OIDC provider {provider}", error) from None
            client_ids = None
        except BotoCoreError as error:
            raise _fail(f"reading the IAM OIDC provider {provider}", error) from None
        findings += policy.provider_findings(provider, client_ids, audience)
    return findings


def run(settings: dict[str, Any]) -> int:
    host = policy.host_of(settings["gitlab_url"]) if settings.get("gitlab_url") else ""
    project = policy.check_project(settings["project"]) if settings.get("project") else ""
    audience = settings.get("audience") or policy.DEFAULT_AUDIENCE
    raw_duration = settings.get("session_duration") or "3600"
    # oidc-auth's input: the same reading and range (900 to 43200) as `lambda-ci auth`.
    spec = inputs.cli_inputs("oidc-auth")["session_duration"]
    duration = inputs.coerce("session_duration", spec, raw_duration)
    inputs.validate("oidc-auth", {"session_duration": duration}, partial=True)
    if settings.get("role_name"):
        name = policy.check_role_name(settings["role_name"])  # before IAM is asked
        findings = _role_findings(name, host, project, audience, duration)
    else:
        findings = policy.trust_findings(_read_file(settings["policy_file"]), host, project, audience)
    for line in findings:
        print(line)
    if not findings:
        print("no findings")
    sys.stdout.flush()
    return 1 if findings else 0
