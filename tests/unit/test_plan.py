"""The deploy plan and the pure parts of a release: no AWS, only the answers AWS would give."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from lambda_ci import inputs
from lambda_ci.deploy import read_package
from lambda_ci.errors import BadInput
from lambda_ci.plan import Current, Desired, Package, make_plan, parse_environment
from lambda_ci.release import Rollout, contains, record, recorded_previous, versions_to_prune

SHA_A = base64.b64encode(hashlib.sha256(b"a").digest()).decode()
SHA_B = base64.b64encode(hashlib.sha256(b"b").digest()).decode()
ROLE = "arn:aws:iam::123456789012:role/exec"


def settings(**given) -> dict:
    specs = inputs.cli_inputs("deploy-lambda")
    defaults = {name: spec["default"] for name, spec in specs.items() if "default" in spec}
    return {**defaults, "function_name": "fn", **given}


def desired(sha: str = SHA_A, manifest_runtime: str = "python3.12", **given) -> Desired:
    package = Package(Path("fn.zip"), sha, 2048, manifest_runtime, "x86_64" if manifest_runtime else "")
    return Desired.from_settings(settings(**given), package)


def function(sha: str = SHA_A, version: str = "$LATEST", **config) -> dict:
    return {"FunctionName": "fn", "CodeSha256": sha, "Version": version, "MemorySize": 128, "Timeout": 3,
            "Handler": "app.handler", "Runtime": "python3.12", "Architectures": ["x86_64"], **config}


def deployed(latest: dict | None = None, released: dict | None = None, **alias) -> Current:
    latest = latest or function()
    released = released or {**latest, "Version": "3"}
    alias = {"FunctionVersion": "3", "Description": "lambda-ci: previous=2", **alias}
    return Current(latest, alias, released)


def test_create_takes_runtime_and_architecture_from_the_manifest():
    new = desired(execution_role_arn=ROLE, environment_variables=["A=1"])
    plan = make_plan(new, Current(None, None, None))
    assert plan.create == {"Role": ROLE, "Handler": "app.handler", "Runtime": "python3.12",
                           "Architectures": ["x86_64"], "Environment": {"Variables": {"A": "1"}}}
    assert plan.release and plan.previous is None
    assert plan.lines[-1] == "create alias live on the new version"


def test_create_needs_a_role_and_a_runtime():
    with pytest.raises(BadInput, match="`execution_role_arn` input"):
        make_plan(desired(), Current(None, None, None))
    with pytest.raises(BadInput, match="`runtime` input"):
        make_plan(desired(manifest_runtime="", execution_role_arn=ROLE), Current(None, None, None))


def test_unchanged_function_behind_the_alias_is_nothing_to_do():
    plan = make_plan(desired(), deployed())
    assert not (plan.update_code or plan.configuration or plan.release)
    assert plan.lines == ["nothing to do: version 3 behind alias live has this code and configuration"]


def test_new_code_is_updated_published_and_released():
    plan = make_plan(desired(SHA_B, strategy="canary"), deployed())
    assert plan.update_code and plan.release and plan.configuration == {}
    assert plan.lines[0].startswith(f"update code: {SHA_A} -> {SHA_B} (2.0 KB)")
    assert plan.lines[-1] == "move alias live: version 3 -> the new version (canary)"


def test_another_architecture_means_new_code():
    plan = make_plan(desired(architecture="arm64"), deployed())
    assert plan.update_code and "architecture x86_64 -> arm64" in plan.lines[0]


def test_only_fields_the_user_set_are_compared():
    latest = function(MemorySize=1024, Timeout=30, Handler="other.handler")
    plan = make_plan(desired(), deployed(latest))
    assert not plan.release
    plan = make_plan(desired(memory_size=512, timeout=30), deployed(latest))
    assert plan.configuration == {"MemorySize": 512}
    assert plan.lines[0] == "update configuration: memory_size 1024 -> 512"


def test_runtime_input_wins_over_the_manifest():
    plan = make_plan(desired(runtime="python3.13"), deployed())
    assert plan.configuration == {"Runtime": "python3.13"}


LAYER = "arn:aws:lambda:us-east-1:123456789012:layer:deps:{}"


def test_description_layers_and_storage_compare_as_lambda_reports_them():
    latest = function(Description="", EphemeralStorage={"Size": 512},
                      Layers=[{"Arn": LAYER.format(1), "CodeSize": 10}])
    same = desired(layers=[LAYER.format(1)], ephemeral_storage=512)
    assert not make_plan(same, deployed(latest)).release
    plan = make_plan(desired(description="orders", layers=[LAYER.format(2), LAYER.format(1)],
                             ephemeral_storage=1024), deployed(latest))
    assert plan.configuration == {"Description": "orders", "Layers": [LAYER.format(2), LAYER.format(1)],
                                  "EphemeralStorage": {"Size": 1024}}
    assert plan.changed_fields == ["description", "layers", "ephemeral_storage"]
    assert plan.lines[0] == (f"update configuration: description '' -> 'orders'; layers [{LAYER.format(1)}] -> "
                             f"[{LAYER.format(2)}, {LAYER.format(1)}]; ephemeral_storage 512 -> 1024")


def test_unset_description_layers_and_storage_are_left_alone():
    latest = function(Description="by hand", EphemeralStorage={"Size": 2048},
                      Layers=[{"Arn": LAYER.format(1), "CodeSize": 10}])
    assert not make_plan(desired(), deployed(latest)).release


def test_create_sends_layers_and_storage_in_the_api_shape():
    plan = make_plan(desired(execution_role_arn=ROLE, layers=[LAYER.format(3)], ephemeral_storage=4096,
                             description="d"), Current(None, None, None))
    assert plan.create["Layers"] == [LAYER.format(3)] and plan.create["EphemeralStorage"] == {"Size": 4096}
    assert plan.create["Description"] == "d"
    assert "ephemeral_storage 4096" in plan.lines[0]


def test_environment_merge_and_replace():
    latest = function(Environment={"Variables": {"A": "1", "B": "2"}})
    merge = make_plan(desired(environment_variables=["B=3", "C=4"]), deployed(latest))
    assert merge.configuration == {"Environment": {"Variables": {"A": "1", "B": "3", "C": "4"}}}
    assert merge.lines[0] == "update configuration: environment +C ~B"
    replace = make_plan(desired(environment_variables=["B=3"], environment_mode="replace"), deployed(latest))
    assert replace.configuration == {"Environment": {"Variables": {"B": "3"}}}
    assert replace.lines[0] == "update configuration: environment ~B -A"
    same = make_plan(desired(environment_variables=["A=1"]), deployed(latest))
    assert not same.release


def test_alias_behind_latest_is_released_without_an_update():
    # A rollback, or a deploy that stopped after updating: $LATEST is right, the alias is not.
    plan = make_plan(desired(SHA_B), deployed(function(SHA_B), function(SHA_A, version="2")))
    assert not plan.update_code and plan.release
    assert plan.lines[0] == "publish a version of $LATEST (it has this code)"


def test_missing_alias_or_split_traffic_is_released():
    assert make_plan(desired(), Current(function(), None, None)).release
    split = deployed(RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}})
    assert make_plan(desired(), split).release


def test_environment_items_split_on_the_first_equals_sign():
    assert parse_environment(["A=1", "B=x=y", "A=2", "E="]) == {"A": "2", "B": "x=y", "E": ""}


def test_traffic_steps():
    def steps(strategy: str, percent: int) -> list[float]:
        rollout = Rollout.from_settings(settings(strategy=strategy, canary_percent=percent))
        return rollout.steps()

    assert steps("all_at_once", 10) == [1.0]
    assert steps("canary", 10) == [0.1, 1.0]
    assert steps("linear", 25) == [0.25, 0.5, 0.75, 1.0]
    assert steps("linear", 60) == [0.6, 1.0]


def test_smoke_inputs(tmp_path):
    event = tmp_path / "event.json"
    event.write_text('{"path": "/health"}')
    rollout = Rollout.from_settings(settings(smoke_payload=f"@{event}", smoke_expect="null"))
    assert json.loads(rollout.payload) == {"path": "/health"} and rollout.expect is None
    with pytest.raises(BadInput, match="`smoke_payload` input: cannot read"):
        Rollout.from_settings(settings(smoke_payload="@missing.json"))
    with pytest.raises(BadInput, match="`smoke_expect` input: not valid JSON"):
        Rollout.from_settings(settings(smoke_payload="{}", smoke_expect="{"))
    with pytest.raises(BadInput, match="`smoke_payload` input: required with smoke_expect"):
        Rollout.from_settings(settings(smoke_expect="{}"))


@pytest.mark.parametrize(("actual", "expected", "result"), [
    ({"a": 1, "b": {"c": 2, "d": 3}}, {"b": {"c": 2}}, True),
    ({"a": 1}, {"a": 2}, False),
    ({"a": 1}, {"b": None}, False),
    ([{"a": 1, "x": 0}], [{"a": 1}], True),
    ([1, 2], [1], False),
    (1, True, False),
    (True, True, True),
    ("ok", "ok", True),
])
def test_smoke_expectation_is_a_subset_match(actual, expected, result):
    assert contains(actual, expected) is result


def test_prune_keeps_the_newest_and_the_protected():
    versions = ["$LATEST", "1", "2", "3", "10", "11"]
    assert versions_to_prune(versions, {"2"}, keep=2) == ["3", "1"]
    assert versions_to_prune(versions, set(), keep=10) == []


def test_previous_version_record():
    assert recorded_previous({"Description": record("12")}) == "12"
    assert recorded_previous({"Description": record(None)}) is None
    assert recorded_previous({}) is None


def test_package_manifest_is_read_and_checked(tmp_path):
    zip_path = tmp_path / "function.zip"
    zip_path.write_bytes(b"zip bytes")
    sha = base64.b64encode(hashlib.sha256(b"zip bytes").digest()).decode()
    assert read_package(str(zip_path)) == Package(zip_path, sha, 9)
    manifest = tmp_path / "function.manifest.json"
    manifest.write_text(json.dumps({"code_sha256": "c2hh", "size": 9, "runtime": "python3.13",
                                    "architecture": "arm64"}))
    assert read_package(str(zip_path)) == Package(zip_path, "c2hh", 9, "python3.13", "arm64")
    manifest.write_text(json.dumps({"code_sha256": "c2hh", "size": 8}))
    with pytest.raises(BadInput, match="sizes differ"):
        read_package(str(zip_path))
    with pytest.raises(BadInput, match="`package` input: .* does not exist"):
        read_package(str(tmp_path / "missing.zip"))
