"""The catalog's own .gitlab-ci.yml: valid for GitLab, clean under `lambda-ci lint`, and doing what a
release needs (the image per commit and per version, the components tested at the commit, the release)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

from lambda_ci import catalog, cli
from lambda_ci.catalog_release import changelog_entry

ROOT = Path(__file__).resolve().parents[2]
PIPELINE = ROOT / ".gitlab-ci.yml"
VERSION = catalog.load()["version"]


@pytest.fixture(scope="module")
def pipeline() -> dict:
    return yaml.safe_load(PIPELINE.read_text())


def test_it_validates_against_gitlabs_ci_schema(pipeline):
    path = resources.files("check_jsonschema") / "builtin_schemas" / "vendor" / "gitlab-ci.json"
    schema = json.loads(path.read_text())
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in jsonschema.Draft7Validator(schema).iter_errors(pipeline)]
    assert errors == []


def test_the_verify_includes_pass_lint_as_this_catalogs(capsys, monkeypatch):
    """$CI_PROJECT_PATH in the includes is this catalog when the pipeline is its own: in GitLab, lint reads
    the variable; offline, --project says it."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("CI_PROJECT_PATH", catalog.load()["project"])
    assert cli.main(["lint", ".gitlab-ci.yml"]) == 0
    assert capsys.readouterr().out == ".gitlab-ci.yml: ok (4 components of acme/lambda-ci checked)\n"
    monkeypatch.delenv("CI_PROJECT_PATH")
    assert cli.main(["lint", ".gitlab-ci.yml", "--project", "acme/lambda-ci"]) == 0
    assert capsys.readouterr().out == ".gitlab-ci.yml: ok (4 components of acme/lambda-ci checked)\n"


def test_in_another_project_the_same_includes_are_not_this_catalogs(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("CI_PROJECT_PATH", raising=False)
    assert cli.main(["lint", ".gitlab-ci.yml"]) == 0
    assert capsys.readouterr().out == ".gitlab-ci.yml: ok (0 components of acme/lambda-ci checked)\n"
    assert cli.main(["lint", ".gitlab-ci.yml", "--project", "acme/orders"]) == 0
    assert capsys.readouterr().out == ".gitlab-ci.yml: ok (0 components of acme/lambda-ci checked)\n"


def test_a_bad_input_in_a_verify_include_is_found(tmp_path, capsys):
    broken = tmp_path / ".gitlab-ci.yml"
    broken.write_text(PIPELINE.read_text().replace("function_name: lambda-ci-verify\n",
                                                   "function_name: lambda-ci-verify\n      memory_size: 64\n", 1))
    assert cli.main(["lint", str(broken), "--project", "acme/lambda-ci"]) == 1
    assert capsys.readouterr().out == (
        f"{broken}: include 4 ($CI_SERVER_FQDN/$CI_PROJECT_PATH/deploy-lambda@$CI_COMMIT_SHA): "
        "`memory_size` input: must be 0 (unchanged) or 128 to 10240\n")


def test_stages_and_every_job_in_one(pipeline):
    assert pipeline["stages"] == ["lint", "test", "build", "verify", "release"]
    for name, job in pipeline.items():
        if isinstance(job, dict) and "script" in job and not name.startswith("."):
            assert job.get("stage") in pipeline["stages"], name


def test_each_component_is_included_at_the_commit(pipeline):
    includes = {entry["component"]: entry.get("inputs", {}) for entry in pipeline["include"]}
    expected = {f"$CI_SERVER_FQDN/$CI_PROJECT_PATH/{name}@$CI_COMMIT_SHA" for name in catalog.component_names()}
    assert set(includes) == expected
    for inputs in includes.values():
        assert inputs["stage"] == "verify"
    deploy = includes["$CI_SERVER_FQDN/$CI_PROJECT_PATH/deploy-lambda@$CI_COMMIT_SHA"]
    assert deploy["dry_run"] is True  # a test account, never changed
    build = includes["$CI_SERVER_FQDN/$CI_PROJECT_PATH/build@$CI_COMMIT_SHA"]
    assert (ROOT / build["source_dir"]).is_dir()


def test_lint_and_unit_test_jobs(pipeline):
    lint = "\n".join(pipeline["lint"]["script"])
    assert "ruff check" in lint and "tools/generate.py --check" in lint and "lambda-ci lint examples/" in lint
    assert "pytest tests/unit" in "\n".join(pipeline["unit-tests"]["script"])


def test_the_image_is_built_without_privileged_docker(pipeline):
    job = pipeline["container-image"]
    text = yaml.safe_dump(job)
    assert "buildah build" in text and "docker" not in text.split("BUILDAH_FORMAT")[0].lower()
    assert "services" not in job
    assert not re.search(r":latest\b", job["image"]) and re.search(r":v?\d+\.\d+", job["image"])
    assert 'buildah push "$CATALOG_IMAGE:$CI_COMMIT_SHA"' in job["script"]
    assert "wheel" in job["needs"]


def _pushed_tags(pipeline, tag: str) -> list[str]:
    """The image job's script run by bash with a buildah that only says what it would do."""
    script = "\n".join(pipeline["container-image"]["script"])
    fake = ('buildah() { case "$1" in push) echo "$2";; login) cat >/dev/null;; esac; }\n')
    env = {"PATH": os.environ["PATH"], "CI_COMMIT_SHA": "abc123", "CATALOG_IMAGE": "registry.example.com/acme/lci",
           "CI_REGISTRY": "registry.example.com", "CI_REGISTRY_USER": "u", "CI_REGISTRY_PASSWORD": "p"}
    if tag:
        env["CI_COMMIT_TAG"] = tag
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", fake + script], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return [line.rsplit(":", 1)[1] for line in done.stdout.split()]


def test_the_image_is_tagged_with_the_sha_and_on_a_release_with_its_versions(pipeline):
    assert _pushed_tags(pipeline, "") == ["abc123"]
    assert _pushed_tags(pipeline, "1.4.2") == ["abc123", "1.4.2", "1.4", "1"]
    assert _pushed_tags(pipeline, "1.4.2-rc.1") == ["abc123"]


def test_the_release_job_runs_on_a_version_tag_with_the_changelog_as_notes(pipeline, tmp_path):
    job = pipeline["release"]
    (rule,) = job["rules"]
    assert rule["if"] == r"$CI_COMMIT_TAG =~ /^\d+\.\d+\.\d+$/"
    assert job["release"]["tag_name"] == "$CI_COMMIT_TAG"
    assert job["release"]["description"] == "./release-notes.md"
    assert "release-notes" in job["needs"]

    notes_job = pipeline["release-notes"]
    assert notes_job["rules"] == job["rules"]
    assert notes_job["artifacts"]["paths"] == ["release-notes.md"]
    shutil.copy(ROOT / "CHANGELOG.md", tmp_path / "CHANGELOG.md")
    env = {**os.environ, "CI_COMMIT_TAG": VERSION, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    for line in notes_job["script"]:
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", line], cwd=tmp_path, env=env,
                              capture_output=True, text=True)
        assert done.returncode == 0, (line, done.stderr)
    expected = changelog_entry((ROOT / "CHANGELOG.md").read_text(), VERSION)
    assert (tmp_path / "release-notes.md").read_text() == expected + "\n"
