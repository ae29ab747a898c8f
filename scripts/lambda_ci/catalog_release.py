"""`lambda-ci release X.Y.Z [--dry-run]`: tag a release of the catalog, after checking that it is one.

Run in a checkout of the catalog (its root is the git top level of the current folder). The checks, in
order, each one line; the first that fails ends the command with that line (exit 2) and nothing is done:

1. X.Y.Z is a semantic version (MAJOR.MINOR.PATCH, no leading zeros, no pre-release);
2. it is catalog.yml's `version` and scripts/lambda_ci/__init__.py's `__version__`;
3. CHANGELOG.md has its entry, `## [X.Y.Z] - YYYY-MM-DD`, with some text under it;
4. the generated files are current (`tools/generate.py --check`: templates and README input tables), and
   every example pin (`component: .../lambda-ci/<name>@<full version>` in README.md and examples/) is X.Y.Z;
5. the git tree is clean (nothing modified, staged or untracked);
6. the tag X.Y.Z does not exist yet.

Then `git tag -a X.Y.Z` with the changelog entry as its message. Pushing the tag (which runs the release
pipeline: the image's X.Y.Z, X.Y and X tags, and the CI/CD Catalog release) is left to the person.
--dry-run runs every check and prints what it would do, changing nothing.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from lambda_ci.errors import BadInput, OperationFailed

SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)")
_PIN = re.compile(r"component:\s*\S+/lambda-ci/(?P<name>[A-Za-z0-9_-]+)@(?P<ref>\d+\.\d+\.\d+)\b")
_ENTRY = re.compile(r"^## \[(?P<version>[^\]]+)\](?: - (?P<date>\S+))?\s*$", re.M)
_LINK_REFERENCE = re.compile(r"^\[[^\]]+\]:\s", re.M)


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("version", metavar="X.Y.Z", help="the version to release")
    p.add_argument("--dry-run", action="store_true", help="check and report what would be done; change nothing")


def run(settings: Mapping[str, Any]) -> int:
    version = settings["version"]
    dry_run = bool(settings.get("dry_run"))
    root = repository_root(Path.cwd())
    notes = check(root, version)
    message = tag_message(version, notes)
    command = ["git", "tag", "-a", version, "--cleanup=verbatim", "-F", "-"]
    if dry_run:
        print(f"would run: {' '.join(command)}   (in {root}) with the message:")
        print("".join(f"    {line}\n" for line in message.splitlines()), end="")
        print(f"then: git push origin {version}   (the tag pipeline builds the image and publishes the release)")
        print(f"dry run: nothing changed; {version} is ready to release")
        return 0
    git(root, *command[1:], stdin=message)
    print(f"tagged {version} at {git(root, 'rev-parse', '--short', 'HEAD')}")
    print(f"next: git push origin {version}   (the tag pipeline builds the image and publishes the release)")
    return 0


def check(root: Path, version: str) -> str:
    """Every check in order (BadInput on the first that fails); the changelog entry's text."""
    if not SEMVER.fullmatch(version):
        raise BadInput(f"`{version}` is not a semantic version MAJOR.MINOR.PATCH (such as 1.4.0)")
    ok(f"{version} is a semantic version")

    declared = yaml.safe_load((root / "catalog.yml").read_text()).get("version")
    if str(declared) != version:
        raise BadInput(f"catalog.yml's version is {declared}, not {version}: set `version: {version}`")
    package_version = _package_version(root)
    if package_version != version:
        raise BadInput(f"scripts/lambda_ci/__init__.py's __version__ is {package_version}, not {version}")
    ok(f"catalog.yml and lambda_ci.__version__ are {version}")

    notes = changelog_entry((root / "CHANGELOG.md").read_text() if (root / "CHANGELOG.md").exists() else "",
                            version)
    ok(f"CHANGELOG.md has the entry of {version}")

    _check_generated(root)
    stale = [f"{where}: {name}@{ref}" for where, name, ref in example_pins(root) if ref != version]
    if stale:
        raise BadInput(f"example pins are not {version}: {', '.join(stale)}")
    ok(f"templates and README are generated from catalog.yml; example pins are @{version}")

    status = git(root, "status", "--porcelain", "--untracked-files=normal")
    if status:
        changed = [line[3:] for line in status.splitlines()]
        shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
        raise BadInput(f"the git tree is not clean (commit or remove first): {shown}")
    ok("the git tree is clean")

    if git(root, "tag", "--list", version):
        raise BadInput(f"the tag {version} exists already: a released version is never moved; release the next one")
    ok(f"the tag {version} does not exist yet")
    return notes


def ok(line: str) -> None:
    print(f"ok: {line}", flush=True)


def repository_root(start: Path) -> Path:
    try:
        top = git(start, "rev-parse", "--show-toplevel")
    except OperationFailed:
        raise BadInput(f"{start} is not in a git checkout of the catalog") from None
    root = Path(top)
    if not (root / "catalog.yml").exists():
        raise BadInput(f"{root} has no catalog.yml: run this in the catalog's checkout")
    return root


def _package_version(root: Path) -> str | None:
    found = re.search(r'^__version__\s*=\s*["\']([^"\']+)["\']', (root / "scripts/lambda_ci/__init__.py").read_text(),
                      re.M)
    return found[1] if found else None


def changelog_entry(text: str, version: str) -> str:
    """The text of `## [version] - YYYY-MM-DD` up to the next entry (BadInput when missing or undated)."""
    entries = list(_ENTRY.finditer(text))
    for number, entry in enumerate(entries):
        if entry["version"] != version:
            continue
        date = entry["date"] or ""
        try:
            datetime.date.fromisoformat(date)
        except ValueError:
            raise BadInput(f"CHANGELOG.md: the entry of {version} needs a date: `## [{version}] - YYYY-MM-DD`"
                           ) from None
        end = entries[number + 1].start() if number + 1 < len(entries) else len(text)
        body = text[entry.end():end]
        link = _LINK_REFERENCE.search(body)
        body = (body[:link.start()] if link else body).strip()
        if not body:
            raise BadInput(f"CHANGELOG.md: the entry of {version} is empty")
        return body
    raise BadInput(f"CHANGELOG.md has no entry `## [{version}] - YYYY-MM-DD` (move [Unreleased] there)")


def tag_message(version: str, notes: str) -> str:
    return f"lambda-ci {version}\n\n{notes}\n"


def _check_generated(root: Path) -> None:
    """tools/generate.py --check of that checkout, with that checkout's lambda_ci (not the one installed)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root / "scripts"),
                                                                     os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, str(root / "tools" / "generate.py"), "--check"], cwd=root, env=env,
                          capture_output=True, text=True)
    if done.returncode:
        problem = " ".join((done.stderr or done.stdout).split()) or f"exit {done.returncode}"
        raise BadInput(f"generated files are stale: {problem}")


def example_pins(root: Path) -> list[tuple[str, str, str]]:
    """(file, component, version) of every include of this catalog at a full version in the docs and examples."""
    files = [root / "README.md", *sorted((root / "examples").glob("*/.gitlab-ci.yml"))]
    pins = []
    for path in files:
        if path.exists():
            for match in _PIN.finditer(path.read_text()):
                pins.append((str(path.relative_to(root)), match["name"], match["ref"]))
    return pins


def git(root: Path, *args: str, stdin: str | None = None) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=root, input=stdin, capture_output=True, text=True)
    except OSError as error:
        raise OperationFailed(f"git: {error.strerror}") from None
    if done.returncode:
        raise OperationFailed(f"git {args[0]}: {' '.join(done.stderr.split()) or f'exit {done.returncode}'}")
    return done.stdout.rstrip()
