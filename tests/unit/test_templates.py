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


@pytest.mark.parametrize("name", COMPONENTS)
def test_every_document_validates_against_gitlabs_ci_schema(name, gitlab_schema):
    header, jobs = documents(name)
    validator = jsonschema.Draft7Validator(gitlab_schema)
    for document in (header, jobs):
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
        assert errors == []


def test_the_schema_check_catches_a_broken_template(gitlab_schema):
    # The check above is only worth something if it fails on a wrong document.
    broken = {"job": {"script": "x", "when": "sometimes"}}
    assert list(jsonschema.Draft7Validator(gitlab_schema).iter_errors(broken))


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
