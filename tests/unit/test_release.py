"""`lambda-ci release X.Y.Z [--dry-run]` on a throwaway git copy of this catalog: every check fails with
one line (exit 2) and changes nothing; a clean, consistent tree is tagged with its changelog entry."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from lambda_ci import cli
from lambda_ci.catalog_release import changelog_entry
from tests.stack.gitlab_ci_local import ROOT, copy_worktree

VERSION = re.search(r"(?m)^version: (\S+)", (ROOT / "catalog.yml").read_text())[1]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(autouse=True)
def git_identity(tmp_path_factory, monkeypatch):
    config = tmp_path_factory.getbasetemp() / "release-gitconfig"
    config.write_text("[user]\n\tname = release tests\n\temail = tests@example.com\n"
                      "[init]\n\tdefaultBranch = main\n[tag]\n\tgpgSign = false\n[commit]\n\tgpgSign = false\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> Path:
    """This working tree as one commit (uncommitted work included), made once per module."""
    repo = tmp_path_factory.mktemp("catalog-original")
    copy_worktree(ROOT, repo)
    env = {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "PATH": "/usr/bin:/bin",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "catalog"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)
    return repo


@pytest.fixture
def repo(original, tmp_path, monkeypatch) -> Path:
    clone = tmp_path / "catalog"
    subprocess.run(["git", "clone", "-q", str(original), str(clone)], check=True, capture_output=True)
    monkeypatch.chdir(clone)
    return clone


def release(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(["release", *args])
    out, err = capsys.readouterr()
    return code, out, err


def edit(repo: Path, relative: str, old: str, new: str, commit: bool = True) -> None:
    path = repo / relative
    text = path.read_text()
    assert old in text, f"{old!r} not in {relative}"
    path.write_text(text.replace(old, new))
    if commit:
        git(repo, "commit", "-q", "-am", f"edit {relative}")


def bump(repo: Path, version: str, changelog: bool = True, pins: bool = True) -> None:
    """What a person does to prepare `version`; each part can be left out."""
    edit(repo, "catalog.yml", f"version: {VERSION}", f"version: {version}", commit=False)
    edit(repo, "scripts/lambda_ci/__init__.py", f'"{VERSION}"', f'"{version}"', commit=False)
    if changelog:
        edit(repo, "CHANGELOG.md", "## [Unreleased]\n", f"## [Unreleased]\n\n## [{version}] - 2027-01-15\n",
             commit=False)
    if pins:
        for relative in ("README.md", "examples/hello-python/.gitlab-ci.yml"):
            path = repo / relative
            path.write_text(path.read_text().replace(f"@{VERSION}", f"@{version}"))
    git(repo, "commit", "-q", "-am", f"prepare {version}")


def one_failure(code: int, out: str, err: str) -> str:
    assert code == 2, out + err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("lambda-ci release: ")
    assert "Traceback" not in out + err
    return lines[0]


def test_a_dry_run_on_a_clean_tree_reports_everything_and_changes_nothing(repo, capsys):
    head, status = git(repo, "rev-parse", "HEAD"), git(repo, "status", "--porcelain")

    code, out, err = release(capsys, VERSION, "--dry-run")

    assert code == 0, err
    assert [line for line in out.splitlines() if line.startswith("ok: ")] == [
        f"ok: {VERSION} is a semantic version",
        f"ok: catalog.yml and lambda_ci.__version__ are {VERSION}",
        f"ok: CHANGELOG.md has the entry of {VERSION}",
        f"ok: templates and README are generated from catalog.yml; example pins are @{VERSION}",
        "ok: the git tree is clean",
        f"ok: the tag {VERSION} does not exist yet",
    ]
    assert f"would run: git tag -a {VERSION}" in out
    assert f"    lambda-ci {VERSION}" in out
    assert "    ### Added" in out  # the changelog entry is the tag's message
    assert f"git push origin {VERSION}" in out
    assert git(repo, "tag", "--list") == ""
    assert (git(repo, "rev-parse", "HEAD"), git(repo, "status", "--porcelain")) == (head, status)


def test_a_release_tags_annotated_with_the_changelog_entry_and_never_twice(repo, capsys):
    code, out, err = release(capsys, VERSION)

    assert code == 0, err
    assert git(repo, "cat-file", "-t", VERSION) == "tag"  # annotated
    assert git(repo, "rev-parse", f"{VERSION}^{{commit}}") == git(repo, "rev-parse", "HEAD")
    message = git(repo, "tag", "-l", "--format=%(contents)", VERSION)
    entry = changelog_entry((repo / "CHANGELOG.md").read_text(), VERSION)
    assert message.startswith(f"lambda-ci {VERSION}\n\n")
    assert entry in message

    line = one_failure(*release(capsys, VERSION, "--dry-run"))
    assert f"the tag {VERSION} exists already" in line


def test_a_prepared_next_version_passes(repo, capsys):
    bump(repo, "0.2.0")
    code, out, err = release(capsys, "0.2.0", "--dry-run")
    assert code == 0, err
    assert "dry run: nothing changed; 0.2.0 is ready to release" in out


@pytest.mark.parametrize("version", ["1.4", "v1.4.0", "01.4.0", "1.4.0-rc.1", "1.4.0 ", "latest"])
def test_a_version_that_is_not_semver_is_refused(repo, capsys, version):
    assert "is not a semantic version" in one_failure(*release(capsys, version, "--dry-run"))


def test_the_version_must_be_catalog_ymls(repo, capsys):
    line = one_failure(*release(capsys, "9.9.9", "--dry-run"))
    assert line == f"lambda-ci release: catalog.yml's version is {VERSION}, not 9.9.9: set `version: 9.9.9`"


def test_the_version_must_be_the_packages(repo, capsys):
    edit(repo, "catalog.yml", f"version: {VERSION}", "version: 0.2.0")
    line = one_failure(*release(capsys, "0.2.0", "--dry-run"))
    assert "__init__.py's __version__ is" in line


def test_the_changelog_needs_a_dated_entry(repo, capsys):
    bump(repo, "0.2.0", changelog=False)
    assert "CHANGELOG.md has no entry `## [0.2.0] - YYYY-MM-DD`" in one_failure(*release(capsys, "0.2.0", "--dry-run"))

    edit(repo, "CHANGELOG.md", "## [Unreleased]\n", "## [Unreleased]\n\n## [0.2.0]\n\n- something\n")
    assert "needs a date" in one_failure(*release(capsys, "0.2.0", "--dry-run"))


def test_the_changelog_entry_must_say_something(repo, capsys):
    bump(repo, "0.2.0", changelog=False)
    edit(repo, "CHANGELOG.md", f"## [{VERSION}]", f"## [0.2.0] - 2027-01-15\n\n## [{VERSION}]")
    assert "the entry of 0.2.0 is empty" in one_failure(*release(capsys, "0.2.0", "--dry-run"))


def test_generated_files_must_be_current(repo, capsys):
    edit(repo, "catalog.yml", "description: Stage of the package job", "description: The stage of the package job")
    line = one_failure(*release(capsys, VERSION, "--dry-run"))
    assert "generated files are stale" in line and "templates/package/template.yml" in line


def test_example_pins_must_be_the_version(repo, capsys):
    bump(repo, "0.2.0", pins=False)
    line = one_failure(*release(capsys, "0.2.0", "--dry-run"))
    assert line.startswith("lambda-ci release: example pins are not 0.2.0: README.md: build@0.1.0")
    assert "examples/hello-python/.gitlab-ci.yml" in line


def test_the_tree_must_be_clean(repo, capsys):
    (repo / "notes.txt").write_text("scratch\n")
    assert "the git tree is not clean (commit or remove first): notes.txt" in one_failure(
        *release(capsys, VERSION, "--dry-run"))
    (repo / "notes.txt").unlink()
    edit(repo, "README.md", "# lambda-ci\n", "# lambda-ci!\n", commit=False)
    assert "README.md" in one_failure(*release(capsys, VERSION, "--dry-run"))
    assert git(repo, "tag", "--list") == ""


def test_the_changelog_entry_stops_at_the_next_entry_and_the_links():
    text = ("# Changelog\n\n## [Unreleased]\n\n- soon\n\n## [1.1.0] - 2027-02-01\n\n### Fixed\n\n- a fix\n\n"
            "## [1.0.0] - 2027-01-01\n\n- first\n\n[Unreleased]: https://x/compare/1.1.0...main\n"
            "[1.1.0]: https://x/tags/1.1.0\n")
    assert changelog_entry(text, "1.1.0") == "### Fixed\n\n- a fix"
    assert changelog_entry(text, "1.0.0") == "- first"
