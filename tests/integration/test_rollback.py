"""`lambda-ci rollback` against moto over HTTP, after real deploys, asserting on the alias afterwards."""

from __future__ import annotations

import boto3
import pytest

from lambda_ci import cli
from tests.integration.test_deploy import NAME, alias, deploy, make_package, routing


@pytest.fixture
def lam(aws):
    return boto3.client("lambda")


@pytest.fixture
def three_versions(aws, tmp_path, lam):
    role = boto3.client("iam").create_role(RoleName="exec", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    assert deploy(make_package(tmp_path / "v1"), role=role) == 0
    for body in ("v2", "v3"):
        assert deploy(make_package(tmp_path / body, body=body)) == 0
    assert alias(lam)["FunctionVersion"] == "3"


def rollback(*args: str) -> int:
    return cli.main(["rollback", "--function-name", NAME, *args])


def test_rollback_goes_to_the_recorded_previous_version(three_versions, lam, capsys):
    assert rollback() == 0
    live = alias(lam)
    assert live["FunctionVersion"] == "2" and live["Description"] == "lambda-ci: previous=3"
    assert "rolled back 3 -> 2" in capsys.readouterr().out
    # The record names the version left behind, so a second rollback undoes the first.
    assert rollback() == 0
    assert alias(lam)["FunctionVersion"] == "3"


def test_rollback_to_a_given_version_at_full_weight(three_versions, lam):
    lam.update_alias(FunctionName=NAME, Name="live", FunctionVersion="3",
                     RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    assert rollback("--to-version", "1") == 0
    live = alias(lam)
    assert live["FunctionVersion"] == "1" and routing(live) == {}


def test_rollback_ends_a_split_alias_on_its_main_version(three_versions, lam):
    # A canary cut short: the alias on 2 with a share on 3, and its record naming 2.
    lam.update_alias(FunctionName=NAME, Name="live", FunctionVersion="2", Description="lambda-ci: previous=2",
                     RoutingConfig={"AdditionalVersionWeights": {"3": 0.1}})
    assert rollback() == 0
    live = alias(lam)
    assert live["FunctionVersion"] == "2" and routing(live) == {}


def test_nothing_to_roll_back_to_after_the_first_deploy(aws, tmp_path, lam, capsys):
    role = boto3.client("iam").create_role(RoleName="exec", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    assert deploy(make_package(tmp_path / "v1"), role=role) == 0
    capsys.readouterr()

    assert rollback() == 1

    err = capsys.readouterr().err
    assert "nothing to roll back to: alias live of orders-api records no previous version" in err
    assert alias(lam)["FunctionVersion"] == "1"


def test_rollback_of_a_missing_function_or_version(three_versions, capsys):
    assert rollback("--to-version", "9") == 1
    assert "cannot roll back to version 9 of orders-api: it does not exist" in capsys.readouterr().err
    assert cli.main(["rollback", "--function-name", "nope"]) == 1
    assert "nope has no alias live" in capsys.readouterr().err


def test_bad_version_is_refused_before_any_aws_call(capsys):
    assert rollback("--to-version", "latest") == 2
    assert "`to_version` input" in capsys.readouterr().err
