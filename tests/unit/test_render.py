"""`lambda-ci render`: the catalog's components rendered offline as GitLab renders them, and GitLab's
error lines for bad inputs (exit 2, one line on stderr, nothing on stdout)."""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
import textwrap

import jsonschema
import pytest
import yaml

from lambda_ci import catalog, cli, gitlab_yaml, lint, render
from lambda_ci.errors import BadInput

SHA = "0123456789abcdef0123456789abcdef01234567"


def run_render(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(["render", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def rendered(capsys, *argv: str) -> dict:
    code, out, err = run_render(capsys, *argv, "--sha", SHA)
    assert (code, err) == (0, "")
    return yaml.load(out, Loader=gitlab_yaml.Loader)


def variable(job: dict, name: str):
    value = job["variables"][name]
    return value["value"] if isinstance(value, dict) else value


@pytest.fixture(scope="module")
def gitlab_schema_validator():
    return jsonschema.Draft7Validator(lint.gitlab_schema())


# --- GitLab's error lines ----------------------------------------------------------------------------


@pytest.mark.parametrize(("argv", "line"), [
    (["deploy-lambda"], "`function_name` input: required value has not been provided"),
    (["deploy-lambda", "--input", "function_name=f", "--input", "memory_size=lots"],
     "`memory_size` input: provided value is not a number"),
    (["package", "--input", "layer=maybe"], "`layer` input: provided value is not a boolean"),
    (["package", "--input", "exclude=docs"], "`exclude` input: provided value is not an array"),
    (["build", "--input", "runtime=python2.7"],
     "`runtime` input: `python2.7` cannot be used because it is not in the list of allowed options"),
    (["package", "--input", "output=function.tar"],
     "`output` input: provided value does not match required RegEx pattern"),
    (["build", "--input", "foo=1", "--input", "bar=2"], "unknown input arguments: foo, bar"),
    # GitLab shows the first three errors, joined with ", ".
    (["deploy-lambda", "--input", "memory_size=lots", "--input", "strategy=fast", "--input", "dry_run=no",
      "--input", "extra=1"],
     "unknown input arguments: extra, `function_name` input: required value has not been provided, "
     "`memory_size` input: provided value is not a number"),
    # Then the catalog's richer checks, each naming its input.
    (["deploy-lambda", "--input", "function_name=f", "--input", "memory_size=64"],
     "`memory_size` input: must be 0 (unchanged) or 128 to 10240"),
    (["deploy-lambda", "--input", "function_name=f", "--input", "timeout=901", "--input", "canary_percent=0"],
     "`canary_percent` input: 0 is less than the minimum of 1; "
     "`timeout` input: 901 is more than the maximum of 900"),
    (["oidc-auth", "--input", "account_id=123456789012"], "`role_name` input: required with account_id"),
    (["nope"], "unknown component `nope`: the catalog has build, deploy-lambda, oidc-auth, package"),
    (["build", "--input", "runtime"], "--input runtime: expected KEY=VALUE"),
    (["package", "--input", "exclude=[a"], "`exclude` input: `[a` is not a YAML value (quote it)"),
])
def test_a_bad_input_is_one_line_and_exit_2(capsys, argv, line):
    code, out, err = run_render(capsys, *argv)
    assert (code, out, err) == (2, "", f"lambda-ci render: {line}\n")


def test_the_command_exits_2_with_one_line_and_no_traceback():
    argv = [sys.executable, "-m", "lambda_ci", "render", "deploy-lambda", "--input", "memory_size=x"]
    result = subprocess.run(argv, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == ("lambda-ci render: `function_name` input: required value has not been provided, "
                             "`memory_size` input: provided value is not a number\n")


def test_a_string_input_takes_a_number_as_text_as_gitlab_does(capsys):
    jobs = rendered(capsys, "deploy-lambda", "--input", "function_name=123")
    assert variable(jobs["lambda-deploy"], "LAMBDA_CI_FUNCTION_NAME") == "123"


def test_inputs_file_errors(capsys, tmp_path):
    listed = tmp_path / "inputs.yml"
    listed.write_text("- a\n")
    assert run_render(capsys, "build", "--inputs", str(listed))[2] == (
        f"lambda-ci render: --inputs {listed}: Given inputs must be a hash\n")
    missing = tmp_path / "missing.yml"
    assert run_render(capsys, "build", "--inputs", str(missing))[2] == (
        f"lambda-ci render: --inputs {missing}: No such file or directory\n")


# --- the four components -----------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "argv", "jobs"), [
    ("build", [], ["lambda-build"]),
    ("package", [], ["lambda-package"]),
    ("oidc-auth", [], [".lambda-ci-aws", "lambda-auth"]),
    ("deploy-lambda", ["--input", "function_name=orders-api"], ["lambda-deploy", "lambda-rollback"]),
])
def test_each_component_renders_with_its_defaults(capsys, gitlab_schema_validator, name, argv, jobs):
    document = rendered(capsys, name, *argv)
    assert list(document) == jobs
    assert "$[[" not in gitlab_yaml.dump(document)
    assert list(gitlab_schema_validator.iter_errors(lint.plain(document))) == []
    assert f"LAMBDA_CI_SHA: {SHA}" in gitlab_yaml.dump(document)


def test_build_with_defaults_and_with_overrides(capsys, tmp_path):
    job = rendered(capsys, "build")["lambda-build"]
    assert (job["stage"], variable(job, "LAMBDA_CI_RUNTIME"), variable(job, "LAMBDA_CI_SOURCE_DIR")) == (
        "build", "python3.12", "src")
    given = tmp_path / "inputs.yml"
    given.write_text("job_prefix: api-\nstage: compile\nruntime: python3.13\nsource_dir: services/api\n")
    job = rendered(capsys, "build", "--inputs", str(given), "--input", "architecture=arm64")["api-build"]
    assert job["stage"] == "compile"
    assert variable(job, "LAMBDA_CI_RUNTIME") == "python3.13"
    assert variable(job, "LAMBDA_CI_ARCHITECTURE") == "arm64"
    assert variable(job, "LAMBDA_CI_SOURCE_DIR") == "services/api"


def test_package_writes_an_array_as_gitlab_does_and_keeps_a_boolean_typed(capsys):
    job = rendered(capsys, "package")["lambda-package"]
    assert (variable(job, "LAMBDA_CI_EXCLUDE"), variable(job, "LAMBDA_CI_LAYER")) == ("[]\n", False)
    job = rendered(capsys, "package", "--input", "exclude=[docs, '*.md']", "--input", "layer=true",
                   "--input", "output=out/layer.zip")["lambda-package"]
    assert variable(job, "LAMBDA_CI_EXCLUDE") == '["docs", "*.md"]\n'
    assert (variable(job, "LAMBDA_CI_LAYER"), variable(job, "LAMBDA_CI_OUTPUT")) == (True, "out/layer.zip")


def test_oidc_auth_with_defaults_and_with_overrides(capsys):
    jobs = rendered(capsys, "oidc-auth")
    assert variable(jobs[".lambda-ci-aws"], "LAMBDA_CI_SESSION_DURATION") == 3600
    assert jobs["lambda-auth"]["extends"] == ".lambda-ci-aws"
    jobs = rendered(capsys, "oidc-auth", "--input", "hidden_job=.aws", "--input", "session_duration=900",
                    "--input", "role_arn=arn:aws:iam::123456789012:role/deploy",
                    "--input", "allowed_account_ids=['123456789012']")
    hidden = jobs[".aws"]
    assert variable(hidden, "LAMBDA_CI_SESSION_DURATION") == 900
    assert variable(hidden, "LAMBDA_CI_ROLE_ARN") == "arn:aws:iam::123456789012:role/deploy"
    assert variable(hidden, "LAMBDA_CI_ALLOWED_ACCOUNT_IDS") == '["123456789012"]\n'
    assert jobs["lambda-auth"]["extends"] == ".aws"


def test_deploy_lambda_with_overrides(capsys, tmp_path):
    given = tmp_path / "inputs.yml"
    given.write_text(textwrap.dedent("""\
        function_name: orders-api
        memory_size: 512
        strategy: canary
        dry_run: true
        alarms: [orders-errors]
        deploy_rules:
          - if: $CI_COMMIT_TAG
    """))
    jobs = rendered(capsys, "deploy-lambda", "--inputs", str(given), "--input", "job_prefix=orders-")
    deploy = jobs["orders-deploy"]
    assert deploy["rules"] == [{"if": "$CI_COMMIT_TAG"}]
    assert (variable(deploy, "LAMBDA_CI_MEMORY_SIZE"), variable(deploy, "LAMBDA_CI_DRY_RUN")) == (512, True)
    assert variable(deploy, "LAMBDA_CI_STRATEGY") == "canary"
    assert variable(deploy, "LAMBDA_CI_ALARMS") == '["orders-errors"]\n'
    assert deploy["resource_group"] == "lambda-orders-api"
    assert "orders-rollback" in jobs


def test_the_sha_defaults_to_the_catalogs_checkout(capsys):
    code, out, _ = run_render(capsys, "build")
    sha = yaml.safe_load(out)["lambda-build"]["variables"]["LAMBDA_CI_SHA"]
    assert code == 0 and re.fullmatch(r"[0-9a-f]{40}", sha)
    assert sha == render.catalog_sha()


# --- GitLab's semantics, on templates of the test's own ----------------------------------------------


@pytest.fixture
def component(tmp_path, monkeypatch):
    """Adds a component whose template the test writes, beside the catalog's own."""
    loaded = copy.deepcopy(catalog.load())
    real_path = catalog.template_path

    def add(name: str, text: str, schema: dict | None = None) -> str:
        (tmp_path / f"{name}.yml").write_text(textwrap.dedent(text))
        loaded["components"][name] = {"description": "test", "inputs": schema or {"type": "object"}}
        return name

    monkeypatch.setattr(catalog, "load", lambda: loaded)
    monkeypatch.setattr(catalog, "template_path",
                        lambda name: tmp_path / f"{name}.yml" if (tmp_path / f"{name}.yml").exists()
                        else real_path(name))
    return add


DEMO = textwrap.dedent("""\
    spec:
      component: [name, version, reference]
      inputs:
        name: {default: app}
        count: {type: number, default: 2}
        enabled: {type: boolean, default: true}
        tags: {type: array, default: [a, b]}
        path: {default: "a b"}
    ---
    "$[[ inputs.name ]]-job":
      tags: $[[ inputs.tags ]]
      parallel: $[[ inputs.count ]]
      variables:
        ENABLED: $[[ inputs.enabled ]]
        SUMMARY: "n=$[[ inputs.count ]] on=$[[ inputs.enabled ]] tags=$[[ inputs.tags ]]"
        SHORT: $[[ inputs.name | truncate(0, 2) ]]
        PROJECT: $[[ inputs.path | expand_vars ]]/$CI_PROJECT_PATH
        REF: $[[ component.name ]]@$[[ component.reference ]] ($[[ component.version ]])
      script:
        - cd $[[ inputs.path | posix_escape ]]
        - docker inspect -f '{{ .Id }}' x
        - !reference [.setup, script]
    """)


def test_typed_and_string_interpolation_end_to_end(capsys, component):
    component("demo", DEMO)
    code, out, err = run_render(capsys, "demo", "--input", "count=3", "--input", "path=$CI_PROJECT_PATH",
                                "--version", "1.4.0")
    assert (code, err) == (0, "")
    assert "- !reference [.setup, script]" in out
    job = yaml.load(out, Loader=gitlab_yaml.Loader)["app-job"]
    assert (job["tags"], job["parallel"], job["variables"]["ENABLED"]) == (["a", "b"], 3, True)
    assert job["variables"]["SUMMARY"] == 'n=3 on=true tags=["a", "b"]'
    assert job["variables"]["SHORT"] == "ap"
    assert job["variables"]["REF"] == "demo@1.4.0 (1.4.0)"
    assert job["script"][:2] == ["cd \\$CI_PROJECT_PATH", "docker inspect -f '{{ .Id }}' x"]
    assert job["script"][2] == gitlab_yaml.Reference([".setup", "script"])


def test_expand_vars_sees_only_the_variables_gitlab_knows_at_configuration_time(component, monkeypatch):
    component("demo", DEMO)
    monkeypatch.setenv("CI_PROJECT_PATH", "acme/orders")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "never")
    variables = render.config_variables(os.environ)
    assert variables["CI_PROJECT_PATH"] == "acme/orders" and "AWS_SECRET_ACCESS_KEY" not in variables
    jobs = render.render_component("demo", {"path": "$CI_PROJECT_PATH $AWS_SECRET_ACCESS_KEY"},
                                   render.component_context("demo", SHA), variables)
    assert jobs["app-job"]["variables"]["PROJECT"] == "acme/orders $AWS_SECRET_ACCESS_KEY/$CI_PROJECT_PATH"


@pytest.mark.parametrize(("block", "line"), [
    ("$[[ inputs.nope ]]", "unknown interpolation key: `nope`"),
    ("$[[ component.sha ]]", "unknown interpolation key: `sha`"),  # not declared
    ("$[[ inputs.name | truncate(0,1) | truncate(0,1) | truncate(0,1) | truncate(0,1) ]]",
     "too many functions in interpolation block"),
    ("$[[ inputs.count | posix_escape ]]",
     "error in `posix_escape` function: invalid input type: "
     "posix_escape can only be used with string inputs"),
])
def test_interpolation_errors_are_one_line_and_exit_2(capsys, component, block, line):
    header = DEMO.split("---")[0]
    component("broken", f"{header}---\njob:\n  script:\n    - echo '{block}'\n")
    assert run_render(capsys, "broken") == (2, "", f"lambda-ci render: {line}\n")


def test_a_template_without_a_header_takes_no_inputs(component):
    component("plain", "job: {script: [echo]}\n")
    context = render.component_context("plain", SHA)
    assert render.render_component("plain", {}, context) == {"job": {"script": ["echo"]}}
    with pytest.raises(BadInput, match="^Given inputs not defined in the `spec` section"):
        render.render_component("plain", {"a": 1}, context)


def test_input_pairs_are_read_as_yaml_over_the_inputs_file(tmp_path):
    given = tmp_path / "inputs.yml"
    given.write_text("memory_size: 128\nalias: live\n")
    pairs = ["memory_size=512", "alarms=[a, b]", "role_arn=", "handler=app.h"]
    assert render.read_inputs(str(given), pairs) == {
        "memory_size": 512, "alias": "live", "alarms": ["a", "b"], "role_arn": "", "handler": "app.h"}
