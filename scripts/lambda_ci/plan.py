"""The deploy plan: the steps from the function AWS has to the one the user asked for.

Pure: it reads the answers of GetFunction and GetAlias and the desired settings, and returns steps.
`deploy` prints them before anything changes (and stops there on --dry-run), then applies them.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambda_ci.errors import BadInput

CREATE_HANDLER = "app.handler"



def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Field:
    """A configuration field the user may set. A zero or empty input means "leave it as it is", so a
    redeploy never undoes a change made elsewhere."""

    input: str
    send: Callable[[Any], Any] = _same  # the input's value as CreateFunction/UpdateFunctionConfiguration take it
    read: Callable[[Any], Any] = _same  # GetFunctionConfiguration's value in the form `send` gives
    show: Callable[[Any], Any] = _same  # the sent form as the plan prints it


def _layer_arns(layers: list[Mapping[str, Any]] | None) -> list[str]:
    # Lambda answers with each layer's Arn and CodeSize, but takes a list of ARNs.
    return [layer["Arn"] for layer in layers or []]


def _storage_size(storage: Mapping[str, int] | None) -> int | None:
    return (storage or {}).get("Size")


# The Lambda API's name -> the field.
FIELDS = {
    "MemorySize": Field("memory_size"),
    "Timeout": Field("timeout"),
    "Handler": Field("handler"),
    "Runtime": Field("runtime"),
    "Description": Field("description", show=repr),
    "Layers": Field("layers", send=list, read=_layer_arns, show=lambda arns: "[" + ", ".join(arns) + "]"),
    "EphemeralStorage": Field("ephemeral_storage", send=lambda mb: {"Size": mb}, show=_storage_size),
}


@dataclass(frozen=True)
class Package:
    path: Path
    code_sha256: str  # base64 SHA-256 of the zip, as Lambda reports CodeSha256
    size: int
    runtime: str = ""
    architecture: str = ""

    @property
    def sha256_hex(self) -> str:
        return base64.b64decode(self.code_sha256).hex()


@dataclass(frozen=True)
class Desired:
    name: str
    package: Package
    alias: str
    role: str  # execution role, needed only to create
    config: dict[str, Any]  # API name -> value as sent, only the fields the user (or the manifest) set
    architecture: str  # "" leaves the function's
    environment: dict[str, str]
    environment_mode: str  # merge: keep the function's other variables; replace: exactly these
    strategy: str = "all_at_once"  # how the alias moves (only shown here; `release` does it)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], package: Package) -> Desired:
        values = {**settings, "runtime": settings["runtime"] or package.runtime}
        given = {api: field.send(values[field.input]) for api, field in FIELDS.items() if values[field.input]}
        return cls(
            name=settings["function_name"],
            package=package,
            alias=settings["alias"],
            role=settings["execution_role_arn"],
            config=given,
            architecture=settings["architecture"] or package.architecture,
            environment=parse_environment(settings["environment_variables"]),
            environment_mode=settings["environment_mode"],
            strategy=settings["strategy"],
        )


def parse_environment(items: list[str]) -> dict[str, str]:
    """KEY=VALUE items (validated by the input schema); a later KEY wins, as in a shell."""
    return dict(item.split("=", 1) for item in items)


@dataclass(frozen=True)
class Current:
    function: Mapping[str, Any] | None  # GetFunction's Configuration of $LATEST; None: no function
    alias: Mapping[str, Any] | None  # GetAlias; None: no such alias
    released: Mapping[str, Any] | None  # configuration of the version the alias points at


@dataclass(frozen=True)
class Plan:
    name: str
    create: dict[str, Any] | None = None  # CreateFunction's arguments, without the code
    update_code: bool = False
    configuration: dict[str, Any] = field(default_factory=dict)  # UpdateFunctionConfiguration's changes
    release: bool = False  # publish a version and move the alias to it
    previous: str | None = None  # the version the alias is on now
    lines: list[str] = field(default_factory=list)  # the plan as the job log shows it

    @property
    def changed_fields(self) -> list[str]:
        return [FIELDS[api].input if api in FIELDS else api.lower() for api in self.configuration]


def make_plan(desired: Desired, current: Current) -> Plan:
    if current.function is None:
        return _create_plan(desired)
    function = current.function
    update_code = code_differs(desired, function)
    configuration = configuration_changes(desired, function)
    alias = current.alias
    release = bool(update_code or configuration or _release_differs(desired, current))
    previous = alias["FunctionVersion"] if alias else None
    lines = []
    if update_code:
        lines.append(_code_line(desired, function))
    if configuration:
        lines.append("update configuration: " + "; ".join(_describe_changes(function, configuration)))
    if release:
        unchanged = not (update_code or configuration)
        lines.append("publish a version" + (" of $LATEST (it has this code)" if unchanged else ""))
        lines.append(_alias_line(desired, previous))
    else:
        lines.append(f"nothing to do: version {previous} behind alias {desired.alias} has this code "
                     "and configuration")
    return Plan(desired.name, None, update_code, configuration, release, previous, lines)


def _create_plan(desired: Desired) -> Plan:
    if not desired.role:
        raise BadInput(f"`execution_role_arn` input: required to create the function {desired.name}")
    if "Runtime" not in desired.config:
        raise BadInput(f"`runtime` input: required to create the function {desired.name} "
                       "(the package has no manifest)")
    create: dict[str, Any] = {"Role": desired.role, "Handler": CREATE_HANDLER, **desired.config}
    if desired.architecture:
        create["Architectures"] = [desired.architecture]
    if desired.environment:
        create["Environment"] = {"Variables": dict(desired.environment)}
    settings = ", ".join(f"{FIELDS[api].input} {FIELDS[api].show(value)}" for api, value in desired.config.items())
    lines = [
        f"create function {desired.name}: {settings or 'defaults'}, handler {create['Handler']}, "
        f"architecture {desired.architecture or 'x86_64'}, code {desired.package.code_sha256} "
        f"({_size(desired.package.size)})",
        "publish a version",
        _alias_line(desired, None),
    ]
    if desired.environment:
        lines.insert(1, "environment: set " + ", ".join(sorted(desired.environment)))
    return Plan(desired.name, create, release=True, lines=lines)


def code_differs(desired: Desired, config: Mapping[str, Any]) -> bool:
    # The architecture is part of the code in Lambda's API (UpdateFunctionCode sets it).
    architecture_differs = bool(desired.architecture) and desired.architecture != _architecture(config)
    return config.get("CodeSha256") != desired.package.code_sha256 or architecture_differs


def _architecture(config: Mapping[str, Any]) -> str:
    return (config.get("Architectures") or ["x86_64"])[0]


def configuration_changes(desired: Desired, config: Mapping[str, Any]) -> dict[str, Any]:
    """UpdateFunctionConfiguration's arguments for what differs; fields the user did not set never do."""
    changes = {api: value for api, value in desired.config.items() if FIELDS[api].read(config.get(api)) != value}
    have = dict((config.get("Environment") or {}).get("Variables") or {})
    want = desired.environment if desired.environment_mode == "replace" else {**have, **desired.environment}
    if want != have:
        changes["Environment"] = {"Variables": want}
    return changes


def _release_differs(desired: Desired, current: Current) -> bool:
    """Whether the alias must move although $LATEST is already right: no alias yet, an alias on an
    older version (a deploy that stopped before publishing, or a rollback), or traffic still split."""
    if current.alias is None or current.released is None:
        return True
    if weights(current.alias):
        return True
    return code_differs(desired, current.released) or bool(configuration_changes(desired, current.released))


def weights(alias: Mapping[str, Any]) -> dict[str, float]:
    return dict((alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {})


def _code_line(desired: Desired, config: Mapping[str, Any]) -> str:
    package = desired.package
    line = f"update code: {config.get('CodeSha256')} -> {package.code_sha256} ({_size(package.size)})"
    if desired.architecture and desired.architecture != _architecture(config):
        line += f", architecture {_architecture(config)} -> {desired.architecture}"
    return line


def _describe_changes(config: Mapping[str, Any], changes: Mapping[str, Any]) -> list[str]:
    described = []
    for api, value in changes.items():
        if api == "Environment":
            described.append("environment " + _describe_environment(config, value["Variables"]))
        else:
            field = FIELDS[api]
            described.append(f"{field.input} {field.show(field.read(config.get(api)))} -> {field.show(value)}")
    return described


def _describe_environment(config: Mapping[str, Any], want: Mapping[str, str]) -> str:
    # Names only: values are often secrets and the job log is readable by every developer.
    have = (config.get("Environment") or {}).get("Variables") or {}
    added = [f"+{key}" for key in sorted(set(want) - set(have))]
    changed = [f"~{key}" for key in sorted(set(want) & set(have)) if want[key] != have[key]]
    removed = [f"-{key}" for key in sorted(set(have) - set(want))]
    return " ".join(added + changed + removed)


def _alias_line(desired: Desired, previous: str | None) -> str:
    if previous is None:
        return f"create alias {desired.alias} on the new version"
    how = desired.strategy.replace("_", " ")
    return f"move alias {desired.alias}: version {previous} -> the new version ({how})"


def _size(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB" if size >= 1024 * 1024 else f"{size / 1024:.1f} KB"
