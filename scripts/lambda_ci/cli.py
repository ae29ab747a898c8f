"""Argument parsing only: every command's flags, then a call into the module that does the work.

Flags of a command backed by a component are that component's inputs with dashes (`--memory-size`);
each has the environment twin LAMBDA_CI_<INPUT> that the templates set. A flag wins over its variable.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lambda_ci import __version__, inputs
from lambda_ci.errors import LambdaCIError


@dataclass(frozen=True)
class Command:
    help: str
    target: str  # "module:function", imported only when the command runs
    component: str | None = None  # whose inputs become flags
    aliases: dict[str, str] = field(default_factory=dict)  # short flag -> input name, e.g. source -> source_dir
    extra: Callable[[argparse.ArgumentParser], None] | None = None


def _render_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("component_name", metavar="COMPONENT", help="build, package, deploy-lambda or oidc-auth")
    p.add_argument("--inputs", dest="inputs_file", metavar="FILE.yml", help="YAML mapping of inputs")
    p.add_argument("--input", dest="input_pairs", action="append", default=[], metavar="KEY=VALUE",
                   help="one input (repeatable; VALUE is read as YAML, so 512 is a number)")
    p.add_argument("--sha", help="commit to render $[[ component.sha ]] with (default: HEAD of the catalog)")
    p.add_argument("--version", dest="component_version", help="version to render $[[ component.version ]] with")


def _lint_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("pipeline", metavar="PIPELINE.yml")
    p.add_argument("--project", default=os.environ.get("CI_PROJECT_PATH"), metavar="GROUP/PROJECT",
                   help="the project whose pipeline this is: what $CI_PROJECT_PATH in an include stands for "
                        "[env: CI_PROJECT_PATH]")


def _auth_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", nargs="?", choices=["process"],
                   help="process: print credential_process JSON (cached, refreshed near expiry)")


def _package_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--manifest", metavar="FILE.json", help="default: <output>.manifest.json beside the zip")


def _deploy_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dotenv", metavar="FILE", help="write the GitLab dotenv report here")


def _rollback_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--to-version", metavar="N", help="version to go back to (default: the one before)")


def _bootstrap_args(p: argparse.ArgumentParser) -> None:
    env = os.environ.get
    p.add_argument("--gitlab-url", default=env("LAMBDA_CI_GITLAB_URL"), help="the GitLab instance, https://host")
    p.add_argument("--project", default=env("LAMBDA_CI_PROJECT"), help="GROUP/PROJECT whose jobs may assume the role")
    p.add_argument("--ref", default="main", help="branch or tag (a * makes the sub condition StringLike)")
    p.add_argument("--ref-type", choices=["branch", "tag"], default="branch")
    p.add_argument("--environment", help="noted only: GitLab's sub claim has no environment")
    p.add_argument("--function-name", action="append", default=[], metavar="NAME", help="repeatable")
    p.add_argument("--execution-role-arn", metavar="ARN", help="the only role the deploy role may pass")
    p.add_argument("--s3-bucket", metavar="B", help="packages under its lambda-ci/ prefix")
    p.add_argument("--audience", default=env("LAMBDA_CI_AUDIENCE", "sts.amazonaws.com"))
    p.add_argument("--role-name", metavar="NAME", help="default: gitlab-<group>-<project>-deploy")
    p.add_argument("--account-id", metavar="ID", help="for --format json (default with --apply: the caller's)")
    p.add_argument("--region", metavar="R", help="default: AWS_REGION")
    p.add_argument("--format", choices=["cloudformation", "json"], default="cloudformation")
    p.add_argument("--apply", action="store_true", help="create the provider and role through IAM now")


def _audit_role_args(p: argparse.ArgumentParser) -> None:
    env = os.environ.get
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--role-name", metavar="NAME", help="read the role (and its provider) through IAM")
    source.add_argument("--policy-file", metavar="FILE", help="a trust policy JSON (or `aws iam get-role` output)")
    p.add_argument("--gitlab-url", default=env("LAMBDA_CI_GITLAB_URL"), help="the GitLab instance, https://host")
    p.add_argument("--project", default=env("LAMBDA_CI_PROJECT"), help="GROUP/PROJECT the role is for")
    p.add_argument("--audience", default=env("LAMBDA_CI_AUDIENCE", "sts.amazonaws.com"))
    p.add_argument("--session-duration", default=env("LAMBDA_CI_SESSION_DURATION", "3600"), metavar="S")


COMMANDS: dict[str, Command] = {
    "render": Command("render a component's jobs for given inputs, as GitLab would", "lambda_ci.render:run",
                      extra=_render_args),
    "lint": Command("check every include of this catalog in a pipeline", "lambda_ci.lint:run", extra=_lint_args),
    "auth": Command("AWS credentials from the job's ID token (or static keys)", "lambda_ci.oidc:run",
                    component="oidc-auth", aliases={"duration": "session_duration"}, extra=_auth_args),
    "build": Command("install dependencies for the Lambda platform and copy the source", "lambda_ci.build:run",
                     component="build", aliases={"source": "source_dir", "output": "output_dir"}),
    "package": Command("write a reproducible zip and its manifest", "lambda_ci.package:run",
                       component="package", aliases={"source": "source_dir"}, extra=_package_args),
    "deploy": Command("deploy a package: code, configuration, version, alias", "lambda_ci.deploy:run",
                      component="deploy-lambda", extra=_deploy_args),
    "rollback": Command("move the alias back to the previous (or a given) version", "lambda_ci.rollback:run",
                        component="deploy-lambda", extra=_rollback_args),
    "bootstrap": Command("the IAM OIDC provider and a least-privilege deploy role for one project",
                         "lambda_ci.bootstrap:run", extra=_bootstrap_args),
    "audit-role": Command("check a role's trust policy for GitLab ID tokens", "lambda_ci.audit:run",
                          extra=_audit_role_args),
    "release": Command("check that the catalog is ready to release X.Y.Z, then tag it (or --dry-run)",
                       "lambda_ci.catalog_release:run",
                       extra=lambda p: importlib.import_module("lambda_ci.catalog_release").arguments(p)),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lambda-ci", description="Deploy AWS Lambda functions from GitLab CI/CD.")
    parser.add_argument("--version", action="version", version=f"lambda-ci {__version__}")
    parser.add_argument("--debug", action="store_true", default=None, help="more detail (never secrets)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in COMMANDS.items():
        p = sub.add_parser(name, help=command.help, description=command.help)
        # SUPPRESS: unset unless given here, so that a subcommand's default does not undo `lambda-ci --debug X`.
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        if command.component:
            _add_input_flags(p, command)
        if command.extra:
            command.extra(p)
    return parser


def _add_input_flags(p: argparse.ArgumentParser, command: Command) -> None:
    short_for = {target: short for short, target in command.aliases.items()}
    for name, spec in inputs.cli_inputs(command.component).items():
        names = [inputs.flag_name(name)]
        if name in short_for:
            names.insert(0, inputs.flag_name(short_for[name]))
        help_text = f"{spec.get('description', '')} [env {inputs.env_name(name)}]"
        metavar = name.upper()
        if spec.get("type") == "array":
            p.add_argument(*names, dest=f"input:{name}", action="append", metavar=metavar, help=help_text)
        elif spec.get("type") == "boolean":
            p.add_argument(*names, dest=f"input:{name}", action="store_const", const="true", help=help_text)
        else:
            p.add_argument(*names, dest=f"input:{name}", metavar=metavar, help=help_text)


def _settings(command: Command, args: argparse.Namespace) -> dict[str, Any]:
    given = vars(args)
    flags = {key.removeprefix("input:"): value for key, value in given.items() if key.startswith("input:")}
    settings = {key: value for key, value in given.items() if not key.startswith("input:")}
    if command.component:
        settings.update(inputs.resolve(command.component, flags))
    return settings


def _debug_wanted(args: argparse.Namespace) -> bool:
    return bool(args.debug) or os.environ.get("CI_DEBUG_TRACE", "").lower() == "true"


def _interrupt(signum: int, frame: object) -> None:
    # GitLab cancels a job with SIGTERM: turn it into KeyboardInterrupt so that a deploy in the middle
    # of moving traffic puts the alias back before the process ends.
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    args = build_parser().parse_args(argv)
    command = COMMANDS[args.command]
    args.debug = _debug_wanted(args)
    try:
        settings = _settings(command, args)
        module_name, function_name = command.target.split(":")
        run = getattr(importlib.import_module(module_name), function_name)
        return int(run(settings) or 0)
    except LambdaCIError as error:
        print(f"lambda-ci {args.command}: {error.line()}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print(f"lambda-ci {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a bug: one line, and the traceback only when asked for
        if args.debug:
            traceback.print_exc()
        print(f"lambda-ci {args.command}: internal error: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
