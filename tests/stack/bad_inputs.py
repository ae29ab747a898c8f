"""Malformed values for every input `lambda-ci` reads, derived from catalog.yml's JSON Schema, and the check
that each one is refused as DESIGN.md promises: exit 2, one line on stderr naming the input, no traceback,
no AWS call and no file written.

Shared by tests/unit/test_bad_input_properties.py (a few examples per input, in CI) and `make reliability`
(`sweep(examples)`: many, with the figures "bad inputs tried / reached AWS").

A case is one run of `lambda-ci <command> ...` with a valid baseline (so that, were the bad value let
through, the command would go on and call AWS or write files: the run is then caught at the proxy or in
the folder) plus the one bad value, given as its flag or as its LAMBDA_CI_ variable.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import string
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from lambda_ci import catalog, cli, inputs

# What a command line and an environment can carry: no NUL (execve cannot pass it), no lone surrogates.
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
# Nasty on purpose: line breaks, shell syntax, lookalike digits and letters.
SPICE = st.sampled_from(["\n", "\r", "\t", " ", "$(touch x)", "`id`", ";", "'", '"', "٣", "é", "\u2028", "-"])
VALID_REGION = "us-east-1"
ACCOUNT = "123456789012"

COMMAND_COMPONENT = {name: command.component for name, command in cli.COMMANDS.items() if command.component}


@dataclass(frozen=True)
class Case:
    command: str
    names: tuple[str, ...]  # what the error line must name (any of): `input` or a flag
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        env = " ".join(f"{k}={v!r}" for k, v in self.env.items())
        return f"{env} lambda-ci {' '.join(map(repr, self.argv))}".strip()


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str
    aws_calls: int
    written: list[str]


@dataclass
class Tally:
    """The figures of a sweep: `make reliability` prints them."""

    tried: int = 0
    reached_aws: int = 0
    failures: list[str] = field(default_factory=list)

    def add(self, case: Case, outcome: Outcome) -> list[str]:
        problems = problems_of(case, outcome)
        self.tried += 1
        self.reached_aws += outcome.aws_calls > 0
        self.failures += [f"{case}: {problem}" for problem in problems]
        return problems


TALLY = Tally()  # what the tests of this session tried


# ---- the baseline: valid arguments that make the command go on to AWS or to the disk ------------------


@dataclass(frozen=True)
class Fixtures:
    """Files the baselines point at, outside the working folder (which must stay empty)."""

    root: Path

    @property
    def source(self) -> Path:
        return self.root / "src"

    @property
    def package(self) -> Path:
        return self.root / "pkg" / "function.zip"

    @property
    def functions(self) -> Path:
        return self.root / "functions.yml"


def make_fixtures(root: Path) -> Fixtures:
    import zipfile

    fixtures = Fixtures(root)
    fixtures.source.mkdir(parents=True, exist_ok=True)
    (fixtures.source / "app.py").write_text("def handler(event, context):\n    return event\n")
    fixtures.package.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(fixtures.package, "w") as zf:
        zf.writestr("app.py", "def handler(event, context):\n    return event\n")
    fixtures.functions.write_text("- function_name: one\n")
    return fixtures


def baseline(command: str, fx: Fixtures, out: Path) -> list[str]:
    """Arguments under which the command, left alone, calls AWS (or writes into `out`, the working folder)."""
    return {
        "auth": ["auth"],  # static keys in the environment: GetCallerIdentity
        "build": ["build", f"--source={fx.source}", f"--output={out / 'build'}"],
        "package": ["package", f"--source={fx.source}", f"--output={out / 'function.zip'}"],
        "deploy": ["deploy", "--function-name=bad-input-probe", f"--package={fx.package}"],
        "rollback": ["rollback", "--function-name=bad-input-probe"],
        "render": ["render", "package"],
        "lint": ["lint", str(fx.root / "absent.yml")],
        "bootstrap": ["bootstrap", "--gitlab-url=https://gitlab.example.com", "--project=acme/app",
                      f"--account-id={ACCOUNT}", "--apply"],
        "audit-role": ["audit-role", "--role-name=gitlab-acme-app-deploy"],
        # Touches no AWS (it reads and tags the catalog's git tree): only its usage errors are tried here;
        # tests/unit/test_release.py has its checks.
        "release": ["release", "0.1.0", "--dry-run"],
    }[command]


# ---- malformed values from the schema ---------------------------------------------------------------


def _fullmatch(pattern: str, text: str) -> bool:
    # catalog.yml's patterns are anchored (^...$); ECMA/RE2 `$` is the very end, so: a full match of the inside.
    assert pattern.startswith("^") and pattern.endswith("$"), pattern
    return re.fullmatch(pattern[1:-1], text) is not None


def _numeric(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def bad_scalars(spec: Mapping[str, Any]) -> st.SearchStrategy[str] | None:
    """Text that the input of this schema must refuse (as a flag or a variable), or None: it has no rule."""
    kind = spec.get("type", "string")
    if kind == "integer":
        low, high = spec.get("minimum"), spec.get("maximum")
        options = [
            TEXT.filter(lambda t: _numeric(t) is None),
            st.floats(allow_nan=True, allow_infinity=True).filter(lambda f: not f.is_integer()).map(repr),
            st.sampled_from(["", "1.5", "nan", "inf", "-inf", "1e400", "0x10", "1,000", "12abc", "true"]),
        ]
        if low is not None:
            options.append(st.integers(max_value=low - 1).map(str))
        if high is not None:
            options.append(st.integers(min_value=high + 1).map(str))
        hole = spec.get("not")
        if hole:  # e.g. memory_size: 1 to 127 are not allowed
            options.append(st.integers(hole["exclusiveMinimum"] + 1, hole["exclusiveMaximum"] - 1).map(str))
        return st.one_of(options)
    if kind == "boolean":
        accepted = {"true", "false", "1", "0", "yes", "no", ""}
        return st.one_of(TEXT, st.sampled_from(["maybe", "TRUE!", "on", "off", "2", "y", "t"])).filter(
            lambda t: t.strip().lower() not in accepted)
    if kind != "string":
        return None
    options = []
    if "enum" in spec:
        allowed = set(spec["enum"])
        near = [f"{v}{s}" for v in spec["enum"] for s in ("\n", " ", "x")] + [str(v).upper() for v in spec["enum"]]
        options.append(st.one_of(TEXT, st.sampled_from(near)).filter(lambda t: t not in allowed))
    if "pattern" in spec:
        pattern = spec["pattern"]
        # `.` in a pattern also matches NUL, which no command line or environment can carry.
        valid = st.from_regex(pattern.replace("{1,512}", "{1,20}"), fullmatch=True).filter(lambda t: "\x00" not in t)
        mutated = st.one_of(
            st.tuples(valid, SPICE).map(lambda p: p[0] + p[1]),
            st.tuples(SPICE, valid).map(lambda p: p[0] + p[1]),
            TEXT,
        )
        options.append(mutated.filter(lambda t: not _fullmatch(pattern, t)))
    if spec.get("minLength"):
        options.append(st.just(""))
    if "maxLength" in spec:
        options.append(st.integers(spec["maxLength"] + 1, spec["maxLength"] + 50).map(lambda n: "a" * n))
    return st.one_of(options) if options else None


def bad_items(spec: Mapping[str, Any]) -> st.SearchStrategy[list[Any]]:
    """A list that an array input must refuse: a bad item among good ones, a non-string, or too many."""
    item = spec.get("items", {})
    bad_item = bad_scalars(item) if item.get("type") == "string" else None
    options = [st.lists(st.one_of(st.integers(), st.booleans(), st.none(), st.just({"a": 1})), min_size=1,
                        max_size=3)]
    if bad_item is not None:
        options.append(st.lists(bad_item, min_size=1, max_size=3))
    if "maxItems" in spec and "pattern" in item:
        good = st.from_regex(item["pattern"], fullmatch=True)
        options.append(st.lists(good, min_size=spec["maxItems"] + 1, max_size=spec["maxItems"] + 3))
    return st.one_of(options)


def _without(base: list[str], command: str, name: str) -> list[str]:
    """The baseline without its own flag for `name`: a flag wins over its variable."""
    flags = {inputs.flag_name(name)} | {inputs.flag_name(short) for short, target in
                                        cli.COMMANDS[command].aliases.items() if target == name}
    return [arg for arg in base if arg.split("=")[0] not in flags]


def _input_case(command: str, name: str, spec: Mapping[str, Any], fx: Fixtures, out: Path,
                ) -> st.SearchStrategy[Case]:
    base = _without(baseline(command, fx, out), command, name)
    flag = inputs.flag_name(name)
    names = (f"`{name}` input", flag)
    variable = inputs.env_name(name)
    if spec.get("type") == "array":
        lists = bad_items(spec)
        as_flags = lists.filter(lambda items: all(isinstance(i, str) for i in items)).map(
            lambda items: Case(command, names, (*base, *(f"{flag}={item}" for item in items))))
        as_json = lists.map(lambda items: Case(command, names, tuple(base), {variable: json.dumps(items)}))
        # Text that starts as JSON is read as JSON (else items are split at commas or lines, any text).
        not_arrays = st.sampled_from(["[", '["a"', "[1}", "[[]", '[{"a": 1}', "[1, 2"]).map(
            lambda text: Case(command, names, tuple(base), {variable: text}))
        return st.one_of(as_flags, as_json, not_arrays)
    scalars = bad_scalars(spec)
    if scalars is None:
        raise ValueError(f"{command} {name}: no rule to break")
    via_env = scalars.map(lambda v: Case(command, names, tuple(base), {variable: v}))
    if spec.get("type") == "boolean":
        return via_env  # the flag is a switch: it takes no value (see unknown_flag_cases)
    via_flag = scalars.map(lambda v: Case(command, names, (*base, f"{flag}={v}")))
    return st.one_of(via_flag, via_env)


def _semantic(command: str, name: str, fx: Fixtures) -> st.SearchStrategy[str] | None:
    """Values the schema lets through that the command itself must refuse before AWS (files, JSON)."""
    missing = st.sampled_from(["missing", "no/such/dir", "-x", "$(touch marker)"]).map(
        lambda t: str(fx.root / "absent" / t))
    return {
        ("build", "source_dir"): missing,
        ("build", "requirements"): missing,
        ("package", "source_dir"): missing,
        ("deploy", "package"): missing.map(lambda p: p + ".zip"),
        ("deploy", "smoke_payload"): st.one_of(
            TEXT.filter(lambda t: t and not t.startswith("@") and _not_json(t)), missing.map(lambda p: "@" + p)),
        ("deploy", "smoke_expect"): bad_scalar_json(),
        ("deploy", "functions"): st.one_of(missing, st.just(str(fx.package))),  # a zip is not a YAML list
    }.get((command, name))


def _not_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return True
    return False


def input_targets() -> list[tuple[str, str]]:
    """(command, input) pairs: every input each command reads, that has a rule a value can break."""
    fx, out = Fixtures(Path("/nonexistent")), Path("/nonexistent-out")
    targets = []
    for command, component in COMMAND_COMPONENT.items():
        for name, spec in inputs.cli_inputs(component).items():
            try:
                _input_case(command, name, spec, fx, out)
            except ValueError:
                if _semantic(command, name, fx) is None:
                    continue
            targets.append((command, name))
    return targets


def input_cases(command: str, name: str, fx: Fixtures, out: Path) -> st.SearchStrategy[Case]:
    spec = inputs.cli_inputs(COMMAND_COMPONENT[command])[name]
    options = []
    with contextlib.suppress(ValueError):
        options.append(_input_case(command, name, spec, fx, out))
    semantic = _semantic(command, name, fx)
    if semantic is not None:
        base, flag, names = baseline(command, fx, out), inputs.flag_name(name), (f"`{name}` input",)
        options.append(semantic.map(lambda v: Case(command, names, (*base, f"{flag}={v}"))))
    if command == "deploy" and name == "smoke_expect":  # needs a payload to be read at all
        base = [*baseline(command, fx, out), "--smoke-payload={}"]
        options = [bad_scalar_json().map(lambda v: Case(command, ("`smoke_expect` input",),
                                                        (*base, f"--smoke-expect={v}")))]
    return st.one_of(options)


def bad_scalar_json() -> st.SearchStrategy[str]:
    return TEXT.filter(lambda t: t and not t.startswith("@") and _not_json(t))


# ---- the other commands' flags ----------------------------------------------------------------------


def rollback_version_cases(fx: Fixtures, out: Path) -> st.SearchStrategy[Case]:
    base = baseline("rollback", fx, out)
    bad = st.one_of(TEXT, st.sampled_from(["0", "03", "٣", "³", "1.0", "$LATEST", "live", "3\n", " 3", "-1"]))
    return bad.filter(lambda t: re.fullmatch(r"[1-9][0-9]*", t) is None).map(
        lambda v: Case("rollback", ("`to_version` input", "--to-version"), (*base, f"--to-version={v}")))


_COMPONENT_WITH_REQUIRED = {"deploy-lambda": ("--input", "function_name=probe")}


def render_targets() -> list[tuple[str, str]]:
    return [(component, name) for component in catalog.component_names()
            for name in catalog.input_schema(component)["properties"]]


def bad_yaml_values(spec: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    """Values of `include: inputs:` (YAML) that render must refuse: wrong types, then broken rules."""
    kind = spec.get("type", "string")
    wrong = {
        "integer": st.one_of(st.text(string.ascii_letters, min_size=1, max_size=8), st.lists(st.integers(),
                             max_size=2), st.floats(allow_nan=False).filter(lambda f: not f.is_integer())),
        "boolean": st.one_of(st.integers(2, 99), st.text(string.ascii_letters, min_size=2, max_size=8).filter(
            lambda t: t.lower() not in {"true", "false", "yes", "no", "on", "off", "y", "n"}), st.lists(
            st.booleans(), min_size=1, max_size=2)),
        "array": st.one_of(st.text(string.ascii_letters, min_size=1, max_size=8), st.integers(),
                           st.dictionaries(st.text(string.ascii_lowercase, min_size=1, max_size=3),
                                           st.integers(), min_size=1, max_size=2)),
    }
    options = []
    if kind in wrong:
        options.append(wrong[kind])
    if kind == "integer":
        if "minimum" in spec:
            options.append(st.integers(max_value=spec["minimum"] - 1))
        if "maximum" in spec:
            options.append(st.integers(min_value=spec["maximum"] + 1))
    if kind == "string":
        scalars = bad_scalars(spec)
        if scalars is not None:
            options.append(scalars)
    if kind == "array":
        if spec.get("items", {}).get("type") == "object":
            options.append(st.lists(st.one_of(st.integers(), st.text(max_size=5)), min_size=1, max_size=3))
        else:
            options.append(bad_items(spec))
    return st.one_of(options) if options else st.nothing()


def render_cases(component: str, name: str) -> st.SearchStrategy[Case]:
    spec = catalog.input_schema(component)["properties"][name]
    base = ("render", component, *_COMPONENT_WITH_REQUIRED.get(component, ()))
    values = bad_yaml_values(spec)
    # JSON is YAML: the value reaches render with its type (a JSON string stays a string).
    return values.map(lambda v: Case("render", (f"`{name}` input",),
                                     (*base, "--input", f"{name}={json.dumps(v, ensure_ascii=False)}")))


def render_other_cases() -> st.SearchStrategy[Case]:
    """Unknown components, unknown inputs, --input without KEY=, unreadable --inputs files."""
    key = st.text(string.ascii_lowercase + "_", min_size=1, max_size=12)
    known = {name for component in catalog.component_names() for name in catalog.input_schema(component)[
        "properties"]}
    return st.one_of(
        st.text(string.ascii_lowercase + "-", min_size=1, max_size=12).filter(
            lambda c: c not in catalog.component_names() and not c.startswith("-")).map(
            lambda c: Case("render", ("component",), ("render", c))),
        key.filter(lambda k: k not in known).map(
            lambda k: Case("render", ("unknown input arguments", k), ("render", "package", "--input", f"{k}=1"))),
        TEXT.filter(lambda t: "=" not in t or t.startswith("=")).map(
            lambda t: Case("render", ("--input",), ("render", "package", f"--input={t}"))),
        st.sampled_from(["/nonexistent/inputs.yml", "/", "/dev/null/x"]).map(
            lambda p: Case("render", ("--inputs",), ("render", "package", "--inputs", p))),
    )


def bootstrap_cases(fx: Fixtures, out: Path) -> st.SearchStrategy[Case]:
    base = baseline("bootstrap", fx, out)
    checks = {
        "gitlab_url": st.one_of(TEXT, st.sampled_from([
            "http://gitlab.example.com", "https://gitlab.example.com/group", "https://u:p@gitlab.example.com",
            "https://gitlab.example.com?x=1", "https://[::1", "https://g:99999", "gitlab.example.com",
            "https://gitlab.example.com\n", "https://gitlab.exa mple.com", "https://gitlab.example.com\t/x"])),
        "project": st.one_of(TEXT, st.sampled_from(["acme", "acme/", "/acme", "acme/app\nx", "ac me/app"])),
        "ref": st.sampled_from(["main\n", "a b", "refs:heads", "\tmain", "main\u2028"]),
        "function_name": st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True).flatmap(
            lambda good: st.tuples(st.just(good), SPICE).map(lambda p: p[0] + p[1])).filter(
            lambda name: not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name)),  # a "-" or short name stays valid
        "execution_role_arn": st.one_of(TEXT.filter(bool), st.just(f"arn:aws:iam::{ACCOUNT}:role/x\n")),
        "s3_bucket": st.sampled_from(["A", "ab", "bucket_", "bucket\n", "-bucket", "b" * 64]),
        "role_name": st.sampled_from(["a b", "é", "x" * 65, "role\n", "a/b"]),
        "account_id": st.sampled_from(["123", "1234567890123", "١٢٣٤٥٦٧٨٩٠١٢", f"{ACCOUNT}\n", "abcdefghijkl"]),
        "region": st.sampled_from(["x y", "us-east-1\n", "US-EAST-1", "useast1", "us-east-1; rm"]),
    }
    cases = []
    for name, values in checks.items():
        flag = inputs.flag_name(name)
        rest = [arg for arg in base if not arg.startswith(flag + "=")]
        cases.append(values.map(
            lambda v, flag=flag, rest=rest, name=name: Case("bootstrap", (f"`{name}` input", flag),
                                                             (*rest, f"{flag}={v}"))))
    choices = st.sampled_from([("--format", "yaml"), ("--ref-type", "merge_request")]).map(
        lambda p: Case("bootstrap", (p[0],), (*base, f"{p[0]}={p[1]}")))
    return st.one_of(*cases, choices)


def audit_cases(fx: Fixtures, out: Path) -> st.SearchStrategy[Case]:
    base = baseline("audit-role", fx, out)
    policy_files = st.sampled_from([str(fx.root / "absent.json"), str(fx.root), str(fx.package),
                                    str(fx.functions)]).map(
        lambda p: Case("audit-role", ("`policy_file` input",), ("audit-role", f"--policy-file={p}")))
    return st.one_of(
        st.sampled_from(["a b", "é", "x" * 65, "role\n", ""]).filter(bool).map(
            lambda v: Case("audit-role", ("`role_name` input",), ("audit-role", f"--role-name={v}"))),
        st.one_of(TEXT.filter(lambda t: t and _numeric(t) is None), st.integers(max_value=899).map(str),
                  st.integers(min_value=43201).map(str)).map(
            lambda v: Case("audit-role", ("`session_duration` input",), (*base, f"--session-duration={v}"))),
        st.sampled_from(["http://x", "ftp://x", "https://x/y", "https://[::1"]).map(
            lambda v: Case("audit-role", ("`gitlab_url` input",), (*base, f"--gitlab-url={v}"))),
        st.sampled_from(["acme", "a b/c", "acme/app\nx"]).map(
            lambda v: Case("audit-role", ("`project` input",), (*base, f"--project={v}"))),
        policy_files,
    )


def unknown_flag_cases(fx: Fixtures, out: Path) -> st.SearchStrategy[Case]:
    """Flags no command has (nor abbreviates), and switches given a value: argparse's usage error."""
    parser = cli.build_parser()
    subparsers = next(a for a in parser._actions if a.choices and "deploy" in a.choices).choices  # noqa: SLF001

    def case(command: str, flag: str) -> Case:
        return Case(command, (flag.split("=")[0],), (*baseline(command, fx, out), flag))

    def unknown(command: str) -> st.SearchStrategy[Case]:
        known = [o for a in subparsers[command]._actions for o in a.option_strings]  # noqa: SLF001
        names = st.text(string.ascii_lowercase + "-", min_size=2, max_size=15).map(lambda t: "--" + t).filter(
            lambda f: not any(k.startswith(f) for k in known) and not f.endswith("-"))
        return names.map(lambda f: case(command, f))

    switches = [(command, inputs.flag_name(name)) for command, component in COMMAND_COMPONENT.items()
                for name, spec in inputs.cli_inputs(component).items() if spec.get("type") == "boolean"]
    switched = st.sampled_from(switches).flatmap(
        lambda p: st.sampled_from(["yes", "no", "1"]).map(lambda v: case(p[0], f"{p[1]}={v}")))
    return st.one_of(st.sampled_from(sorted(subparsers)).flatmap(unknown), switched)


# ---- running a case ---------------------------------------------------------------------------------


@contextlib.contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith("LAMBDA_CI_") or name == "CI_DEBUG_TRACE":
            del os.environ[name]
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def aws_environment(endpoint: str, home: Path) -> dict[str, str]:
    """Throwaway keys and the proxy as AWS: a bad value let through would be counted there."""
    return {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": VALID_REGION, "AWS_DEFAULT_REGION": VALID_REGION, "AWS_MAX_ATTEMPTS": "1",
            "AWS_CONFIG_FILE": str(home / "no-config"), "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-creds"),
            "CI_PROJECT_DIR": str(home / "project")}


def run_case(case: Case, cwd: Path, count: Any, aws_env: Mapping[str, str]) -> Outcome:
    """The case in this process (lambda_ci.cli.main), from `cwd`; `count()` reads the proxy's requests."""
    before = count()
    out, err = io.StringIO(), io.StringIO()
    previous = os.getcwd()
    os.chdir(cwd)
    try:
        with _environment({**aws_env, **case.env}), contextlib.redirect_stdout(out), \
                contextlib.redirect_stderr(err):
            try:
                code = cli.main(list(case.argv[:1]) + list(case.argv[1:]))
            except SystemExit as exit_:  # argparse
                code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        os.chdir(previous)
    written = sorted(str(p.relative_to(cwd)) for p in cwd.rglob("*"))
    return Outcome(code, out.getvalue(), err.getvalue(), count() - before, written)


def problems_of(case: Case, outcome: Outcome) -> list[str]:
    problems = []
    if outcome.code != 2:
        problems.append(f"exit {outcome.code}, not 2")
    if "Traceback" in outcome.stderr:
        problems.append("a traceback")
    lines = outcome.stderr.splitlines()
    usage = bool(lines) and lines[0].startswith("usage:")
    if usage:  # argparse: its usage, then one `error:` line naming the flag
        last = lines[-1]
        if "error:" not in last or not any(name in last for name in case.names):
            problems.append(f"argparse's error does not name {case.names}: {last!r}")
    elif len(lines) != 1:
        problems.append(f"{len(lines)} lines on stderr, not 1: {outcome.stderr!r}")
    elif not lines[0].startswith(f"lambda-ci {case.command}: ") or not any(n in lines[0] for n in case.names):
        problems.append(f"the line does not name {' or '.join(case.names)}: {lines[0]!r}")
    if outcome.aws_calls:
        problems.append(f"{outcome.aws_calls} AWS calls")
    if outcome.written:
        problems.append(f"files written: {outcome.written[:5]}")
    return problems


class Runner:
    """Everything a case needs: fixtures, an empty working folder per case, AWS behind a counting proxy."""

    def __init__(self, root: Path, endpoint: str, count: Any) -> None:
        self.fixtures = make_fixtures(root / "fixtures")
        self.home = root / "home"
        self.home.mkdir(exist_ok=True)
        self.work = root / "work"
        self.aws_env = aws_environment(endpoint, self.home)
        self.count = count

    @property
    def out(self) -> Path:
        return self.work

    def check(self, case: Case, tally: Tally = TALLY) -> list[str]:
        self.work.mkdir(exist_ok=True)
        try:
            return tally.add(case, run_case(case, self.work, self.count, self.aws_env))
        finally:
            import shutil

            shutil.rmtree(self.work, ignore_errors=True)


def all_strategies(fx: Fixtures, out: Path) -> dict[str, st.SearchStrategy[Case]]:
    """Every family of bad input, by name (the tests parametrize over these)."""
    families: dict[str, st.SearchStrategy[Case]] = {}
    for command, name in input_targets():
        families[f"{command} {name}"] = input_cases(command, name, fx, out)
    for component, name in render_targets():
        strategy = render_cases(component, name)
        if not strategy.is_empty:
            families[f"render {component} {name}"] = strategy
    families["render other"] = render_other_cases()
    families["rollback to_version"] = rollback_version_cases(fx, out)
    families["bootstrap"] = bootstrap_cases(fx, out)
    families["audit-role"] = audit_cases(fx, out)
    families["unknown flags"] = unknown_flag_cases(fx, out)
    return families


def sweep(examples: int = 100, seed: int = 0) -> Tally:
    """For `make reliability`: `examples` bad values of every family against a fresh moto behind the
    counting proxy; the tally holds tried, reached_aws (must be 0) and the failures (must be none)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hypothesis_seed

    from tests.stack.counting_proxy import counting_proxy
    from tests.stack.moto_server import moto_server

    tally = Tally()
    with tempfile.TemporaryDirectory() as folder, moto_server() as moto, counting_proxy(moto.url) as proxy:
        runner = Runner(Path(folder), proxy.url, lambda: proxy.counts.requests)
        for strategy in all_strategies(runner.fixtures, runner.out).values():

            @hypothesis_seed(seed)
            @settings(max_examples=examples, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(strategy)
            def one(case: Case) -> None:
                runner.check(case, tally)

            one()
    return tally
