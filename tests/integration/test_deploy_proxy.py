"""`lambda-ci deploy` through the Lambda behaviour proxy: updates that take a while, conflicts, throttling,
a failed update, and smoke tests that run the deployed handler. AWS state is read from moto directly,
past the proxy, so the assertions see what AWS holds rather than what the proxy says."""

from __future__ import annotations

import boto3
import pytest

from tests.integration.test_deploy import NAME, code_sha256, deploy, make_package, routing

RAISES = "def handler(event, context):\n    raise ValueError('orders table is missing')\n"


@pytest.fixture
def moto_lambda(aws):
    return boto3.client("lambda", endpoint_url=aws.url)


@pytest.fixture
def role(proxy):
    return boto3.client("iam").create_role(RoleName="exec", AssumeRolePolicyDocument="{}")["Role"]["Arn"]


def after(calls, operation: str) -> list[str]:
    names = calls.names()
    return names[names.index(operation) + 1:]


def live(moto_lambda) -> dict:
    return moto_lambda.get_alias(FunctionName=NAME, Name="live")


def versions(moto_lambda) -> list[str]:
    return [v["Version"] for v in moto_lambda.list_versions_by_function(FunctionName=NAME)["Versions"]]


def test_deploy_waits_while_create_and_update_are_in_progress(tmp_path, proxy, role, calls, moto_lambda):
    proxy.settle_after(reads=2)

    assert deploy(make_package(tmp_path / "v1"), role=role) == 0
    # Pending twice, then Active: the waiter read three times before anything was published.
    assert after(calls, "CreateFunction")[:3] == ["GetFunction"] * 3
    v2 = make_package(tmp_path / "v2", body="v2")
    calls.clear()
    assert deploy(v2, "--memory-size", "256") == 0

    # The configuration waited for the code, and the version for the configuration.
    assert after(calls, "UpdateFunctionCode")[:4] == ["GetFunction"] * 3 + ["GetFunctionConfiguration"]
    assert after(calls, "UpdateFunctionConfiguration")[:3] == ["GetFunction"] * 3
    assert proxy.conflicts == 0
    config = moto_lambda.get_function_configuration(FunctionName=NAME, Qualifier="live")
    assert (config["Version"], config["CodeSha256"], config["MemorySize"]) == ("2", code_sha256(v2), 256)


def test_conflict_with_an_update_in_progress_is_retried(tmp_path, proxy, role, moto_lambda):
    assert deploy(make_package(tmp_path / "v1"), role=role) == 0
    # Someone else's update is still going on when the deploy starts.
    proxy.settle_after(seconds=1.5)
    boto3.client("lambda").update_function_configuration(FunctionName=NAME, Description="by hand")
    v2 = make_package(tmp_path / "v2", body="v2")

    assert deploy(v2) == 0

    assert proxy.conflicts >= 1
    config = moto_lambda.get_function_configuration(FunctionName=NAME, Qualifier="live")
    assert (config["Version"], config["CodeSha256"], config["Description"]) == ("2", code_sha256(v2), "by hand")


def test_throttling_is_retried(tmp_path, proxy, role, moto_lambda):
    proxy.throttle(next_calls=2)
    assert deploy(make_package(tmp_path / "v1"), role=role) == 0
    assert proxy.throttled == 2

    proxy.throttle(fraction=0.3)
    v2 = make_package(tmp_path / "v2", body="v2")
    assert deploy(v2, "--strategy", "linear", "--canary-percent", "50", "--interval-seconds", "0") == 0
    proxy.throttle()

    assert proxy.throttled > 2
    alias = live(moto_lambda)
    assert (alias["FunctionVersion"], routing(alias)) == ("2", {})
    assert moto_lambda.get_function(FunctionName=NAME)["Configuration"]["CodeSha256"] == code_sha256(v2)


def test_failed_update_stops_with_the_reason_and_leaves_the_alias(tmp_path, proxy, role, moto_lambda, capsys):
    assert deploy(make_package(tmp_path / "v1"), role=role) == 0
    proxy.settle_after(reads=1)
    proxy.fail_next_update("Lambda was unable to configure access to your environment variables (KMS)")

    assert deploy(make_package(tmp_path / "v2", body="v2")) == 1

    err = capsys.readouterr().err
    assert err.splitlines()[-1] == ("lambda-ci deploy: orders-api: Lambda reports Failed: Lambda was unable to "
                                    "configure access to your environment variables (KMS)")
    alias = live(moto_lambda)
    assert (alias["FunctionVersion"], routing(alias)) == ("1", {})
    assert versions(moto_lambda) == ["$LATEST", "1"]


def test_smoke_test_runs_the_handler_and_a_raising_one_is_not_released(tmp_path, proxy, role, moto_lambda, capsys):
    assert deploy(make_package(tmp_path / "v1"), role=role) == 0

    assert deploy(make_package(tmp_path / "v2", source=RAISES), "--strategy", "canary",
                  "--interval-seconds", "0", "--smoke-payload", '{"order": 1}') == 1

    alias = live(moto_lambda)
    assert (alias["FunctionVersion"], routing(alias)) == ("1", {})
    err = capsys.readouterr().err
    assert "smoke test of version 2 failed: Unhandled error" in err
    assert '"errorType": "ValueError"' in err and "orders table is missing" in err
    assert "alias live stays on version 1" in err


def test_smoke_test_with_a_good_handler_checks_its_answer(tmp_path, proxy, role, calls, moto_lambda, capsys):
    assert deploy(make_package(tmp_path / "v1"), role=role) == 0

    # The handler's own answer: moto's echo of the event would not say "v2".
    assert deploy(make_package(tmp_path / "v2", body="v2"), "--strategy", "canary", "--interval-seconds", "0",
                  "--smoke-payload", '{"order": 1}', "--smoke-expect", '{"version": "v2", "event": {"order": 1}}') == 0

    assert [p["Qualifier"] for p in calls.params("Invoke")] == ["2", "2"]  # before traffic, then at 10%
    alias = live(moto_lambda)
    assert (alias["FunctionVersion"], routing(alias)) == ("2", {})
    assert '"version": "v2"' in capsys.readouterr().out


def test_smoke_expectation_not_met_by_the_handler_puts_the_alias_back(tmp_path, proxy, role, moto_lambda, capsys):
    assert deploy(make_package(tmp_path / "v1"), role=role) == 0
    assert deploy(make_package(tmp_path / "v2", body="v2"), "--smoke-payload", "{}",
                  "--smoke-expect", '{"version": "v3"}') == 1
    assert live(moto_lambda)["FunctionVersion"] == "1"
    assert 'the answer does not contain {"version": "v3"}' in capsys.readouterr().err
