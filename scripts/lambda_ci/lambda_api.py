"""What deploy and rollback share about talking to Lambda: where the session comes from, retries of
ResourceConflictException, waiters, and AWS errors as one line."""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.credentials import CredentialProvider, CredentialResolver, RefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from lambda_ci import aws, idtoken, oidc, sts
from lambda_ci.errors import OperationFailed

CONFLICT_ATTEMPTS = 8
BACKOFF_BASE = 0.5
BACKOFF_CAP = 10.0


def session(settings: Mapping[str, Any]) -> boto3.Session:
    """The one place deploy and rollback get AWS credentials from. With a role (role_arn, or account_id and
    role_name) they come from the job's ID token through the same checks, STS call and explained errors as
    `lambda-ci auth`, and are refreshed in-process before they expire; without one, the credentials the job
    already has (the standard chain: env keys, AWS_PROFILE, ...)."""
    resolved = oidc.with_defaults(settings)
    target = oidc.role(resolved, os.environ)
    if target is None:
        return aws.session(resolved["aws_region"])

    def fetch() -> dict[str, str]:
        creds = oidc.assume(target, idtoken.load(os.environ, target.audience, oidc.now_utc()))
        oidc.say(oidc.status(creds))
        return {"access_key": creds.access_key_id, "secret_key": creds.secret_access_key,
                "token": creds.session_token, "expiry_time": creds.expiration.isoformat()}

    refreshable = RefreshableCredentials.create_from_metadata(fetch(), fetch, _Given.METHOD)
    botocore_session = sts.botocore_session()
    botocore_session.register_component("credential_provider", CredentialResolver([_Given(refreshable)]))
    return boto3.Session(botocore_session=botocore_session, region_name=target.region)


class _Given(CredentialProvider):
    METHOD = "lambda-ci-web-identity"

    def __init__(self, creds: RefreshableCredentials) -> None:
        super().__init__()
        self._creds = creds

    def load(self) -> RefreshableCredentials:
        return self._creds


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
