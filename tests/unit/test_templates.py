"""The templates as GitLab reads them: valid against GitLab's CI schema, in step with catalog.yml, and
following GitLab's component conventions."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

from lambda_ci import catalog, inputs
from lambda_ci.render import component_context, render_component

ROOT = Path(__file__).resolve().parents[2]
COMPONENTS = catalog.component_names()
GLOBAL_KEYWORDS = {"default", "stages", "variables", "workflow", "include", "image", "services", "cache",
                   "before_script", "after_script"}


@pytest.fixture(scope="module")
def gitlab_schema():
    path = resources.files("check_jsonschema") / "builtin_schemas" / "vendor" / "gitlab-ci.json"
    return json.loads(path.read_text())


def documents(name: str) -> list[dict]:
    return list(yaml.safe_load_all(catalog.template_path(name).read_text()))


def test_the_catalog_has_the_four_components():
    assert sorted(COMPONENTS) == ["build", "deploy-lambda", "oidc-auth", "package"]


REQUIRED = {"deploy-lambda": {"function_name": "orders-api"}}
OVERRIDES = {
    "oidc-auth": {"role_arn": "arn:aws-cn:iam::123456789012:role/deploy", "mode": "env", "stage": "auth",
                  "allowed_account_ids": ["123456789012"], "job_prefix": "orders-"},
    "build": {"source_dir": "app", "runtime": "python3.13", "architecture": "arm64", "test_command": "make test"},
    "package": {"exclude": ["*.md", "docs/**"], "layer": True, "output": "out/layer.zip"},
    "deploy-lambda": {"function_name": "orders-api", "memory_size": 512, "strategy": "canary",
                      "alarms": ["orders-errors"], "environment_variables": ["LOG_LEVEL=debug"],
                      "deploy_rules": [{"if": "$CI_COMMIT_TAG"}], "dry_run": True},
}


def schema_errors(schema, document) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in jsonschema.Draft7Validator(schema).iter_errors(document)]


@pytest.mark.parametrize("name", COMPONENTS)
def test_the_header_validates_against_gitlabs_ci_schema(name, gitlab_schema):
    header, _ = documents(name)
    assert schema_errors(gitlab_schema, header) == []


@pytest.mark.parametrize("given", ["defaults", "overrides"])
@pytest.mark.parametrize("name", COMPONENTS)
def test_the_jobs_as_gitlab_renders_them_validate_against_its_ci_schema(name, given, gitlab_schema):
    # The raw jobs document holds `rules: $[[ inputs.deploy_rules ]]`, a string until GitLab fills it in:
    # what GitLab validates, and runs, is the rendered document.
    values = REQUIRED.get(name, {}) if given == "defaults" else OVERRIDES[name]
    jobs = render_component(name, values, component_context(name, sha="0" * 40))
    assert schema_errors(gitlab_schema, jobs) == []


def test_the_schema_check_catches_a_broken_template(gitlab_schema):
    # The check above is only worth something if it fails on a wrong document.
    broken = {"job": {"script": "x", "when": "sometimes"}}
    assert schema_errors(gitlab_schema, broken)


def test_generated_templates_and_readme_match_catalog_yml():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "generate.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_a_drifted_header_is_caught(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import generate
    finally:
        sys.path.pop(0)
    drifted = catalog.template_path("package").read_text().replace("default: dist/function.zip", "default: x.zip")
    monkeypatch.setattr(generate, "expected", lambda: {tmp_path / "template.yml": generate.template("package")})
    (tmp_path / "template.yml").write_text(drifted)
    assert generate.main(["--check"]) == 1


@pytest.mark.parametrize("name", COMPONENTS)
def test_header_agrees_with_the_catalog_schema(name):
    header, _ = documents(name)
    spec_inputs = header["spec"]["inputs"]
    schema = catalog.input_schema(name)["properties"]
    assert list(spec_inputs) == list(schema)
    for key, spec in schema.items():
        entry = spec_inputs[key]
        assert entry["type"] == ("number" if spec["type"] == "integer" else spec["type"])
        assert entry.get("default") == spec.get("default")
        assert entry.get("options") == spec.get("enum")
        assert entry.get("regex") == spec.get("pattern")
        assert entry["description"]


@pytest.mark.parametrize("name", COMPONENTS)
def test_follows_gitlabs_component_conventions(name):
    header, jobs = documents(name)
    assert header["spec"]["component"] == ["name", "sha", "version", "reference"]
    for key in header["spec"]["inputs"]:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", key), f"{key} is not snake_case"
    for key in ("stage", "job_prefix", "image"):
        assert key in header["spec"]["inputs"]
    assert not GLOBAL_KEYWORDS & set(jobs), "templates must not set global keywords"
    for job_name in jobs:
        assert "$[[ inputs.job_prefix ]]" in job_name or job_name == "$[[ inputs.hidden_job ]]"


@pytest.mark.parametrize("name", COMPONENTS)
def test_inputs_reach_jobs_through_variables_never_script_text(name):
    _, jobs = documents(name)
    for job in jobs.values():
        for key in ("script", "before_script", "after_script"):
            for line in job.get(key, []):
                assert "$[[ inputs." not in line, f"{key} splices an input into shell text: {line}"
        if "extends" not in job:
            for input_name in inputs.cli_inputs(name):
                assert inputs.env_name(input_name) in job["variables"]


def test_the_pattern_syntax_is_one_that_gitlabs_re2_also_reads():
    # RE2 has no lookaround or backreferences; a pattern using them would pass here and fail in GitLab.
    for name in COMPONENTS:
        for key, spec in catalog.input_schema(name)["properties"].items():
            pattern = spec.get("pattern", "")
            assert not re.search(r"\(\?[=!<]|\\[1-9]", pattern), f"{name}.{key}: {pattern}"
