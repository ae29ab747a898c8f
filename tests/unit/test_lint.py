"""`lambda-ci lint PIPELINE.yml`: each include of this catalog checked as render checks it, and the
whole pipeline against GitLab's CI schema. Findings exit 1; a file that is not YAML exits 2."""

from __future__ import annotations

import textwrap

import pytest

from lambda_ci import cli
from lambda_ci import lint as lint_module

GOOD = """\
    include:
      - component: $CI_SERVER_FQDN/acme/lambda-ci/oidc-auth@1.4.0
        inputs:
          role_arn: arn:aws:iam::123456789012:role/deploy
      - component: gitlab.example.com:8443/acme/lambda-ci/build@1.4
        inputs: {source_dir: src, runtime: python3.12, architecture: arm64}
      - component: $CI_SERVER_FQDN/acme/lambda-ci/package@~latest
      - component: $CI_SERVER_FQDN/acme/lambda-ci/deploy-lambda@0123456789abcdef0123456789abcdef01234567
        inputs:
          function_name: orders-api
          memory_size: 512
      - local: ci/extra.yml
      - component: $CI_SERVER_FQDN/other/project/build@1.0.0
        inputs: {anything: goes}
    .setup:
      script: [echo setup]
    unit-tests:
      stage: test
      script:
        - !reference [.setup, script]
        - pytest
    """


def lint(capsys, tmp_path, text: str, name: str = ".gitlab-ci.yml") -> tuple[int, list[str], str]:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    code = cli.main(["lint", str(path)])
    out, err = capsys.readouterr()
    prefix = f"{path}: "
    assert all(line.startswith(prefix) for line in out.splitlines())
    return code, [line.removeprefix(prefix) for line in out.splitlines()], err


def test_a_good_pipeline_is_ok(capsys, tmp_path):
    assert lint(capsys, tmp_path, GOOD) == (0, ["ok (4 components of acme/lambda-ci checked)"], "")


def test_each_bad_include_is_one_finding_in_renders_words(capsys, tmp_path):
    code, findings, err = lint(capsys, tmp_path, """\
        include:
          - component: $CI_SERVER_FQDN/acme/lambda-ci/deploy-lambda@1.4.0
            inputs:
              memory_size: lots
              strategy: fast
          - local: ci/extra.yml
          - component: $CI_SERVER_FQDN/acme/lambda-ci/deploy@1.4.0
          - component: $CI_SERVER_FQDN/acme/lambda-ci/build@main
            inputs: {runtime: python2.7, foo: bar}
          - component: $CI_SERVER_FQDN/acme/lambda-ci/package@1
            inputs: [exclude]
          - component: $CI_SERVER_FQDN/acme/lambda-ci/package
          - component: $CI_SERVER_FQDN/acme/lambda-ci/deploy-lambda@1
            inputs: {function_name: orders-api, memory_size: 64}
        """)
    assert (code, err) == (1, "")
    assert findings == [
        "include 1 ($CI_SERVER_FQDN/acme/lambda-ci/deploy-lambda@1.4.0): "
        "`function_name` input: required value has not been provided, "
        "`memory_size` input: provided value is not a number, "
        "`strategy` input: `fast` cannot be used because it is not in the list of allowed options",
        "include 3 ($CI_SERVER_FQDN/acme/lambda-ci/deploy@1.4.0): "
        "unknown component `deploy`: the catalog has build, deploy-lambda, oidc-auth, package",
        "include 4 ($CI_SERVER_FQDN/acme/lambda-ci/build@main): unknown input arguments: foo, "
        "`runtime` input: `python2.7` cannot be used because it is not in the list of allowed options",
        "include 5 ($CI_SERVER_FQDN/acme/lambda-ci/package@1): Given inputs must be a hash",
        "include 6 ($CI_SERVER_FQDN/acme/lambda-ci/package): "
        "a component needs a version after @ (1.4.0, 1.4, ~latest, a sha or a branch)",
        "include 7 ($CI_SERVER_FQDN/acme/lambda-ci/deploy-lambda@1): "
        "`memory_size` input: must be 0 (unchanged) or 128 to 10240",
        # GitLab's schema says it too, in its own words.
        "schema: include[4]: {'component': '$CI_SERVER_FQDN/acme/lambda-ci/package@1', "
        "'inputs': ['exclude']} is not valid under any of the given schemas",
    ]


@pytest.mark.parametrize("include", [
    "include: {component: example.com/acme/lambda-ci/build@1.0.0, inputs: {runtime: python2}}",
    "include:\n  component: example.com/acme/lambda-ci/build@1.0.0\n  inputs: {runtime: python2}",
    "include:\n  - component: example.com/acme/lambda-ci/build@1.0.0\n    inputs: {runtime: python2}",
])
def test_include_may_be_a_mapping_or_a_list(capsys, tmp_path, include):
    code, findings, _ = lint(capsys, tmp_path, include + "\n")
    assert code == 1
    assert findings == ["include 1 (example.com/acme/lambda-ci/build@1.0.0): `runtime` input: "
                        "`python2` cannot be used because it is not in the list of allowed options"]


def test_a_local_or_remote_include_is_not_a_component(capsys, tmp_path):
    assert lint(capsys, tmp_path, "include: ci/other.yml\njob: {script: [echo]}\n")[:2] == (
        0, ["ok (0 components of acme/lambda-ci checked)"])


def test_the_whole_pipeline_is_checked_against_gitlabs_schema(capsys, tmp_path):
    broken = "deploy:\n  script: [./deploy]\n  when: sometimes\nstages: build\n"
    code, findings, _ = lint(capsys, tmp_path, textwrap.dedent(GOOD) + broken)
    assert code == 1
    assert findings == [
        "schema: deploy.when: 'sometimes' is not one of "
        "['on_success', 'on_failure', 'always', 'never', 'manual', 'delayed']",
        "schema: stages: 'build' is not of type 'array'",
    ]


def test_without_the_schema_the_includes_are_still_checked_and_the_gap_is_said(capsys, tmp_path, monkeypatch):
    """lambda-ci installed without its `lint` extra: one line on stderr says what was not checked."""
    def not_installed():
        raise ModuleNotFoundError("No module named 'check_jsonschema'")

    monkeypatch.setattr(lint_module, "gitlab_schema", not_installed)
    broken = "deploy:\n  script: [./deploy]\n  when: sometimes\n"
    assert lint(capsys, tmp_path, textwrap.dedent(GOOD) + broken) == (
        0, ["ok (4 components of acme/lambda-ci checked)"],
        "lambda-ci lint: GitLab's CI schema is not installed (pip install 'lambda-ci[lint]'); the pipeline was "
        "not checked against it\n")


def test_schema_paths_name_list_items(capsys, tmp_path):
    code, findings, _ = lint(capsys, tmp_path, "job:\n  script: [echo, {a: 1}]\n")
    assert code == 1
    assert findings == ["schema: job.script[1]: {'a': 1} is not valid under any of the given schemas"]


def test_a_pipeline_with_a_header_of_its_own(capsys, tmp_path):
    code, findings, _ = lint(capsys, tmp_path, """\
        spec:
          inputs:
            function: {default: orders-api}
        ---
        include:
          - component: $CI_SERVER_FQDN/acme/lambda-ci/deploy-lambda@1.4.0
            inputs:
              function_name: $[[ inputs.function ]]
        """)
    # The pipeline's own $[[ ]] is GitLab's to fill in: lint sees the text, which the pattern rejects.
    assert code == 1
    assert findings == ["include 1 ($CI_SERVER_FQDN/acme/lambda-ci/deploy-lambda@1.4.0): "
                        "`function_name` input: provided value does not match required RegEx pattern"]


@pytest.mark.parametrize(("text", "problem"), [
    ("job: [unclosed\n", "not valid YAML: "),
    ("- a\n- b\n", "a pipeline is a YAML mapping of jobs and keywords"),
    ("", "a pipeline is a YAML mapping of jobs and keywords"),
])
def test_a_file_that_is_not_a_pipeline_is_bad_input(capsys, tmp_path, text, problem):
    path = tmp_path / "pipeline.yml"
    path.write_text(text)
    assert cli.main(["lint", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"lambda-ci lint: {path}: {problem}") and err.count("\n") == 1


def test_a_missing_file_is_bad_input(capsys, tmp_path):
    path = tmp_path / "missing.yml"
    assert cli.main(["lint", str(path)]) == 2
    assert capsys.readouterr().err == f"lambda-ci lint: {path}: No such file or directory\n"
