"""`lambda-ci deploy`: read the package, plan against what AWS has, print the plan, then apply it:
create or update code and configuration, publish, release through the alias, prune, report."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lambda_ci import gitlab, lambda_api, many, regions, release
from lambda_ci.errors import BadInput
from lambda_ci.lambda_api import call, call_landed, failing, get_or_none, guard, wait
from lambda_ci.plan import Current, Desired, Package, Plan, code_differs, configuration_changes, make_plan

# Above this a zip cannot be sent in the request itself and must go through S3.
DIRECT_UPLOAD_LIMIT = 50 * 1024 * 1024

_CONSOLE_HOSTS = {"aws": "{r}.console.aws.amazon.com", "aws-cn": "console.amazonaws.cn",
                  "aws-us-gov": "console.amazonaws-us-gov.com"}


@dataclass(frozen=True)
class Outcome:
    config: Mapping[str, Any]  # of $LATEST
    version: str  # the alias's, afterwards
    previous: str | None  # where rollback would go
    done: list[str]  # what changed, for the summary line


@dataclass(frozen=True)
class Deployed:
    """What one deploy did, for the dotenv report and the table of many functions."""

    name: str
    alias: str
    action: str  # the plan's: create, update, release or none
    version: str  # the alias's, afterwards (before, on a dry run)
    previous: str | None  # where rollback would go
    arn: str
    code_sha256: str
    console: str
    seconds: float

    def report(self) -> dict[str, str]:
        return {
            "LAMBDA_FUNCTION_ARN": self.arn,
            "LAMBDA_VERSION": self.version,
            "LAMBDA_PREVIOUS_VERSION": self.previous or "",
            "LAMBDA_ALIAS": self.alias,
            "LAMBDA_CODE_SHA256": self.code_sha256,
            "LAMBDA_CONSOLE_URL": self.console,
        }


def run(settings: Mapping[str, Any]) -> int:
    if settings["functions"]:
        return many.run(settings, deploy_one)
    deployed = deploy_one(settings)
    if settings.get("dotenv") and not settings["dry_run"]:
        gitlab.write_dotenv(Path(settings["dotenv"]), deployed.report())
    return 0


def deploy_one(settings: Mapping[str, Any], clients: lambda_api.Clients | None = None) -> Deployed:
    started = time.monotonic()
    desired, rollout = _read_inputs(settings)  # every check on inputs, before any AWS call
    connect = functools.partial((clients or lambda_api.Clients()).get, settings=settings)
    lam = connect("lambda")
    name = desired.name

    with failing(f"reading {name}"), gitlab.section("plan", f"Plan for {name}"):
        current = read_current(lam, name, desired.alias)
        plan = make_plan(desired, current)
        for line in plan.lines:
            print(f"  {line}")
    console = console_url(lam.meta.region_name, name)
    print(f"console: {console}")
    if settings["dry_run"]:
        print("dry run: nothing changed")
        arn = (current.function or {}).get("FunctionArn", "")
        return Deployed(name, desired.alias, _action(plan), plan.previous or "", plan.previous, arn,
                        desired.package.code_sha256, console, time.monotonic() - started)

    with failing(f"deploying {name}"):
        outcome = apply(connect, lam, plan, desired, current, rollout, settings["s3_bucket"])
    done = outcome.done + (_prune(lam, name, settings["keep_versions"]) if settings["keep_versions"] else [])
    seconds = time.monotonic() - started
    print(f"{name}: {', '.join(done) or 'nothing to do'}; alias {desired.alias} on version {outcome.version} "
          f"({seconds:.1f}s)")
    return Deployed(name, desired.alias, _action(plan), outcome.version, outcome.previous,
                    outcome.config["FunctionArn"], desired.package.code_sha256, console, seconds)


def _read_inputs(settings: Mapping[str, Any]) -> tuple[Desired, release.Rollout]:
    package = read_package(settings["package"])
    if package.size > DIRECT_UPLOAD_LIMIT and not settings["s3_bucket"]:
        raise BadInput(f"`s3_bucket` input: required for packages over 50 MB ({package.path} is "
                       f"{package.size / 1024 / 1024:.1f} MB)")
    return Desired.from_settings(settings, package), release.Rollout.from_settings(settings)


def apply(connect: Callable[[str], Any], lam: Any, plan: Plan, desired: Desired, current: Current,
          rollout: release.Rollout, bucket: str) -> Outcome:
    recorded = release.recorded_previous(current.alias) if current.alias else None
    if not plan.release:
        return Outcome(dict(current.function or {}), plan.previous or "", recorded, [])
    config = apply_changes(connect, lam, plan, desired, bucket, current.function)
    version = publish(lam, desired.name, desired.package, config)
    release.release(lam, connect("cloudwatch"), rollout, desired.name, current.alias,
                    desired.alias, version)
    done = _changes(plan)
    if version == plan.previous:
        # Only a traffic split ended: Lambda published nothing new ($LATEST had not changed).
        return Outcome(config, version, recorded, [*done, f"alias {desired.alias} wholly on {version}"])
    done.append(f"version {version} published")
    done.append(f"alias {desired.alias} {plan.previous} -> {version}" if plan.previous
                else f"alias {desired.alias} created on {version}")
    return Outcome(config, version, plan.previous, done)


def read_package(path_text: str) -> Package:
    """The zip and its manifest (written by `lambda-ci package` beside it); without one, hash the zip."""
    path = Path(path_text)
    if not path.is_file():
        raise BadInput(f"`package` input: {path} does not exist (does the job get the package job's "
                       "artifact?)")
    size = path.stat().st_size
    manifest_path = path.with_name(path.name.removesuffix(".zip") + ".manifest.json")
    if not manifest_path.is_file():
        digest = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        return Package(path, base64.b64encode(digest.digest()).decode(), size)
    try:
        manifest = json.loads(manifest_path.read_text())
        code_sha256 = manifest["code_sha256"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise BadInput(f"`package` input: {manifest_path} is not a package manifest") from None
    # A manifest left over from another build would make the plan skip new code: the size catches that
    # cheaply, without hashing the zip again.
    if manifest.get("size") != size:
        raise BadInput(f"`package` input: {manifest_path} does not describe {path} (sizes differ); "
                       "run the package job again")
    return Package(path, code_sha256, size, manifest.get("runtime") or "", manifest.get("architecture") or "")


def read_current(lam: Any, name: str, alias_name: str) -> Current:
    function = get_or_none(lam.get_function, FunctionName=name)
    if function is None:
        return Current(None, None, None)
    config = function["Configuration"]
    if config.get("PackageType", "Zip") != "Zip":
        raise BadInput(f"`function_name` input: {name} is a container image function; "
                       "deploy-lambda deploys zips")
    alias = get_or_none(lam.get_alias, FunctionName=name, Name=alias_name)
    released = None
    if alias:
        released = lam.get_function_configuration(FunctionName=name, Qualifier=alias["FunctionVersion"])
    return Current(config, alias, released)


def apply_changes(connect: Callable[[str], Any], lam: Any, plan: Plan, desired: Desired, bucket: str,
                  function: Mapping[str, Any] | None) -> dict[str, Any]:
    """Create, or update code then configuration; each waits until Lambda has finished it. A change whose
    answer was lost and whose retry was refused counts as made when AWS holds exactly it (call_landed)."""
    name = desired.name
    code = stage_code(connect, desired.package, name, bucket) if plan.create or plan.update_code else {}

    def has_code() -> dict[str, Any] | None:
        config = get_or_none(lam.get_function_configuration, FunctionName=name)
        return config if config and not code_differs(desired, config) else None

    def has_configuration() -> dict[str, Any] | None:
        config = lam.get_function_configuration(FunctionName=name)
        return config if not configuration_changes(desired, config) else None

    if plan.create is not None:
        with gitlab.section("create", f"Create {name}"):
            call_landed(lam.create_function, has_code, FunctionName=name, Code=code, Publish=False, **plan.create)
            return wait(lam, "function_active_v2", name)
    config = dict(function or {})
    if plan.update_code:
        with gitlab.section("update_code", f"Update the code of {name}"):
            architecture = {"Architectures": [desired.architecture]} if desired.architecture else {}
            call_landed(lam.update_function_code, has_code, FunctionName=name, **code, **architecture,
                        **guard(config))
            config = wait(lam, "function_updated_v2", name)
    if plan.configuration:
        with gitlab.section("update_configuration", f"Update the configuration of {name}"):
            print(f"changing: {', '.join(plan.changed_fields)}")
            call_landed(lam.update_function_configuration, has_configuration, FunctionName=name,
                        **plan.configuration, **guard(config))
            config = wait(lam, "function_updated_v2", name)
    return config


def stage_code(connect: Callable[[str], Any], package: Package, name: str, bucket: str) -> dict[str, Any]:
    """The code argument: the zip itself, or an S3 object whose key is the zip's hash, so the same
    bytes are never uploaded twice."""
    if not bucket:
        return {"ZipFile": package.path.read_bytes()}
    key = f"lambda-ci/{name}/{package.sha256_hex}.zip"
    s3 = connect("s3")
    with gitlab.section("upload", f"Upload to s3://{bucket}/{key}"):
        head = get_or_none(s3.head_object, Bucket=bucket, Key=key) or {}
        same = (head.get("ContentLength"), head.get("Metadata", {}).get("code-sha256"))
        if same == (package.size, package.code_sha256):
            print("already there: nothing uploaded")
        else:
            with package.path.open("rb") as body:
                # ChecksumSHA256 makes S3 refuse bytes that were damaged on the way.
                s3.put_object(Bucket=bucket, Key=key, Body=body, ChecksumSHA256=package.code_sha256,
                              Metadata={"code-sha256": package.code_sha256})
            print(f"uploaded {package.size} bytes")
    return {"S3Bucket": bucket, "S3Key": key}


def publish(lam: Any, name: str, package: Package, config: Mapping[str, Any]) -> str:
    """Publish $LATEST; the guards make it fail rather than publish someone else's code or change."""
    with gitlab.section("publish", f"Publish a version of {name}"):
        answer = call(lam.publish_version, FunctionName=name, CodeSha256=package.code_sha256, **guard(config))
        version = answer["Version"]
        wait(lam, "published_version_active", name, version)
        print(f"version {version}")
    return version


def _prune(lam: Any, name: str, keep: int) -> list[str]:
    # Housekeeping after a good release: a failure here is a warning, not a failed deploy.
    with gitlab.section("prune", f"Prune: keep the newest {keep} versions"):
        try:
            pruned = release.prune(lam, name, keep)
        except (ClientError, BotoCoreError) as error:
            gitlab.warn(f"pruning versions of {name} failed: {lambda_api.describe(error)}")
            return []
        print(f"deleted versions: {', '.join(pruned) or 'none'}")
    return [f"pruned versions {', '.join(pruned)}"] if pruned else []


def console_url(region: str, name: str) -> str:
    host = _CONSOLE_HOSTS[regions.partition(region)].format(r=region)
    return f"https://{host}/lambda/home?region={region}#/functions/{name}"


def _changes(plan: Plan) -> list[str]:
    changes = []
    if plan.create is not None:
        changes.append("created")
    if plan.update_code:
        changes.append("code updated")
    if plan.configuration:
        changes.append(f"configuration updated ({', '.join(plan.changed_fields)})")
    return changes


def _action(plan: Plan) -> str:
    if plan.create is not None:
        return "create"
    if plan.update_code or plan.configuration:
        return "update"
    return "release" if plan.release else "none"
