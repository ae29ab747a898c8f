"""`lambda-ci deploy --functions FILE`: the functions of a monorepo from one YAML list, deployed
concurrently, each with its own plan and rollback, then one table.

Every item is checked before any AWS call. A function that fails does not stop the others: each one
finishes its own deploy (or its own rollback), so none is left half-done, and the exit code is 1. A
cancelled job (SIGTERM) stops them all: the deploys not started never start, and each running one stops
at its next traffic step, its alias put back, as a single deploy does.
"""

from __future__ import annotations

import functools
import io
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lambda_ci import gitlab, gitlab_yaml, inputs, lambda_api, release
from lambda_ci.errors import BadInput, LambdaCIError

MAX_WORKERS = 8  # Lambda's control plane throttles above a few requests per second per account
COMPONENT = "deploy-lambda"


@dataclass(frozen=True)
class Row:
    function: str
    alias: str
    action: str = "-"
    version: str = "-"
    previous: str | None = None
    result: str = "ok"
    seconds: float = 0.0
    error: str = ""


def read_functions(settings: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each item's settings: its own inputs over the command's, validated like the command's."""
    path = Path(settings["functions"])
    try:
        # GitLab's YAML loader: bounded, so a recursive alias or an alias bomb is a YAML error like any other.
        items = yaml.load(path.read_text(), Loader=gitlab_yaml.Loader)
    except OSError as error:
        raise BadInput(f"`functions` input: cannot read {path}: {error.strerror}") from None
    except (yaml.YAMLError, UnicodeDecodeError):
        raise BadInput(f"`functions` input: {path} is not valid YAML") from None
    if not isinstance(items, list) or not items:
        raise BadInput(f"`functions` input: {path} must hold a list of functions (mappings of inputs)")
    names = inputs.cli_inputs(COMPONENT)
    # Everything but `functions` (items do not nest); every item names its own function_name.
    inherited = {name: settings[name] for name in names if name in settings and name != "functions"}
    resolved: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        where = f"`functions` input: item {index}"
        if not isinstance(item, dict):
            raise BadInput(f"{where}: must be a mapping of {COMPONENT} inputs")
        if "function_name" not in item:
            raise BadInput(f"{where}: `function_name` input: required value has not been provided")
        where += f" ({item['function_name']})"
        if "functions" in item:
            raise BadInput(f"{where}: `functions` input: cannot be given inside the list")
        try:
            values = inputs.validate(COMPONENT, {**inherited, **item}, partial=True)
            release.Rollout.from_settings(values)  # the smoke test's JSON, also before any AWS call
        except BadInput as error:
            raise BadInput(f"{where}: {error}") from None
        if any(other["function_name"] == values["function_name"] for other in resolved):
            # Two deploys of one function at once would race each other's updates and alias.
            raise BadInput(f"{where}: `function_name` input: {values['function_name']} is listed twice")
        resolved.append({**settings, **values, "functions": "", "dotenv": ""})
    return resolved


def run(settings: Mapping[str, Any], deploy_one: Callable[..., Any]) -> int:
    functions = read_functions(settings)
    # One set of clients for every function: built once per identity (one STS call per role), not 50 times.
    deploy = functools.partial(deploy_one, clients=lambda_api.Clients())
    started = time.monotonic()
    rows: dict[str, Row] = {}
    release.CANCELLED.clear()
    with _output_per_thread() as local, ThreadPoolExecutor(min(MAX_WORKERS, len(functions)), "deploy") as pool:
        futures = [pool.submit(_captured, local, _deploy, deploy, f) for f in functions]
        interrupted = False
        try:
            for future in as_completed(futures):
                _report(rows, *future.result())
        except KeyboardInterrupt:
            # Cancelled: the running deploys stop at their next step (their aliases put back) and report.
            release.CANCELLED.set()
            for future in futures:
                future.cancel()
            for future in as_completed(f for f in futures if not f.cancelled()):
                row, log = future.result()
                if row.function not in rows:
                    _report(rows, row, log)
            interrupted = True
    ordered = [rows.get(f["function_name"]) or Row(f["function_name"], f["alias"], result="not started")
               for f in functions]
    print(table(ordered))
    for row in ordered:
        if row.error:
            print(f"{row.function}: {row.error}", file=sys.stderr)
    if interrupted:
        raise KeyboardInterrupt
    failed = sum(row.result == "failed" for row in ordered)
    print(f"{len(ordered) - failed} of {len(ordered)} functions done, {failed} failed "
          f"({time.monotonic() - started:.1f}s)")
    if settings.get("dotenv") and not settings["dry_run"]:
        gitlab.write_dotenv(Path(settings["dotenv"]), {"LAMBDA_FUNCTIONS_JSON": summary(ordered)})
    return 1 if failed else 0


def _report(rows: dict[str, Row], row: Row, log: str) -> None:
    rows[row.function] = row
    # Each function's log as one block when it is done, so concurrent deploys do not interleave.
    with gitlab.section(f"deploy_{row.function}", f"{row.function}: {row.result}"):
        sys.stdout.write(log)


def _deploy(deploy_one: Callable[[Mapping[str, Any]], Any], settings: Mapping[str, Any]) -> Row:
    started = time.monotonic()
    name, alias = settings["function_name"], settings["alias"]
    try:
        deployed = deploy_one(settings)
    except KeyboardInterrupt:  # the job was cancelled (release.CANCELLED): this deploy stopped, its alias back
        return Row(name, alias, result="interrupted", seconds=time.monotonic() - started)
    except LambdaCIError as error:
        message = str(error)
    except Exception as error:  # a bug in one deploy must not hide the others' results
        message = f"internal error: {type(error).__name__}: {error}"
    else:
        result = "dry run" if settings["dry_run"] else "ok"
        return Row(name, alias, deployed.action, deployed.version or "-", deployed.previous, result,
                   deployed.seconds)
    print(f"lambda-ci deploy: {message}", file=sys.stderr)
    return Row(name, alias, result="failed", seconds=time.monotonic() - started, error=message)


def table(rows: list[Row]) -> str:
    header = ("function", "action", "version", "alias", "result", "seconds")
    lines = [header] + [(r.function, r.action, r.version, r.alias, r.result, f"{r.seconds:.1f}") for r in rows]
    widths = [max(len(line[column]) for line in lines) for column in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
                     for line in lines)


def summary(rows: list[Row]) -> str:
    """The dotenv value: compact JSON, as GitLab limits a dotenv report to a few KB."""
    report = {r.function: {"version": r.version, "previous": r.previous, "alias": r.alias, "result": r.result}
              for r in rows}
    return json.dumps(report, separators=(",", ":"))


class _Routed(io.TextIOBase):
    """A stream that writes to the current thread's buffer when it has one, else to `fallback`."""

    def __init__(self, fallback: Any, local: threading.local) -> None:
        self.fallback, self.local = fallback, local

    def write(self, text: str) -> int:
        return getattr(self.local, "buffer", self.fallback).write(text)

    def flush(self) -> None:
        getattr(self.local, "buffer", self.fallback).flush()


@contextmanager
def _output_per_thread() -> Iterator[threading.local]:
    local = threading.local()
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Routed(saved[0], local), _Routed(saved[1], local)
    try:
        yield local
    finally:
        sys.stdout, sys.stderr = saved


def _captured(local: threading.local, work: Callable[..., Row], *args: Any) -> tuple[Row, str]:
    """`work` with this thread's stdout and stderr in one buffer, and what they got."""
    local.buffer = io.StringIO()
    try:
        return work(*args), local.buffer.getvalue()
    finally:
        del local.buffer
