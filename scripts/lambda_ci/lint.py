"""`lambda-ci lint PIPELINE.yml`: a consumer's pipeline checked before GitLab sees it.

Every `include: component:` of this catalog (`<host>[:port]/<catalog project>/<component>@<version>`,
any host including `$CI_SERVER_FQDN`, any version: 1.4.0, 1.4, ~latest, a sha, a branch; the project may
be `$CI_PROJECT_PATH` when the pipeline is the catalog's own, as its `--project` says) is rendered as
`lambda-ci render` would render it, so its inputs get exactly render's checks and words. Then the whole
document is validated against GitLab's CI JSON Schema (the copy vendored by check-jsonschema).

One finding a line, `PIPELINE.yml: include N (component): problem` or `PIPELINE.yml: schema: path:
problem`; exit 1 when there are findings. A file that cannot be read as YAML is bad input (exit 2).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from lambda_ci import catalog, gitlab_yaml, inputs, render
from lambda_ci.errors import BadInput

# host, then the project path and the component name, then the version after @.
_ADDRESS = re.compile(r"^(?P<host>[^/]+)/(?P<project>.+)/(?P<name>[^/@]+?)(?:@(?P<ref>.*))?$")
_SHA = re.compile(r"[0-9a-f]{40}")
_OWN_PROJECT = re.compile(r"\$CI_PROJECT_PATH|\$\{CI_PROJECT_PATH\}")
_FULL_VERSION = re.compile(r"\d+\.\d+\.\d+")
MAX_MESSAGE = 200
# GitLab's default limit of includes per pipeline (the instance setting ci_max_includes). Each include of
# this catalog is rendered, so a pipeline far above it would keep lint busy for minutes: it gets one finding.
MAX_INCLUDES = 150


def run(settings: Mapping[str, Any]) -> int:
    path = settings["pipeline"]
    documents = load(path)
    pipeline = documents[-1]  # a pipeline may start with a `spec:` header of its own
    ours = our_includes(pipeline, settings.get("project") or "")
    count = len(includes(pipeline))
    if count > MAX_INCLUDES:
        findings = [f"include: {count} entries, more than GitLab allows by default ({MAX_INCLUDES}, the "
                    "instance's ci_max_includes): GitLab refuses the pipeline; nothing else was checked"]
    else:
        findings = [*include_findings(pipeline, ours), *schema_findings(documents)]
    for finding in findings:
        print(f"{path}: {finding}")
    for warning in include_warnings(pipeline, ours):  # reported, never a finding: exit 0 when all else is fine
        print(f"{path}: {warning}")
    if findings:
        return 1
    print(f"{path}: ok ({len(ours)} components of {catalog.load()['project']} checked)")
    return 0


def load(path: str) -> list[Any]:
    try:
        documents = gitlab_yaml.load_documents(Path(path).read_text())
    except OSError as error:
        raise BadInput(f"{path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise BadInput(f"{path}: not valid YAML: {render.one_line(error)}") from None
    if not documents or not isinstance(documents[-1], dict):
        raise BadInput(f"{path}: a pipeline is a YAML mapping of jobs and keywords")
    return documents


def includes(pipeline: Mapping[str, Any]) -> list[Any]:
    """`include:` as a list: GitLab also takes one string or one mapping."""
    entries = pipeline.get("include")
    if entries is None:
        return []
    return entries if isinstance(entries, list) else [entries]


def our_includes(pipeline: Mapping[str, Any], own_project: str) -> list[tuple[int, str, re.Match[str]]]:
    """(1-based position in `include:`, address, parsed address) of each include of this catalog.
    `own_project` is the path of the project the pipeline belongs to, which GitLab puts for
    $CI_PROJECT_PATH: the catalog's own pipeline includes its components so."""
    project = catalog.load()["project"]
    found = []
    for number, entry in enumerate(includes(pipeline), start=1):
        address = entry.get("component") if isinstance(entry, dict) else None
        match = _ADDRESS.match(address) if isinstance(address, str) else None
        named = match and (own_project if _OWN_PROJECT.fullmatch(match["project"]) else match["project"])
        if named == project:
            found.append((number, address, match))
    return found


def include_findings(pipeline: Mapping[str, Any], ours: list[tuple[int, str, re.Match[str]]]) -> Iterator[str]:
    entries = includes(pipeline)
    for number, address, match in ours:
        where = f"include {number} ({address})"
        if not match["ref"]:
            yield f"{where}: a component needs a version after @ (1.4.0, 1.4, ~latest, a sha or a branch)"
            continue
        given = entries[number - 1].get("inputs")
        if given is None:
            given = {}
        elif not isinstance(given, dict):
            yield f"{where}: Given inputs must be a hash"
            continue
        try:
            render.render_component(match["name"], given, component_context(match["name"], match["ref"]))
        except BadInput as error:
            yield f"{where}: {error}"


def include_warnings(pipeline: Mapping[str, Any], ours: list[tuple[int, str, re.Match[str]]]) -> Iterator[str]:
    """`include N (address): warning: ...` for each deprecated input an include sets."""
    entries = includes(pipeline)
    for number, address, match in ours:
        given = entries[number - 1].get("inputs")
        if match["name"] not in catalog.component_names() or not isinstance(given, dict):
            continue
        for warning in inputs.deprecations(match["name"], given):
            yield f"include {number} ({address}): warning: {warning}"


def component_context(name: str, ref: str) -> dict[str, Any]:
    """What GitLab knows of an include before it resolves the version: the sha when the ref is one, the
    version when the ref is a full one (GitLab resolves 1.4 and ~latest from the catalog; nil otherwise)."""
    return {"name": name, "sha": ref if _SHA.fullmatch(ref) else render.ZERO_SHA,
            "version": ref if _FULL_VERSION.fullmatch(ref) else None, "reference": ref}


def schema_findings(documents: list[Any]) -> Iterator[str]:
    try:
        schema = gitlab_schema()
    except (ModuleNotFoundError, FileNotFoundError):
        print("lambda-ci lint: GitLab's CI schema is not installed (pip install 'lambda-ci[lint]'); "
              "the pipeline was not checked against it", file=sys.stderr)
        return
    validator = jsonschema.validators.validator_for(schema)(schema)
    for document in documents:
        for error in sorted(validator.iter_errors(plain(document)), key=lambda e: [str(p) for p in e.path]):
            # For oneOf/anyOf, the deepest error that still applies says what to change.
            best = jsonschema.exceptions.best_match([error])
            yield f"schema: {_location(best.absolute_path)}: {_short(best.message)}"


def gitlab_schema() -> dict[str, Any]:
    path = resources.files("check_jsonschema") / "builtin_schemas" / "vendor" / "gitlab-ci.json"
    return json.loads(path.read_text())


def plain(node: Any) -> Any:
    """The document as GitLab's schema sees it: a `!reference` is its list."""
    if isinstance(node, gitlab_yaml.Reference):
        return plain(node.path)
    if isinstance(node, dict):
        return {key: plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [plain(item) for item in node]
    return node


def _location(path: Any) -> str:
    text = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path).lstrip(".")
    return text or "(root)"


def _short(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE else message[:MAX_MESSAGE - 3] + "..."
