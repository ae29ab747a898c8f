"""Retries of ResourceConflictException and waiter failures, with a stand-in for the Lambda client."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, WaiterError

from lambda_ci import lambda_api
from lambda_ci.errors import OperationFailed


def conflict() -> ClientError:
    error = {"Code": "ResourceConflictException", "Message": "update in progress"}
    return ClientError({"Error": error}, "UpdateFunctionConfiguration")


@pytest.fixture
def sleeps(monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(lambda_api.time, "sleep", slept.append)
    return slept


def test_conflicts_are_retried_with_bounded_jittered_backoff(sleeps):
    answers = iter([conflict(), conflict(), {"ok": True}])

    def method(**kwargs):
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return {**answer, **kwargs}

    assert lambda_api.call(method, FunctionName="f") == {"ok": True, "FunctionName": "f"}
    assert len(sleeps) == 2 and 0 <= sleeps[0] <= lambda_api.BACKOFF_BASE
    assert 0 <= sleeps[1] <= 2 * lambda_api.BACKOFF_BASE


def test_conflicts_stop_after_the_last_attempt(sleeps):
    def method():
        raise conflict()

    with pytest.raises(ClientError):
        lambda_api.call(method)
    assert len(sleeps) == lambda_api.CONFLICT_ATTEMPTS - 1
    assert max(sleeps) <= lambda_api.BACKOFF_CAP


def test_other_errors_are_not_retried(sleeps):
    def method():
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "Update")

    expected = pytest.raises(OperationFailed, match="^doing: AccessDeniedException: no$")
    with expected, lambda_api.failing("doing"):
        lambda_api.call(method)
    assert sleeps == []


class FailedUpdate:
    """A Lambda client whose update ends in Failed, as GetFunction reports it."""

    def get_waiter(self, name):
        class Waiter:
            def wait(self, **_):
                reason = "Unzipped size must be smaller than 262144000 bytes"
                answer = {"Configuration": {"LastUpdateStatus": "Failed", "LastUpdateStatusReason": reason}}
                raise WaiterError(name, "Waiter encountered a terminal failure state", answer)
        return Waiter()


def test_a_failed_update_stops_with_lambdas_reason():
    with pytest.raises(OperationFailed, match="^fn: Lambda reports Failed: Unzipped size must be smaller"):
        lambda_api.wait(FailedUpdate(), "function_updated_v2", "fn")
