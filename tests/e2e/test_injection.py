"""No injection (issue 6, item 4): inputs holding `$(touch ...)`, backticks, quotes, line breaks and `;`, given
literally and through a CI variable the runner could expand, run in one consumer pipeline under
gitlab-ci-local. No marker file may appear anywhere; each value reaches `lambda-ci` intact (what the job's
environment holds, which lambda-ci reads, and what its dry-run plan shows) or is refused as a bad input
with its one line (render, GitLab's reference for inputs with a pattern)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lambda_ci import inputs
from lambda_ci.spec import re2_to_python
from tests.stack.example_pipeline import ACCOUNT, EXECUTION_ROLE, REGION

pytestmark = pytest.mark.e2e

MARK = "pwned"
# Every way a shell could be made to run a command, each touching its own marker.
HOSTILE = (f"$(touch {MARK}-dollar) `touch {MARK}-tick`; touch {MARK}-semi && touch {MARK}-and "
           f"| touch {MARK}-pipe ' \" \\ \nnext line $HOME ${{HOME}}")
HOSTILE_VARIABLE = f"$(touch {MARK}-var-dollar) `touch {MARK}-var-tick`; touch {MARK}-var-semi"
HANDLER = f"$(touch${{IFS}}{MARK}-handler)`touch${{IFS}}{MARK}-handler2`;x"  # no whitespace: passes its pattern
ITEMS = [f"$(touch {MARK}-item)", f"`touch {MARK}-item2`", f"a; touch {MARK}-item3", "quotes ' \" \\", "two\nlines"]
COMPONENT = "$CI_SERVER_FQDN/acme/lambda-ci/{}@0.1.0"

# deploy-lambda's free-text inputs, all hostile at once, literally and naming a CI variable that holds a
# command (one include of each component: gitlab-ci-local fetches a component included twice in parallel
# and trips over itself). A dry run: nothing changes.
GIVEN = {
    "function_name": "injection-probe", "dry_run": True, "runtime": "python3.12",
    "execution_role_arn": f"arn:aws:iam::{ACCOUNT}:role/{EXECUTION_ROLE}",
    "handler": HANDLER, "description": HOSTILE + " $HOSTILE ${HOSTILE} $$HOSTILE",
    "smoke_payload": json.dumps({"q": HOSTILE}), "smoke_expect": '{"q": "$HOSTILE"}',
    "alarms": [*ITEMS, "$HOSTILE", "${HOSTILE}"],
    # A line break in a value is refused by the item pattern (`.` stops at it), as GitLab would.
    "environment_variables": [f"K{n}={item}" for n, item in enumerate(ITEMS) if "\n" not in item] + ["V=$HOSTILE"],
}
PACKAGE = {"source_dir": "src", "exclude": ITEMS + ["$HOSTILE"]}


def pipeline(seen: Path) -> str:
    dump = ("python3 -c 'import json, os; json.dump({k: v for k, v in os.environ.items() "
            "if k.startswith(\"LAMBDA_CI_\")}, open(os.environ[\"SEEN_DIR\"] + \"/\" + os.environ[\"CI_JOB_NAME\"]"
            " + \".json\", \"w\"))'")
    document = {
        "variables": {"HOSTILE": HOSTILE_VARIABLE},
        "include": [
            {"component": COMPONENT.format("package"), "inputs": {"job_prefix": "inj-", **PACKAGE}},
            {"component": COMPONENT.format("deploy-lambda"),
             "inputs": {"job_prefix": "inj-", "package": "dist/function.zip", **GIVEN}},
        ],
        # What lambda-ci reads: each job's LAMBDA_CI_ variables, recorded after its script.
        "inj-deploy": {"after_script": [dump]},
        # The package job's variables, as its own job: an after_script on it makes gitlab-ci-local drop its
        # artifacts (the deploy job would find no zip).
        "inj-package-seen": {"extends": "inj-package", "script": [dump], "needs": []},
    }
    return yaml.safe_dump(document, sort_keys=False)


@pytest.fixture(scope="module")
def run(moto, sandbox, tmp_path_factory):
    moto.reset()
    seen = tmp_path_factory.mktemp("seen")
    consumer = sandbox.consumer("injection-consumer", files={".gitlab-ci.yml": pipeline(seen)})
    variables = {"AWS_ENDPOINT_URL": moto.url, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
                 "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "SEEN_DIR": str(seen)}
    result = sandbox.run(consumer, variables)
    return result, consumer, seen, sandbox


def test_no_marker_file_appears_anywhere(run):
    result, consumer, seen, sandbox = run
    markers = [str(p) for p in sandbox.workdir.rglob(f"*{MARK}*")]
    markers += [str(p) for p in Path.cwd().glob(f"*{MARK}*")]
    assert markers == [], result.tail(80)
    assert result.returncode == 0, result.tail(80)


def _read(seen: Path, job: str) -> dict[str, str]:
    return json.loads((seen / f"{job}.json").read_text())


def _as_lambda_ci_reads(component: str, name: str, text: str):
    spec = inputs.cli_inputs(component)[name]
    return inputs.coerce(name, spec, text)


def test_every_value_reaches_lambda_ci_intact(run):
    seen = _read(run[2], "inj-deploy")
    for name, value in GIVEN.items():
        read = _as_lambda_ci_reads("deploy-lambda", name, seen[inputs.env_name(name)])
        assert read == value, name


def test_exclude_patterns_reach_the_package_job_intact(run):
    seen = _read(run[2], "inj-package-seen")
    for name, value in PACKAGE.items():
        assert _as_lambda_ci_reads("package", name, seen[inputs.env_name(name)]) == value, name


def test_the_dry_run_plan_shows_the_values_as_given(run):
    log = run[0].log
    assert f"handler {HANDLER}" in log
    assert repr(GIVEN["description"]) in log  # as the plan shows it
    assert "dry run: nothing changed" in log


# Inputs with a pattern cannot hold such values: GitLab (and `lambda-ci render`, its stricter reference)
# refuse them when the pipeline is created, each with one line naming the input.
SPECS = {component: inputs.cli_inputs(component) for component in ("deploy-lambda", "oidc-auth", "package")}
PATTERNED = [(component, name, value) for component, specs in SPECS.items() for name, spec in specs.items()
             if "pattern" in spec for value in (HOSTILE, "$HOSTILE", HANDLER + " x")
             if not re.search(re2_to_python(spec["pattern"]), value)]  # "$HOSTILE" is a valid handler


@pytest.mark.parametrize(("component", "name", "value"), PATTERNED)
def test_patterned_inputs_refuse_hostile_values_with_one_line(tmp_path, component, name, value):
    argv = ["render", component, "--input", f"{name}={json.dumps(value)}"]
    if component == "deploy-lambda" and name != "function_name":
        argv += ["--input", "function_name=f"]
    done = subprocess.run([sys.executable, "-m", "lambda_ci", *argv], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith(f"lambda-ci render: `{name}` input: ") and done.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []
