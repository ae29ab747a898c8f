"""Version pinning, end to end: a consumer pinned to a version runs that version's templates and Python.

One bare repository of the catalog holds two releases, 1.0.0 and 1.1.0, made from this working tree with
their versions set (catalog.yml, __version__) and a package template that differs (it says which release
it is). Consumers include the package component `@1.0.0`, `@1.1.0`, `@1.0` and `@~latest`; gitlab-ci-local
resolves the forms as GitLab does (`git ls-remote --tags` through insteadOf) and runs the job, which
prints `lambda-ci --version`. Both ways the Python reaches a job are covered:

- the catalog's image (the default `image:`): a Python with lambda-ci installed from the tag's tree first
  on PATH, one per version, as the image tagged with that commit would have it;
- an image of the user's own without lambda-ci: the job's before_script installs it with
  `pip install "lambda-ci @ git+${CI_SERVER_URL}/acme/lambda-ci.git@${LAMBDA_CI_SHA}"`; CI_SERVER_URL is
  https://gitlab.example.com, which git's insteadOf sends to the bare repository. pip runs offline
  (no index, no build isolation: hatchling and lambda-ci's dependencies are already there) into a fresh
  Python per pipeline.

The machine's lambda-ci (0.1.0, in the test venv) is never on a job's PATH or sys.path.
"""

from __future__ import annotations

import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.stack.gitlab_ci_local import (
    ROOT,
    SITE_PACKAGES,
    Catalog,
    Pipeline,
    Sandbox,
    copy_worktree,
    dependencies,
    image_env,
    python_env,
)

pytestmark = pytest.mark.e2e

VERSIONS = ("1.0.0", "1.1.0")
MACHINE_VERSION = re.search(r'__version__ = "(.+)"', (ROOT / "scripts/lambda_ci/__init__.py").read_text())[1]
# Reference in the include -> the release GitLab resolves it to.
PINS = {"1.0.0": "1.0.0", "1.1.0": "1.1.0", "1.0": "1.0.0", "~latest": "1.1.0"}
FALLBACK_PINS = ("1.0.0", "1.1.0", "~latest")
SCRIPT = "  script:\n    - lambda-ci package\n"
# pip in the jobs never reaches an index: what it needs is installed (hatchling, boto3, ...).
OFFLINE_PIP = {"PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0",
               "PIP_FIND_LINKS": None, "PIP_EXTRA_INDEX_URL": None, "PIP_INDEX_URL": None,
               "PIP_CONSTRAINT": None}


def release_tree(target: Path, version: str) -> Path:
    """This working tree as release `version`: its version set, and its package template saying so."""
    copy_worktree(ROOT, target)
    catalog = target / "catalog.yml"
    catalog.write_text(re.sub(r"(?m)^version: .*$", f"version: {version}", catalog.read_text(), count=1))
    init = target / "scripts/lambda_ci/__init__.py"
    init.write_text(re.sub(r'__version__ = ".*"', f'__version__ = "{version}"', init.read_text()))
    template = target / "templates/package/template.yml"
    text = template.read_text()
    assert SCRIPT in text, "the package template's script changed: update this test"
    template.write_text(text.replace(SCRIPT, f'  script:\n    - echo "package template of {version}"\n'
                                             f"    - lambda-ci --version\n    - lambda-ci package\n"))
    return target


def consumer_files(ref: str) -> dict[str, str]:
    return {
        ".gitlab-ci.yml": ("include:\n"
                           f"  - component: $CI_SERVER_FQDN/acme/lambda-ci/package@{ref}\n"
                           "    inputs:\n      source_dir: src\n"),
        "src/app.py": "def handler(event, context):\n    return {'ok': True}\n",
    }


@dataclass(frozen=True)
class Run:
    ref: str
    pipeline: Pipeline
    python: Path | None = None  # the fresh Python of a fallback run, to look at what pip installed

    def printed_versions(self) -> list[str]:
        return re.findall(r"^lambda-package > lambda-ci (\S+)$", self.pipeline.log, re.M)

    def templates(self) -> list[str]:
        return re.findall(r"^lambda-package > package template of (\S+)$", self.pipeline.log, re.M)


@dataclass(frozen=True)
class Published:
    sandbox: Sandbox
    catalogs: dict[str, Catalog]
    image_runs: dict[str, Run]
    fallback_runs: dict[str, Run]


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Published:
    work = tmp_path_factory.mktemp("versions")
    sandbox = Sandbox(work / "sandbox")
    trees = [(version, release_tree(work / f"tree-{version}", version)) for version in VERSIONS]
    catalogs = sandbox.publish_releases(trees)
    deps = dependencies(work / "dependencies")

    def image(version: str) -> Path:
        return image_env(work / f"image-{version}", deps, sandbox.export(catalogs[version], work / f"tag-{version}"))

    def run_image(ref: str, images: dict[str, Path]) -> Run:
        project = sandbox.consumer(f"image-{ref}", source=None, files=consumer_files(ref))
        return Run(ref, sandbox.run(project, {}, path=[images[PINS[ref]]], env=OFFLINE_PIP))

    def run_fallback(ref: str) -> Run:
        python = python_env(work / f"own-image-{ref}", deps).parent
        project = sandbox.consumer(f"own-image-{ref}", source=None, files=consumer_files(ref))
        return Run(ref, sandbox.run(project, {}, path=[python / "bin"], env=OFFLINE_PIP), python)

    # Pipelines are independent (own consumer folder, own Python): run them side by side.
    with ThreadPoolExecutor(max_workers=4) as pool:
        images = dict(zip(VERSIONS, pool.map(image, VERSIONS), strict=True))
        image_runs = pool.map(lambda ref: run_image(ref, images), PINS)
        fallback_runs = pool.map(run_fallback, FALLBACK_PINS)
        image_runs = {run.ref: run for run in image_runs}
        fallback_runs = {run.ref: run for run in fallback_runs}
    return Published(sandbox, catalogs, image_runs, fallback_runs)


def test_the_releases_differ_in_templates_and_python(published):
    one, two = (published.catalogs[v] for v in VERSIONS)
    assert one.sha != two.sha
    assert MACHINE_VERSION not in VERSIONS  # a job reporting the machine's version would be caught


def assert_ran_pinned_version(run, ref: str) -> None:
    """The pipeline pinned to `ref` passed with that version's template and Python, never the machine's."""
    assert run.pipeline.returncode == 0, f"pipeline @{ref} failed:\n{run.pipeline.tail()}"
    expected = PINS[ref]
    assert run.templates() == [expected], run.pipeline.tail()
    assert run.printed_versions() == [expected], run.pipeline.tail()
    assert f"lambda-ci {MACHINE_VERSION}" not in run.pipeline.log


@pytest.mark.parametrize("ref", PINS)
def test_the_catalogs_image_runs_the_pinned_versions_python_and_template(published, ref):
    assert_ran_pinned_version(published.image_runs[ref], ref)


@pytest.mark.parametrize("ref", FALLBACK_PINS)
def test_an_own_image_installs_lambda_ci_at_the_components_sha(published, ref):
    run = published.fallback_runs[ref]
    assert_ran_pinned_version(run, ref)
    expected = PINS[ref]
    # pip installed it into the job's own Python, from the catalog project at exactly the tag's commit.
    (direct_url,) = (run.python / SITE_PACKAGES).glob("lambda_ci-*.dist-info/direct_url.json")
    origin = json.loads(direct_url.read_text())
    assert direct_url.parent.name == f"lambda_ci-{expected}.dist-info"
    assert origin["url"] == "https://gitlab.example.com/acme/lambda-ci.git"
    assert origin["vcs_info"]["commit_id"] == published.catalogs[expected].sha


def test_the_package_job_did_its_work_at_every_version(published):
    for run in [*published.image_runs.values(), *published.fallback_runs.values()]:
        assert re.search(r"^lambda-package > dist/function\.zip: 1 files", run.pipeline.log, re.M), run.ref
