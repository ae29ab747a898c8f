"""catalog.yml, the one source of truth: components, their input schemas, and where templates live."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

_PACKAGE_DIR = Path(__file__).resolve().parent
# In a wheel, catalog.yml and templates/ are packaged next to the code; in a checkout they sit at the root.
_ROOTS = (_PACKAGE_DIR, _PACKAGE_DIR.parent.parent)


def _find(name: str) -> Path:
    for root in _ROOTS:
        if (root / name).exists():
            return root / name
    raise FileNotFoundError(f"{name} is not packaged with lambda-ci")


def catalog_path() -> Path:
    return _find("catalog.yml")


def templates_dir() -> Path:
    return _find("templates")


# libyaml's safe loader when PyYAML was built with it: every command reads catalog.yml to build its
# flags, and the pure-Python parser alone takes a fifth of a second of each run.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.cache
def load() -> dict[str, Any]:
    with catalog_path().open() as f:
        return yaml.load(f, Loader=_SafeLoader)  # noqa: S506 (a safe loader)


def component_names() -> list[str]:
    return list(load()["components"])


def component(name: str) -> dict[str, Any]:
    return load()["components"][name]


def input_schema(name: str) -> dict[str, Any]:
    """The JSON Schema (an object schema) of a component's inputs."""
    return component(name)["inputs"]


def template_path(name: str) -> Path:
    return templates_dir() / name / "template.yml"
