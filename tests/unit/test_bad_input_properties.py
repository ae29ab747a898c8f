"""Bad input, exhaustively (issue 6, item 3): for every input of every command, hypothesis makes values that
break catalog.yml's schema (wrong types, out of range, patterns and options broken, bad array items) or
the command's own checks (missing files, JSON), plus unknown flags and the other commands' flags. Each run
of `lambda-ci <command>` must exit 2 with one line naming the input (argparse: its usage, then an error
naming the flag), no traceback, zero requests at the counting proxy in front of moto, and no file written.

LAMBDA_CI_PROPERTY_EXAMPLES sets the examples per family (default 4: the file runs in well under a minute).
The examples are derandomized: `make test` tries the same values on every run and machine, so a failure
here is reproducible and CI never fails by chance. Exploring is the job of `make reliability`, which calls
tests.stack.bad_inputs.sweep() with many more examples, and of LAMBDA_CI_PROPERTY_RANDOM=1 here; each bug
found that way gets a line in the regressions below.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings

from tests.stack import bad_inputs
from tests.stack.bad_inputs import TALLY, Case, Runner
from tests.stack.counting_proxy import counting_proxy

EXAMPLES = int(os.environ.get("LAMBDA_CI_PROPERTY_EXAMPLES", "4"))
RANDOM = os.environ.get("LAMBDA_CI_PROPERTY_RANDOM") == "1"
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=not RANDOM,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.filter_too_much])


@pytest.fixture(scope="module")
def proxy(moto):
    moto.reset()
    with counting_proxy(moto.url) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def runner(proxy, tmp_path_factory):
    return Runner(tmp_path_factory.mktemp("bad-inputs"), proxy.url, lambda: proxy.counts.requests)


# The families are built once with placeholder paths to name the tests; each test builds its own strategy
# with the runner's real fixture paths.
_PLACEHOLDER = bad_inputs.Fixtures(bad_inputs.Path("/placeholder"))
FAMILIES = sorted(bad_inputs.all_strategies(_PLACEHOLDER, bad_inputs.Path("/placeholder-out")))


def test_every_command_input_is_covered():
    """Each input a command reads has a family, except those that accept any text."""
    covered = {family for family in FAMILIES}
    for command, component in bad_inputs.COMMAND_COMPONENT.items():
        for name in bad_inputs.inputs.cli_inputs(component):
            if (command, name) in bad_inputs.input_targets():
                assert f"{command} {name}" in covered
    free = {(c, n) for c, comp in bad_inputs.COMMAND_COMPONENT.items() for n in bad_inputs.inputs.cli_inputs(comp)
            } - set(bad_inputs.input_targets())
    # Free text by design: a shell command, and JSON only deploy reads (rollback takes deploy's flags too).
    assert free == {("build", "test_command"), ("rollback", "smoke_payload"), ("rollback", "smoke_expect"),
                    ("rollback", "functions")}


@pytest.mark.parametrize("family", FAMILIES)
def test_bad_input_is_refused_with_one_line_before_any_aws_call(runner, family):
    strategy = bad_inputs.all_strategies(runner.fixtures, runner.out)[family]

    @SETTINGS
    @given(strategy)
    def check(case: Case) -> None:
        problems = runner.check(case)
        assert problems == [], f"{case}: {problems}"

    check()


def test_the_baselines_do_reach_aws(runner, proxy):
    """The detector works: without the bad value, each baseline calls AWS (or writes), so a bad value
    that slipped through would have been seen."""
    fx = runner.fixtures
    for command in ("auth", "deploy", "rollback", "bootstrap", "audit-role"):
        case = Case(command, ("-",), tuple(bad_inputs.baseline(command, fx, runner.out)))
        before = TALLY.tried
        problems = runner.check(case, bad_inputs.Tally())
        assert TALLY.tried == before
        assert any("AWS calls" in p for p in problems), (command, problems)
    for command in ("build", "package"):
        case = Case(command, ("-",), tuple(bad_inputs.baseline(command, fx, runner.out)))
        problems = runner.check(case, bad_inputs.Tally())
        assert any("files written" in p for p in problems), (command, problems)


@pytest.mark.parametrize(("argv", "env", "named"), [
    (["deploy", "--function-name", "f", "--memory-size", "64"], {}, "`memory_size` input"),
    (["deploy", "--function-name", "f"], {"LAMBDA_CI_DRY_RUN": "maybe"}, "`dry_run` input"),
    (["auth", "--mode", "file"], {}, "`mode` input"),
    (["package", "--output", "function.tar"], {}, "`output` input"),
    (["rollback", "--function-name", "f", "--to-version", "x"], {}, "`to_version` input"),
    (["bootstrap", "--gitlab-url", "http://x", "--project", "a/b"], {}, "`gitlab_url` input"),
    (["deploy", "--no-such-flag"], {}, "--no-such-flag"),
])
def test_a_sample_as_a_real_process(runner, proxy, tmp_path, argv, env, named):
    """The same promise from a real `lambda-ci` process (the console script's path, not only main())."""
    before = proxy.counts.requests
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("LAMBDA_CI_", "AWS_"))}
    done = subprocess.run([sys.executable, "-m", "lambda_ci", *argv], cwd=tmp_path, capture_output=True, text=True,
                          env={**environ, **runner.aws_env, **env}, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert named in done.stderr.splitlines()[-1]
    if not done.stderr.startswith("usage:"):
        assert len(done.stderr.splitlines()) == 1, done.stderr
    assert proxy.counts.requests == before
    assert list(tmp_path.iterdir()) == []


# ---- regressions: bugs this suite found, each fixed at its cause ------------------------------------------

@pytest.mark.parametrize(("argv", "named"), [
    # Python's `$` matched before a final line break, so `abc\n` passed ^...$ patterns and reached AWS.
    (["deploy", "--function-name=abc\n"], "`function_name` input"),
    (["auth", "--role-arn=arn:aws:iam::123456789012:role/x\n"], "`role_arn` input"),
    (["bootstrap", "--gitlab-url=https://g.example.com", "--project=a/b", "--ref=main\n"], "`ref` input"),
    (["bootstrap", "--gitlab-url=https://g.example.com", "--project=a/b", "--function-name=f\n"],
     "`function_name` input"),
    # str.isdigit() took other scripts' digits: rollback asked Lambda for version ٣.
    (["rollback", "--function-name=f", "--to-version=٣"], "`to_version` input"),
    # A quoted value's line break made the error two lines.
    (["deploy", "--function-name=f", "--runtime=python3.12\nx"], "`runtime` input"),
    # Not validated: an InvalidRegionError (exit 1) from boto3, a ValueError from urlsplit, an IAM call.
    (["bootstrap", "--gitlab-url=https://g.example.com", "--project=a/b", "--region=x y", "--apply"],
     "`region` input"),
    (["bootstrap", "--gitlab-url=https://[::1", "--project=a/b"], "`gitlab_url` input"),
    (["bootstrap", "--gitlab-url=https://g.example.com:99999", "--project=a/b"], "`gitlab_url` input"),
    # gitlab_url was stripped before it was checked: a trailing line break passed, unlike every pattern.
    (["bootstrap", "--gitlab-url=https://g.example.com\n", "--project=a/b", "--apply"], "`gitlab_url` input"),
    (["audit-role", "--role-name=a b"], "`role_name` input"),
    (["audit-role", "--role-name=r", "--session-duration=60"], "`session_duration` input"),
    # A malformed account_id was reported as "role_name: required with account_id".
    (["auth", "--account-id=12345"], "`account_id` input"),
    # A recursive YAML alias: RecursionError (exit 1).
    (["render", "package", "--input", "exclude=&a [*a]"], "`exclude` input"),
])
def test_regression(runner, argv, named):
    problems = runner.check(Case(argv[0], (named,), tuple(argv)), bad_inputs.Tally())
    assert problems == []


def test_report_the_tally():
    """What this session tried (printed with -s; make reliability prints its own, larger, sweep)."""
    print(f"\nbad inputs tried: {TALLY.tried}, reached AWS: {TALLY.reached_aws}")
    assert TALLY.reached_aws == 0
    assert TALLY.failures == []
