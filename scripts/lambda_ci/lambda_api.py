"""What deploy and rollback share about talking to Lambda: where the session comes from, retries of
ResourceConflictException, waiters, and AWS errors as one line."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from lambda_ci import aws, oidc
from lambda_ci.errors import OperationFailed

CONFLICT_ATTEMPTS = 8
BACKOFF_BASE = 0.5
BACKOFF_CAP = 10.0


def session(settings: Mapping[str, Any]) -> boto3.Session:
    """The one place deploy and rollback get AWS credentials from: the role assumed with the job's ID
    token when role_arn is set (oidc-auth's code path, refreshed in-process), else the job's own."""
    return oidc.session(settings)


# The settings that decide whose credentials a client carries.
_IDENTITY = ("role_arn", "aws_region", "audience", "session_duration", "session_name")


class Clients:
    """The AWS clients of one command, built once per identity and service. `--functions` shares one
    instance across its threads: boto3 clients are thread-safe (sessions are not), and each costs tens of
    milliseconds to build and, with a role, an STS call."""

    def __init__(self) -> None:
        self._built: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.Lock()

    def get(self, service: str, settings: Mapping[str, Any]) -> Any:
        identity = tuple(str(settings.get(key, "")) for key in _IDENTITY)
        with self._lock:
            if identity not in self._built:
                self._built[identity] = session(settings)
            if (identity, service) not in self._built:
                self._built[identity, service] = aws.client(service, boto_session=self._built[identity])
            return self._built[identity, service]


def error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def describe(error: BaseException) -> str:
    if isinstance(error, ClientError):
        detail = error.response.get("Error", {})
        text = f"{detail.get('Code')}: {detail.get('Message')}"
        if error_code(error) == "PreconditionFailedException" or "different from current CodeSHA256" in text:
            text += " (the function or alias was changed by someone else meanwhile: another deploy? run the job again)"
        elif error_code(error) in ("ExpiredTokenException", "ExpiredToken"):
            text += " (the job's AWS session expired or was revoked during the deploy: run the job again)"
        return text
    return str(error)


def already_exists(error: ClientError) -> bool:
    """A ResourceConflictException that says the thing exists: no waiting will cure it."""
    return error_code(error) == "ResourceConflictException" and "already exist" in describe(error).lower()


def call(method: Callable[..., Any], **kwargs: Any) -> Any:
    """Lambda refuses a change while another is in progress (ResourceConflictException), which botocore
    does not retry: wait with full-jitter backoff and try again, a bounded number of times."""
    for attempt in range(CONFLICT_ATTEMPTS):
        try:
            return method(**kwargs)
        except ClientError as error:
            if (error_code(error) != "ResourceConflictException" or already_exists(error)
                    or attempt == CONFLICT_ATTEMPTS - 1):
                raise
            time.sleep(random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt)))
    raise AssertionError("unreachable")


def call_landed(method: Callable[..., Any], landed: Callable[[], Any], **kwargs: Any) -> Any:
    """call(), for a change guarded by RevisionId (or one that creates): when its answer was lost (a read
    timeout, a reset connection) botocore sends it again, and the retry is refused, with
    PreconditionFailedException or "already exists", because the first attempt was made. `landed()` reads
    what AWS holds and returns it when it is the change asked for (None otherwise): that counts as done."""
    try:
        return call(method, **kwargs)
    except ClientError as error:
        if error_code(error) != "PreconditionFailedException" and not already_exists(error):
            raise
        made = landed()
        if made is None:
            raise
        return made


def get_or_none(method: Callable[..., Any], **kwargs: Any) -> Any:
    """The answer, or None when the resource does not exist."""
    try:
        return method(**kwargs)
    except ClientError as error:
        if error_code(error) in ("ResourceNotFoundException", "404", "NoSuchKey", "NotFound"):
            return None
        raise


@contextmanager
def failing(action: str) -> Iterator[None]:
    """AWS errors as one line naming what was being done (exit 1), never a traceback."""
    try:
        yield
    except (ClientError, BotoCoreError) as error:
        raise OperationFailed(f"{action}: {describe(error)}") from None


def guard(config: Mapping[str, Any]) -> dict[str, str]:
    """RevisionId, so that a change made by someone else since we read the function fails instead of
    being overwritten (moto does not return one; real Lambda always does)."""
    return {"RevisionId": config["RevisionId"]} if config.get("RevisionId") else {}


def wait(lam: Any, waiter: str, name: str, qualifier: str = "") -> dict[str, Any]:
    """Wait for an update (or creation, or publication) to finish, then return the configuration, whose
    RevisionId the next change is guarded with. A Failed status stops with Lambda's reason."""
    target = {"FunctionName": name, **({"Qualifier": qualifier} if qualifier else {})}
    try:
        lam.get_waiter(waiter).wait(**target, WaiterConfig={"Delay": 1, "MaxAttempts": 600})
    except WaiterError as error:
        answer = error.last_response or {}
        config = answer.get("Configuration", answer)
        where = name + (f":{qualifier}" if qualifier else "")
        if "Failed" in (config.get("LastUpdateStatus"), config.get("State")):
            reason = config.get("LastUpdateStatusReason") or config.get("StateReason")
            raise OperationFailed(f"{where}: Lambda reports Failed: {reason}") from None
        raise OperationFailed(f"{where}: {error.kwargs.get('reason')}") from None
    return lam.get_function_configuration(**target)
