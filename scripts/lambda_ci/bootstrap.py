"""`lambda-ci bootstrap`: the IAM OIDC provider for a GitLab instance and a deploy role that only one
project's jobs on one ref can assume, printed as a CloudFormation template (default) or JSON policies,
or created with `--apply` through boto3 (the provider only when the account has none for the host)."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

import yaml
from botocore.exceptions import BotoCoreError, ClientError

from lambda_ci import aws, policy, regions, sts
from lambda_ci.errors import BadInput, OperationFailed


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _notes(checked: Mapping[str, Any], settings: Mapping[str, Any]) -> None:
    if settings.get("environment"):
        _say(f"note: environment `{settings['environment']}` is not in the trust policy: GitLab's sub claim "
             "has no environment and IAM can condition only on aud and sub; protect the branch and the "
             "environment in GitLab instead")
    if not checked["functions"]:
        _say("note: no --function-name: the role may deploy every function of the account and region; "
             "name the functions to narrow it")
    if not checked["execution_role_arn"]:
        _say("note: no --execution-role-arn: the role cannot pass an execution role, so it can update "
             "existing functions but not create new ones")


def documents(checked: Mapping[str, Any], partition: str, account: str, region: str) -> dict[str, Any]:
    federated = policy.provider_arn(partition, account, checked["host"])
    return {
        "oidc_provider": {"arn": federated, "url": f"https://{checked['host']}",
                          "client_ids": [checked["audience"]]},
        "role_name": checked["role_name"],
        "role_arn": f"arn:{partition}:iam::{account}:role/{checked['role_name']}",
        "max_session_duration": policy.MAX_SESSION_DURATION,
        "trust_policy": policy.trust_policy(federated, checked["host"], checked["project"], checked["ref"],
                                            checked["ref_type"], checked["audience"]),
        "permissions_policy_name": policy.PERMISSIONS_POLICY_NAME,
        "permissions_policy": policy.permissions_policy(
            partition, account, region, checked["functions"], checked["execution_role_arn"],
            checked["s3_bucket"]),
    }


def _fail(what: str, error: Exception) -> OperationFailed:
    code, message = sts.describe(error)
    return OperationFailed(f"{what} failed ({code}: {message})")


def _account(region: str) -> str:
    try:
        return sts.client(region).get_caller_identity()["Account"]
    except (ClientError, BotoCoreError) as error:
        raise _fail("GetCallerIdentity (to find the account; or give --account-id)", error) from None


def _ensure_provider(iam, host: str, audience: str, wanted_arn: str) -> str:
    try:
        listed = iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
        for entry in listed:
            arn = entry["Arn"]
            if arn.split(":oidc-provider/", 1)[-1].lower() == host:
                client_ids = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn).get("ClientIDList", [])
                if audience not in client_ids:
                    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID=audience)
                    _say(f"IAM OIDC provider {arn}: added client ID {audience}")
                else:
                    _say(f"IAM OIDC provider {arn}: exists")
                return arn
        arn = iam.create_open_id_connect_provider(Url=f"https://{host}", ClientIDList=[audience])[
            "OpenIDConnectProviderArn"]
    except (ClientError, BotoCoreError) as error:
        raise _fail(f"creating the IAM OIDC provider {wanted_arn}", error) from None
    _say(f"IAM OIDC provider {arn}: created")
    return arn


def _ensure_role(iam, docs: Mapping[str, Any], description: str) -> str:
    name = docs["role_name"]
    trust = json.dumps(docs["trust_policy"])
    try:
        try:
            arn = iam.get_role(RoleName=name)["Role"]["Arn"]
        except ClientError as error:
            if sts.describe(error)[0] != "NoSuchEntity":
                raise
            arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust, Description=description,
                                  MaxSessionDuration=docs["max_session_duration"])["Role"]["Arn"]
            _say(f"IAM role {arn}: created")
        else:
            iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust)
            _say(f"IAM role {arn}: trust policy updated")
        iam.put_role_policy(RoleName=name, PolicyName=docs["permissions_policy_name"],
                            PolicyDocument=json.dumps(docs["permissions_policy"]))
    except (ClientError, BotoCoreError) as error:
        raise _fail(f"creating the IAM role {name}", error) from None
    return arn


def run(settings: dict[str, Any]) -> int:
    checked = policy.check_bootstrap(settings)
    region = regions.region(settings.get("region") or "")
    partition = regions.partition(region)
    fmt = settings.get("format") or "cloudformation"
    if fmt == "json" and not settings.get("apply") and not checked["account_id"]:
        raise BadInput("`account_id` input: required with --format json (ARNs name the account); "
                       "CloudFormation fills it in")
    _notes(checked, settings)
    if not settings.get("apply"):
        if fmt == "cloudformation":
            print(yaml.safe_dump(policy.cloudformation(checked), sort_keys=False, width=120), end="")
            return 0
        print(json.dumps(documents(checked, partition, checked["account_id"], region), indent=2))
        return 0
    account = checked["account_id"] or _account(region)
    docs = documents(checked, partition, account, region)
    iam = aws.client("iam", region)
    provider = _ensure_provider(iam, checked["host"], checked["audience"], docs["oidc_provider"]["arn"])
    if provider != docs["oidc_provider"]["arn"]:
        docs = {**docs, "trust_policy": policy.trust_policy(provider, checked["host"], checked["project"],
                                                            checked["ref"], checked["ref_type"],
                                                            checked["audience"])}
    arn = _ensure_role(iam, docs, f"GitLab CI/CD deploys of {checked['project']}")
    print(arn)
    return 0
