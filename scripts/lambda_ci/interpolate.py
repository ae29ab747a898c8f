"""GitLab's `$[[ ... ]]` interpolation of a component's jobs, block for block as GitLab does it.

Mirrors lib/gitlab/ci/config/interpolation/{config,template,block,access,functions_stack}.rb and
functions/*.rb as GitLab has them now (18.7+, where `spec:component`, which the templates use, is GA):

- Every string of the document is visited, mapping keys as well as values (Config#replace!). Blocks are
  found with GitLab's own pattern, so text that merely looks like a template (`{{ .Id }}`, a lone `$[[`)
  stays as it is. A string that is exactly one block takes the block's value with its type (a number, a
  boolean, an array stay typed); blocks inside a larger string are replaced by the value's Ruby `to_s`.
- A block is `<access> | <function> | ...`: the access is a dotted path into `inputs.*` and
  `component.*` (with `[n]` for array items), then at most three functions, run left to right.
- The first invalid block stops the interpolation; GitLab reports its errors (the first three, joined
  with ", ", are what a user sees: see `message`).

The functions are Jinja filters of a Jinja environment that knows only them, applied with the
environment's `call_filter`. Jinja's template language itself is not used to find or parse blocks:
its lexer would also read `{{`, `{%` and `{#` in job scripts and reject an unclosed `$[[`, which GitLab
leaves alone.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import jinja2

from lambda_ci.ruby import to_s

# Template::BLOCK_REGEXP, RE2: `\s` is [\t\n\f\r ] and `.` stops at a line break.
_SPACE, _NON_SPACE = r"[\t\n\f\r ]", r"[^\t\n\f\r ]"
BLOCK = re.compile(rf"(?P<block>\$\[\[{_SPACE}*(?P<data>{_NON_SPACE}.*?{_NON_SPACE}){_SPACE}*\]\])")
BLOCK_PREFIX = "$[["
MAX_BLOCKS = 10_000  # Template::MAX_BLOCKS
MAX_FUNCTIONS = 3  # Block::MAX_FUNCTIONS
MAX_NODES = 500_000  # Config::MAX_NODES
MAX_NODE_SIZE = 1024 * 1024  # Config::MAX_NODE_SIZE, in bytes
MAX_ACCESS_OBJECTS = 5  # Access::MAX_ACCESS_OBJECTS
MAX_ACCESS_BYTESIZE = 1024
MAX_ACCESS_ARRAY_DEPTH = 5
SKIPPED_CONTEXTS = ("matrix",)  # Block::SKIP_INTERPOLATION_CONTEXTS: resolved later, per job

_INDEXED_SEGMENT = re.compile(r"(\w*)(\[\d+\])+", re.ASCII)
_ARRAY_INDEX = re.compile(r"\[(\d+)\]", re.ASCII)
_BRACKET_CONTENT = re.compile(r"\[([^\]]*)\]")
# ExpandVariables::VARIABLES_REGEXP: $VAR, ${VAR} and %VAR%.
_NAME = r"([a-zA-Z_][a-zA-Z0-9_]*)"
_VARIABLE = re.compile(rf"\${_NAME}|\$\{{{_NAME}\}}|%{_NAME}%")
# Shellwords.shellescape: every other character gets a backslash.
_SHELL_UNSAFE = re.compile(r"[^A-Za-z0-9_\-.,:+/@\n]")

# FunctionsStack::FUNCTIONS, in GitLab's order: the first whose pattern matches is used.
_FUNCTION_PATTERNS = {
    "truncate": re.compile(r"^truncate\(\s*(?P<offset>\d+)\s*,\s*(?P<length>\d+)\s*\)?$", re.ASCII),
    "expand_vars": re.compile(r"^expand_vars$"),
    "posix_escape": re.compile(r"^posix_escape$"),
    "split": re.compile(r"^split\('(?P<separator>[^']*)'\)$"),
}


class InterpolationError(Exception):
    """GitLab's errors for the document, in GitLab's order."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(message(errors))
        self.errors = errors


class _FunctionError(Exception):
    pass


def message(errors: list[str]) -> str:
    """What GitLab shows for an include: its first three errors (Interpolator#error_message)."""
    return ", ".join(errors[:3])


@dataclass(frozen=True)
class Context:
    """What blocks can read.

    values: {"inputs": {...}, "component": {...}} (the component fields the header declares).
    variables: the CI/CD variables `expand_vars` expands; names in `masked` make it fail, as in GitLab.
    """

    values: Mapping[str, Any]
    variables: Mapping[str, str] = field(default_factory=dict)
    masked: Collection[str] = frozenset()


def interpolate(document: Any, context: Context) -> Any:
    """The document with every block replaced; raises InterpolationError with GitLab's errors."""
    return _Template(context).node(document)


def _ruby_split(text: str, separator: str) -> list[str]:
    """Ruby's String#split with a string: trailing empty fields are dropped."""
    parts = text.split(separator) if text else []
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def _ruby_strip(text: str) -> str:
    return text.strip("\t\n\v\f\r \0")


def _ruby_gsub(text: str, pattern: str, replacement: str) -> str:
    """Ruby's `text.gsub(pattern, replacement)` with two strings, as Template#interpolate_string_node!
    calls it: the pattern is literal, but the replacement still reads \\0-\\9, \\&, \\`, \\' and \\\\
    (so a value holding `\\\\` is written with one backslash, exactly as GitLab does)."""
    out, position = [], 0
    while (start := text.find(pattern, position)) != -1:
        end = start + len(pattern)
        out += [text[position:start], _expand_replacement(replacement, text, start, end)]
        position = end
    out.append(text[position:])
    return "".join(out)


def _expand_replacement(replacement: str, text: str, start: int, end: int) -> str:
    out, index = [], 0
    while index < len(replacement):
        char = replacement[index]
        following = replacement[index + 1:index + 2]
        if char != "\\" or not following:
            out.append(char)
            index += 1
            continue
        if following in ("&", "0"):
            out.append(text[start:end])
        elif following == "`":
            out.append(text[:start])
        elif following == "'":
            out.append(text[end:])
        elif following == "\\":
            out.append("\\")
        elif not (following.isdigit() or following == "+"):  # groups: a string pattern has none
            out.append(char + following)
        index += 2
    return "".join(out)


# --- The functions -----------------------------------------------------------------------------------


def _require_string(name: str, value: Any) -> None:
    if not isinstance(value, str):
        raise _FunctionError(f"invalid input type: {name} can only be used with string inputs")


def _truncate(value: Any, offset: int, length: int) -> str:
    _require_string("truncate", value)
    return value[offset:offset + length]  # Ruby's value[offset, length].to_s


def _expand_vars(value: Any, variables: Mapping[str, str], masked: Collection[str]) -> str:
    """ExpandVariables.expand_existing(value, variables, fail_on_masked: true): unknown names stay as
    written; a masked one fails the pipeline rather than leak into the configuration."""
    _require_string("expand_vars", value)

    def replace(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group)
        if name not in variables:
            return match.group(0)
        if name in masked:
            raise _FunctionError("variable expansion error: masked variables cannot be expanded")
        return variables[name]

    return _VARIABLE.sub(replace, value)


def _posix_escape(value: Any) -> str:
    _require_string("posix_escape", value)
    if not value:
        return "''"
    return _SHELL_UNSAFE.sub(lambda match: "\\" + match.group(0), value).replace("\n", "'\n'")


def _split(value: Any, separator: str) -> list[str]:
    _require_string("split", value)
    if not separator:
        raise _FunctionError("invalid argument: separator cannot be empty")
    # Ruby splits on runs of whitespace when the separator is a single space (awk style).
    parts = value.split() if separator == " " else value.split(separator)
    return [stripped for part in parts if (stripped := _ruby_strip(part))]


def _environment(context: Context) -> jinja2.Environment:
    env = jinja2.Environment(autoescape=False)
    # Only GitLab's functions: none of Jinja's own filters can be reached from a block.
    env.filters = {
        "truncate": _truncate,
        "expand_vars": functools.partial(_expand_vars, variables=context.variables, masked=context.masked),
        "posix_escape": _posix_escape,
        "split": _split,
    }
    return env


def _function_arguments(name: str, match: re.Match[str]) -> tuple[Any, ...]:
    if name == "truncate":
        return int(match["offset"]), int(match["length"])
    if name == "split":
        return (match["separator"],)
    return ()


# --- Blocks ------------------------------------------------------------------------------------------


@dataclass
class _Block:
    text: str
    value: Any = None
    errors: list[str] = field(default_factory=list)


class _Template:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.env = _environment(context)
        self.blocks: dict[str, _Block] = {}
        self.visited = 0

    def node(self, node: Any) -> Any:
        self.visited += 1
        if self.visited > MAX_NODES:
            raise InterpolationError(["config too large"])
        if isinstance(node, Mapping):
            # Keys first, then values, in document order (Config#recursive_replace).
            return {self._hashable(self.node(key)): self.node(value) for key, value in node.items()}
        if isinstance(node, list):
            return [self.node(item) for item in node]
        if isinstance(node, str):
            return self.string(node)
        return node  # numbers, booleans, null, and !reference tags, which GitLab does not interpolate

    @staticmethod
    def _hashable(key: Any) -> Any:
        # A key that became an array or a mapping cannot key a dict; its text is the closest Python has.
        return to_s(key) if isinstance(key, (list, dict)) else key

    def string(self, node: str) -> Any:
        if len(node.encode()) > MAX_NODE_SIZE:
            raise InterpolationError(["config node too large"])
        if BLOCK_PREFIX not in node:
            return node
        blocks = [self.block(match["block"], match["data"]) for match in BLOCK.finditer(node)]
        if not blocks:
            return node
        if len(blocks) == 1 and len(node) == len(blocks[0].text):
            return blocks[0].value
        result = node
        for block in blocks:
            result = _ruby_gsub(result, block.text, to_s(block.value))
        return result

    def block(self, text: str, data: str) -> _Block:
        block = self.blocks.get(text)
        if block is None:
            block = self.blocks[text] = self.evaluate(text, data)
        if len(self.blocks) > MAX_BLOCKS:
            raise InterpolationError(["too many interpolation blocks"])
        if block.errors:
            raise InterpolationError(block.errors)
        return block

    def evaluate(self, text: str, data: str) -> _Block:
        access, *functions = [_ruby_strip(part) for part in _ruby_split(data, "|")] or [""]
        if access.split(".")[0] in SKIPPED_CONTEXTS:
            return _Block(text, value=text)
        value, errors = _Access(access, self.context.values).evaluate()
        if errors:
            return _Block(text, errors=errors)
        if len(functions) > MAX_FUNCTIONS:
            return _Block(text, errors=["too many functions in interpolation block"])
        stack, errors = _build_stack(functions)
        if errors:
            return _Block(text, errors=errors)
        for name, arguments in stack:
            try:
                value = self.env.call_filter(name, value, arguments)
            except _FunctionError as error:
                return _Block(text, errors=[f"error in `{name}` function: {error}"])
        return _Block(text, value=value)


def _build_stack(expressions: list[str]) -> tuple[list[tuple[str, tuple[Any, ...]]], list[str]]:
    """FunctionsStack#build_stack: every expression must match a function; split must come last."""
    stack, errors = [], []
    for index, expression in enumerate(expressions):
        found = next(((name, match) for name, pattern in _FUNCTION_PATTERNS.items()
                      if (match := pattern.match(expression))), None)
        if found is None:
            errors.append(f"no function matching `{expression}`: "
                          "check that the function name, arguments, and types are correct")
        elif found[0] == "split" and index < len(expressions) - 1:
            errors.append("split() must be the last function in a chain (it returns an array, not a string)")
        else:
            stack.append((found[0], _function_arguments(*found)))
    return stack, errors


class _Access:
    """Interpolation::Access: `inputs.name`, `component.sha`, `inputs.list[0].key`."""

    def __init__(self, content: str, context: Mapping[str, Any]) -> None:
        self.content = content
        self.context = context
        self.errors: list[str] = []

    def evaluate(self) -> tuple[Any, list[str]]:
        # Ruby's split with a limit keeps trailing empty fields, and splits "" into nothing.
        objects = self.content.split(".", MAX_ACCESS_OBJECTS - 1) if self.content else []
        if len(objects) <= 1:
            self.errors.append("invalid pattern used for interpolation. valid pattern is $[[ inputs.input ]]")
        if len(self.content.encode()) > MAX_ACCESS_BYTESIZE:
            self.errors.append("maximum interpolation expression size exceeded")
        value: Any = self.context
        for segment in objects:
            if self.errors:
                break
            value = self._indexed(value, segment) if "[" in segment else self._key(value, segment)
        return value, self.errors

    def _key(self, memo: Any, key: str) -> Any:
        if not (isinstance(memo, Mapping) and key in memo):
            # GitLab's wording up to 18.6; 18.7 added " provided: ... in `<access>`". The shorter line
            # is the one users search for, and names the same key.
            self.errors.append(f"unknown interpolation key: `{key}`")
            return None
        return memo[key]

    def _indexed(self, memo: Any, segment: str) -> Any:
        match = _INDEXED_SEGMENT.fullmatch(segment)
        if not match:
            self.errors.append(self._index_syntax_error(segment))
            return None
        if not match[1]:
            self.errors.append(f"invalid indexed access without a key in `{self.content}`")
            return None
        indices = [int(index) for index in _ARRAY_INDEX.findall(segment)]
        if len(indices) > MAX_ACCESS_ARRAY_DEPTH:
            self.errors.append(f"too many array indices in `{self.content}` "
                               f"(maximum depth: {MAX_ACCESS_ARRAY_DEPTH})")
            return None
        current = self._key(memo, match[1])
        for index in indices:
            if self.errors:
                return None
            if not isinstance(current, list):
                self.errors.append(f"cannot index into non-array value at [{index}] in `{self.content}`")
            elif index >= len(current):
                self.errors.append(f"array index {index} out of bounds (size: {len(current)}) "
                                   f"in `{self.content}`")
            else:
                current = current[index]
        return None if self.errors else current

    def _index_syntax_error(self, segment: str) -> str:
        if segment.count("[") != segment.count("]"):
            return f"invalid array index in `{self.content}`: missing closing bracket"
        for content in _BRACKET_CONTENT.findall(segment):
            if not re.fullmatch(r"\d+", content, re.ASCII):
                return f"invalid array index in `{self.content}`: `{content}` is not a valid index"
        return f"invalid array index syntax in `{self.content}`"

