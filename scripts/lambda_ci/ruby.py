"""Ruby's text forms of values (`to_s`, `inspect`): what GitLab writes when it puts an input's value into
a larger string. Kept apart from interpolate so that reading inputs does not load Jinja."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any


def to_s(value: Any) -> str:
    """Ruby's `to_s`: nil is "", booleans are true/false, arrays and hashes are their `inspect`."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return inspect(value)


def inspect(value: Any) -> str:
    """Ruby's `inspect` (Ruby 3.3: `{:key=>"value"}`; GitLab symbolizes the keys of loaded YAML)."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float_to_s(value)
    if isinstance(value, str):
        return _string_inspect(value)
    if isinstance(value, list):
        return "[" + ", ".join(inspect(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_symbol_inspect(str(k))}=>{inspect(v)}" for k, v in value.items()) + "}"
    return str(value)


def _float_to_s(number: float) -> str:
    if number != number:
        return "NaN"
    if number in (float("inf"), float("-inf")):
        return "Infinity" if number > 0 else "-Infinity"
    # Python's repr and Ruby's Float#to_s both print the shortest round-trip digits and switch to an
    # exponent at the same thresholds; Ruby always keeps a fraction (1.0e+16, not 1e+16).
    text = repr(number)
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    if "." not in mantissa:
        mantissa += ".0"
    sign = "-" if exponent.startswith("-") else "+"
    return f"{mantissa}e{sign}{exponent.lstrip('+-').rjust(2, '0')}"


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\f": "\\f", "\v": "\\v",
            "\b": "\\b", "\a": "\\a", "\x1b": "\\e"}


def _string_inspect(text: str) -> str:
    out = []
    for index, char in enumerate(text):
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char == "#" and text[index + 1:index + 2] in ("{", "$", "@"):
            out.append("\\#")  # Ruby escapes what would start an interpolation in a literal
        elif not char.isprintable():
            out.append(f"\\u{ord(char):04X}" if ord(char) < 0x10000 else f"\\u{{{ord(char):X}}}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _symbol_inspect(name: str) -> str:
    return ":" + name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*[?!]?", name) else ":" + _string_inspect(name)
