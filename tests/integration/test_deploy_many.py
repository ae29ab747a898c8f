"""`lambda-ci deploy --functions FILE` against moto: several functions at once, one failing."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time

import boto3
import pytest
import yaml

from lambda_ci import cli
from tests.integration.test_deploy import code_sha256, make_package, routing


@pytest.fixture
def role(aws):
    return boto3.client("iam").create_role(RoleName="exec", AssumeRolePolicyDocument="{}")["Role"]["Arn"]


def deploy_many(listing, *args: str) -> int:
    return cli.main(["deploy", "--function-name", "orders", "--functions", str(listing), *args])


def write_list(path, items) -> str:
    path.write_text(yaml.safe_dump(items))
    return str(path)


def test_one_failing_function_leaves_the_others_deployed(tmp_path, role, capsys):
    lam = boto3.client("lambda")
    api, worker = make_package(tmp_path / "api"), make_package(tmp_path / "worker", body="worker")
    listing = write_list(tmp_path / "functions.yml", [
        {"function_name": "orders-api", "package": str(api), "memory_size": 256},
        {"function_name": "orders-broken", "package": str(tmp_path / "missing/function.zip")},
        {"function_name": "orders-worker", "package": str(worker), "alias": "prod"},
    ])
    dotenv = tmp_path / "deploy.env"

    assert deploy_many(listing, "--execution-role-arn", role, "--timeout", "20", "--dotenv", str(dotenv)) == 1

    api_live = lam.get_function_configuration(FunctionName="orders-api", Qualifier="live")
    assert (api_live["Version"], api_live["MemorySize"], api_live["Timeout"]) == ("1", 256, 20)
    worker_prod = lam.get_function_configuration(FunctionName="orders-worker", Qualifier="prod")
    assert (worker_prod["CodeSha256"], worker_prod["Timeout"]) == (code_sha256(worker), 20)
    assert sorted(f["FunctionName"] for f in lam.list_functions()["Functions"]) == ["orders-api", "orders-worker"]

    captured = capsys.readouterr()
    rows = [line.split() for line in captured.out.splitlines() if re.match(r"(function|orders-)\S*\s+\S", line)]
    assert [row[:5] for row in rows[-4:]] == [
        ["function", "action", "version", "alias", "result"],
        ["orders-api", "create", "1", "live", "ok"],
        ["orders-broken", "-", "-", "live", "failed"],
        ["orders-worker", "create", "1", "prod", "ok"],
    ]
    assert "2 of 3 functions done, 1 failed" in captured.out
    assert "orders-broken: `package` input:" in captured.err
    # Each function's log is one block: nothing of another function inside it.
    for name, other in (("orders-api", "orders-worker"), ("orders-worker", "orders-api")):
        block = captured.out.split(f":deploy_{name}\r")[1].split(f":deploy_{name}\r")[0]
        assert f"Plan for {name}" in block and other not in block
    report = json.loads(dotenv.read_text().removeprefix("LAMBDA_FUNCTIONS_JSON="))
    assert report["orders-worker"] == {"version": "1", "previous": None, "alias": "prod", "result": "ok"}
    assert report["orders-broken"]["result"] == "failed"


def test_redeploy_of_many_changes_only_what_changed(tmp_path, role, capsys):
    lam = boto3.client("lambda")
    items = [{"function_name": f"fn-{i}", "package": str(make_package(tmp_path / f"v1-{i}", body=str(i)))}
             for i in range(4)]
    assert deploy_many(write_list(tmp_path / "one.yml", items), "--execution-role-arn", role) == 0
    items[2]["package"] = str(make_package(tmp_path / "v2-2", body="changed"))
    capsys.readouterr()

    assert deploy_many(write_list(tmp_path / "two.yml", items)) == 0

    actions = {line.split()[0]: line.split()[1:3] for line in capsys.readouterr().out.splitlines()
               if line.startswith("fn-") and len(line.split()) == 6}
    assert actions == {"fn-0": ["none", "1"], "fn-1": ["none", "1"], "fn-2": ["update", "2"], "fn-3": ["none", "1"]}
    assert lam.get_alias(FunctionName="fn-2", Name="live")["FunctionVersion"] == "2"


@pytest.mark.parametrize(("items", "message"), [
    ([{"function_name": "a"}, {"function_name": "b", "memory_size": 64}],
     "`functions` input: item 1 (b): `memory_size` input: must be 0 (unchanged) or 128 to 10240"),
    ([{"package": "a.zip"}], "`functions` input: item 0: `function_name` input: required value has not been provided"),
    ([{"function_name": "a", "colour": "red"}], "`functions` input: item 0 (a): unknown input arguments: colour"),
    ([{"function_name": "a"}, {"function_name": "a"}], "`functions` input: item 1 (a): `function_name` input: a is "
     "listed twice"),
    ([{"function_name": "a", "smoke_payload": "{"}], "`functions` input: item 0 (a): `smoke_payload` input: not valid"),
    ({"function_name": "a"}, "must hold a list of functions"),
])
def test_bad_items_fail_before_any_aws_call(tmp_path, calls, capsys, items, message):
    assert deploy_many(write_list(tmp_path / "functions.yml", items)) == 2
    assert message in capsys.readouterr().err
    assert calls.names() == []


CANARY = ["--strategy", "canary", "--canary-percent", "10", "--interval-seconds", "120"]


@pytest.mark.parametrize("many", [False, True], ids=["one function", "--functions"])
def test_a_cancelled_job_puts_every_split_alias_back(tmp_path, role, many):
    """GitLab cancels a job with SIGTERM. Mid-canary, each alias goes back wholly to its old version, long
    before the traffic step would have ended; with --functions too, where deploys run in worker threads."""
    lam = boto3.client("lambda")
    names = ["fn-a", "fn-b"] if many else ["fn-a"]
    v1 = [{"function_name": n, "package": str(make_package(tmp_path / f"v1-{n}", body=n))} for n in names]
    assert deploy_many(write_list(tmp_path / "one.yml", v1), "--execution-role-arn", role) == 0
    v2 = [{**item, "package": str(make_package(tmp_path / f"v2-{item['function_name']}", body="v2"))}
          for item in v1]
    target = (["--functions", write_list(tmp_path / "two.yml", v2)] if many
              else ["--package", v2[0]["package"]])
    job = subprocess.Popen([sys.executable, "-m", "lambda_ci", "deploy", "--function-name", "fn-a", *target,
                            *CANARY], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not all(routing(lam.get_alias(FunctionName=n, Name="live")) for n in names):
            assert job.poll() is None and time.monotonic() < deadline, "the canary never started"
            time.sleep(0.1)
        cancelled = time.monotonic()
        job.send_signal(signal.SIGTERM)
        out, err = job.communicate(timeout=60)
    finally:
        job.kill()

    assert time.monotonic() - cancelled < 30  # not the 120 s of the step
    assert (job.returncode, err.splitlines()[-1]) == (130, "lambda-ci deploy: interrupted")
    for name in names:
        alias = lam.get_alias(FunctionName=name, Name="live")
        assert (alias["FunctionVersion"], routing(alias)) == ("1", {})
    if many:
        rows = {line.split()[0]: line.split()[4] for line in out.splitlines() if line.startswith("fn-")}
        assert rows == {"fn-a": "interrupted", "fn-b": "interrupted"}
