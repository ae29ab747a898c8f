"""`lambda-ci auth` without AWS: the token's pre-flight lines, names and ARNs, retry classification and
STS's explained answers (botocore's Stubber), the credential cache on a clock the test controls, and
what each mode writes and prints (STS replaced by a stand-in)."""

from __future__ import annotations

import base64
import io
import json
import shlex
import stat
import sys
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ParamValidationError, ReadTimeoutError
from botocore.stub import Stubber

from lambda_ci import cli, credentials, idtoken, oidc, sts
from lambda_ci.credentials import Credentials
from lambda_ci.errors import BadInput, OperationFailed

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
T = int(NOW.timestamp())
ISS = "https://gitlab.example.com"
SUB = "project_path:acme/orders:ref_type:branch:ref:main"
ROLE = "arn:aws:iam::111122223333:role/gitlab-deploy"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(**overrides) -> str:
    """A GitLab-shaped ID token, signed by nobody: the pre-flight never checks signatures."""
    claims = {"iss": ISS, "sub": SUB, "aud": "sts.amazonaws.com", "iat": T, "nbf": T - 5, "exp": T + 3600,
              **overrides}
    claims = {name: value for name, value in claims.items() if value is not None}
    header = _b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(claims).encode())}.c2lnbmF0dXJl"


def load(token: str | None, audience: str = "sts.amazonaws.com", **environ: str) -> idtoken.IdToken:
    if token is not None:
        environ["GITLAB_AWS_IDENTITY_TOKEN"] = token
    return idtoken.load(environ, audience, NOW)


# --- the ID token's pre-flight ---------------------------------------------------------------------------

SNIPPET = "  id_tokens:\n    GITLAB_AWS_IDENTITY_TOKEN:\n      aud: sts.amazonaws.com"


def test_missing_token_prints_the_id_tokens_snippet():
    with pytest.raises(BadInput) as caught:
        load(None)
    assert str(caught.value) == (
        "GITLAB_AWS_IDENTITY_TOKEN is not set: the job needs an ID token, add to it:\n" + SNIPPET)


def test_missing_token_with_a_deprecated_variable_says_it_was_removed():
    with pytest.raises(BadInput) as caught:
        load("", CI_JOB_JWT_V2="x.y.z")
    assert str(caught.value).splitlines()[0] == (
        "GITLAB_AWS_IDENTITY_TOKEN is not set (CI_JOB_JWT_V2 was removed in GitLab 17.0): the job needs an "
        "ID token, add to it:")


@pytest.mark.parametrize(("token", "line"), [
    ("not-a-jwt",
     "GITLAB_AWS_IDENTITY_TOKEN is malformed: a JWT has 3 dot-separated parts, this value has 1"),
    ("a.%%%.c", "GITLAB_AWS_IDENTITY_TOKEN is malformed: its payload is not base64url-encoded JSON"),
    (f"a.{_b64(b'[1, 2]')}.c", "GITLAB_AWS_IDENTITY_TOKEN is malformed: its payload is not a JSON object"),
    (jwt(exp=None), "GITLAB_AWS_IDENTITY_TOKEN is malformed: it has no `exp` claim"),
    (jwt(exp="soon"), "GITLAB_AWS_IDENTITY_TOKEN is malformed: its `exp` claim is not a number"),
])
def test_malformed_token(token, line):
    with pytest.raises(BadInput) as caught:
        load(token)
    assert str(caught.value) == line


@pytest.mark.parametrize(("claims", "line"), [
    ({"exp": T - 42},
     "GITLAB_AWS_IDENTITY_TOKEN expired at 2024-05-01T11:59:18Z, 42 s ago: GitLab issues it when the job "
     "starts and it lasts the job's timeout; retry the job"),
    ({"exp": T + 30},
     "GITLAB_AWS_IDENTITY_TOKEN expires at 2024-05-01T12:00:30Z, in 30 s: too late to use (less than 60 s "
     "left); retry the job"),
    # Not yet valid: the line points at the runner's clock.
    ({"nbf": T + 120},
     "GITLAB_AWS_IDENTITY_TOKEN is not valid before 2024-05-01T12:02:00Z, 120 s from now: this runner's "
     "clock is behind GitLab's; synchronize it (NTP)"),
], ids=["expired", "about to expire", "not yet valid"])
def test_token_outside_its_lifetime(claims, line):
    with pytest.raises(BadInput) as caught:
        load(jwt(**claims))
    assert str(caught.value) == line


def test_a_few_seconds_of_skew_are_tolerated():
    assert load(jwt(nbf=T + idtoken.CLOCK_LEEWAY)).sub == SUB


def test_wrong_audience():
    with pytest.raises(BadInput) as caught:
        load(jwt(aud="https://gitlab.example.com"))
    assert str(caught.value) == (
        "GITLAB_AWS_IDENTITY_TOKEN has aud `https://gitlab.example.com`, but the `audience` input is "
        "`sts.amazonaws.com`: make them the same (id_tokens: GITLAB_AWS_IDENTITY_TOKEN: aud: "
        "sts.amazonaws.com, or audience: https://gitlab.example.com)")


def test_a_valid_token_is_decoded():
    token = load(jwt(aud=["other", "sts.amazonaws.com"]))
    assert (token.iss, token.sub, token.aud) == (ISS, SUB, "other,sts.amazonaws.com")
    assert token.raw not in repr(token) and token.raw not in token.summary()


# --- session names and role ARNs --------------------------------------------------------------------------

NAME_RULE = r"^[\w+=,.@-]{2,64}$"


def test_session_name_from_project_pipeline_and_job():
    environ = {"CI_PROJECT_PATH_SLUG": "acme-orders-api", "CI_PIPELINE_ID": "1234", "CI_JOB_ID": "5678"}
    assert oidc.session_name(environ) == "acme-orders-api-1234-5678"


def test_a_long_slug_is_cut_and_the_job_id_survives():
    environ = {"CI_PROJECT_PATH_SLUG": "g" * 100, "CI_PIPELINE_ID": "1234567890", "CI_JOB_ID": "9876543210"}
    name = oidc.session_name(environ)
    assert len(name) == 64 and name.endswith("-1234567890-9876543210") and name.startswith("g" * 42)


def test_session_name_is_cleaned_to_the_sts_alphabet():
    name = oidc.session_name({"CI_PROJECT_PATH_SLUG": "gr\u00fcn/app x", "CI_JOB_ID": "7"})
    assert name == "gr-n-app-x-7"


def test_session_name_outside_gitlab():
    assert oidc.session_name({}) == "lambda-ci"


def test_an_explicit_session_name_wins():
    settings = oidc.with_defaults({"role_arn": ROLE, "aws_region": "us-east-1", "session_name": "mine"})
    assert oidc.role(settings, {"CI_JOB_ID": "7"}).session_name == "mine"


@pytest.mark.parametrize(("region", "arn"), [
    ("eu-west-1", "arn:aws:iam::111122223333:role/ci/deploy"),
    ("cn-north-1", "arn:aws-cn:iam::111122223333:role/ci/deploy"),
    ("us-gov-west-1", "arn:aws-us-gov:iam::111122223333:role/ci/deploy"),
])
def test_role_arn_from_account_and_name_in_the_region_partition(region, arn):
    settings = oidc.with_defaults({"account_id": "111122223333", "role_name": "/ci/deploy"})
    assert oidc.role_arn(settings, region) == arn


def test_role_arn_in_another_partition_than_the_region():
    settings = oidc.with_defaults({"role_arn": "arn:aws-cn:iam::111122223333:role/deploy"})
    with pytest.raises(BadInput) as caught:
        oidc.role_arn(settings, "eu-west-1")
    assert str(caught.value) == (
        "`role_arn` input: the role is in partition aws-cn, but region eu-west-1 is in aws: set aws_region "
        "to a region of aws-cn")


def test_no_role_configured():
    assert oidc.role(oidc.with_defaults({"aws_region": "us-east-1"}), {}) is None


# --- retries and STS's answers ----------------------------------------------------------------------------

def client_error(code: str, status: int = 400, message: str = "") -> ClientError:
    response = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "AssumeRoleWithWebIdentity")


@pytest.mark.parametrize("error", [
    client_error("IDPCommunicationError"), client_error("Throttling"), client_error("InternalFailure", 500),
    client_error("Whatever", 503), EndpointConnectionError(endpoint_url="https://sts.us-east-1.amazonaws.com"),
    ReadTimeoutError(endpoint_url="https://sts.us-east-1.amazonaws.com"),
])
def test_retried(error):
    assert sts.retryable(error)


@pytest.mark.parametrize("error", [
    client_error("AccessDenied", 403), client_error("InvalidIdentityToken"), client_error("ValidationError"),
    client_error("ExpiredTokenException"), ParamValidationError(report="bad"),
])
def test_not_retried(error):
    assert not sts.retryable(error)


class Clock:
    """time.monotonic and time.sleep for call(): sleeping moves the clock."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def retry_options(clock: Clock, notes: list[str], budget: float = sts.BUDGET) -> dict:
    return {"sleep": clock.sleep, "clock": clock, "rand": lambda: 0.0, "notify": notes.append,
            "budget": budget}


def failing(*errors: Exception):
    queue = list(errors)

    def operation():
        if queue:
            raise queue.pop(0)
        return "done"

    return operation


def test_retryable_errors_are_retried_with_backoff():
    clock, notes = Clock(), []
    result = sts.call(failing(client_error("Throttling", message="Rate exceeded"), client_error("", 502)),
                      str, **retry_options(clock, notes))
    assert result == "done"
    assert clock.sleeps == [0.5, 1.0]  # half of 1 s, then of 2 s, with the random half at 0
    assert notes[0] == "STS: Throttling: Rate exceeded; retrying in 0.5 s"


def test_retries_stop_at_the_time_bound():
    clock, notes = Clock(), []
    with pytest.raises(OperationFailed) as caught:
        sts.call(failing(*[client_error("Throttling")] * 20), lambda error: "explained",
                 **retry_options(clock, notes, budget=10))
    assert str(caught.value) == "explained (gave up after 5 attempts in 8 s)"
    assert clock.now <= 10


def test_a_refusal_is_not_retried():
    clock, notes = Clock(), []
    with pytest.raises(OperationFailed):
        sts.call(failing(client_error("AccessDenied", 403)), str, **retry_options(clock, notes))
    assert clock.sleeps == [] and notes == []


TOKEN = idtoken.IdToken(jwt(), idtoken.decode(jwt()))


def assume_answering(*errors: tuple[str, str], budget: float = sts.BUDGET) -> str:
    """The line OperationFailed carries when STS answers AssumeRoleWithWebIdentity with these errors."""
    client = sts.unsigned_client("us-east-1")
    with Stubber(client) as stub:
        for code, message in errors:
            stub.add_client_error("assume_role_with_web_identity", code, message, 400)
        with pytest.raises(OperationFailed) as caught:
            sts.assume(TOKEN, ROLE, "acme-1-2", 3600, "us-east-1", sts_client=client,
                       **retry_options(Clock(), [], budget))
    return str(caught.value)


def test_access_denied_compares_the_trust_policy_with_the_token():
    line = assume_answering(("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity"))
    assert line == (
        f"STS refused to let this job assume {ROLE} (AccessDenied: Not authorized to perform "
        "sts:AssumeRoleWithWebIdentity): the role's trust policy does not match the token; compare its "
        f"`gitlab.example.com:sub` and `gitlab.example.com:aud` conditions with the token's sub `{SUB}` and "
        "aud `sts.amazonaws.com`")


def test_invalid_audience():
    line = assume_answering(("InvalidIdentityToken", "Incorrect token audience"))
    assert line == (
        f"the IAM OIDC provider for {ISS} does not list the token's aud `sts.amazonaws.com` as a client ID "
        "(InvalidIdentityToken: Incorrect token audience): add it there, or set the `audience` input to one "
        "it lists")


def test_no_oidc_provider_for_the_issuer():
    message = f"No OpenIDConnect provider found in your account for {ISS}"
    assert assume_answering(("InvalidIdentityToken", message)) == (
        f"the role's account has no IAM OIDC provider for the token's issuer {ISS} (InvalidIdentityToken: "
        f"{message}): create one with exactly that URL (`lambda-ci bootstrap` does)")


def test_a_private_instance_is_retried_then_explained():
    message = ("Couldn't retrieve verification key from your identity provider,  please reference "
               "AssumeRoleWithWebIdentity documentation for requirements")
    line = assume_answering(*[("IDPCommunicationError", message)] * 3, budget=3)
    assert line == (
        f"STS could not fetch the signing keys of {ISS} (IDPCommunicationError: {message}): IAM must reach "
        f"the GitLab instance from the internet ({ISS}/oauth/discovery/keys); a private instance cannot be "
        "used this way (gave up after 3 attempts in 2 s)")


def test_duration_above_the_role_maximum():
    message = "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
    assert assume_answering(("ValidationError", message)) == (
        f"the `session_duration` input (3600 s) is above the maximum session duration of {ROLE} "
        f"(ValidationError: {message}): lower session_duration, or raise the role's MaxSessionDuration")


def test_expired_token_at_sts():
    message = "Token expired: current date/time 1714564900 must be before the expiration date/time1714564800"
    assert assume_answering(("ExpiredTokenException", message)) == (
        f"STS says the ID token has expired (ExpiredTokenException: {message}): retry the job; if it "
        "persists, check the runner's clock")


def test_an_unreachable_sts_is_retried_then_explained():
    def unreachable(**kwargs):
        raise EndpointConnectionError(endpoint_url="https://sts.us-east-1.amazonaws.com/")

    client = sts.unsigned_client("us-east-1")
    client.meta.events.register("before-send", unreachable)
    with pytest.raises(OperationFailed) as caught:
        sts.assume(TOKEN, ROLE, "acme-1-2", 3600, "us-east-1", sts_client=client,
                   **retry_options(Clock(), [], budget=1))
    assert str(caught.value) == (
        'STS did not answer (EndpointConnectionError: Could not connect to the endpoint URL: '
        '"https://sts.us-east-1.amazonaws.com/"): check the runner\'s network (proxy, firewall, DNS) and '
        "AWS_ENDPOINT_URL (gave up after 2 attempts in 0 s)")


def test_an_error_message_never_carries_the_token():
    line = assume_answering(("InvalidIdentityToken", f"cannot parse {TOKEN.raw}"))
    assert TOKEN.raw not in line
    assert line == "AssumeRoleWithWebIdentity failed (InvalidIdentityToken: cannot parse ***)"


def sts_answer(expiration: datetime) -> dict:
    return {"Credentials": {"AccessKeyId": "ASIAEXAMPLEEXAMPLE", "SecretAccessKey": "secret/key",
                            "SessionToken": "session-token", "Expiration": expiration}}


def test_the_account_is_checked_against_allowed_account_ids(monkeypatch):
    client, identity_client = sts.unsigned_client("us-east-1"), sts.unsigned_client("us-east-1")
    monkeypatch.setattr(sts, "client", lambda region, creds=None: identity_client)
    with Stubber(client) as stub, Stubber(identity_client) as identity_stub:
        stub.add_response("assume_role_with_web_identity", sts_answer(NOW + timedelta(hours=1)))
        identity_stub.add_response("get_caller_identity", {
            "Account": "111122223333", "Arn": "arn:aws:sts::111122223333:assumed-role/gitlab-deploy/s",
            "UserId": "AROAEXAMPLE:s"})
        with pytest.raises(OperationFailed) as caught:
            sts.assume(TOKEN, ROLE, "acme-1-2", 3600, "us-east-1", ["999999999999"], sts_client=client)
    assert str(caught.value) == (
        "the credentials are for account 111122223333, which the `allowed_account_ids` input does not list "
        "(999999999999)")


# --- the credential cache ---------------------------------------------------------------------------------

def creds(expiration: datetime, key_id: str = "ASIAONE") -> Credentials:
    return Credentials(key_id, "secret/key", "session-token", expiration, "111122223333",
                       "arn:aws:sts::111122223333:assumed-role/gitlab-deploy/s")


class Fetcher:
    def __init__(self, clock, lifetime: int) -> None:
        self.clock, self.lifetime, self.calls = clock, lifetime, 0

    def __call__(self) -> Credentials:
        self.calls += 1
        return creds(self.clock() + timedelta(seconds=self.lifetime), f"ASIA{self.calls}")


def test_cached_credentials_are_reused_until_they_near_expiry(tmp_path):
    now = [NOW]
    fetch = Fetcher(lambda: now[0], 900)
    margin = credentials.refresh_margin(900)
    path = tmp_path / "cache.json"

    def get():
        return credentials.cached(path, {"role_arn": ROLE}, fetch, margin, lambda: now[0])

    assert get().access_key_id == "ASIA1"
    now[0] = NOW + timedelta(seconds=900 - margin - 1)
    assert get().access_key_id == "ASIA1" and fetch.calls == 1
    now[0] = NOW + timedelta(seconds=900 - margin + 1)
    assert get().access_key_id == "ASIA2" and fetch.calls == 2
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    other_role = credentials.cached(path, {"role_arn": "other"}, fetch, margin, lambda: now[0])
    assert other_role.access_key_id == "ASIA3"


def test_an_unreadable_cache_is_replaced(tmp_path):
    path = tmp_path / "cache.json"
    path.write_text("{not json")
    fetch = Fetcher(lambda: NOW, 3600)
    assert credentials.cached(path, {}, fetch, 900, lambda: NOW).access_key_id == "ASIA1"
    assert json.loads(path.read_text())["credentials"]["AccessKeyId"] == "ASIA1"


def test_refresh_margin_follows_botocore_and_keeps_half_of_short_sessions():
    assert credentials.refresh_margin(3600) == 900
    assert credentials.refresh_margin(900) == 450


def test_credential_process_output_is_version_1():
    assert creds(NOW).process_output() == {
        "Version": 1, "AccessKeyId": "ASIAONE", "SecretAccessKey": "secret/key",
        "SessionToken": "session-token", "Expiration": "2024-05-01T12:00:00Z", "AccountId": "111122223333"}
    assert "secret/key" not in repr(creds(NOW)) and "session-token" not in repr(creds(NOW))


# --- the modes, with STS replaced -------------------------------------------------------------------------

class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def job(tmp_path, monkeypatch):
    """A job's environment, and STS answering with fixed credentials; returns (environ, assumed roles)."""
    assumed = []

    def fake_assume(target, token, **retry):
        assumed.append((target, token.raw))
        return creds(NOW + timedelta(hours=1))

    monkeypatch.setattr(oidc, "assume", fake_assume)
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    environ = {"GITLAB_AWS_IDENTITY_TOKEN": jwt(), "CI_PROJECT_DIR": str(tmp_path),
               "CI_PROJECT_PATH_SLUG": "acme", "CI_PIPELINE_ID": "10", "CI_JOB_ID": "20"}
    return environ, assumed


def run(environ, out=None, **settings):
    out = io.StringIO() if out is None else out
    given = {"role_arn": ROLE, "aws_region": "eu-west-1", **settings}
    assert oidc._run(given, environ, out, lambda: NOW) == 0
    return out.getvalue()


def test_files_mode_writes_a_profile_whose_credential_process_resolves_the_same_role(job, tmp_path, capsys):
    environ, assumed = job
    stdout = run(environ, allowed_account_ids=["111122223333"])
    assert stdout == ""
    config = (tmp_path / ".aws" / "config").read_text()
    assert "[profile lambda-ci]\nregion = eu-west-1\ncredential_process = " in config
    command = shlex.split(config.split("credential_process = ")[1].strip())
    assert command[:5] == [sys.executable, "-m", "lambda_ci", "auth", "process"]
    args = cli.build_parser().parse_args(command[3:])
    settings = cli._settings(cli.COMMANDS["auth"], args)
    assert oidc.role(oidc.with_defaults(settings), {}) == assumed[0][0]
    assert (tmp_path / ".aws" / "credentials").read_text() == ""
    for name in ("config", "credentials", oidc.CACHE):
        assert stat.S_IMODE((tmp_path / ".aws" / name).stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / ".aws").stat().st_mode) == 0o700
    err = capsys.readouterr().err
    assert "AWS: arn:aws:sts::111122223333:assumed-role/gitlab-deploy/s (account 111122223333) until " in err
    assert "secret/key" not in err and environ["GITLAB_AWS_IDENTITY_TOKEN"] not in err


def test_process_answers_from_the_cache(job):
    environ, assumed = job
    first = json.loads(run(environ, action="process"))
    second = json.loads(run(environ, action="process"))
    assert first == second and first["Version"] == 1 and len(assumed) == 1


def test_web_identity_mode_writes_the_token_and_prints_exports(job, tmp_path):
    environ, _ = job
    stdout = run(environ, mode="web-identity")
    token_file = tmp_path / ".aws" / "web-identity-token"
    assert token_file.read_text() == environ["GITLAB_AWS_IDENTITY_TOKEN"]
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert stdout.splitlines() == [
        f"export AWS_ROLE_ARN={ROLE}", f"export AWS_WEB_IDENTITY_TOKEN_FILE={token_file}",
        "export AWS_ROLE_SESSION_NAME=acme-10-20", "export AWS_REGION=eu-west-1",
        "export AWS_DEFAULT_REGION=eu-west-1"]
    assert f"web_identity_token_file = {token_file}" in (tmp_path / ".aws" / "config").read_text()


def test_env_mode_prints_exports_only(job, capsys):
    environ, _ = job
    stdout = run(environ, mode="env")
    assert stdout.splitlines()[:3] == [
        "export AWS_ACCESS_KEY_ID=ASIAONE", "export AWS_SECRET_ACCESS_KEY=secret/key",
        "export AWS_SESSION_TOKEN=session-token"]
    assert "secret/key" not in capsys.readouterr().err


@pytest.mark.parametrize("mode", ["env", "web-identity"])
def test_export_lines_are_never_printed_to_a_terminal(job, mode):
    environ, assumed = job
    with pytest.raises(BadInput) as caught:
        run(environ, out=Tty(), mode=mode)
    assert str(caught.value) == (
        f"`mode` input: {mode} prints export lines for the shell, not for a terminal: run eval "
        f"\"$(lambda-ci auth --mode {mode})\"")
    assert assumed == []


def test_env_mode_refuses_the_shell_trace(job):
    environ, _ = job
    with pytest.raises(BadInput) as caught:
        run({**environ, "CI_DEBUG_TRACE": "true"}, mode="env")
    assert str(caught.value) == (
        "`mode` input: env with CI_DEBUG_TRACE=true would put the keys in the job log (the shell traces the "
        "eval); use mode files or web-identity")


def test_a_deprecated_variable_next_to_the_token_gets_a_warning(job, capsys):
    environ, _ = job
    run({**environ, "CI_JOB_JWT_V2": "x.y.z"})
    assert ("CI_JOB_JWT_V2 is set, but it was removed in GitLab 17.0; lambda-ci uses "
            "GITLAB_AWS_IDENTITY_TOKEN (id_tokens)") in capsys.readouterr().err


def test_debug_shows_claims_and_never_the_token(job, capsys):
    environ, _ = job
    run(environ, debug=True)
    err = capsys.readouterr().err
    assert f"debug: ID token claims: iss={ISS}, sub={SUB}" in err
    assert environ["GITLAB_AWS_IDENTITY_TOKEN"] not in err and "secret/key" not in err


def test_no_role_and_no_keys(job):
    environ, _ = job
    with pytest.raises(BadInput) as caught:
        run(environ, role_arn="")
    assert str(caught.value) == (
        "`role_arn` input: required: set role_arn (or account_id and role_name) to a role that trusts this "
        "project's ID tokens (`lambda-ci bootstrap` writes one); the job has no static keys "
        "(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) either")


def test_process_without_a_role(job):
    environ, _ = job
    with pytest.raises(BadInput, match="`auth process` needs a role"):
        run(environ, role_arn="", action="process")


def test_preflight_fails_before_any_sts_call(job):
    environ, assumed = job
    with pytest.raises(BadInput, match="expired at"):
        run({**environ, "GITLAB_AWS_IDENTITY_TOKEN": jwt(exp=T - 1)})
    assert assumed == []
