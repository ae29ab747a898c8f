"""The deploy guarantees under faults, as seeded scenarios, and `make reliability`, which runs them with more
seeds than CI does and prints the figures the README quotes.

Each scenario runs `lambda-ci deploy` as a real process (the job's role assumed with a local ID token, so
STS is on the path too) against moto behind the Lambda behaviour proxy and its faults
(tests/stack/lambda_proxy.py, tests/stack/faults.py), then reads AWS state from moto directly, past the
proxy. A scenario returns a `Run`: what went wrong with the guarantee (`problems`, must be empty), whether
the deploy ended in the intended state, whether the alias was ever left wrong, and the secrets found in
what the processes printed or wrote.

The guarantees (DESIGN.md, issue 6):
- transient faults at a rate of control-plane calls: the deploy succeeds, with the state a clean run leaves;
- a permanent fault, or a SIGKILL at any step: the alias stays wholly on the last good version (or wholly
  on the new one, when the kill came after the alias moved), and a rerun converges;
- two deploys of different code at once: the alias ends on one of the two, the loser fails with one line;
- a session expired or revoked mid-deploy: one line, the alias untouched.

A SIGKILL during a canary (the alias split between the old and the new version) cannot be cleaned up by
the killed process: the split stays until the next deploy, which sees it, publishes (or finds) the version
of $LATEST and ends the split on it. `kill` counts those runs apart, and checks that the rerun converges.

    python -m tests.stack.reliability [--runs N]     (LAMBDA_CI_RELIABILITY_RUNS, default 10)
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from tests.stack import leaks
from tests.stack.lambda_proxy import LambdaProxy, lambda_proxy
from tests.stack.moto_server import MotoServer, moto_server
from tests.stack.oidc_issuer import OidcIssuer, oidc_issuer

NAME = "orders-api"
ALIAS = "live"
ROLE = "arn:aws:iam::123456789012:role/gitlab-deploy"  # moto's account: state read with any keys is the same
RATE = 0.3  # transient faults: this share of control-plane calls
READ_TIMEOUT = 1.0  # the client's, in the scenarios; a slow answer comes after SLOW seconds
SLOW = 1.6
DEPLOY_TIMEOUT = 120  # a deploy that takes longer is a hang, reported as a problem
# The steps of a deploy of new code at which a kill is tried: (operation, n-th call).
KILL_STEPS = [("UpdateFunctionCode", 1), ("GetFunction", 2), ("UpdateFunctionConfiguration", 1),
              ("PublishVersion", 1), ("UpdateAlias", 1)]
PERMANENT_STEPS = ["UpdateFunctionCode", "UpdateFunctionConfiguration", "PublishVersion", "UpdateAlias"]
# What the new deploy changes besides the code: the intended state includes them.
UPDATE_FLAGS = ["--memory-size", "256", "--environment-variables", "STAGE=prod"]


def environ_runs(default: int) -> int:
    return int(os.environ.get("LAMBDA_CI_RELIABILITY_RUNS") or default)


@dataclass
class Run:
    scenario: str
    problems: list[str] = field(default_factory=list)
    intended: bool = False  # the function and alias ended as the deploy meant
    alias_wrong: bool = False  # the alias was left split, or on code neither deploy brought
    split_by_kill: bool = False  # a SIGKILL mid-canary left the split (repaired by the rerun)
    secrets_found: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def check(self, condition: bool, problem: str) -> bool:
        if not condition:
            self.problems.append(problem)
        return condition


@dataclass(frozen=True)
class Done:
    code: int
    out: str
    err: str
    killed: bool = False
    report: dict[str, str] = field(default_factory=dict)  # the dotenv report

    @property
    def last_line(self) -> str:
        lines = self.err.strip().splitlines()
        return lines[-1] if lines else ""


class Stack:
    """moto, the proxy and the issuer, and what one scenario needs: packages, a job environment, deploys."""

    def __init__(self, moto: MotoServer, proxy: LambdaProxy, issuer: OidcIssuer, root: Path) -> None:
        self.moto, self.proxy, self.issuer, self.root = moto, proxy, issuer, root
        keys = {"region_name": "us-east-1", "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        self.direct = boto3.client("lambda", endpoint_url=moto.url, **keys)  # past the proxy: what AWS holds
        self.via_proxy = boto3.client("lambda", endpoint_url=proxy.url, **keys)
        self.iam = boto3.client("iam", endpoint_url=moto.url, **keys)
        self.packages = {body: _package(root / "packages" / body, body) for body in ("v1", "v2", "v2a", "v2b")}
        self.tokens: set[str] = set()
        self.outputs: list[str] = []  # every line every deploy printed, and their dotenv reports

    def reset(self, settle: bool = False) -> None:
        """A clean moto and proxy. settle: updates stay InProgress for one status read, as Lambda's do for a
        while (each costs lambda-ci's waiter a one-second poll, so only the scenarios about timing use it)."""
        self.moto.reset()
        self.proxy.reset()
        if settle:
            self.proxy.settle_after(reads=1)
        self.execution_role = self.iam.create_role(RoleName="orders-api-exec",
                                                   AssumeRolePolicyDocument="{}")["Role"]["Arn"]

    def last_good(self) -> str:
        """v1 released the way a clean deploy leaves it, made through the proxy (it learns its revisions)."""
        lam = self.via_proxy
        lam.create_function(FunctionName=NAME, Role=self.execution_role, Runtime="python3.12",
                            Handler="app.handler", Code={"ZipFile": self.packages["v1"].read_bytes()})
        lam.get_waiter("function_active_v2").wait(FunctionName=NAME, WaiterConfig={"Delay": 0.1})
        version = lam.publish_version(FunctionName=NAME)["Version"]
        lam.create_alias(FunctionName=NAME, Name=ALIAS, FunctionVersion=version, Description="lambda-ci: previous=none")
        return version

    def environ(self, folder: Path) -> dict[str, str]:
        token = self.issuer.mint()
        self.tokens.add(token)
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAMBDA_CI_", "CI_", "GITLAB_"))}
        environ.update({
            "AWS_ENDPOINT_URL": self.proxy.url, "AWS_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(folder / "no-config"), "AWS_SHARED_CREDENTIALS_FILE": str(folder / "no-creds"),
            "HOME": str(folder), "CI_PROJECT_DIR": str(folder), "CI_PROJECT_PATH_SLUG": "acme-orders",
            "CI_PIPELINE_ID": "41", "CI_JOB_ID": "42", "GITLAB_AWS_IDENTITY_TOKEN": token, "LAMBDA_CI_ROLE_ARN": ROLE,
            "LAMBDA_CI_AWS_READ_TIMEOUT": str(READ_TIMEOUT),
        })
        return environ

    def start(self, body: str, *flags: str, read_timeout: float = READ_TIMEOUT) -> tuple[subprocess.Popen, Path]:
        folder = Path(tempfile.mkdtemp(dir=self.root, prefix="job-"))
        argv = [sys.executable, "-m", "lambda_ci", "deploy", "--function-name", NAME, "--package",
                str(self.packages[body]), "--execution-role-arn", self.execution_role, "--dotenv",
                str(folder / "deploy.env"), *flags]
        environ = {**self.environ(folder), "LAMBDA_CI_AWS_READ_TIMEOUT": str(read_timeout)}
        process = subprocess.Popen(argv, env=environ, cwd=folder, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        return process, folder

    def finish(self, process: subprocess.Popen, folder: Path, killed: bool = False) -> Done:
        try:
            out, err = process.communicate(timeout=DEPLOY_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
            err += f"\n(hung: killed after {DEPLOY_TIMEOUT} s)"
        self.outputs += [out, err]
        report = folder / "deploy.env"
        values: dict[str, str] = {}
        if report.is_file():
            self.outputs.append(report.read_text())
            values = dict(line.split("=", 1) for line in report.read_text().splitlines() if "=" in line)
        return Done(process.returncode, out, err, killed, values)

    def deploy(self, body: str, *flags: str) -> Done:
        return self.finish(*self.start(body, *flags))

    # --- what AWS holds ---------------------------------------------------------------------------------------

    def sha(self, body: str) -> str:
        return base64.b64encode(hashlib.sha256(self.packages[body].read_bytes()).digest()).decode()

    def alias(self) -> dict[str, Any]:
        return self.direct.get_alias(FunctionName=NAME, Name=ALIAS)

    def code_of(self, version: str) -> str:
        return self.direct.get_function_configuration(FunctionName=NAME, Qualifier=version)["CodeSha256"]

    def state(self) -> dict[str, Any]:
        """What a deploy leaves, in the terms a clean run is compared in."""
        alias = self.alias()
        released = self.direct.get_function_configuration(FunctionName=NAME, Qualifier=alias["FunctionVersion"])
        versions = self.direct.list_versions_by_function(FunctionName=NAME)["Versions"]
        return {"alias": (alias["FunctionVersion"], _weights(alias), alias.get("Description")),
                "released": (released["CodeSha256"], released["MemorySize"],
                             (released.get("Environment") or {}).get("Variables")),
                "latest": self.direct.get_function_configuration(FunctionName=NAME)["CodeSha256"],
                "versions": [v["Version"] for v in versions]}

    def intended(self, body: str) -> bool:
        """The alias wholly on a version of this package's code, with the update's configuration."""
        alias = self.alias()
        released = self.direct.get_function_configuration(FunctionName=NAME, Qualifier=alias["FunctionVersion"])
        return (not _weights(alias) and released["CodeSha256"] == self.sha(body) and released["MemorySize"] == 256
                and (released.get("Environment") or {}).get("Variables") == {"STAGE": "prod"})

    def alias_wrong(self, allowed: set[str]) -> list[str]:
        """Every alias state the proxy saw pointing at, or routing to, code not in `allowed`."""
        wrong = []
        for _, _, version, weights in self.proxy.alias_log:
            for routed in [version, *weights]:
                if self.code_of(routed) not in allowed:
                    wrong.append(f"alias on version {routed}, code {self.code_of(routed)}")
        return wrong

    def scan(self, run: Run) -> None:
        secrets = set(self.proxy.secrets)
        for token in self.tokens:
            secrets |= leaks.token_secrets(token)
        hits = leaks.find_secrets(self.outputs, secrets)
        run.secrets_found = len(hits)
        run.check(not hits, f"secrets in the output: {[str(h) for h in hits][:3]}")
        self.outputs.clear()
        self.tokens.clear()


def _package(folder: Path, body: str) -> Path:
    from tests.integration.test_deploy import make_package  # the integration tests' package, manifest and all

    return make_package(folder, body=body)


def _weights(alias: dict[str, Any]) -> dict[str, float]:
    return dict((alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {})


def _one_line(run: Run, done: Done, *expected: str) -> None:
    """A failed deploy: exit 1, one line saying why (containing one of `expected`), no traceback."""
    run.check(done.code == 1, f"exit {done.code}, not 1: {done.last_line}")
    run.check("Traceback" not in done.err, f"a traceback: {done.err[-500:]}")
    run.check(done.last_line.startswith("lambda-ci deploy: "), f"no failure line: {done.err[-300:]!r}")
    if expected:
        run.check(any(e in done.last_line for e in expected), f"the line does not say why: {done.last_line}")


@contextmanager
def _timed(run: Run) -> Iterator[Run]:
    started = time.monotonic()
    try:
        yield run
    finally:
        run.seconds = time.monotonic() - started


# --- the scenarios -------------------------------------------------------------------------------------------


def clean_state(stack: Stack) -> dict[str, Any]:
    """What a deploy of v2 over v1 leaves without any fault: the reference for the transient runs."""
    stack.reset(settle=True)
    stack.last_good()
    done = stack.deploy("v2", *UPDATE_FLAGS, "--strategy", "canary", "--canary-percent", "50",
                        "--interval-seconds", "0")
    if done.code != 0:
        raise RuntimeError(f"the clean deploy failed: {done.err}")
    state = stack.state()
    stack.outputs.clear()
    return state


def transient(stack: Stack, seed: int, reference: dict[str, Any], rate: float = RATE) -> Run:
    """Faults of every transient kind at `rate` of the control-plane calls: the same end as a clean run."""
    run = Run(f"transient seed={seed}")
    with _timed(run):
        stack.reset(settle=True)
        stack.last_good()
        stack.proxy.faults.transient(rate, seed=seed, slow_seconds=SLOW)
        done = stack.deploy("v2", *UPDATE_FLAGS, "--strategy", "canary", "--canary-percent", "50",
                            "--interval-seconds", "0")
        run.faults = Counter(stack.proxy.faults.counts)
        stack.proxy.faults.reset()
        run.check(done.code == 0, f"the deploy failed under faults {dict(run.faults)}: {done.last_line}")
        state = stack.state()
        run.intended = stack.intended("v2")
        run.check(state == reference, f"the state differs from a clean run's: {state} != {reference}")
        wrong = stack.alias_wrong({stack.sha("v1"), stack.sha("v2")})
        run.alias_wrong = bool(wrong) or bool(_weights(stack.alias()))
        run.check(not run.alias_wrong, f"alias left wrong: {wrong or stack.alias()}")
        stack.scan(run)
    return run


def kill(stack: Stack, operation: str, nth: int, applied: bool, canary: bool = False) -> Run:
    """SIGKILL when the n-th `operation` reaches AWS (which then makes it, or not): the alias wholly on v1
    (or wholly on the new version, if the kill came after it moved there); a rerun converges."""
    run = Run(f"kill at {operation} #{nth}{' (applied)' if applied else ''}{' in a canary' if canary else ''}")
    strategy = ["--strategy", "canary", "--canary-percent", "50", "--interval-seconds", "0"] if canary else []
    with _timed(run):
        stack.reset()
        good = stack.last_good()
        hold = stack.proxy.faults.hold(operation, nth, applied)
        process, folder = stack.start("v2", *UPDATE_FLAGS, *strategy)
        deadline = time.monotonic() + DEPLOY_TIMEOUT
        while not hold.arrived.wait(0.05):
            if process.poll() is not None or time.monotonic() > deadline:
                break
        arrived = hold.arrived.is_set()
        if arrived:
            process.send_signal(signal.SIGKILL)
        hold.released.set()
        hold.done.wait(30)
        done = stack.finish(process, folder, killed=arrived)
        stack.proxy.faults.reset()
        if not run.check(arrived, f"the deploy never made call #{nth} of {operation} (exit {done.code}: "
                                  f"{done.last_line})"):
            return run
        run.faults["kill"] += 1
        alias = stack.alias()
        on = stack.code_of(alias["FunctionVersion"])
        moved = applied and operation == "UpdateAlias" and (not canary or nth == 2)  # the final move
        if canary and _weights(alias):
            run.split_by_kill = True  # the killed process could not end the split: the rerun must
        else:
            run.alias_wrong = bool(_weights(alias)) or on not in {stack.sha("v1"), stack.sha("v2")}
            run.check(not _weights(alias), f"the kill left the alias split: {alias}")
            run.check(alias["FunctionVersion"] == good or (moved and on == stack.sha("v2")),
                      f"after the kill the alias is on version {alias['FunctionVersion']} (code {on}), "
                      f"not wholly on the last good version {good}")
        rerun = stack.deploy("v2", *UPDATE_FLAGS, *strategy)
        run.check(rerun.code == 0, f"the rerun failed: {rerun.last_line}")
        run.intended = stack.intended("v2")
        run.check(run.intended, f"the rerun did not converge: {stack.state()}")
        wrong = stack.alias_wrong({stack.sha("v1"), stack.sha("v2")})
        run.alias_wrong |= bool(wrong)
        run.check(not wrong, f"alias on foreign code: {wrong}")
        stack.scan(run)
    return run


def permanent(stack: Stack, operation: str, canary: bool = False) -> Run:
    """A call that fails for good (here the role lacks a permission): one line, the alias wholly on v1,
    and a rerun once the permission is back converges. In a canary, the final move is refused after the
    split was made: the deploy must put the alias back."""
    run = Run(f"permanent fault at {operation}{' in a canary' if canary else ''}")
    strategy = ["--strategy", "canary", "--canary-percent", "50", "--interval-seconds", "0"] if canary else []
    with _timed(run):
        stack.reset()
        good = stack.last_good()
        stack.proxy.faults.fail(operation, 403, "AccessDeniedException",
                                f"User is not authorized to perform: lambda:{operation}",
                                skip=1 if canary else 0, times=1 if canary else None)
        done = stack.deploy("v2", *UPDATE_FLAGS, *strategy)
        run.faults = Counter(stack.proxy.faults.counts)
        stack.proxy.faults.reset()
        _one_line(run, done, "AccessDeniedException")
        alias = stack.alias()
        run.alias_wrong = bool(_weights(alias)) or alias["FunctionVersion"] != good
        run.check(not run.alias_wrong, f"the alias moved: {alias}")
        rerun = stack.deploy("v2", *UPDATE_FLAGS, *strategy)
        run.check(rerun.code == 0, f"the rerun failed: {rerun.last_line}")
        run.intended = stack.intended("v2")
        run.check(run.intended, f"the rerun did not converge: {stack.state()}")
        stack.scan(run)
    return run


def race(stack: Stack, seed: int) -> Run:
    """Two deploys of different code at once, without resource_group: the alias ends wholly on a version
    of one of the two codes; one that fails says why in one line; one that succeeds is what is live,
    unless the other succeeded after it."""
    run = Run(f"race seed={seed}")
    rng = random.Random(seed)
    with _timed(run):
        stack.reset()
        stack.last_good()
        stack.proxy.settle_after(seconds=rng.uniform(0.0, 0.5))
        first, first_folder = stack.start("v2a", *UPDATE_FLAGS)
        time.sleep(rng.uniform(0.0, 1.5))
        second, second_folder = stack.start("v2b", *UPDATE_FLAGS)
        done = {"v2a": stack.finish(first, first_folder), "v2b": stack.finish(second, second_folder)}
        alias = stack.alias()
        live_code = stack.code_of(alias["FunctionVersion"])
        codes = {stack.sha(body): body for body in done}
        run.alias_wrong = bool(_weights(alias)) or live_code not in codes
        run.check(not run.alias_wrong, f"the alias is not wholly on one of the two codes: {alias}")
        winners = [body for body, d in done.items() if d.code == 0]
        for d in done.values():
            if d.code != 0:
                run.faults["race lost"] += 1
                _one_line(run, d, "PreconditionFailedException", "CodeSHA256", "ResourceConflictException")
        if len(winners) == 1:
            run.check(codes.get(live_code) == winners[0], f"{winners[0]} succeeded but {codes.get(live_code)} is live")
        if len(winners) == 2:
            # Both may succeed only one after the other: the later one moved the alias from the earlier's version.
            a, b = (done[w].report for w in winners)
            serial = b.get("LAMBDA_PREVIOUS_VERSION") == a.get("LAMBDA_VERSION") or \
                a.get("LAMBDA_PREVIOUS_VERSION") == b.get("LAMBDA_VERSION")
            run.check(serial, f"both deploys succeeded, each from version {a.get('LAMBDA_PREVIOUS_VERSION')}: one "
                      f"overwrote the other's release unseen ({a.get('LAMBDA_VERSION')}, {b.get('LAMBDA_VERSION')})")
        run.check(bool(winners), f"both deploys failed: {[d.last_line for d in done.values()]}")
        run.intended = bool(winners) and not _weights(alias) and codes.get(live_code) in winners
        wrong = stack.alias_wrong({stack.sha("v1"), *codes})
        run.alias_wrong |= bool(wrong)
        run.check(not wrong, f"alias on foreign code: {wrong}")
        stack.scan(run)
    return run


def expired(stack: Stack, after: int) -> Run:
    """The session expires (or is revoked) after `after` control-plane calls: the deploy either finished
    before, or fails with one line and leaves the alias as it was."""
    run = Run(f"session expired after {after} calls")
    with _timed(run):
        stack.reset()
        good = stack.last_good()
        before = stack.alias()
        stack.proxy.faults.expire_after(after)
        done = stack.deploy("v2", *UPDATE_FLAGS)
        run.faults = Counter(stack.proxy.faults.counts)
        stack.proxy.faults.reset()
        alias = stack.alias()
        if done.code == 0:
            run.intended = stack.intended("v2")
            run.check(run.intended, f"the deploy succeeded but the state is not the intended one: {stack.state()}")
        else:
            _one_line(run, done, "ExpiredToken", "expired")
            run.alias_wrong = (alias["FunctionVersion"], _weights(alias), alias.get("Description")) != \
                (good, {}, before.get("Description"))
            run.check(not run.alias_wrong, f"the alias changed: {alias}")
            rerun = stack.deploy("v2", *UPDATE_FLAGS)
            run.check(rerun.code == 0, f"the rerun failed: {rerun.last_line}")
            run.intended = stack.intended("v2")
            run.check(run.intended, f"the rerun did not converge: {stack.state()}")
        stack.scan(run)
    return run


@contextmanager
def running_stack() -> Iterator[Stack]:
    with ExitStack() as stack:
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="reliability-")))
        moto = stack.enter_context(moto_server())
        proxy = stack.enter_context(lambda_proxy(moto.url))
        issuer = stack.enter_context(oidc_issuer())
        yield Stack(moto, proxy, issuer, root)


def all_runs(stack: Stack, runs: int, first_seed: int = 0) -> Iterator[Run]:
    """Every scenario: `runs` seeds of the transient and race ones, every kill step (applied or not, and
    in a canary), every permanent fault, the session expiring at each call of a deploy."""
    reference = clean_state(stack)
    for seed in range(first_seed, first_seed + runs):
        yield transient(stack, seed, reference)
    for operation, nth in KILL_STEPS:
        for applied in (False, True):
            yield kill(stack, operation, nth, applied)
    for applied in (False, True):
        yield kill(stack, "UpdateAlias", 2, applied, canary=True)
    for operation in PERMANENT_STEPS:
        yield permanent(stack, operation)
    yield permanent(stack, "UpdateAlias", canary=True)
    for seed in range(first_seed, first_seed + runs):
        yield race(stack, seed)
    for after in range(0, 16, 2):  # a deploy makes about 14 control-plane calls, STS's included
        yield expired(stack, after)


def bad_input_figures(examples: int, seed: int) -> tuple[int, int, list[str]]:
    """tests/stack/bad_inputs.py's sweep (tried, reached AWS, failures); should it break, its pytest file
    with LAMBDA_CI_PROPERTY_EXAMPLES, whose tally line is read back."""
    from tests.stack import bad_inputs

    try:
        tally = bad_inputs.sweep(examples, seed)
        return tally.tried, tally.reached_aws, list(tally.failures)
    except Exception as error:  # noqa: BLE001 (reported, then the fallback)
        print(f"bad inputs: the sweep broke ({type(error).__name__}: {error}); running its tests instead",
              flush=True)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
                           "tests/unit/test_bad_input_properties.py"], capture_output=True, text=True,
                          env={**os.environ, "LAMBDA_CI_PROPERTY_EXAMPLES": str(examples),
                               "LAMBDA_CI_PROPERTY_RANDOM": "1"})
    found = [line for line in done.stdout.splitlines() if line.startswith("bad inputs tried:")]
    failed = [line for line in done.stdout.splitlines() if line.startswith("FAILED")]
    if not found:
        return 0, 0, [f"no tally from the bad input tests: {done.stdout[-300:]}"]
    numbers = [int(n) for n in re.findall(r"\d+", found[-1])]
    return numbers[0], numbers[1], failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=environ_runs(10), help="seeds of the seeded scenarios")
    parser.add_argument("--bad-input-examples", type=int, default=15,
                        help="examples per bad input family (124 families, about 0.1 s an example)")
    # A new seed each time, so that every run tries values no earlier run tried (make test's are fixed).
    parser.add_argument("--bad-input-seed", type=int, default=random.randrange(2**32),
                        help="hypothesis seed of the sweep (printed, to replay a failure)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    results: list[Run] = []
    with running_stack() as stack:
        for run in all_runs(stack, args.runs):
            results.append(run)
            mark = "ok" if not run.problems else "FAILED"
            print(f"  {mark:6} {run.scenario} ({run.seconds:.1f}s)", flush=True)
            for problem in run.problems:
                print(f"         {problem}", flush=True)
    faults: Counter[str] = Counter()
    for run in results:
        faults.update(run.faults)
    failed = [run for run in results if run.problems]
    print()
    print(f"runs: {len(results)} ({len(failed)} failed) in {time.monotonic() - started:.0f}s")
    print("faults injected: " + ", ".join(f"{kind} {count}" for kind, count in sorted(faults.items())))
    print(f"deploys that ended in the intended state: {sum(r.intended for r in results)} of {len(results)}")
    print(f"runs where the alias was ever left wrong (must be 0): {sum(r.alias_wrong for r in results)}")
    print(f"  (kills mid-canary that left the split to the rerun, which ended it: "
          f"{sum(r.split_by_kill for r in results)})")
    print(f"secrets found in logs (must be 0): {sum(r.secrets_found for r in results)}", flush=True)
    tried, reached, failures = bad_input_figures(args.bad_input_examples, args.bad_input_seed)
    print(f"bad inputs tried: {tried} (--bad-input-seed {args.bad_input_seed}); reached AWS (must be 0): "
          f"{reached}; other failures: {len(failures)}")
    for failure in failures[:10]:
        print(f"  {failure}")
    tally_bad = reached or failures or not tried
    bad = failed or tally_bad or any(r.alias_wrong or r.secrets_found for r in results)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
