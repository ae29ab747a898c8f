"""`lambda-ci deploy` against moto over HTTP, asserting on AWS state after each run.

moto's gaps (DESIGN.md) shape what these tests can show: invoke echoes the event (or answers from a
queue that a test fills), LastUpdateStatus is always Successful, and the RevisionId and CodeSha256 guards
are not enforced.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import urllib.request
import zipfile
from pathlib import Path

import boto3
import pytest

from lambda_ci import cli, regions

NAME = "orders-api"


def make_package(folder: Path, body: str = "v1", manifest: bool = True, runtime: str = "python3.12",
                 source: str = "") -> Path:
    """A small zip with a handler whose source differs by `body` (or is `source`), and its manifest beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "function.zip"
    source = source or f"def handler(event, context):\n    return {{'version': {body!r}, 'event': event}}\n"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(zipfile.ZipInfo("app.py", date_time=(2020, 1, 1, 0, 0, 0)), source)
    if manifest:
        data = path.read_bytes()
        (folder / "function.manifest.json").write_text(json.dumps({
            "code_sha256": base64.b64encode(hashlib.sha256(data).digest()).decode(),
            "size": len(data), "unzipped_size": len(source), "files": 1,
            "runtime": runtime, "architecture": "x86_64",
        }))
    return path


def code_sha256(path: Path) -> str:
    return base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()


@pytest.fixture
def role(aws):
    iam = boto3.client("iam")
    return iam.create_role(RoleName="orders-api-exec", AssumeRolePolicyDocument="{}")["Role"]["Arn"]


@pytest.fixture
def lam(aws):
    return boto3.client("lambda")


def deploy(package: Path, *args: str, role: str = "") -> int:
    extra = ["--execution-role-arn", role] if role else []
    return cli.main(["deploy", "--function-name", NAME, "--package", str(package), *extra, *args])


def versions(lam) -> list[str]:
    return [v["Version"] for v in lam.list_versions_by_function(FunctionName=NAME)["Versions"]]


def alias(lam, name: str = "live") -> dict:
    return lam.get_alias(FunctionName=NAME, Name=name)


def released_environment(lam) -> dict:
    return lam.get_function_configuration(FunctionName=NAME, Qualifier="live")["Environment"]["Variables"]


def routing(answer: dict) -> dict:
    return (answer.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}


def queue_invoke_answers(moto, *answers: str) -> None:
    """What moto's invoke returns next (it does not run the handler)."""
    body = json.dumps({"results": list(answers), "region": "us-east-1"}).encode()
    request = urllib.request.Request(f"{moto.url}/moto-api/static/lambda-simple/response", data=body,
                                     method="POST", headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).close()


def test_create_publishes_version_1_behind_the_alias(tmp_path, lam, role, calls, capsys):
    package = make_package(tmp_path / "v1")
    dotenv = tmp_path / "deploy.env"

    assert deploy(package, "--dotenv", str(dotenv), role=role) == 0

    config = lam.get_function(FunctionName=NAME)["Configuration"]
    manifest = json.loads((tmp_path / "v1/function.manifest.json").read_text())
    assert config["CodeSha256"] == manifest["code_sha256"]
    assert (config["Handler"], config["Runtime"], config["Role"]) == ("app.handler", "python3.12", role)
    assert versions(lam) == ["$LATEST", "1"]
    live = alias(lam)
    assert live["FunctionVersion"] == "1" and live["Description"] == "lambda-ci: previous=none"
    report = dict(line.split("=", 1) for line in dotenv.read_text().splitlines())
    assert report["LAMBDA_VERSION"] == "1" and report["LAMBDA_PREVIOUS_VERSION"] == ""
    assert report["LAMBDA_ALIAS"] == "live" and report["LAMBDA_CODE_SHA256"] == config["CodeSha256"]
    assert report["LAMBDA_FUNCTION_ARN"] == f"arn:aws:lambda:us-east-1:123456789012:function:{NAME}"
    out = capsys.readouterr().out
    assert "create function orders-api" in out and "section_start:" in out
    console = "https://us-east-1.console.aws.amazon.com/lambda/home?region=us-east-1#/functions/orders-api"
    assert f"console: {console}" in out and f"LAMBDA_CONSOLE_URL={console}" in dotenv.read_text()
    assert "created, version 1 published, alias live created on 1" in out
    assert "CreateFunction" in calls.names() and "PutObject" not in calls.names()


def test_new_code_publishes_the_next_version_and_records_the_previous(tmp_path, lam, role):
    assert deploy(make_package(tmp_path / "v1"), role=role) == 0
    v2 = make_package(tmp_path / "v2", body="v2")
    dotenv = tmp_path / "deploy.env"

    assert deploy(v2, "--dotenv", str(dotenv)) == 0

    assert lam.get_function(FunctionName=NAME)["Configuration"]["CodeSha256"] == code_sha256(v2)
    assert versions(lam) == ["$LATEST", "1", "2"]
    live = alias(lam)
    assert live["FunctionVersion"] == "2" and live["Description"] == "lambda-ci: previous=1"
    assert "LAMBDA_PREVIOUS_VERSION=1\n" in dotenv.read_text()


def test_unchanged_redeploy_uploads_and_publishes_nothing(tmp_path, lam, role, calls, capsys):
    package = make_package(tmp_path / "v1")
    assert deploy(package, role=role) == 0
    calls.clear()

    assert deploy(package, "--dotenv", str(tmp_path / "deploy.env")) == 0

    assert set(calls.names()) == {"GetFunction", "GetAlias", "GetFunctionConfiguration"}
    assert versions(lam) == ["$LATEST", "1"]
    assert alias(lam)["FunctionVersion"] == "1"
    assert "nothing to do" in capsys.readouterr().out
    assert "LAMBDA_VERSION=1\n" in (tmp_path / "deploy.env").read_text()


def test_without_manifest_the_zip_is_hashed(tmp_path, lam, role):
    package = make_package(tmp_path / "v1", manifest=False)
    assert deploy(package, "--runtime", "python3.11", role=role) == 0
    config = lam.get_function(FunctionName=NAME)["Configuration"]
    assert (config["CodeSha256"], config["Runtime"]) == (code_sha256(package), "python3.11")


def test_configuration_change_only_updates_no_code(tmp_path, lam, role, calls, capsys):
    package = make_package(tmp_path / "v1")
    assert deploy(package, "--timeout", "10", role=role) == 0
    calls.clear()

    assert deploy(package, "--memory-size", "512") == 0

    assert "UpdateFunctionCode" not in calls.names()
    assert calls.params("UpdateFunctionConfiguration") == [{"FunctionName": NAME, "MemorySize": 512}]
    config = lam.get_function_configuration(FunctionName=NAME, Qualifier="live")
    assert (config["Version"], config["MemorySize"], config["Timeout"]) == ("2", 512, 10)
    assert "memory_size 128 -> 512" in capsys.readouterr().out


def test_environment_merge_keeps_other_variables_and_replace_does_not(tmp_path, lam, role):
    package = make_package(tmp_path / "v1")
    assert deploy(package, "--environment-variables", "A=1", "--environment-variables", "B=2", role=role) == 0

    assert deploy(package, "--environment-variables", "B=3") == 0
    assert released_environment(lam) == {"A": "1", "B": "3"}

    assert deploy(package, "--environment-mode", "replace", "--environment-variables", "C=4=x") == 0
    assert released_environment(lam) == {"C": "4=x"}
    assert versions(lam) == ["$LATEST", "1", "2", "3"]


def test_environment_values_stay_out_of_the_log(tmp_path, role, capsys):
    package = make_package(tmp_path / "v1")
    assert deploy(package, "--environment-variables", "TOKEN=s3cr3t", role=role) == 0
    assert deploy(package, "--environment-variables", "TOKEN=n3w", "--dry-run") == 0
    out = capsys.readouterr().out
    assert "environment ~TOKEN" in out and "s3cr3t" not in out and "n3w" not in out


def test_s3_path_uploads_content_addressed_and_never_twice(tmp_path, lam, role, calls):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="artifacts-bucket")
    v1, v2 = make_package(tmp_path / "v1"), make_package(tmp_path / "v2", body="v2")
    hex_v1 = hashlib.sha256(v1.read_bytes()).hexdigest()

    assert deploy(v1, "--s3-bucket", "artifacts-bucket", role=role) == 0
    assert deploy(v2, "--s3-bucket", "artifacts-bucket") == 0
    assert len(calls.params("PutObject")) == 2
    calls.clear()
    # Going back to the first commit's code: the object is already there.
    assert deploy(v1, "--s3-bucket", "artifacts-bucket") == 0

    assert "PutObject" not in calls.names()
    assert calls.params("UpdateFunctionCode")[0]["S3Key"] == f"lambda-ci/{NAME}/{hex_v1}.zip"
    head = s3.head_object(Bucket="artifacts-bucket", Key=f"lambda-ci/{NAME}/{hex_v1}.zip")
    assert head["ContentLength"] == v1.stat().st_size
    assert lam.get_function(FunctionName=NAME)["Configuration"]["CodeSha256"] == code_sha256(v1)
    assert alias(lam)["FunctionVersion"] == "3"


def test_dry_run_changes_nothing(tmp_path, lam, role, calls, capsys):
    v1 = make_package(tmp_path / "v1")
    assert deploy(v1, "--dry-run", role=role) == 0
    assert lam.list_functions()["Functions"] == []

    assert deploy(v1, role=role) == 0
    calls.clear()
    assert deploy(make_package(tmp_path / "v2", body="v2"), "--memory-size", "256", "--dry-run") == 0

    assert set(calls.names()) == {"GetFunction", "GetAlias", "GetFunctionConfiguration"}
    assert versions(lam) == ["$LATEST", "1"]
    assert lam.get_function(FunctionName=NAME)["Configuration"]["CodeSha256"] == code_sha256(v1)
    out = capsys.readouterr().out
    assert "update code:" in out and "memory_size 128 -> 256" in out and "dry run: nothing changed" in out


def test_bad_inputs_fail_before_any_aws_call(tmp_path, calls, capsys):
    assert deploy(tmp_path / "missing.zip") == 2
    assert "`package` input" in capsys.readouterr().err
    assert deploy(make_package(tmp_path / "v1"), "--smoke-payload", "{not json") == 2
    assert "`smoke_payload` input" in capsys.readouterr().err
    assert calls.names() == []


def test_creating_needs_the_execution_role(tmp_path, lam, capsys):
    assert deploy(make_package(tmp_path / "v1")) == 2
    assert "`execution_role_arn` input" in capsys.readouterr().err
    assert lam.list_functions()["Functions"] == []


def test_smoke_test_checks_the_new_version_before_traffic_moves(tmp_path, lam, role, calls):
    assert deploy(make_package(tmp_path / "v1"), role=role) == 0
    calls.clear()
    # moto's invoke echoes the event: the answer contains what was sent.
    assert deploy(make_package(tmp_path / "v2", body="v2"),
                  "--smoke-payload", '{"ping": {"deep": [1, true]}, "x": 1}',
                  "--smoke-expect", '{"ping": {"deep": [1, true]}}') == 0
    assert calls.params("Invoke")[0]["Qualifier"] == "2"
    assert alias(lam)["FunctionVersion"] == "2"


def test_failed_smoke_test_leaves_the_alias_on_the_previous_version(tmp_path, moto, lam, role, capsys):
    assert deploy(make_package(tmp_path / "v1"), role=role) == 0
    queue_invoke_answers(moto, '{"ok": false}')

    assert deploy(make_package(tmp_path / "v2", body="v2"), "--smoke-payload", "{}",
                  "--smoke-expect", '{"ok": true}') == 1

    live = alias(lam)
    assert live["FunctionVersion"] == "1" and routing(live) == {}
    err = capsys.readouterr().err
    assert "smoke test of version 2 failed" in err and "alias live stays on version 1" in err


def test_smoke_test_failing_during_a_canary_puts_the_alias_back(tmp_path, moto, lam, role, capsys):
    assert deploy(make_package(tmp_path / "v1"), role=role) == 0
    assert deploy(make_package(tmp_path / "v2", body="v2")) == 0
    queue_invoke_answers(moto, '{"ok": true}', '{"ok": false}')  # before traffic, then at 10%

    assert deploy(make_package(tmp_path / "v3", body="v3"), "--strategy", "canary", "--interval-seconds", "0",
                  "--smoke-payload", "{}", "--smoke-expect", '{"ok": true}') == 1

    live = alias(lam)
    assert (live["FunctionVersion"], routing(live), live["Description"]) == ("2", {}, "lambda-ci: previous=1")
    err = capsys.readouterr().err
    assert "smoke test of version 3 failed" in err and "alias live is back on version 2 at full weight" in err


def test_canary_moves_a_share_then_everything(tmp_path, lam, role, calls):
    assert deploy(make_package(tmp_path / "v1"), role=role) == 0
    calls.clear()

    assert deploy(make_package(tmp_path / "v2", body="v2"), "--strategy", "canary", "--canary-percent", "25",
                  "--interval-seconds", "0") == 0

    moves = [(p["FunctionVersion"], routing(p)) for p in calls.params("UpdateAlias")]
    assert moves == [("1", {"2": 0.25}), ("2", {})]
    live = alias(lam)
    assert live["FunctionVersion"] == "2" and routing(live) == {}


def test_linear_moves_in_equal_steps(tmp_path, role, calls):
    assert deploy(make_package(tmp_path / "v1"), role=role) == 0
    calls.clear()
    assert deploy(make_package(tmp_path / "v2", body="v2"), "--strategy", "linear", "--canary-percent", "40",
                  "--interval-seconds", "0") == 0
    assert [routing(p) for p in calls.params("UpdateAlias")] == [{"2": 0.4}, {"2": 0.8}, {}]


def test_alarm_in_alarm_puts_the_alias_back_at_full_weight(tmp_path, lam, role, capsys):
    cloudwatch = boto3.client("cloudwatch")
    cloudwatch.put_metric_alarm(AlarmName="orders-errors", MetricName="Errors", Namespace="AWS/Lambda",
                                Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1,
                                ComparisonOperator="GreaterThanThreshold")
    assert deploy(make_package(tmp_path / "v1"), role=role) == 0
    cloudwatch.set_alarm_state(AlarmName="orders-errors", StateValue="ALARM", StateReason="errors")

    assert deploy(make_package(tmp_path / "v2", body="v2"), "--strategy", "canary", "--interval-seconds", "0",
                  "--alarms", "orders-errors") == 1

    live = alias(lam)
    assert live["FunctionVersion"] == "1" and routing(live) == {}
    assert live["Description"] == "lambda-ci: previous=none"
    err = capsys.readouterr().err
    assert "alarm in ALARM: orders-errors" in err and "back on version 1 at full weight" in err


def test_unknown_alarm_stops_before_traffic_moves(tmp_path, lam, role, capsys):
    assert deploy(make_package(tmp_path / "v1"), role=role) == 0
    assert deploy(make_package(tmp_path / "v2", body="v2"), "--alarms", "no-such-alarm") == 1
    assert alias(lam)["FunctionVersion"] == "1"
    assert "alarms not found in CloudWatch: no-such-alarm" in capsys.readouterr().err


def test_prune_keeps_the_newest_and_every_aliased_version(tmp_path, lam, role):
    assert deploy(make_package(tmp_path / "v1"), role=role) == 0
    lam.create_alias(FunctionName=NAME, Name="stable", FunctionVersion="1")
    for body in ("v2", "v3", "v4"):
        assert deploy(make_package(tmp_path / body, body=body)) == 0
    assert deploy(make_package(tmp_path / "v5", body="v5"), "--keep-versions", "1") == 0

    # 5 is the newest, 4 is where rollback goes, 1 is behind another alias.
    assert versions(lam) == ["$LATEST", "1", "4", "5"]
    assert alias(lam)["FunctionVersion"] == "5"


def test_console_url_follows_the_partition():
    from lambda_ci.deploy import console_url

    assert console_url("cn-north-1", "f") == "https://console.amazonaws.cn/lambda/home?region=cn-north-1#/functions/f"
    assert console_url("us-gov-west-1", "f").startswith("https://console.amazonaws-us-gov.com/")
    assert regions.partition("eu-west-1") == "aws"


def publish_layer(name: str) -> str:
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("python/lib.py", "X = 1\n")
    answer = boto3.client("lambda").publish_layer_version(LayerName=name, Content={"ZipFile": zipped.getvalue()})
    return answer["LayerVersionArn"]


def test_description_layers_and_storage_are_set_only_when_given(tmp_path, lam, role, calls):
    deps, extra = publish_layer("deps"), publish_layer("extra")
    package = make_package(tmp_path / "v1")
    assert deploy(package, "--description", "orders v1", "--layers", deps, "--ephemeral-storage", "1024",
                  role=role) == 0
    config = lam.get_function_configuration(FunctionName=NAME, Qualifier="live")
    assert (config["Description"], [layer["Arn"] for layer in config["Layers"]]) == ("orders v1", [deps])
    assert config["EphemeralStorage"] == {"Size": 1024}
    calls.clear()

    # Not given: left as they are, and nothing to do.
    assert deploy(package) == 0
    assert "UpdateFunctionConfiguration" not in calls.names() and versions(lam) == ["$LATEST", "1"]

    assert deploy(package, "--description", "orders v2", "--layers", extra, "--layers", deps) == 0
    assert calls.params("UpdateFunctionConfiguration") == [
        {"FunctionName": NAME, "Description": "orders v2", "Layers": [extra, deps]}]
    config = lam.get_function_configuration(FunctionName=NAME, Qualifier="live")
    assert (config["Version"], config["Description"]) == ("2", "orders v2")
    assert [layer["Arn"] for layer in config["Layers"]] == [extra, deps]
    assert config["EphemeralStorage"] == {"Size": 1024}


def test_ephemeral_storage_change_is_sent(tmp_path, lam, role, calls):
    package = make_package(tmp_path / "v1")
    assert deploy(package, role=role) == 0
    calls.clear()
    assert deploy(package, "--ephemeral-storage", "2048") == 0
    # moto 5.2 ignores EphemeralStorage in UpdateFunctionConfiguration (it honours it only on create, as
    # the test above shows), so the request is what can be checked here.
    assert calls.params("UpdateFunctionConfiguration") == [{"FunctionName": NAME, "EphemeralStorage": {"Size": 2048}}]
    assert alias(lam)["FunctionVersion"] == "2"


def test_bad_storage_and_layers_fail_before_any_aws_call(tmp_path, calls, capsys):
    package = make_package(tmp_path / "v1")
    assert deploy(package, "--ephemeral-storage", "256") == 2
    assert "`ephemeral_storage` input: must be 0 (unchanged) or 512 to 10240" in capsys.readouterr().err
    assert deploy(package, "--layers", "deps:1") == 2
    assert "`layers` input: each item must be a layer version ARN" in capsys.readouterr().err
    assert calls.names() == []
