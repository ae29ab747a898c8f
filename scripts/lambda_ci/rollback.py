"""`lambda-ci rollback`: the alias back, at full weight, on the version it was on before the last
deploy (recorded in its description by `deploy`) or on a given one."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

from lambda_ci import aws, gitlab, lambda_api, release
from lambda_ci.errors import BadInput, OperationFailed
from lambda_ci.lambda_api import failing, get_or_none
from lambda_ci.plan import weights


def run(settings: Mapping[str, Any]) -> int:
    started = time.monotonic()
    wanted = settings.get("to_version")
    # ASCII digits only: str.isdigit() also takes other scripts' digits (٣) and superscripts (³).
    if wanted is not None and not re.fullmatch(r"[1-9][0-9]*", wanted):
        raise BadInput(f"`to_version` input: {wanted!r} is not a published version number, such as 3")
    name, alias_name = settings["function_name"], settings["alias"]
    lam = aws.client("lambda", boto_session=lambda_api.session(settings))

    with failing(f"rolling back {name}"):
        alias = get_or_none(lam.get_alias, FunctionName=name, Name=alias_name)
        if alias is None:
            raise OperationFailed(f"nothing to roll back: {name} has no alias {alias_name} "
                                  "(or there is no such function)")
        now = alias["FunctionVersion"]
        target = wanted or release.recorded_previous(alias)
        if target is None:
            raise OperationFailed(f"nothing to roll back to: alias {alias_name} of {name} records no "
                                  "previous version (give --to-version N)")
        if target == now and not weights(alias):
            print(f"{name}: alias {alias_name} is already on version {target}; nothing changed")
            return 0
        if get_or_none(lam.get_function_configuration, FunctionName=name, Qualifier=target) is None:
            raise OperationFailed(f"cannot roll back to version {target} of {name}: it does not exist")
        with gitlab.section("rollback", f"Alias {alias_name}: all traffic on version {target}"):
            # Recording the version we leave makes a second rollback undo the first; a rollback that only
            # ends a traffic split (a canary cut short) leaves the record as it is.
            description = release.record(now) if target != now else alias.get("Description", "")
            # Guarded: a deploy that moved the alias since it was read here makes this fail, not vanish.
            release.point_alias(lam, name, alias_name, target, description, revision=alias.get("RevisionId", ""))
    print(f"{name}: alias {alias_name} rolled back {now} -> {target} ({time.monotonic() - started:.1f}s)")
    return 0
