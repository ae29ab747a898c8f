"""`lambda-ci bootstrap --apply` and `lambda-ci audit-role --role-name` against moto over HTTP."""

from __future__ import annotations

import json

import boto3

from lambda_ci import cli

HOST = "gitlab.example.com"
APPLY = ["bootstrap", "--gitlab-url", f"https://{HOST}", "--project", "acme/orders", "--function-name",
         "orders-api", "--execution-role-arn", "arn:aws:iam::123456789012:role/orders-exec",
         "--s3-bucket", "acme-artifacts", "--apply"]


def test_apply_twice_then_audit_is_clean(aws, capsys):
    assert cli.main(APPLY) == 0
    first = capsys.readouterr()
    assert cli.main(APPLY) == 0  # the provider and role exist: no failure, no duplicate
    second = capsys.readouterr()
    iam = boto3.client("iam")
    providers = iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    assert [p["Arn"] for p in providers] == [f"arn:aws:iam::123456789012:oidc-provider/{HOST}"]
    assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=providers[0]["Arn"])["ClientIDList"] == [
        "sts.amazonaws.com"]
    assert "created" in first.err and "exists" in second.err
    role = iam.get_role(RoleName="gitlab-acme-orders-deploy")["Role"]
    assert first.out == second.out == f"{role['Arn']}\n"
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"] == {"Federated": providers[0]["Arn"]}
    assert trust["Statement"][0]["Condition"] == {"StringEquals": {
        f"{HOST}:aud": "sts.amazonaws.com", f"{HOST}:sub": "project_path:acme/orders:ref_type:branch:ref:main"}}
    inline = iam.get_role_policy(RoleName="gitlab-acme-orders-deploy", PolicyName="lambda-ci-deploy")
    document = inline["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    assert {"PassExecutionRole", "Packages", "DeployFunctions"} <= {s["Sid"] for s in document["Statement"]}

    assert cli.main(["audit-role", "--role-name", "gitlab-acme-orders-deploy", "--gitlab-url",
                     f"https://{HOST}", "--project", "acme/orders"]) == 0
    assert capsys.readouterr().out == "no findings\n"


def test_weak_role_has_findings(aws, capsys):
    iam = boto3.client("iam")
    provider = iam.create_open_id_connect_provider(Url=f"https://{HOST}", ClientIDList=["other"])[
        "OpenIDConnectProviderArn"]
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": provider}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringLike": {f"{HOST}:sub": "project_path:acme/*"}}}]}
    iam.create_role(RoleName="weak", AssumeRolePolicyDocument=json.dumps(trust), MaxSessionDuration=3600)
    assert cli.main(["audit-role", "--role-name", "weak", "--session-duration", "7200"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"statement 1: `{HOST}:sub` matches `project_path:acme/*`, which is wider than one project; fix: name "
        "the project: `project_path:GROUP/PROJECT:ref_type:branch:ref:main`",
        f"statement 1: no `{HOST}:aud` condition: a token this instance minted for any other service can "
        f"assume the role; fix: add StringEquals `{HOST}:aud` = `sts.amazonaws.com`",
        "role weak allows sessions of at most 3600 s, below the requested session_duration 7200 s; fix: aws "
        "iam update-role --role-name weak --max-session-duration 7200",
        f"the IAM OIDC provider for {HOST} lists client IDs (other) without the audience `sts.amazonaws.com`; "
        f"fix: aws iam add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn {provider} "
        "--client-id sts.amazonaws.com",
    ]


def test_audit_missing_role_fails(aws, capsys):
    assert cli.main(["audit-role", "--role-name", "absent"]) == 1
    assert capsys.readouterr().err.startswith("lambda-ci audit-role: reading the IAM role absent failed "
                                              "(NoSuchEntity: ")
