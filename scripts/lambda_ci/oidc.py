"""`lambda-ci auth`: AWS credentials from the job's GitLab ID token, handed to the job's tools in the way
they read them; `assume()` is the same path for every other command (lambda_api.session).

Modes (all write `$CI_PROJECT_DIR/.aws/config` with profile `lambda-ci` and an empty credentials file,
0600 in a 0700 folder, so that the template's AWS_PROFILE=lambda-ci always resolves):
  files         the profile's credential_process is `lambda-ci auth process`, which answers from a 0600
                cache and calls STS again only when the credentials near expiry. Its command line carries
                the resolved settings as flags, so it needs no state file and works from any directory.
  web-identity  the token in a 0600 file; prints `export AWS_ROLE_ARN=... AWS_WEB_IDENTITY_TOKEN_FILE=...
                AWS_ROLE_SESSION_NAME=...` for `eval "$(lambda-ci auth --mode web-identity)"`; SDKs refresh.
  env           prints `export AWS_ACCESS_KEY_ID=...` lines for `eval "$(lambda-ci auth --mode env)"`
                (command substitution keeps them out of the log); not refreshed.
With no role configured, static keys already in the job's environment are used as they are, with a warning.
Every mode checks the token, then gets credentials once, so a wrong role fails here with its explanation.
Messages go to stderr: stdout carries only what a program reads (export lines, credential_process JSON).
The SDK is imported only where STS is called: `auth process` runs once for every AWS CLI command of the job,
and answering from its cache must not spend a fifth of a second loading botocore.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from lambda_ci import credentials, gitlab, idtoken, inputs, regions
from lambda_ci.credentials import Credentials
from lambda_ci.errors import BadInput

PROFILE = "lambda-ci"
CACHE = "lambda-ci-credentials.json"
TOKEN_FILE = "web-identity-token"
_SESSION_NAME_CHARACTERS = r"[^\w+=,.@-]"


@dataclass(frozen=True)
class Role:
    """What to assume, fully resolved: the same values for `auth`, `auth process` and `session()`."""

    arn: str
    region: str
    audience: str
    duration: int
    session_name: str
    allowed_account_ids: tuple[str, ...] = ()

    def process_flags(self) -> list[str]:
        # `--flag=value`: a value starting with a dash stays a value.
        flags = [f"--role-arn={self.arn}", f"--aws-region={self.region}", f"--audience={self.audience}",
                 f"--session-duration={self.duration}", f"--session-name={self.session_name}"]
        return flags + [f"--allowed-account-ids={account}" for account in self.allowed_account_ids]

    def cache_key(self) -> dict[str, Any]:
        return {"role_arn": self.arn, "region": self.region, "session_name": self.session_name,
                "duration": self.duration}


def now_utc() -> datetime:
    return datetime.now(UTC)


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def with_defaults(settings: Mapping[str, Any]) -> dict[str, Any]:
    """settings over the oidc-auth defaults, so deploy's settings (role_arn, aws_region, audience) do."""
    defaults = {name: spec.get("default") for name, spec in inputs.cli_inputs("oidc-auth").items()}
    return {**defaults, **{key: value for key, value in settings.items() if value is not None}}


def session_name(environ: Mapping[str, str]) -> str:
    """`<project slug>-<pipeline id>-<job id>` in STS's alphabet and 64 characters; the slug is cut
    first, so the job id (the part that finds the job from CloudTrail) survives."""

    def clean(text: str) -> str:
        return re.sub(_SESSION_NAME_CHARACTERS, "-", text, flags=re.ASCII)

    tail = clean("".join(f"-{environ[k]}" for k in ("CI_PIPELINE_ID", "CI_JOB_ID") if environ.get(k)))
    head = clean(environ.get("CI_PROJECT_PATH_SLUG") or PROFILE)
    name = (head[: max(0, 64 - len(tail))] + tail)[-64:]
    return name if len(name) >= 2 else PROFILE


def role_arn(settings: Mapping[str, Any], region: str) -> str:
    partition = regions.partition(region)
    if settings["role_arn"]:
        given = settings["role_arn"].split(":")[1]
        if given != partition:
            raise BadInput(f"`role_arn` input: the role is in partition {given}, but region {region} is in "
                           f"{partition}: set aws_region to a region of {given}")
        return settings["role_arn"]
    if settings["account_id"]:
        return f"arn:{partition}:iam::{settings['account_id']}:role/{settings['role_name'].strip('/')}"
    return ""


def role(settings: Mapping[str, Any], environ: Mapping[str, str]) -> Role | None:
    """The role the settings name, or None when they name none (static keys or ambient credentials)."""
    region = regions.region(settings["aws_region"])
    arn = role_arn(settings, region)
    if not arn:
        return None
    return Role(arn, region, settings["audience"], int(settings["session_duration"]),
                settings["session_name"] or session_name(environ), tuple(settings["allowed_account_ids"]))


def aws_dir(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("CI_PROJECT_DIR") or os.getcwd()).absolute() / ".aws"


def assume(target: Role, token: idtoken.IdToken, **retry: Any) -> Credentials:
    from lambda_ci import sts  # the SDK, only when STS is called (see the module's docstring)

    return sts.assume(token, target.arn, target.session_name, target.duration, target.region,
                      target.allowed_account_ids, **retry)


def cached_credentials(target: Role, environ: Mapping[str, str], now: Callable[[], datetime] = now_utc,
                       **retry: Any) -> Credentials:
    """What `auth process` answers: the cached credentials while they last, else fresh ones from STS."""
    directory = credentials.private_dir(aws_dir(environ))

    def fetch() -> Credentials:
        # The token is read only when STS is called: fresh cached credentials still work after it expired.
        return assume(target, idtoken.load(environ, target.audience, now()), **retry)

    creds = credentials.cached(directory / CACHE, target.cache_key(), fetch,
                               credentials.refresh_margin(target.duration), now)
    credentials.check_account(creds.account_id, target.allowed_account_ids)  # the cache may predate the input
    return creds


def status(creds: Credentials) -> str:
    return f"AWS: {creds.arn} (account {creds.account_id}) until {idtoken.iso(creds.expiration)}"


def _write_profile(directory: Path, profile: Mapping[str, str]) -> None:
    credentials.private_dir(directory)
    lines = [f"# Written by lambda-ci auth for this job; AWS_PROFILE={PROFILE} selects it.",
             f"[profile {PROFILE}]", *(f"{key} = {value}" for key, value in profile.items())]
    credentials.write_private(directory / "config", "\n".join(lines) + "\n")
    # Present and empty, so AWS_SHARED_CREDENTIALS_FILE points nowhere else (such as a runner's ~/.aws).
    credentials.write_private(directory / "credentials", "")


def process_command(target: Role) -> str:
    # This interpreter and `-m`: works whether or not `lambda-ci` is on the PATH of the tool that runs it.
    return shlex.join([sys.executable, "-m", "lambda_ci", "auth", "process", *target.process_flags()])


def _exports(values: Mapping[str, str], out: TextIO) -> None:
    for name, value in values.items():
        print(f"export {name}={shlex.quote(value)}", file=out)


def _require_eval(mode: str, out: TextIO, environ: Mapping[str, str]) -> None:
    if out.isatty():
        raise BadInput(f"`mode` input: {mode} prints export lines for the shell, not for a terminal: "
                       f"run eval \"$(lambda-ci auth --mode {mode})\"")
    if mode == "env" and environ.get("CI_DEBUG_TRACE", "").lower() == "true":
        raise BadInput("`mode` input: env with CI_DEBUG_TRACE=true would put the keys in the job log (the "
                       "shell traces the eval); use mode files or web-identity")


def _hint_files(directory: Path, environ: Mapping[str, str]) -> None:
    files = {"AWS_CONFIG_FILE": directory / "config",
             "AWS_SHARED_CREDENTIALS_FILE": directory / "credentials"}
    missing = [f"{name}={path}" for name, path in files.items()
               if Path(environ.get(name, "")).absolute() != path]
    if environ.get("AWS_PROFILE") != PROFILE:
        missing.append(f"AWS_PROFILE={PROFILE}")
    if missing:
        say(f"To use these credentials, set {' '.join(missing)} (the oidc-auth template's hidden job does)")


def _static_keys(settings: Mapping[str, Any], environ: Mapping[str, str], directory: Path) -> int:
    if not (environ.get("AWS_ACCESS_KEY_ID") and environ.get("AWS_SECRET_ACCESS_KEY")):
        raise BadInput("`role_arn` input: required: set role_arn (or account_id and role_name) to a role "
                       "that trusts this project's ID tokens (`lambda-ci bootstrap` writes one); the job has "
                       "no static keys (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) either")
    gitlab.warn("no role_arn: using the static keys in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY. Long-lived "
                "keys stay valid until someone rotates them, so one leak (a log, a fork's pipeline, a "
                "runner) gives lasting access; `lambda-ci bootstrap` creates a role for this project's ID "
                "tokens: set role_arn and delete the keys")
    from lambda_ci import sts  # the SDK, only when STS is called (see the module's docstring)

    region = regions.region(settings["aws_region"])
    # Region only: the keys in the environment come before any profile in every SDK.
    _write_profile(directory, {"region": region})
    secrets = [environ.get("AWS_SECRET_ACCESS_KEY", ""), environ.get("AWS_SESSION_TOKEN", "")]
    identity = sts.check_identity(sts.client(region), settings["allowed_account_ids"], secrets)
    say(f"AWS: static keys of {identity['Arn']} (account {identity['Account']})")
    return 0


def run(settings: dict[str, Any]) -> int:
    return _run(settings, os.environ, sys.stdout, now_utc)


def _run(settings: Mapping[str, Any], environ: Mapping[str, str], out: TextIO,
         now: Callable[[], datetime]) -> int:
    resolved = with_defaults(settings)
    target = role(resolved, environ)
    if settings.get("action") == "process":
        if target is None:
            raise BadInput("`role_arn` input: `auth process` needs a role; `lambda-ci auth` writes it into "
                           "the profile's credential_process")
        print(json.dumps(cached_credentials(target, environ, now).process_output()), file=out, flush=True)
        return 0
    directory = aws_dir(environ)
    if target is None:
        return _static_keys(resolved, environ, directory)
    mode = resolved["mode"]
    if mode != "files":
        _require_eval(mode, out, environ)
    token = idtoken.load(environ, target.audience, now())
    for name in idtoken.deprecated_in(environ):
        gitlab.warn(f"{name} is set, but it was removed in GitLab 17.0; lambda-ci uses {idtoken.VARIABLE} "
                    "(id_tokens)")
    if mode != "env" and environ.get("AWS_ACCESS_KEY_ID"):
        gitlab.warn("AWS_ACCESS_KEY_ID is set in the job: the AWS CLI and SDKs use it before the profile "
                    "and web identity settings, so the role's credentials would be ignored; remove the "
                    "static keys")
    if settings.get("debug"):
        say(f"debug: ID token claims: {token.summary()}")
        say(f"debug: {target}")
    profile = {"region": target.region}
    exports: dict[str, str] = {}
    if mode == "files":
        _write_profile(directory, {**profile, "credential_process": process_command(target)})
        creds = cached_credentials(target, environ, now)
    elif mode == "web-identity":
        identity = {"role_arn": target.arn, "web_identity_token_file": str(directory / TOKEN_FILE),
                    "role_session_name": target.session_name}
        # Also in the profile, so AWS_PROFILE=lambda-ci works in a job that did not eval the exports.
        _write_profile(directory, {**profile, **identity})
        credentials.write_private(directory / TOKEN_FILE, token.raw)
        creds = assume(target, token)
        exports = {f"AWS_{key.upper()}": value for key, value in identity.items()}
    else:
        _write_profile(directory, profile)
        creds = assume(target, token)
        exports = {"AWS_ACCESS_KEY_ID": creds.access_key_id, "AWS_SECRET_ACCESS_KEY": creds.secret_access_key,
                   "AWS_SESSION_TOKEN": creds.session_token}
        say(f"These credentials are not refreshed: they expire at {idtoken.iso(creds.expiration)} "
             "(mode files refreshes them)")
    say(status(creds))
    if mode == "files":
        _hint_files(directory, environ)
    if exports:
        _exports({**exports, "AWS_REGION": target.region, "AWS_DEFAULT_REGION": target.region}, out)
    return 0
