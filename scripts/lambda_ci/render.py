"""`lambda-ci render`: a component's jobs for given inputs, rendered offline the way GitLab renders them.

In GitLab's order: the header's `spec:inputs` (spec.resolve: GitLab's checks and words), then the richer
JSON Schema of catalog.yml (inputs.problems: ranges, formats, cross-field rules, each naming the input),
then the `$[[ ]]` blocks of the jobs (interpolate). Any problem is one line (BadInput, exit 2).

`$[[ component.* ]]`: name is the component's; sha is --sha, else the catalog checkout's HEAD, else a zero
sha; version is --version, else the catalog's version; reference is the version.

`expand_vars` sees only the predefined variables GitLab itself knows while it reads the configuration
(CI_SERVER_*, CI_PROJECT_*, CI_COMMIT_*, CI_DEFAULT_BRANCH, CI_PIPELINE_SOURCE, CI_CONFIG_PATH), taken
from the environment when they are there (as in a job); `$VAR` that is not among them stays as written.
Nothing else from the environment can reach the output.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from lambda_ci import catalog, inputs, spec
from lambda_ci.errors import BadInput
from lambda_ci.gitlab_yaml import Loader, dump, load_documents
from lambda_ci.interpolate import Context, InterpolationError, interpolate, message

ZERO_SHA = "0" * 40
CONFIG_VARIABLE_PREFIXES = ("CI_SERVER_", "CI_PROJECT_", "CI_COMMIT_")
CONFIG_VARIABLES = ("CI_DEFAULT_BRANCH", "CI_PIPELINE_SOURCE", "CI_CONFIG_PATH")
NO_HEADER = "Given inputs not defined in the `spec` section of the included configuration file"


def run(settings: Mapping[str, Any]) -> int:
    name = settings["component_name"]
    given = read_inputs(settings.get("inputs_file"), settings.get("input_pairs") or [])
    component = component_context(name, settings.get("sha"), settings.get("component_version"))
    if settings.get("debug"):
        print("lambda-ci render: component " + ", ".join(f"{k}={v}" for k, v in component.items()),
              file=sys.stderr)
    jobs = render_component(name, given, component, config_variables(os.environ))
    sys.stdout.write(dump(jobs))
    for warning in inputs.deprecations(name, given):  # a warning, not a failure: the input still works
        print(f"lambda-ci render: warning: {warning}", file=sys.stderr)
    return 0


def render_component(name: str, given: Mapping[str, Any], component: Mapping[str, Any],
                     variables: Mapping[str, str] | None = None) -> Any:
    """The component's jobs document for the inputs `given` (as in `include: inputs:`), or BadInput.

    component: values for `$[[ component.* ]]` (name, sha, version, reference); only the fields the
    template declares in `spec:component` are visible to it, as in GitLab.
    """
    header, jobs = load_template(name)
    if header is None:
        if given:
            raise BadInput(NO_HEADER)
        return jobs
    values, errors = spec.resolve(spec.inputs_spec(header), given)
    if errors:
        raise _bad(message(errors))
    problems = inputs.problems(name, values)
    if problems:
        raise _bad("; ".join(problems))
    declared = {field: component[field] for field in spec.component_fields(header) if field in component}
    try:
        return interpolate(jobs, Context({"inputs": values, "component": declared}, variables or {}))
    except InterpolationError as error:
        raise _bad(str(error)) from None


def _bad(problem: str) -> BadInput:
    # One line, always: a value quoted in a message may hold line breaks.
    return BadInput(problem.replace("\n", "\\n"))


def load_template(name: str) -> tuple[dict[str, Any] | None, Any]:
    """A component's header (None when it has none) and its jobs document."""
    names = catalog.component_names()
    if name not in names:
        raise BadInput(f"unknown component `{name}`: the catalog has {', '.join(sorted(names))}")
    path = catalog.template_path(name)
    try:
        documents = load_documents(path.read_text())
    except OSError as error:
        raise BadInput(f"component `{name}`: {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise BadInput(f"component `{name}`: {path}: {one_line(error)}") from None
    if len(documents) == 1:
        return None, documents[0]
    if len(documents) == 2:
        return documents[0], documents[1]
    raise BadInput(f"component `{name}`: {path} has {len(documents)} YAML documents, not a header and jobs")


def component_context(name: str, sha: str | None = None, version: str | None = None) -> dict[str, Any]:
    version = version or catalog.load()["version"]
    return {"name": name, "sha": sha or catalog_sha(), "version": version, "reference": version}


def catalog_sha() -> str:
    """HEAD of the catalog's checkout; a zero sha for an installed package (no checkout of its own)."""
    root = catalog.catalog_path().parent
    if not (root / ".git").exists():
        return ZERO_SHA
    try:
        result = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"],
                                capture_output=True, text=True, check=False)
    except OSError:
        return ZERO_SHA
    return result.stdout.strip() if result.returncode == 0 else ZERO_SHA


def config_variables(environ: Mapping[str, str]) -> dict[str, str]:
    return {name: value for name, value in environ.items()
            if name.startswith(CONFIG_VARIABLE_PREFIXES) or name in CONFIG_VARIABLES}


def read_inputs(inputs_file: str | None, pairs: list[str]) -> dict[str, Any]:
    """--inputs FILE (a YAML mapping), then each --input KEY=VALUE (VALUE read as YAML) over it."""
    given: dict[str, Any] = {}
    if inputs_file:
        try:
            loaded = yaml.load(Path(inputs_file).read_text(), Loader=Loader)
        except OSError as error:
            raise BadInput(f"--inputs {inputs_file}: {error.strerror}") from None
        except yaml.YAMLError as error:
            raise BadInput(f"--inputs {inputs_file}: {one_line(error)}") from None
        if not isinstance(loaded, dict | None):
            raise BadInput(f"--inputs {inputs_file}: Given inputs must be a hash")
        given.update(loaded or {})
    for pair in pairs:
        key, equals, text = pair.partition("=")
        if not equals or not key:
            raise BadInput(f"--input {pair}: expected KEY=VALUE")
        given[key] = _yaml_value(key, text)
    return given


def _yaml_value(key: str, text: str) -> Any:
    if not text.strip():
        return ""  # `--input role_arn=` means empty, not "not given"
    try:
        return yaml.load(text, Loader=Loader)
    except yaml.YAMLError:
        raise BadInput(f"`{key}` input: `{text}` is not a YAML value (quote it)") from None


def one_line(error: Exception) -> str:
    return " ".join(str(error).split())
