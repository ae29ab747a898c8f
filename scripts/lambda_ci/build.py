"""`lambda-ci build`: the function's dependencies installed for the Lambda platform, then its source.

pip installs for the runtime's Python and the function's architecture, not the runner's: binary wheels
only, for every manylinux tag the runtime's glibc accepts. The function's unit tests (test_command) are
run by the build job of the template, not here: they need the runner's platform (pytest, wheels that
import on the runner), while this folder holds wheels for Lambda's, which may not even load on the runner.
"""

from __future__ import annotations

import datetime
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from lambda_ci import gitlab, package, runtimes
from lambda_ci.errors import BadInput, OperationFailed

_NO_MATCH = re.compile(r"No matching distribution found for (\S+)")


def requirements_file(given: str, source: Path) -> Path | None:
    """The requirements to install: the input, else the source folder's requirements.txt when it has one."""
    if given:
        path = Path(given)
        if not path.is_file():
            raise BadInput(f"`requirements` input: `{given}` is not a file")
        return path
    default = source / "requirements.txt"
    return default if default.is_file() else None


def pip_command(requirements: Path, runtime: runtimes.Runtime, architecture: str, target: Path) -> list[str]:
    command = [
        sys.executable, "-m", "pip", "install",
        "--disable-pip-version-check", "--no-input", "--progress-bar", "off",
        # .pyc files would be compiled by the runner's Python, for the wrong version, and vary by build.
        "--no-compile",
        "--only-binary=:all:", "--implementation", "cp", "--python-version", runtime.python,
        "--target", str(target), "--requirement", str(requirements),
    ]
    for tag in runtimes.platforms(runtime, architecture):
        command += ["--platform", tag]
    return command


def no_wheel_message(requirement: str, runtime: runtimes.Runtime, architecture: str) -> str:
    newest = runtimes.platforms(runtime, architecture)[0]
    machine = runtimes.MACHINES[architecture]
    return (f"`{requirement}` has no wheel for {runtime.name} on {architecture} ({runtime.abi}, {newest} or "
            f"older): require a version that publishes one, or build the wheel yourself and add "
            f"`--find-links DIR` to the requirements file (a pure-Python sdist builds anywhere with "
            f"`pip wheel --no-deps`; a compiled one must be built on {runtime.os} {machine})")


def install(requirements: Path, runtime: runtimes.Runtime, architecture: str, target: Path) -> None:
    """Run pip, its output streamed into a collapsed log section; raise OperationFailed on failure."""
    missing: list[str] = []
    errors: list[str] = []
    header = f"pip install -r {requirements} for {runtime.name} {architecture}"
    with gitlab.section("pip-install", header, collapsed=True):
        process = subprocess.Popen(pip_command(requirements, runtime, architecture, target),
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in process.stdout:
            print(line, end="", flush=True)
            missing += _NO_MATCH.findall(line)
            if line.startswith("ERROR:"):
                errors.append(line.strip())
        code = process.wait()
    if code == 0:
        return
    if missing:
        raise OperationFailed(no_wheel_message(missing[0], runtime, architecture))
    raise OperationFailed(f"pip failed (exit {code}): {errors[-1] if errors else 'see its output above'}")


def _check_output(source: Path, output: Path) -> None:
    source, output, project = source.resolve(), output.resolve(), Path.cwd().resolve()
    if output in (source, project) or output in source.parents or output in project.parents:
        raise BadInput(f"`output_dir` input: `{output}` holds the source or the project, and the build "
                       "empties it first: give a folder of its own, such as build/lambda")
    if source in output.parents:
        raise BadInput(f"`output_dir` input: `{output}` is inside source_dir: give a folder outside it, "
                       "such as build/lambda")


def run(settings: dict[str, Any]) -> int:
    runtime = runtimes.get(settings["runtime"])
    architecture = settings["architecture"]
    if architecture not in runtimes.MACHINES:
        raise BadInput(f"`architecture` input: `{architecture}` is not one of {', '.join(runtimes.MACHINES)}")
    source = Path(settings["source_dir"])
    if not source.is_dir():
        raise BadInput(f"`source_dir` input: `{source}` is not a folder")
    requirements = requirements_file(settings["requirements"], source)
    output = Path(settings["output_dir"])
    _check_output(source, output)
    warning = runtimes.lifecycle_warning(runtime, datetime.date.today())
    if warning:
        gitlab.warn(warning)
    files = package.collect(source)  # refuses an unsafe tree before anything is installed

    if output.exists():
        shutil.rmtree(output)
    output.mkdir(parents=True)
    if requirements:
        install(requirements, runtime, architecture, output)
    # The source is copied over the dependencies: a module of the function wins over a package's.
    for member in files:
        destination = output / member.name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(member.path, destination)
    info = {"runtime": runtime.name, "architecture": architecture}
    package.build_info_path(output).write_text(json.dumps(info, indent=2) + "\n")
    print(f"{output}: {len(files)} source files from {source}"
          + (f", dependencies from {requirements}" if requirements else "")
          + f", for {runtime.name} {architecture}")
    return 0
