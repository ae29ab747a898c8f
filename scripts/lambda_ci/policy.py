"""Trust policies for GitLab ID tokens: what `lambda-ci bootstrap` writes and what `lambda-ci audit-role`
checks. Pure: no AWS calls here (bootstrap.py and audit.py do those).

The trust policy matches GitLab's documented `sub` claim, `project_path:G/P:ref_type:branch:ref:main`.
GitLab's `sub` has no environment component (a project may only reorder or drop ref_type/ref), and IAM
OIDC providers expose only `<host>:aud` and `<host>:sub` as condition keys, so an environment cannot be
enforced by the trust policy: protect the branch (and the environment) in GitLab instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from lambda_ci.errors import BadInput

POLICY_VERSION = "2012-10-17"
DEFAULT_AUDIENCE = "sts.amazonaws.com"
PERMISSIONS_POLICY_NAME = "lambda-ci-deploy"
MAX_SESSION_DURATION = 3600
# fullmatch and ASCII: Python's `$` also matches before a final line break, and its \d and \w take any
# script's digits and letters, which IAM's names and ARNs do not.
_PROJECT = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$", re.ASCII)
_FUNCTION = re.compile(r"^[A-Za-z0-9_-]{1,64}$", re.ASCII)
_ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$", re.ASCII)
_ACCOUNT = re.compile(r"^\d{12}$", re.ASCII)
_ROLE_ARN = re.compile(r"^arn:aws(-cn|-us-gov)?:iam::\d{12}:role/[\w+=,.@/-]{1,512}$", re.ASCII)
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", re.ASCII)
_REF = re.compile(r"^[^\s:]+$")
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$", re.ASCII)  # catalog.yml's aws_region

# Deploying a function (deploy.py, release.py, rollback.py): read it, create or update it, publish a
# version, move the alias, invoke the new version for the smoke test. DeleteFunction is granted only on
# qualified ARNs (function:NAME:*), so `keep_versions` can prune old versions but the role can never
# delete the function itself (an unqualified DeleteFunction is authorized against function:NAME).
LAMBDA_ACTIONS = (
    "lambda:GetFunction", "lambda:GetFunctionConfiguration", "lambda:CreateFunction",
    "lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration", "lambda:PublishVersion",
    "lambda:ListVersionsByFunction", "lambda:GetAlias", "lambda:CreateAlias", "lambda:UpdateAlias",
    "lambda:ListAliases", "lambda:InvokeFunction",
)
S3_OBJECT_ACTIONS = ("s3:GetObject", "s3:PutObject")  # HeadObject is authorized as s3:GetObject
S3_PREFIX = "lambda-ci/"


def host_of(gitlab_url: str) -> str:
    """The GitLab instance's host from its URL: IAM's provider URL is https://host, the token's iss."""
    text = gitlab_url or ""  # not stripped: a URL with a stray space or line break is refused, as patterns are
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 (raises ValueError for a port that is not one)
    except ValueError:
        parts = None
    # urlsplit drops tabs and line breaks silently: a URL holding any is refused, not repaired.
    if parts is None or parts.scheme != "https" or not parts.hostname or not text.isprintable() or " " in text:
        raise BadInput(f"`gitlab_url` input: `{gitlab_url}` is not an https URL of a GitLab instance "
                       "(e.g. https://gitlab.com)")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise BadInput(f"`gitlab_url` input: `{gitlab_url}` must be the instance's address only "
                       "(https://host), the issuer of its ID tokens")
    return parts.netloc.lower()


def check_role_name(name: str) -> str:
    if not _ROLE_NAME.fullmatch(name):
        raise BadInput(f"`role_name` input: `{name}` is not an IAM role name (1-64 of letters, digits "
                       "and +=,.@_-)")
    return name


def check_project(project: str) -> str:
    project = (project or "").strip().strip("/")
    if not _PROJECT.fullmatch(project):
        raise BadInput(f"`project` input: `{project}` is not a project path GROUP/PROJECT "
                       "(subgroups allowed: group/subgroup/project)")
    return project


def subject(project: str, ref: str, ref_type: str) -> str:
    return f"project_path:{project}:ref_type:{ref_type}:ref:{ref}"


def default_role_name(project: str) -> str:
    return f"gitlab-{project.replace('/', '-')}-deploy"[-64:].lstrip("-.")


def provider_arn(partition: str, account: str, host: str) -> str:
    return f"arn:{partition}:iam::{account}:oidc-provider/{host}"


def trust_policy(federated: str, host: str, project: str, ref: str = "main", ref_type: str = "branch",
                 audience: str = DEFAULT_AUDIENCE) -> dict[str, Any]:
    """Only jobs of this project on this ref, with tokens for this audience. StringLike only when the ref
    itself holds a wildcard (e.g. `release/*`): a project path is never a wildcard."""
    sub = subject(project, ref, ref_type)
    if "*" in ref or "?" in ref:
        conditions = {"StringEquals": {f"{host}:aud": audience}, "StringLike": {f"{host}:sub": sub}}
    else:
        conditions = {"StringEquals": {f"{host}:aud": audience, f"{host}:sub": sub}}
    return {"Version": POLICY_VERSION, "Statement": [{
        "Sid": "GitLabIdTokens", "Effect": "Allow", "Principal": {"Federated": federated},
        "Action": "sts:AssumeRoleWithWebIdentity", "Condition": conditions}]}


def permissions_policy(partition: str, account: str, region: str, functions: Sequence[str] = (),
                       execution_role_arn: str = "", s3_bucket: str = "") -> dict[str, Any]:
    """Least privilege for `lambda-ci deploy`/`rollback` of the named functions (all functions of the
    account and region when none is named)."""
    base = f"arn:{partition}:lambda:{region}:{account}:function:"
    names = list(functions) or ["*"]
    statements: list[dict[str, Any]] = [
        {"Sid": "DeployFunctions", "Effect": "Allow", "Action": list(LAMBDA_ACTIONS),
         "Resource": [arn for name in names for arn in (f"{base}{name}", f"{base}{name}:*")]},
        {"Sid": "PruneVersions", "Effect": "Allow", "Action": "lambda:DeleteFunction",
         "Resource": [f"{base}{name}:*" for name in names]},
        {"Sid": "ReadAlarms", "Effect": "Allow", "Action": "cloudwatch:DescribeAlarms",
         "Resource": f"arn:{partition}:cloudwatch:{region}:{account}:alarm:*"},
    ]
    if execution_role_arn:
        statements.append({"Sid": "PassExecutionRole", "Effect": "Allow", "Action": "iam:PassRole",
                           "Resource": execution_role_arn,
                           "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}})
    if s3_bucket:
        statements += [
            {"Sid": "Packages", "Effect": "Allow", "Action": list(S3_OBJECT_ACTIONS),
             "Resource": f"arn:{partition}:s3:::{s3_bucket}/{S3_PREFIX}*"},
            # Without ListBucket a HeadObject of a missing key answers 403 instead of 404.
            {"Sid": "PackagesList", "Effect": "Allow", "Action": "s3:ListBucket",
             "Resource": f"arn:{partition}:s3:::{s3_bucket}",
             "Condition": {"StringLike": {"s3:prefix": f"{S3_PREFIX}*"}}},
        ]
    return {"Version": POLICY_VERSION, "Statement": statements}


def check_bootstrap(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The bootstrap flags, checked (BadInput, one line) and normalized."""
    host = host_of(settings.get("gitlab_url") or "")
    project = check_project(settings.get("project") or "")
    ref = settings.get("ref") or "main"
    if not _REF.fullmatch(ref):
        raise BadInput(f"`ref` input: `{ref}` is not a branch or tag name")
    ref_type = settings.get("ref_type") or "branch"
    if ref_type not in ("branch", "tag"):
        raise BadInput(f"`ref_type` input: `{ref_type}` is not branch or tag (GitLab issues no other)")
    functions = list(settings.get("function_name") or [])
    for name in functions:
        if not _FUNCTION.fullmatch(name):
            raise BadInput(f"`function_name` input: `{name}` is not a Lambda function name "
                           "(1-64 letters, digits, - and _)")
    role_arn = settings.get("execution_role_arn") or ""
    if role_arn and not _ROLE_ARN.fullmatch(role_arn):
        raise BadInput(f"`execution_role_arn` input: `{role_arn}` is not an IAM role ARN")
    bucket = settings.get("s3_bucket") or ""
    if bucket and not _BUCKET.fullmatch(bucket):
        raise BadInput(f"`s3_bucket` input: `{bucket}` is not an S3 bucket name")
    role_name = check_role_name(settings.get("role_name") or default_role_name(project))
    account = settings.get("account_id") or ""
    if account and not _ACCOUNT.fullmatch(account):
        raise BadInput(f"`account_id` input: `{account}` is not a 12-digit AWS account ID")
    audience = settings.get("audience") or DEFAULT_AUDIENCE
    region = settings.get("region") or ""
    if region and not _REGION.fullmatch(region):
        raise BadInput(f"`region` input: `{region}` is not an AWS Region name (such as eu-west-1)")
    return {"host": host, "project": project, "ref": ref, "ref_type": ref_type, "functions": functions,
            "execution_role_arn": role_arn, "s3_bucket": bucket, "role_name": role_name,
            "account_id": account, "audience": audience}


def _sub_strings(value: Any) -> Any:
    """CloudFormation: every string holding ${AWS::...} becomes Fn::Sub."""
    if isinstance(value, dict):
        return {key: _sub_strings(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_sub_strings(item) for item in value]
    if isinstance(value, str) and "${AWS::" in value:
        return {"Fn::Sub": value}
    return value


def cloudformation(checked: Mapping[str, Any]) -> dict[str, Any]:
    """A template with the OIDC provider (skipped with CreateOidcProvider=false, when the account already
    has one for this host: IAM allows one per URL), the role and its inline policy. Partition, account
    and region come from the stack, so the same template works in aws, aws-cn and aws-us-gov."""
    host = checked["host"]
    partition, account, region = "${AWS::Partition}", "${AWS::AccountId}", "${AWS::Region}"
    trust = trust_policy(provider_arn(partition, account, host), host, checked["project"], checked["ref"],
                         checked["ref_type"], checked["audience"])
    permissions = permissions_policy(partition, account, region, checked["functions"],
                                     checked["execution_role_arn"], checked["s3_bucket"])
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"lambda-ci: deploy role for GitLab project {checked['project']} on {host}",
        "Parameters": {"CreateOidcProvider": {
            "Type": "String", "AllowedValues": ["true", "false"], "Default": "true",
            "Description": f"false when the account already has an IAM OIDC provider for https://{host}"}},
        "Conditions": {"CreateProvider": {"Fn::Equals": [{"Ref": "CreateOidcProvider"}, "true"]}},
        "Resources": {
            "GitLabOidcProvider": {"Type": "AWS::IAM::OIDCProvider", "Condition": "CreateProvider",
                                   "Properties": {"Url": f"https://{host}",
                                                  "ClientIdList": [checked["audience"]]}},
            "DeployRole": {"Type": "AWS::IAM::Role", "Properties": {
                "RoleName": checked["role_name"],
                "Description": f"GitLab CI/CD deploys of {checked['project']} ({checked['ref_type']} "
                               f"{checked['ref']})"[:1000],
                "MaxSessionDuration": MAX_SESSION_DURATION,
                "AssumeRolePolicyDocument": _sub_strings(trust),
                "Policies": [{"PolicyName": PERMISSIONS_POLICY_NAME,
                              "PolicyDocument": _sub_strings(permissions)}]}},
        },
        "Outputs": {"RoleArn": {"Description": "role_arn input of the oidc-auth and deploy-lambda components",
                                "Value": {"Fn::GetAtt": ["DeployRole", "Arn"]}}},
    }


# ---------------------------------------------------------------------------------------------- audit


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _key_parts(key: str) -> tuple[str, str]:
    """`gitlab.com:sub` -> (gitlab.com, sub); a host with a port keeps it."""
    host, _, claim = key.rpartition(":")
    return host.lower(), claim.lower()


def _federated_host(statement: Mapping[str, Any]) -> tuple[str, str]:
    """(provider ARN, host) of a statement trusting an OIDC provider, else ('', '')."""
    principal = statement.get("Principal")
    federated = principal.get("Federated") if isinstance(principal, Mapping) else None
    for arn in _as_list(federated):
        if isinstance(arn, str) and ":oidc-provider/" in arn:
            return arn, arn.split(":oidc-provider/", 1)[1].lower()
    return "", ""


def _web_identity_statements(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    found = []
    for statement in _as_list(document.get("Statement", [])):
        actions = [str(action).lower() for action in _as_list(statement.get("Action", []))]
        allows = statement.get("Effect") == "Allow"
        if allows and _federated_host(statement)[1] and any(
                action in ("sts:assumerolewithwebidentity", "sts:*", "*") for action in actions):
            found.append(statement)
    return found


def _suggested_sub(project: str) -> str:
    return subject(project or "GROUP/PROJECT", "main", "branch")


def _sub_path(value: str) -> str | None:
    """The project path part of a sub value (`project_path:g/p:ref_type:...` -> g/p), None if not one."""
    if not value.startswith("project_path:"):
        return None
    return value.removeprefix("project_path:").split(":", 1)[0]


def trust_findings(document: Mapping[str, Any] | str, gitlab_host: str = "", project: str = "",
                   audience: str = DEFAULT_AUDIENCE) -> list[str]:
    """One line per weakness of a role's trust policy for GitLab ID tokens, each with its fix."""
    if isinstance(document, str):
        document = json.loads(document)
    statements = _web_identity_statements(document)
    if not statements:
        return ["no Allow statement lets an IAM OIDC provider's tokens assume the role "
                "(sts:AssumeRoleWithWebIdentity); fix: run `lambda-ci bootstrap` for the trust policy"]
    findings: list[str] = []
    for index, statement in enumerate(statements):
        arn, host = _federated_host(statement)
        label = f"statement {statement.get('Sid') or index + 1}"
        if gitlab_host and host != gitlab_host:
            findings.append(f"{label}: trusts the OIDC provider of {host}, not {gitlab_host}; fix: set "
                            f"Principal.Federated to the provider for https://{gitlab_host}")
        findings += _condition_findings(statement.get("Condition") or {}, label, host, project, audience)
    return findings


def _condition_findings(conditions: Mapping[str, Any], label: str, host: str, project: str,
                        audience: str) -> list[str]:
    findings: list[str] = []
    has = {"sub": False, "aud": False}
    for operator, pairs in conditions.items():
        base = operator.split(":")[-1]
        if operator.startswith("ForAllValues:"):
            findings.append(f"{label}: `{operator}` in an Allow is true when the key is absent or empty, so it "
                            f"restricts nothing; fix: use `{base}` on the single-valued `{host}:sub` and "
                            f"`{host}:aud`")
        for key, values in (pairs or {}).items():
            key_host, claim = _key_parts(key)
            if claim in has and key_host != host:
                findings.append(f"{label}: condition key `{key}` names host {key_host}, but the provider is "
                                f"{host}: the token's claims arrive as `{host}:{claim}`, so this condition "
                                f"never matches; fix: rename it `{host}:{claim}`")
                continue
            if claim not in has:
                continue
            has[claim] = True
            for value in (str(v) for v in _as_list(values)):
                findings += _value_findings(label, operator, base, key, claim, value, project, audience)
    if not has["sub"]:
        findings.append(f"{label}: no `{host}:sub` condition: any project on {host} can assume the role; fix: "
                        f"add StringEquals `{host}:sub` = `{_suggested_sub(project)}`")
    if not has["aud"]:
        findings.append(f"{label}: no `{host}:aud` condition: a token this instance minted for any other "
                        f"service can assume the role; fix: add StringEquals `{host}:aud` = `{audience}`")
    return findings


def _value_findings(label: str, operator: str, base: str, key: str, claim: str, value: str, project: str,
                    audience: str) -> list[str]:
    findings: list[str] = []
    wildcard = "*" in value or "?" in value
    if base.startswith("StringEquals") and wildcard:
        findings.append(f"{label}: `{operator}` compares `{key}` = `{value}` literally (`*` is not a wildcard "
                        "there), so it never matches; fix: use StringLike, or write the exact value")
    if claim == "sub":
        if ":ref_type:mr" in value:
            findings.append(f"{label}: `{key}` = `{value}` uses `ref_type:mr`, which GitLab never issues "
                            "(ref_type is branch or tag; merge request pipelines get branch); fix: use "
                            "`ref_type:branch`")
        path = _sub_path(value)
        if base.startswith("StringLike") and wildcard and (path is None or "*" in path or "?" in path):
            findings.append(f"{label}: `{key}` matches `{value}`, which is wider than one project; fix: name "
                            f"the project: `{_suggested_sub(project)}`")
        elif project and path is not None and not wildcard and path != project:
            findings.append(f"{label}: `{key}` = `{value}` names project {path}, not {project}; fix: use "
                            f"`{_suggested_sub(project)}`")
    if claim == "aud" and not wildcard and audience and value != audience and operator == "StringEquals":
        findings.append(f"{label}: `{key}` = `{value}`, but the component's audience is `{audience}`; "
                        f"fix: set it to `{audience}` (or the audience input to `{value}`)")
    return findings


def session_findings(role_name: str, max_session_duration: int, requested: int) -> list[str]:
    if requested and max_session_duration < requested:
        return [f"role {role_name} allows sessions of at most {max_session_duration} s, below the requested "
                f"session_duration {requested} s; fix: aws iam update-role --role-name {role_name} "
                f"--max-session-duration {requested}"]
    return []


def provider_findings(provider: str, client_ids: Iterable[str] | None, audience: str) -> list[str]:
    """client_ids None: the provider does not exist."""
    host = provider.split(":oidc-provider/", 1)[-1]
    if client_ids is None:
        return [f"the account has no IAM OIDC provider {provider}; fix: create it for https://{host} with "
                f"client ID {audience} (`lambda-ci bootstrap --apply` does)"]
    listed = list(client_ids)
    if audience not in listed:
        shown = ", ".join(listed) or "none"
        return [f"the IAM OIDC provider for {host} lists client IDs ({shown}) without the audience "
                f"`{audience}`; fix: aws iam add-client-id-to-open-id-connect-provider "
                f"--open-id-connect-provider-arn {provider} --client-id {audience}"]
    return []


def federated_providers(document: Mapping[str, Any] | str) -> list[str]:
    if isinstance(document, str):
        document = json.loads(document)
    return list(dict.fromkeys(_federated_host(s)[0] for s in _web_identity_statements(document)))
