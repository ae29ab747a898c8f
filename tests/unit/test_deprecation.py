"""Deprecating an input (`x-deprecated` in catalog.yml): said in the generated descriptions, warned about in
the job log when the input is set, and reported by render and lint as a warning, never a failure.

No real input is deprecated: a copy of the catalog with two deprecated inputs of `package` stands in
(`exclude`, which lambda-ci reads, and `stage`, which only the template reads)."""

from __future__ import annotations

import copy
import sys
import textwrap

import pytest
import yaml

from lambda_ci import catalog, cli, inputs
from tests.stack.gitlab_ci_local import ROOT

MESSAGE = "use exclude_patterns instead; removed in 1.0.0"
STAGE_MESSAGE = "set the job's stage with `stage:` in your pipeline; removed in 1.0.0"
WARNING = f"`exclude` input of package is deprecated: {MESSAGE}"


@pytest.fixture
def deprecated(monkeypatch):
    schema = copy.deepcopy(catalog.load())
    properties = schema["components"]["package"]["inputs"]["properties"]
    properties["exclude"]["x-deprecated"] = MESSAGE
    properties["stage"]["x-deprecated"] = STAGE_MESSAGE
    monkeypatch.setattr(catalog, "load", lambda: schema)
    return schema


@pytest.fixture
def generate():
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import generate
    finally:
        sys.path.pop(0)
    return generate


def test_the_templates_description_says_deprecated_first(deprecated, generate):
    header = yaml.safe_load(generate.header("package"))["spec"]["inputs"]
    assert header["exclude"]["description"] == (
        "Deprecated: use exclude_patterns instead; removed in 1.0.0. Glob patterns left out of the zip, "
        "besides the defaults (__pycache__, *.pyc, .git, tests, .aws).")
    assert header["stage"]["description"].startswith(f"Deprecated: {STAGE_MESSAGE}. Stage of the package job")
    assert not header["layer"]["description"].startswith("Deprecated")
    assert "x-deprecated" not in header["exclude"]  # GitLab would reject an unknown keyword


def test_the_readme_table_says_deprecated(deprecated, generate):
    rows = [line for line in generate.inputs_tables().splitlines() if line.startswith("| `exclude` |")]
    assert rows == ["| `exclude` | array | `[]` | Deprecated: use exclude_patterns instead; removed in 1.0.0. "
                    "Glob patterns left out of the zip, besides the defaults (__pycache__, *.pyc, .git, tests, "
                    ".aws). |"]


def test_the_generated_files_have_no_deprecation_today(generate):
    # The real catalog deprecates nothing yet: the templates say nothing of it.
    assert "Deprecated:" not in generate.header("package")


@pytest.mark.parametrize("environ", [
    {"LAMBDA_CI_EXCLUDE": '["*.md"]'},
    {"LAMBDA_CI_EXCLUDE": "*.md\ndocs/**\n"},
])
def test_a_job_that_sets_a_deprecated_input_warns_in_its_log(deprecated, capsys, environ):
    values = inputs.resolve("package", {}, environ)

    assert values["exclude"]
    err = capsys.readouterr().err
    assert f"WARNING: {WARNING}" in err
    assert err.count("WARNING") == 1


@pytest.mark.parametrize("environ", [{}, {"LAMBDA_CI_EXCLUDE": "[]"}, {"LAMBDA_CI_EXCLUDE": "\n"}])
def test_a_job_that_leaves_it_at_its_default_does_not(deprecated, capsys, environ):
    # The template always sets LAMBDA_CI_EXCLUDE: unset in the include, it holds the default.
    inputs.resolve("package", {}, environ)
    assert capsys.readouterr().err == ""


def test_a_flag_counts_as_setting_it(deprecated, capsys):
    inputs.resolve("package", {"exclude": ["*.md"]}, {})
    assert WARNING in capsys.readouterr().err


def test_render_warns_and_succeeds(deprecated, capsys):
    code = cli.main(["render", "package", "--input", 'exclude=["*.md"]', "--input", "stage=test"])

    out, err = capsys.readouterr()
    assert code == 0
    assert yaml.safe_load(out)["lambda-package"]["stage"] == "test"
    assert err.splitlines() == [  # in the schema's order
        f"lambda-ci render: warning: `stage` input of package is deprecated: {STAGE_MESSAGE}",
        f"lambda-ci render: warning: {WARNING}",
    ]


def test_render_says_nothing_without_them(deprecated, capsys):
    assert cli.main(["render", "package", "--input", "layer=true"]) == 0
    assert capsys.readouterr().err == ""


def test_lint_reports_a_warning_line_and_exits_0(deprecated, capsys, tmp_path):
    pipeline = tmp_path / ".gitlab-ci.yml"
    pipeline.write_text(textwrap.dedent("""\
        include:
          - component: $CI_SERVER_FQDN/acme/lambda-ci/build@1.4.0
          - component: $CI_SERVER_FQDN/acme/lambda-ci/package@1.4.0
            inputs:
              exclude: ["*.md"]
        """))

    code = cli.main(["lint", str(pipeline)])

    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert f"{pipeline}: include 2 ($CI_SERVER_FQDN/acme/lambda-ci/package@1.4.0): warning: {WARNING}" in out
    assert out[-1].startswith(f"{pipeline}: ok (2 components")


def test_lint_still_fails_on_real_findings_beside_the_warning(deprecated, capsys, tmp_path):
    pipeline = tmp_path / ".gitlab-ci.yml"
    pipeline.write_text(textwrap.dedent("""\
        include:
          - component: $CI_SERVER_FQDN/acme/lambda-ci/package@1.4.0
            inputs:
              exclude: ["*.md"]
              output: not-a-zip
        """))

    assert cli.main(["lint", str(pipeline)]) == 1
    out = capsys.readouterr().out
    assert "`output` input: provided value does not match required RegEx pattern" in out
    assert "warning: `exclude` input of package is deprecated" in out
