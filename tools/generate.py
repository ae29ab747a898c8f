"""Write what is derived from catalog.yml: each templates/<name>/template.yml (its spec:inputs header
from the input schemas, its jobs from template-sources/<name>.yml.j2) and the README's input tables.

    python tools/generate.py          write them
    python tools/generate.py --check  exit 1, naming the files, when any differs (a test runs this)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import jinja2
import yaml

from lambda_ci import catalog, inputs, runtimes

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "template-sources"
README = ROOT / "README.md"
INPUTS_BEGIN = "<!-- inputs: generated from catalog.yml by `make templates`; do not edit -->"
INPUTS_END = "<!-- end of inputs -->"
RUNTIMES_BEGIN = "<!-- runtimes: generated from scripts/lambda_ci/runtimes.py by `make templates`; do not edit -->"
RUNTIMES_END = "<!-- end of runtimes -->"

# JSON Schema keyword -> GitLab spec:inputs keyword. Richer keywords stay in catalog.yml only.
_GITLAB_KEYS = {"default": "default", "description": "description", "enum": "options", "pattern": "regex"}


class _Dumper(yaml.SafeDumper):
    """Block style, and long descriptions kept on one line."""


def description(spec: dict[str, Any]) -> str:
    """An input's description; a deprecated one (`x-deprecated: <what to do instead>`) starts by saying so."""
    text = spec.get("description", "")
    if "x-deprecated" in spec:
        notice = f"Deprecated: {str(spec['x-deprecated']).strip().rstrip('.')}."
        text = f"{notice} {text}".strip()
    return text


def _gitlab_input(spec: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": "number" if spec["type"] == "integer" else spec["type"]}
    for ours, theirs in _GITLAB_KEYS.items():
        if ours in spec:
            entry[theirs] = spec[ours]
    if "description" in entry or "x-deprecated" in spec:
        entry["description"] = description(spec)
    return entry


def header(name: str) -> str:
    component = catalog.component(name)
    # No spec:description: GitLab versions before it was added reject unknown header keys.
    spec = {
        "spec": {
            "component": ["name", "sha", "version", "reference"],
            "inputs": {key: _gitlab_input(value) for key, value in component["inputs"]["properties"].items()},
        }
    }
    return yaml.dump(spec, Dumper=_Dumper, sort_keys=False, width=1000, allow_unicode=True)


def jobs(name: str) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(SOURCES), undefined=jinja2.StrictUndefined, keep_trailing_newline=True
    )
    env.globals.update(catalog=catalog.load(), cli_inputs=inputs.cli_inputs, env_name=inputs.env_name)
    return env.get_template(f"{name}.yml.j2").render()


def template(name: str) -> str:
    notice = "# Generated from catalog.yml and template-sources/ by `make templates`: edit those, not this.\n"
    return notice + header(name) + "---\n" + jobs(name).lstrip("\n")


def _flow(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=1000).strip().removesuffix("...").strip()


def inputs_tables() -> str:
    parts = [INPUTS_BEGIN]
    for name in catalog.component_names():
        parts.append(f"\n#### `{name}`\n\n| input | type | default | description |\n|---|---|---|---|")
        for key, spec in catalog.input_schema(name)["properties"].items():
            default = f"`{_flow(spec['default'])}`" if "default" in spec else "*required*"
            kind = "number" if spec["type"] == "integer" else spec["type"]
            if "enum" in spec:
                kind += " (" + ", ".join(f"`{v}`" for v in spec["enum"] if v != "") + ")"
            parts.append(f"| `{key}` | {kind} | {default} | {description(spec)} |")
    parts.append("\n" + INPUTS_END)
    return "\n".join(parts)


def runtimes_table() -> str:
    rows = [RUNTIMES_BEGIN, "", "| runtime | OS | manylinux up to | deprecated | updates blocked |",
            "|---|---|---|---|---|"]
    for r in runtimes.RUNTIMES.values():
        rows.append(f"| `{r.name}` | {r.os} | glibc {r.glibc[0]}.{r.glibc[1]} | {r.deprecated} | {r.block_update} |")
    return "\n".join([*rows, "", RUNTIMES_END])


def _replace_between(text: str, begin_marker: str, end_marker: str, content: str) -> str:
    begin, end = text.find(begin_marker), text.find(end_marker)
    if begin < 0 or end < 0:
        raise SystemExit(f"README.md lacks the markers {begin_marker!r} ... {end_marker!r}")
    return text[:begin] + content + text[end + len(end_marker):]


def readme(current: str) -> str:
    current = _replace_between(current, INPUTS_BEGIN, INPUTS_END, inputs_tables())
    return _replace_between(current, RUNTIMES_BEGIN, RUNTIMES_END, runtimes_table())


def expected() -> dict[Path, str]:
    files = {catalog.template_path(name): template(name) for name in catalog.component_names()}
    files[README] = readme(README.read_text())
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when a generated file differs")
    check = parser.parse_args(argv).check
    stale = []
    for path, text in expected().items():
        if path.exists() and path.read_text() == text:
            continue
        if check:
            stale.append(os.path.relpath(path, ROOT))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {os.path.relpath(path, ROOT)}")
    if stale:
        print(f"out of date with catalog.yml (run `make templates`): {', '.join(map(str, stale))}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
