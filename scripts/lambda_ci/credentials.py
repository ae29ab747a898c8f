"""Temporary AWS credentials: the credential_process JSON, private files, and the cache that lets a job
that signs thousands of requests call STS once per session instead of once per request."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lambda_ci.errors import OperationFailed

# botocore refreshes credential_process credentials 15 minutes before they expire (and insists at 10),
# so answering with credentials that have less than that left would make every request start
# `auth process` again. Short sessions cannot afford 15 minutes: they keep half their life.
REFRESH_MARGIN = 15 * 60


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)
    expiration: datetime  # timezone-aware
    account_id: str = ""
    arn: str = ""  # the assumed role session, as GetCallerIdentity names it

    @classmethod
    def from_sts(cls, answer: Mapping[str, Any]) -> Credentials:
        return cls(answer["AccessKeyId"], answer["SecretAccessKey"], answer["SessionToken"],
                   answer["Expiration"].astimezone(UTC).replace(microsecond=0))

    @property
    def secrets(self) -> tuple[str, str]:
        return self.secret_access_key, self.session_token

    def process_output(self) -> dict[str, Any]:
        """The credential_process answer, Version 1 (AccountId is optional; newer SDKs use it)."""
        output: dict[str, Any] = {
            "Version": 1,
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret_access_key,
            "SessionToken": self.session_token,
            "Expiration": self.expiration.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if self.account_id:
            output["AccountId"] = self.account_id
        return output

    @classmethod
    def from_cache(cls, data: Mapping[str, Any]) -> Credentials:
        expiration = datetime.fromisoformat(data["Expiration"].replace("Z", "+00:00"))
        return cls(data["AccessKeyId"], data["SecretAccessKey"], data["SessionToken"], expiration,
                   data.get("AccountId", ""), data.get("Arn", ""))

    def to_cache(self) -> dict[str, Any]:
        return {**self.process_output(), "Arn": self.arn}


def refresh_margin(session_duration: int) -> float:
    return min(REFRESH_MARGIN, session_duration / 2)


def private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)  # also when it existed: nobody else on the runner may list or read it
    return path


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, atomically: a reader never sees half of it, and the
    secret is never in a file with wider permissions, whatever the umask."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as f:
        f.write(text)
    os.replace(temporary, path)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    # Tools such as terraform start several credential processes at once; one of them calls STS.
    descriptor = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def _read(path: Path, key: Mapping[str, Any]) -> Credentials | None:
    try:
        cached = json.loads(path.read_text())
        if cached.get("key") != dict(key):
            return None  # another role, region or session: never hand out someone else's credentials
        return Credentials.from_cache(cached["credentials"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # no cache, or one we cannot read: ask STS


def cached(path: Path, key: Mapping[str, Any], fetch: Callable[[], Credentials], margin: float,
           now: Callable[[], datetime]) -> Credentials:
    """The credentials cached at path for key while more than margin seconds remain; else fetch() them
    and cache them (mode 0600)."""
    with _locked(path):
        found = _read(path, key)
        if found and (found.expiration - now()).total_seconds() > margin:
            return found
        fresh = fetch()
        write_private(path, json.dumps({"key": dict(key), "credentials": fresh.to_cache()}))
        return fresh


def check_account(account: str, allowed_account_ids: Sequence[str]) -> None:
    if allowed_account_ids and account not in allowed_account_ids:
        raise OperationFailed(f"the credentials are for account {account}, which the `allowed_account_ids` "
                              f"input does not list ({', '.join(allowed_account_ids)})")
