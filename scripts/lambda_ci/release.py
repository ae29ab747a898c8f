"""Putting a published version into service: the smoke test, the alias moved all at once or in traffic
steps while alarms are watched, the way back when anything fails, and pruning old versions."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from lambda_ci import gitlab
from lambda_ci.errors import BadInput, OperationFailed
from lambda_ci.lambda_api import call, call_landed, describe, error_code
from lambda_ci.plan import weights as weights_of

ALARM_POLL_SECONDS = 10
# Set when the job is cancelled while releases run in worker threads (deploy --functions): Python raises
# KeyboardInterrupt in the main thread only, so a worker learns of it here, before each traffic step and
# while it waits one out, and stops as an interrupted main thread does (the alias goes back).
CANCELLED = threading.Event()
_PREVIOUS = re.compile(r"lambda-ci: previous=(\d+)")
_NOTHING = object()  # smoke_expect not given (JSON null is a valid expectation)


def record(previous: str | None) -> str:
    """The alias description that tells `rollback` where to go back to."""
    return f"lambda-ci: previous={previous or 'none'}"


def recorded_previous(alias: Mapping[str, Any]) -> str | None:
    found = _PREVIOUS.search(alias.get("Description") or "")
    return found.group(1) if found else None


@dataclass(frozen=True)
class Rollout:
    strategy: str
    percent: int
    interval: int
    alarms: list[str]
    payload: bytes | None  # smoke test event; None skips the smoke test
    expect: Any = _NOTHING

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Rollout:
        """Checked before any AWS call: a smoke test that cannot run must not be found out mid-rollout."""
        payload = _json_input("smoke_payload", settings["smoke_payload"])
        expect = _json_input("smoke_expect", settings["smoke_expect"])
        if expect is not _NOTHING and payload is _NOTHING:
            raise BadInput("`smoke_payload` input: required with smoke_expect")
        return cls(
            strategy=settings["strategy"],
            percent=settings["canary_percent"],
            interval=settings["interval_seconds"],
            alarms=list(settings["alarms"]),
            payload=None if payload is _NOTHING else json.dumps(payload).encode(),
            expect=expect,
        )

    def steps(self) -> list[float]:
        """Weights of the new version, the last one always 1 (the alias wholly on it)."""
        if self.strategy == "canary":
            return [self.percent / 100, 1.0]
        if self.strategy == "linear":
            return [step / 100 for step in range(self.percent, 100, self.percent)] + [1.0]
        return [1.0]


def _json_input(name: str, text: str) -> Any:
    if not text:
        return _NOTHING
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text()
        except OSError as error:
            raise BadInput(f"`{name}` input: cannot read {text[1:]}: {error.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise BadInput(f"`{name}` input: not valid JSON ({error.msg} at line {error.lineno})") from None


def contains(actual: Any, expected: Any) -> bool:
    """Whether `expected` is a subset of `actual`: objects may have more keys, all else must be equal."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and contains(actual[key], value) for key, value in expected.items())
    if isinstance(expected, list):
        return (isinstance(actual, list) and len(actual) == len(expected)
                and all(contains(a, e) for a, e in zip(actual, expected, strict=True)))
    if isinstance(expected, bool) or isinstance(actual, bool):
        return actual is expected  # JSON true is not 1
    return actual == expected


def move_alias(lam: Any, name: str, alias: str, version: str, description: str, revision: str = "",
               shares: Mapping[str, float] | None = None, exists: bool = True) -> str:
    """The alias on `version`, with `shares` of its traffic routed to others (none: all on `version`),
    in one call; returns its new RevisionId. Given the RevisionId it was read with, the call fails with
    PreconditionFailedException if anyone moved the alias since (another deploy, a rollback): it never
    overwrites a release it has not seen. A retry refused because the first attempt landed is success."""
    args = {"FunctionName": name, "Name": alias, "FunctionVersion": version, "Description": description}
    routing = dict(shares or {})

    def landed() -> Mapping[str, Any] | None:
        now = lam.get_alias(FunctionName=name, Name=alias)
        mine = (now["FunctionVersion"], weights_of(now), now.get("Description", "")) == (version, routing, description)
        return now if mine else None

    if exists:
        guard = {"RevisionId": revision} if revision else {}
        answer = call_landed(lam.update_alias, landed, **args, RoutingConfig={"AdditionalVersionWeights": routing},
                             **guard)
    else:
        answer = call_landed(lam.create_alias, landed, **args,
                             **({"RoutingConfig": {"AdditionalVersionWeights": routing}} if routing else {}))
    return answer.get("RevisionId", "")


def point_alias(lam: Any, name: str, alias: str, version: str, description: str, exists: bool = True,
                revision: str = "") -> str:
    """All traffic of the alias on one version, in one call."""
    return move_alias(lam, name, alias, version, description, revision, exists=exists)


def release(lam: Any, cloudwatch: Any, rollout: Rollout, name: str, alias: Mapping[str, Any] | None,
            alias_name: str, new: str) -> None:
    """Move the alias to `new`. The smoke test runs before any traffic moves; after that, any failure
    (smoke test, alarm, error, interruption) puts the alias back where it was, at full weight."""
    old = alias["FunctionVersion"] if alias else None
    _check_alarms_exist(cloudwatch, rollout.alarms)
    try:
        _smoke_test(lam, name, new, rollout, "before traffic")
    except OperationFailed as error:
        where = f"alias {alias_name} stays on version {old}" if old else f"alias {alias_name} was not created"
        raise OperationFailed(f"{error}; {where}") from None
    # What rollback will go back to; a release that only ends a traffic split keeps the old record.
    description = record(old) if old != new else alias.get("Description", "")
    # Traffic can only be split with an older version; a first release goes all at once.
    shares = rollout.steps()[:-1] if old not in (None, new) else []
    # Every move is guarded by the RevisionId of the alias as this deploy last left it (or read it).
    revision = (alias or {}).get("RevisionId", "")
    moved = False  # whether this deploy has changed the alias: only then is there anything to put back
    try:
        for share in shares:
            _stop_if_cancelled()
            header = f"Alias {alias_name}: {share:.0%} of traffic on version {new} for {rollout.interval}s"
            with gitlab.section(f"alias_{alias_name}_{new}_{round(share * 100)}", header):
                # The alias stays on `old`; the weight routes a share of its invocations to `new`.
                revision = move_alias(lam, name, alias_name, old, description, revision, {new: share})
                moved = True
                _watch(cloudwatch, rollout.alarms, rollout.interval)
                _smoke_test(lam, name, new, rollout, f"at {share:.0%}")
        _stop_if_cancelled()
        with gitlab.section(f"alias_{alias_name}_{new}", f"Alias {alias_name}: all traffic on version {new}"):
            revision = point_alias(lam, name, alias_name, new, description, exists=alias is not None,
                                   revision=revision)
            moved = True
            _check_alarms(cloudwatch, rollout.alarms)
    except BaseException as error:
        if not moved:
            _not_moved(alias, alias_name, error)
            raise
        _go_back(lam, name, alias, alias_name, error, revision)
        raise


def _not_moved(alias: Mapping[str, Any] | None, alias_name: str, error: BaseException) -> None:
    """The release failed before this deploy changed the alias: it stays as it is, whoever set it."""
    if not isinstance(error, Exception):
        return  # an interruption is re-raised as it is
    if isinstance(error, ClientError) and error_code(error) == "PreconditionFailedException":
        raise OperationFailed(f"{describe(error)}; alias {alias_name} was moved by someone else meanwhile and "
                              "is left as they set it") from None
    where = f"alias {alias_name} stays on version {alias['FunctionVersion']}" if alias else \
        f"alias {alias_name} was not created"
    raise OperationFailed(f"{describe(error)}; {where}") from None


def _go_back(lam: Any, name: str, alias: Mapping[str, Any] | None, alias_name: str,
             error: BaseException, revision: str = "") -> None:
    """Put the alias back as it was before the release (its record too), or say why it cannot be. Guarded
    by the RevisionId this deploy left the alias with: a release someone else made since is not undone."""
    if alias is None:
        raise OperationFailed(f"{describe(error)} (first release of alias {alias_name}: there is no "
                              "earlier version to go back to)") from None
    old = alias["FunctionVersion"]
    try:
        point_alias(lam, name, alias_name, old, alias.get("Description", ""), revision=revision)
    except Exception as second:
        raise OperationFailed(f"{describe(error)}; putting alias {alias_name} back on version {old} "
                              f"failed too: {describe(second)}") from None
    if isinstance(error, Exception):  # an interruption is re-raised as it is, the alias back in place
        raise OperationFailed(f"{describe(error)}; alias {alias_name} is back on version {old} "
                              "at full weight") from None


def _smoke_test(lam: Any, name: str, version: str, rollout: Rollout, when: str) -> None:
    if rollout.payload is None:
        return
    key = f"smoke_{version}_{when.replace(' ', '_').rstrip('%')}"
    with gitlab.section(key, f"Smoke test of version {version} {when}", collapsed=True):
        answer = lam.invoke(FunctionName=name, Qualifier=version, Payload=rollout.payload)
        body = answer["Payload"].read().decode(errors="replace")
        print(f"answer: {body[:2000]}")
        if answer.get("FunctionError"):
            raise OperationFailed(f"smoke test of version {version} failed: {answer['FunctionError']} error: "
                                  f"{body[:300]}")
        if rollout.expect is _NOTHING:
            return
        try:
            result = json.loads(body)
        except json.JSONDecodeError:
            raise OperationFailed(f"smoke test of version {version} failed: the answer is not JSON") from None
        if not contains(result, rollout.expect):
            raise OperationFailed(f"smoke test of version {version} failed: the answer does not contain "
                                  f"{json.dumps(rollout.expect)}")


def _check_alarms_exist(cloudwatch: Any, alarms: list[str]) -> None:
    # A misspelt alarm would never fire: better to refuse than to roll out unwatched.
    missing = set(alarms) - set(_alarm_states(cloudwatch, alarms))
    if missing:
        raise OperationFailed(f"alarms not found in CloudWatch: {', '.join(sorted(missing))}")


def _alarm_states(cloudwatch: Any, alarms: list[str]) -> dict[str, str]:
    states: dict[str, str] = {}
    for start in range(0, len(alarms), 100):  # DescribeAlarms takes at most 100 names
        pages = cloudwatch.get_paginator("describe_alarms").paginate(
            AlarmNames=alarms[start:start + 100], AlarmTypes=["MetricAlarm", "CompositeAlarm"])
        for page in pages:
            for alarm in page.get("MetricAlarms", []) + page.get("CompositeAlarms", []):
                states[alarm["AlarmName"]] = alarm["StateValue"]
    return states


def _check_alarms(cloudwatch: Any, alarms: list[str]) -> None:
    if not alarms:
        return
    firing = sorted(name for name, state in _alarm_states(cloudwatch, alarms).items() if state == "ALARM")
    if firing:
        raise OperationFailed(f"alarm in ALARM: {', '.join(firing)}")


def _watch(cloudwatch: Any, alarms: list[str], seconds: int) -> None:
    """Wait out a traffic step, checking the alarms along the way so that one firing stops it early, as a
    cancelled job does."""
    deadline = time.monotonic() + seconds
    while True:
        _check_alarms(cloudwatch, alarms)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        CANCELLED.wait(min(ALARM_POLL_SECONDS, remaining))
        _stop_if_cancelled()


def _stop_if_cancelled() -> None:
    if CANCELLED.is_set():
        raise KeyboardInterrupt


def versions_to_prune(versions: list[str], protected: set[str], keep: int) -> list[str]:
    """The published versions beyond the newest `keep`, except the protected ones."""
    published = sorted((v for v in versions if v.isdigit()), key=int, reverse=True)
    return [v for v in published[keep:] if v not in protected]


def prune(lam: Any, name: str, keep: int) -> list[str]:
    pages = lam.get_paginator("list_versions_by_function").paginate(FunctionName=name)
    versions = [version["Version"] for page in pages for version in page["Versions"]]
    # Never a version an alias points or routes to, nor one an alias records as where rollback goes.
    protected: set[str] = set()
    for page in lam.get_paginator("list_aliases").paginate(FunctionName=name):
        for alias in page["Aliases"]:
            protected.add(alias["FunctionVersion"])
            protected.update((alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {})
            protected.add(recorded_previous(alias) or "")
    doomed = versions_to_prune(versions, protected, keep)
    for version in doomed:
        call(lam.delete_function, FunctionName=name, Qualifier=version)
    return doomed
