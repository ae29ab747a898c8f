"""Component inputs at job runtime: read from flags and LAMBDA_CI_* variables, checked against the
JSON Schema in catalog.yml, and reported as one line that names the input (exit 2, before any AWS call)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

import jsonschema

from lambda_ci import catalog, gitlab
from lambda_ci.errors import BadInput
from lambda_ci.spec import re2_to_python

ENV_PREFIX = "LAMBDA_CI_"


def env_name(input_name: str) -> str:
    return ENV_PREFIX + input_name.upper()


def flag_name(input_name: str) -> str:
    return "--" + input_name.replace("_", "-")


def cli_inputs(component: str) -> dict[str, dict[str, Any]]:
    """The inputs of a component that `lambda-ci` reads (template-only ones are left out)."""
    props = catalog.input_schema(component)["properties"]
    return {name: spec for name, spec in props.items() if not spec.get("x-template")}


def coerce(name: str, spec: Mapping[str, Any], raw: str) -> Any:
    """Turn a flag's or variable's text into the input's type, with GitLab's wording on failure."""
    kind = spec.get("type", "string")
    if kind in ("integer", "number"):
        try:
            number = float(raw)
        except ValueError:
            raise BadInput(f"`{name}` input: provided value is not a number") from None
        if kind == "integer" and not number.is_integer():
            raise BadInput(f"`{name}` input: provided value is not a whole number")
        return int(number) if number.is_integer() else number
    if kind == "boolean":
        lowered = raw.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no", ""):
            return False
        raise BadInput(f"`{name}` input: provided value is not a boolean")
    if kind == "array":
        return _parse_array(name, raw)
    return raw


def _parse_array(name: str, raw: str) -> list[Any]:
    # GitLab writes an array input spliced into a variable as Ruby's Array#to_s: `["a", "b"]`, which is
    # JSON for string items. By hand, users also write one item per line or comma-separated.
    text = raw.strip()
    if not text:
        return []
    if text.startswith("["):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            raise BadInput(f"`{name}` input: provided value is not an array") from None
        if not isinstance(value, list):
            raise BadInput(f"`{name}` input: provided value is not an array")
        return value
    separator = "\n" if "\n" in text else ","
    return [item.strip() for item in text.split(separator) if item.strip()]


def resolve(component: str, flags: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Every input of the component: the flag when given, else its LAMBDA_CI_ variable, else the default.

    Flags and variables arrive as text (or as lists for repeatable flags); the result is typed and valid.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name, spec in cli_inputs(component).items():
        given = flags.get(name)
        if given is None and env_name(name) in environ:
            given = environ[env_name(name)]
        if given is None:
            if "default" in spec:
                values[name] = spec["default"]
            continue
        if isinstance(given, list) and spec.get("type") == "array":
            values[name] = given
        elif isinstance(given, str):
            values[name] = coerce(name, spec, given)
        else:
            values[name] = given
    valid = validate(component, values, partial=True)
    for warning in deprecations(component, valid):
        gitlab.warn(warning)
    return valid


def deprecations(component: str, given: Mapping[str, Any]) -> list[str]:
    """A warning for each deprecated input (`x-deprecated` in catalog.yml) set to other than its default.

    `given`: the inputs as set (a job's values, where unset ones hold their defaults, or the `inputs:` of an
    include). A deprecated input keeps working for at least one minor version, until the major that
    removes it; the warning says what to use instead."""
    warnings = []
    for name, spec in catalog.input_schema(component).get("properties", {}).items():
        if "x-deprecated" in spec and name in given and given[name] != spec.get("default", _UNSET):
            warnings.append(f"`{name}` input of {component} is deprecated: {spec['x-deprecated']}")
    return warnings


_UNSET = object()


def validate(component: str, values: Mapping[str, Any], partial: bool = False) -> dict[str, Any]:
    """Check values against the component's JSON Schema; raise BadInput naming the first bad input.

    partial: template-only inputs may be absent (the command line never has them).
    """
    schema = dict(catalog.input_schema(component))
    if partial:
        schema["properties"] = cli_inputs(component)
    for problem in _problems(schema, values):
        raise BadInput(problem)
    return dict(values)


def problems(component: str, values: Mapping[str, Any]) -> list[str]:
    """Every problem of a complete set of inputs (for render and lint, which report them all)."""
    return list(_problems(catalog.input_schema(component), values))


def _pattern(validator: Any, pattern: str, instance: Any, schema: Mapping[str, Any]):
    # JSON Schema patterns are ECMA-262 regular expressions, where `$` matches only at the very end, as in
    # GitLab's RE2; Python's `$` also matches before a final line break, so `name\n` would pass `^...$`.
    if isinstance(instance, str) and not re.search(re2_to_python(pattern), instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


_Validator = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"pattern": _pattern})


def _problems(schema: Mapping[str, Any], values: Mapping[str, Any]):
    validator = _Validator(schema)
    # An input's own problem first: a malformed account_id is reported as such, not as "role_name: required
    # with account_id" (the cross-field rules, at the root, assume each value is well formed).
    errors = sorted(validator.iter_errors(dict(values)),
                    key=lambda e: (bool(_rule_of(schema, e)), list(e.absolute_path), e.validator))
    for error in errors:
        yield _describe(schema, error)


def _describe(schema: Mapping[str, Any], error: jsonschema.ValidationError) -> str:
    path = list(error.absolute_path)
    if error.validator == "additionalProperties":
        unknown = sorted(set(error.instance) - set(schema.get("properties", {})))
        return f"unknown input arguments: {', '.join(unknown)}"
    if error.validator == "required":
        missing = error.message.split("'")[1]
        return f"`{missing}` input: required value has not been provided"
    rule = _rule_of(schema, error)
    if rule:
        # A cross-field rule (an allOf item): its own x-error names the input.
        return rule.get("x-error", error.message)
    name = path[0]
    spec = schema.get("properties", {}).get(name, {})
    problem = spec.get("x-error") or _plain(error, spec)
    return f"`{name}` input: {problem}"


def _rule_of(schema: Mapping[str, Any], error: jsonschema.ValidationError) -> Mapping[str, Any]:
    schema_path = list(error.absolute_schema_path)
    if len(schema_path) >= 2 and schema_path[0] == "allOf":
        return schema["allOf"][schema_path[1]]
    return {}


def _plain(error: jsonschema.ValidationError, spec: Mapping[str, Any]) -> str:
    kind = error.validator
    if kind == "type":
        wanted = {"integer": "a whole number", "number": "a number", "boolean": "a boolean",
                  "array": "an array", "string": "a string", "object": "an object"}
        return f"provided value is not {wanted.get(str(error.validator_value), error.validator_value)}"
    if kind == "enum":
        return f"`{error.instance}` cannot be used because it is not in the list of allowed options"
    if kind == "pattern":
        return "provided value does not match required RegEx pattern"
    if kind == "minimum":
        return f"{error.instance} is less than the minimum of {error.validator_value}"
    if kind == "maximum":
        return f"{error.instance} is more than the maximum of {error.validator_value}"
    if kind == "minLength":
        return "must not be empty" if error.validator_value == 1 else error.message
    return error.message
