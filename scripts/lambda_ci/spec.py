"""GitLab's `spec:inputs`: the values given in `include: inputs:` checked and resolved as GitLab does.

Mirrors lib/ci/inputs/*.rb and lib/gitlab/ci/config/interpolation/inputs.rb of GitLab 18.7+ (the first
release where `spec:component`, which the catalog's templates use, is generally available):

- An input without `default` is required. Its `type` is string (the default), number, boolean or array.
- Values are coerced before they are checked: a string input takes any value's Ruby `to_s` (123 becomes
  "123", so GitLab has no "is not a string" error any more); the other types read a text value as JSON
  ("512" is 512, "true" is true, '["a"]' is an array) and keep it as it is when it is not JSON.
- The default is checked like a given value ("default value is not a number"), then the given value.
  Each check reports: type, then `options`, then `regex` (string inputs only, RE2 semantics).
- Errors come in GitLab's order: unknown arguments, unknown input types, then each input's in spec order.
  GitLab shows the first three joined with ", " (see interpolate.message).

Not mirrored: `spec:inputs:rules` (behind a feature flag in GitLab); `spec:include`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from lambda_ci.ruby import to_s

TYPES = ("array", "boolean", "number", "string")  # Ci::Inputs::Builder::TYPES


def resolve(specs: Mapping[str, Any] | None, given: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The typed value of every input, and GitLab's errors (the values mean nothing when there are any).

    specs: the header's `spec:inputs`; given: the include's `inputs` (None means not given, as in GitLab).
    """
    specs = specs or {}
    spec_errors, inputs = [], []
    for name, spec in specs.items():
        kind = _kind(spec)
        if kind is None:
            spec_errors.append(f"unknown input specification for `{name}` (valid types: {', '.join(TYPES)})")
        else:
            inputs.append((name, spec or {}, kind))
    values, input_errors = {}, []
    for name, spec, kind in inputs:
        input_errors += _validate(name, spec, kind, given.get(name))
        value = given.get(name)
        values[name] = _coerce(kind, spec.get("default") if value is None else value)
    known = {name for name, _, _ in inputs}
    unknown = [str(name) for name in given if name not in known]
    argument_errors = [f"unknown input arguments: {', '.join(unknown)}"] if unknown else []
    return values, argument_errors + spec_errors + input_errors


def component_fields(header: Mapping[str, Any] | None) -> list[str]:
    """The `spec:component` fields a template declares, for `$[[ component.<field> ]]`."""
    spec = (header or {}).get("spec") or {}
    return list(dict.fromkeys(spec.get("component") or []))


def inputs_spec(header: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return ((header or {}).get("spec") or {}).get("inputs") or {}


def _kind(spec: Any) -> str | None:
    if spec is None or (isinstance(spec, Mapping) and "type" not in spec):
        return "string"
    if isinstance(spec, Mapping) and spec["type"] in TYPES:
        return spec["type"]
    return None


def _validate(name: str, spec: Mapping[str, Any], kind: str, given: Any) -> list[str]:
    """BaseInput#validate_param!: required first; then the default, then the given value."""
    if "default" not in spec:
        if given is None:
            return [f"`{name}` input: required value has not been provided"]
        return _checks(name, spec, kind, given, "provided")
    errors = _checks(name, spec, kind, spec["default"], "default")
    if given is not None:
        errors += _checks(name, spec, kind, given, "provided")
    return errors


def _checks(name: str, spec: Mapping[str, Any], kind: str, raw: Any, which: str) -> list[str]:
    value = _coerce(kind, raw)
    problems = [_type_problem(kind, value, which), _options_problem(kind, value, spec.get("options")),
                _regex_problem(kind, value, spec, which)]
    return [f"`{name}` input: {problem}" for problem in problems if problem]


def _coerce(kind: str, value: Any) -> Any:
    if kind == "string":
        return to_s(value)
    if not isinstance(value, str):
        return value  # Gitlab::Json.parse(value.to_s) gives a typed value back unchanged
    try:
        return json.loads(value, parse_constant=_not_json)
    except ValueError:
        return value


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # Python's json reads NaN and Infinity; Ruby's does not


def _type_problem(kind: str, value: Any, which: str) -> str | None:
    valid = {
        "string": True,  # coerced to a string: always one
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "array": isinstance(value, list),
    }[kind]
    article = "an" if kind == "array" else "a"
    return None if valid else f"{which} value is not {article} {kind}"


def _options_problem(kind: str, value: Any, options: Any) -> str | None:
    if options is None or options is False:  # Ruby: only nil and false skip the check ([] does not)
        return None
    if kind == "string":
        if value in [to_s(option) for option in options]:
            return None
        return f"`{value}` cannot be used because it is not in the list of allowed options"
    if kind == "number":
        if value is None or value is False or _ruby_includes(options, value):
            return None
        return f"`{to_s(value)}` cannot be used because it is not in the list of the allowed options"
    if kind == "array":
        if not isinstance(value, list):
            return None
        invalid = [item for item in value if not _ruby_includes(options, item)]
        if not invalid:
            return None
        listed = ", ".join(to_s(item) for item in invalid)
        return f"{listed} cannot be used because it is not in the list of allowed options"
    return "Options can only be used with string and number inputs"


def _ruby_includes(options: Any, value: Any) -> bool:
    # Ruby's == never makes true equal to 1, as Python's does.
    return any(option == value and isinstance(option, bool) == isinstance(value, bool) for option in options)


def _regex_problem(kind: str, value: Any, spec: Mapping[str, Any], which: str) -> str | None:
    if "regex" not in spec:
        return None
    if kind != "string":
        return "RegEx validation can only be used with string inputs"
    try:
        pattern = re.compile(re2_to_python(str(spec["regex"])))
    except re.error:
        return "invalid regular expression"
    # Gitlab::UntrustedRegexp#match?: RE2's unanchored search, the empty string included.
    return None if pattern.search(value) else f"{which} value does not match required RegEx pattern"


def re2_to_python(regex: str) -> str:
    """RE2's `$` (outside a class, without the m flag) and `\\z` match only at the very end of the text;
    Python's `$` also matches before a final line break, so both become Python's `\\Z`."""
    out, index, in_class = [], 0, False
    while index < len(regex):
        char = regex[index]
        if char == "\\" and index + 1 < len(regex):
            pair = regex[index:index + 2]
            out.append("\\Z" if pair == "\\z" and not in_class else pair)
            index += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        out.append("\\Z" if char == "$" and not in_class else char)
        index += 1
    return "".join(out)
