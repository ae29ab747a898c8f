"""The deploy guarantees under faults (issue 6), bounded for CI: each scenario of tests/stack/reliability.py
with LAMBDA_CI_RELIABILITY_RUNS seeds (default 1; `make reliability` runs many more), `lambda-ci deploy` a
real process behind the fault-injecting proxy, AWS state read from moto directly. Then the regression
tests of the bugs the suite found, in-process for speed.
"""

from __future__ import annotations

import signal
import time

import boto3
import pytest

from tests.integration.test_deploy import NAME, code_sha256, deploy, make_package, routing
from tests.stack import reliability
from tests.stack.reliability import Stack

RUNS = reliability.environ_runs(1)


@pytest.fixture(scope="module")
def stack(moto, issuer, tmp_path_factory):
    from tests.stack.lambda_proxy import lambda_proxy

    with lambda_proxy(moto.url) as proxy:
        yield Stack(moto, proxy, issuer, tmp_path_factory.mktemp("reliability"))


@pytest.fixture(scope="module")
def reference(stack):
    return reliability.clean_state(stack)


def passed(run: reliability.Run) -> bool:
    assert run.problems == [], run.scenario
    assert not run.alias_wrong and run.secrets_found == 0
    return True


@pytest.mark.parametrize("seed", range(RUNS))
def test_transient_faults_at_30_percent_end_as_a_clean_run(stack, reference, seed):
    run = reliability.transient(stack, seed, reference)
    assert passed(run) and run.intended
    assert sum(run.faults.values()) > 0


# CI tries each step once, the change either made or not by AWS (alternating with the seed); make reliability
# tries both at every step.
@pytest.mark.parametrize(("operation", "nth"), reliability.KILL_STEPS)
def test_kill_at_each_step_leaves_the_alias_whole_and_a_rerun_converges(stack, operation, nth):
    applied = (reliability.KILL_STEPS.index((operation, nth)) + RUNS) % 2 == 1
    run = reliability.kill(stack, operation, nth, applied)
    assert passed(run) and run.intended


@pytest.mark.parametrize("applied", [False, True])
def test_kill_mid_canary_is_ended_by_the_rerun(stack, applied):
    """SIGKILL cannot be caught: killed while moving the alias from the split, the split stays (applied:
    False) until the rerun, whose plan sees it, finds the version of $LATEST and ends the split on it."""
    run = reliability.kill(stack, "UpdateAlias", 2, applied, canary=True)
    assert passed(run) and run.intended
    assert run.split_by_kill is not applied


# CI: two of the steps (make reliability: all of them).
@pytest.mark.parametrize("operation", reliability.PERMANENT_STEPS[RUNS % 2::2])
def test_permanent_fault_fails_in_one_line_and_leaves_the_alias(stack, operation):
    assert passed(reliability.permanent(stack, operation))


def test_permanent_fault_on_the_last_canary_step_puts_the_alias_back(stack):
    assert passed(reliability.permanent(stack, "UpdateAlias", canary=True))


@pytest.mark.parametrize("seed", range(RUNS))
def test_two_deploys_at_once_end_on_one_code_and_the_loser_says_why(stack, seed):
    assert passed(reliability.race(stack, seed))


@pytest.mark.parametrize("after", [1, 6])
def test_session_expired_mid_deploy_fails_in_one_line_alias_untouched(stack, after):
    assert passed(reliability.expired(stack, after))


# --- regressions of the bugs the suite found --------------------------------------------------------------


def test_a_release_overtaken_by_another_deploy_fails_instead_of_overwriting_it(stack):
    """Bug: UpdateAlias carried no RevisionId, so a deploy whose alias move came after another deploy's
    release silently put its own version back on top (both succeeded; the other's release vanished), and a
    deploy that failed put the alias back on its old version over the other's release."""
    stack.reset()
    stack.last_good()
    hold = stack.proxy.faults.hold("UpdateAlias", 1, applied=False)
    # A read timeout longer than the hold: the first deploy's move is retried only once the hold drops it.
    first, first_folder = stack.start("v2a", *reliability.UPDATE_FLAGS, read_timeout=60)
    assert hold.arrived.wait(reliability.DEPLOY_TIMEOUT)
    # While the first deploy's alias move is on its way, a second deploy releases its code entirely.
    second = stack.deploy("v2b", *reliability.UPDATE_FLAGS)
    assert second.code == 0, second.err
    hold.released.set()  # the first move is lost; botocore sends it again, with the RevisionId read at the start
    first_done = stack.finish(first, first_folder)
    stack.proxy.faults.reset()

    assert first_done.code == 1
    assert first_done.last_line.startswith("lambda-ci deploy: PreconditionFailedException")
    assert "moved by someone else meanwhile and is left as they set it" in first_done.last_line
    alias = stack.alias()
    assert routing(alias) == {} and stack.code_of(alias["FunctionVersion"]) == stack.sha("v2b")
    assert alias["FunctionVersion"] == second.report["LAMBDA_VERSION"]


def test_rollback_does_not_undo_a_release_it_did_not_see(stack, aws, monkeypatch, capsys):
    """rollback's alias move is guarded too: read, then someone moves the alias, then the move fails."""
    from lambda_ci import cli, release

    stack.reset()
    stack.last_good()
    lam = stack.via_proxy
    lam.update_function_code(FunctionName=NAME, ZipFile=stack.packages["v2"].read_bytes())
    lam.get_waiter("function_updated_v2").wait(FunctionName=NAME, WaiterConfig={"Delay": 0.1})
    new = lam.publish_version(FunctionName=NAME)["Version"]
    lam.update_alias(FunctionName=NAME, Name="live", FunctionVersion=new, Description="lambda-ci: previous=1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", stack.proxy.url)
    real = release.point_alias

    def overtaken(*args, **kwargs):
        lam.update_alias(FunctionName=NAME, Name="live", FunctionVersion=new, Description="released by hand")
        return real(*args, **kwargs)

    monkeypatch.setattr(release, "point_alias", overtaken)
    assert cli.main(["rollback", "--function-name", NAME]) == 1
    assert "PreconditionFailedException" in capsys.readouterr().err
    alias = stack.alias()
    assert (alias["FunctionVersion"], alias["Description"]) == (new, "released by hand")


@pytest.fixture
def slow_client(proxy, monkeypatch):
    monkeypatch.setenv("LAMBDA_CI_AWS_READ_TIMEOUT", "1")
    proxy.faults.transient(0.0, slow_seconds=1.6)
    return proxy


@pytest.fixture
def exec_role(proxy):
    return boto3.client("iam").create_role(RoleName="exec", AssumeRolePolicyDocument="{}")["Role"]["Arn"]


@pytest.mark.parametrize("operation", ["CreateFunction", "CreateAlias"])
def test_a_create_whose_answer_was_lost_is_not_a_conflict(tmp_path, slow_client, exec_role, operation):
    """Bug: the retry of a create that had landed got "already exists" (ResourceConflictException), which
    lambda-ci retried 8 times, then failed, on a deploy AWS had done."""
    slow_client.faults.inject(operation, "slow")
    package = make_package(tmp_path / "v1")
    assert deploy(package, role=exec_role) == 0
    assert slow_client.faults.counts["slow"] == 1
    lam = boto3.client("lambda")
    assert lam.get_function_configuration(FunctionName=NAME, Qualifier="live")["CodeSha256"] == code_sha256(package)


@pytest.mark.parametrize("operation", ["UpdateFunctionCode", "UpdateFunctionConfiguration", "UpdateAlias",
                                       "PublishVersion"])
def test_a_guarded_change_whose_answer_was_lost_counts_as_made(tmp_path, slow_client, exec_role, operation):
    """Bug: a guarded change whose answer came after the read timeout was sent again by botocore with the
    same RevisionId, which the change itself had made stale: PreconditionFailedException, and a failed deploy
    although AWS held exactly what was asked."""
    assert deploy(make_package(tmp_path / "v1"), role=exec_role) == 0
    slow_client.faults.inject(operation, "slow")
    v2 = make_package(tmp_path / "v2", body="v2")
    started = time.monotonic()
    assert deploy(v2, "--memory-size", "256") == 0
    assert slow_client.faults.counts["slow"] == 1 and time.monotonic() - started < 30
    lam = boto3.client("lambda")
    alias = lam.get_alias(FunctionName=NAME, Name="live")
    config = lam.get_function_configuration(FunctionName=NAME, Qualifier="live")
    assert (alias["FunctionVersion"], routing(alias), config["CodeSha256"], config["MemorySize"]) == \
        ("2", {}, code_sha256(v2), 256)


def test_a_killed_deploy_is_really_killed(stack):
    """The kill scenarios rely on SIGKILL ending the process at once, whatever it is doing."""
    stack.reset()
    stack.last_good()
    process, folder = stack.start("v2", *reliability.UPDATE_FLAGS)
    process.send_signal(signal.SIGKILL)
    assert stack.finish(process, folder).code == -signal.SIGKILL
