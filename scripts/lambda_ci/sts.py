"""STS for the job's role: AssumeRoleWithWebIdentity, then GetCallerIdentity with what it returned.

Only failures that another attempt can cure are retried (the identity provider or STS busy or
unreachable), with jittered backoff inside a total time bound; a refusal fails at once, explained as
its likely cause and fix. No line carries the ID token or a key: errors are reduced to STS's code and
message, with the token's text removed should a message ever echo it.
"""

from __future__ import annotations

import dataclasses
import random
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import botocore.session
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from lambda_ci import aws
from lambda_ci.credentials import Credentials, check_account
from lambda_ci.errors import OperationFailed
from lambda_ci.idtoken import IdToken

T = TypeVar("T")

RETRY_CODES = frozenset({
    "IDPCommunicationError",  # STS could not reach the issuer's keys this time
    "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException",
    "ServiceUnavailable", "InternalFailure", "InternalError", "RequestTimeout",
})
BUDGET = 60.0  # seconds for all attempts of one call: a job should fail, not hang, when STS is down
FIRST_DELAY, MAX_DELAY = 1.0, 15.0

# Our own retries replace botocore's, which would also retry what we classify as final.
_CONFIG = Config(retries={"total_max_attempts": 1}, connect_timeout=10, read_timeout=30)


def botocore_session() -> botocore.session.Session:
    """The standard botocore session, except that an AWS_PROFILE naming a profile not written yet (the
    template sets AWS_PROFILE=lambda-ci before `lambda-ci auth` writes it) is ignored, not fatal."""
    session = botocore.session.get_session()
    if session.profile not in session.available_profiles:
        session.get_component("config_store").set_config_variable("profile", None)
    return session


def _client(region: str, config: Config, **credentials: str):
    session = botocore_session()
    # The region's own endpoint, not the global one (older botocore defaulted to that);
    # AWS_ENDPOINT_URL still wins, which is how moto and proxies are reached.
    session.set_config_variable("sts_regional_endpoints", "regional")
    return session.create_client("sts", region_name=region, config=aws.with_read_timeout(config), **credentials)


def unsigned_client(region: str):
    """For AssumeRoleWithWebIdentity, which needs no credentials: looking for ambient ones could
    start `lambda-ci auth process` from inside itself."""
    return _client(region, _CONFIG.merge(Config(signature_version=UNSIGNED)))


def client(region: str, credentials: Credentials | None = None):
    """Signed with the given credentials, or with the job's own (the standard chain) when None."""
    if credentials is None:
        return _client(region, _CONFIG)
    return _client(region, _CONFIG, aws_access_key_id=credentials.access_key_id,
                   aws_secret_access_key=credentials.secret_access_key,
                   aws_session_token=credentials.session_token)


def describe(error: Exception) -> tuple[str, str]:
    """(code, message) of a botocore error, on one line: only what STS or the network said, never the
    request."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code, message = str(details.get("Code", "Unknown")), str(details.get("Message", ""))
    else:
        code, message = type(error).__name__, str(error)
    return code, message.replace("\n", " ")


def retryable(error: Exception) -> bool:
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return describe(error)[0] in RETRY_CODES or status >= 500 or status == 429
    return isinstance(error, BotoConnectionError | HTTPClientError)


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _notify(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def call(operation: Callable[[], T], explain: Callable[[Exception], str], secrets: Sequence[str] = (), *,
         budget: float = BUDGET, sleep: Callable[[float], None] = time.sleep,
         clock: Callable[[], float] = time.monotonic, rand: Callable[[], float] = random.random,
         notify: Callable[[str], None] = _notify) -> T:
    """operation(), retried while retryable and within budget; OperationFailed(explain(error)) otherwise."""
    started = clock()
    attempt = 1
    while True:
        try:
            return operation()
        except (ClientError, BotoCoreError) as error:
            elapsed = clock() - started
            # Exponential, with half of it random so that parallel jobs do not retry in step.
            delay = min(MAX_DELAY, FIRST_DELAY * 2 ** (attempt - 1)) * (0.5 + rand() / 2)
            if not retryable(error):
                raise OperationFailed(redact(explain(error), secrets)) from None
            if elapsed + delay > budget:
                gave_up = f" (gave up after {attempt} attempts in {elapsed:.0f} s)"
                raise OperationFailed(redact(explain(error), secrets) + gave_up) from None
            code, message = describe(error)
            notify(redact(f"STS: {code}: {message}; retrying in {delay:.1f} s", secrets))
            sleep(delay)
            attempt += 1


def explain_assume(error: Exception, token: IdToken, role_arn: str, duration: int) -> str:
    """STS's refusal as its likely cause and the fix."""
    code, message = describe(error)
    said = f"({code}: {message})"
    lowered = message.lower()
    host = token.iss.removeprefix("https://")
    if code == "AccessDenied":
        return (f"STS refused to let this job assume {role_arn} {said}: the role's trust policy does not "
                f"match the token; compare its `{host}:sub` and `{host}:aud` conditions with the token's "
                f"sub `{token.sub}` and aud `{token.aud}`")
    if code == "IDPCommunicationError" or "verification key" in lowered:
        return (f"STS could not fetch the signing keys of {token.iss} {said}: IAM must reach the GitLab "
                f"instance from the internet ({token.iss}/oauth/discovery/keys); a private instance cannot "
                "be used this way")
    if code == "InvalidIdentityToken" and "no openidconnect provider" in lowered:
        return (f"the role's account has no IAM OIDC provider for the token's issuer {token.iss} {said}: "
                "create one with exactly that URL (`lambda-ci bootstrap` does)")
    if code == "InvalidIdentityToken" and "audience" in lowered:
        return (f"the IAM OIDC provider for {token.iss} does not list the token's aud `{token.aud}` as a "
                f"client ID {said}: add it there, or set the `audience` input to one it lists")
    if code == "ValidationError" and "durationseconds" in lowered:
        return (f"the `session_duration` input ({duration} s) is above the maximum session duration of "
                f"{role_arn} {said}: lower session_duration, or raise the role's MaxSessionDuration")
    if isinstance(error, BotoConnectionError | HTTPClientError):
        return (f"STS did not answer {said}: check the runner's network (proxy, firewall, DNS) and "
                "AWS_ENDPOINT_URL")
    if code == "ExpiredTokenException":
        return (f"STS says the ID token has expired {said}: retry the job; if it persists, check the "
                "runner's clock")
    return f"AssumeRoleWithWebIdentity failed {said}"


def check_identity(sts_client, allowed_account_ids: Sequence[str], secrets: Sequence[str] = (),
                   **retry: Any) -> Mapping[str, Any]:
    """GetCallerIdentity: proves the credentials work and tells whose they are."""
    def explain(error: Exception) -> str:
        return "GetCallerIdentity failed ({}: {})".format(*describe(error))

    identity = call(sts_client.get_caller_identity, explain, secrets, **retry)
    check_account(identity["Account"], allowed_account_ids)
    return identity


def assume(token: IdToken, role_arn: str, session_name: str, duration: int, region: str,
           allowed_account_ids: Sequence[str] = (), *, sts_client=None, **retry: Any) -> Credentials:
    sts_client = sts_client or unsigned_client(region)
    answer = call(lambda: sts_client.assume_role_with_web_identity(
                      RoleArn=role_arn, RoleSessionName=session_name, WebIdentityToken=token.raw,
                      DurationSeconds=duration),
                  lambda error: explain_assume(error, token, role_arn, duration), [token.raw], **retry)
    issued = Credentials.from_sts(answer["Credentials"])
    secrets = [token.raw, *issued.secrets]
    identity = check_identity(client(region, issued), allowed_account_ids, secrets, **retry)
    return dataclasses.replace(issued, account_id=identity["Account"], arn=identity["Arn"])
