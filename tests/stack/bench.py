"""`make bench`: the example's lambda-ci pipeline against the pipeline teams hand-write today.

Both run in this one invocation, under gitlab-ci-local, against the same moto server behind a counting
proxy, on the same function code (examples/hello-python/src with its dependency), each updating a
function that already exists. It prints wall time per job and per pipeline, requests and bytes sent to
AWS, and the ratio lambda-ci / baseline; the catalog aims at a pipeline at most 0.5 of the baseline's
time. Measurements of other modules (tests/stack/bench_*.py with a `measure(workdir) -> dict`) follow.
"""

from __future__ import annotations

import compileall
import importlib
import io
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

import lambda_ci
from tests.stack.counting_proxy import Counts, counting_proxy
from tests.stack.example_pipeline import (
    ACCOUNT,
    EXECUTION_ROLE,
    FUNCTION,
    client,
    job_variables,
    prepare_account,
)
from tests.stack.gitlab_ci_local import Pipeline, Sandbox
from tests.stack.moto_server import moto_server
from tests.stack.oidc_issuer import oidc_issuer

BASELINE_FUNCTION = f"{FUNCTION}-baseline"
GOAL = 0.5  # the catalog's pipeline at most half the hand-written one's wall time
MEASUREMENTS = ("tests.stack.bench_package", "tests.stack.bench_deploy")

# What teams write today: static keys in CI/CD variables, the AWS CLI installed in every pipeline, a zip
# of whatever is in the folder, and update-function-code. It has the same dependency step as the
# example, so both deploy the same function code.
BASELINE_PIPELINE = f"""\
package:
  stage: build
  script:
    - pip install --quiet --target build -r src/requirements.txt
    - cp -r src/. build/
    - cd build && zip -qr ../function.zip .
  artifacts:
    paths: [function.zip]

deploy:
  stage: deploy
  needs: [package]
  script:
    - python3 -m venv "$CI_PROJECT_DIR/.awscli"
    - '"$CI_PROJECT_DIR/.awscli/bin/pip" install --quiet awscli'
    - export PATH="$CI_PROJECT_DIR/.awscli/bin:$PATH"
    - aws configure set aws_access_key_id "$AWS_ACCESS_KEY_ID"
    - aws configure set aws_secret_access_key "$AWS_SECRET_ACCESS_KEY"
    - aws configure set region "$AWS_DEFAULT_REGION"
    - aws lambda update-function-code --function-name {BASELINE_FUNCTION} --zip-file fileb://function.zip
"""


def _create_functions(endpoint: str) -> None:
    """Both functions exist before the run, so that both pipelines update one."""
    placeholder = io.BytesIO()
    with zipfile.ZipFile(placeholder, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return {}\n")
    lam = client("lambda", endpoint)
    for name in (FUNCTION, BASELINE_FUNCTION):
        lam.create_function(FunctionName=name, Runtime="python3.12", Handler="app.handler",
                            Role=f"arn:aws:iam::{ACCOUNT}:role/{EXECUTION_ROLE}",
                            Code={"ZipFile": placeholder.getvalue()})


def _measured(proxy, run) -> tuple[Pipeline, Counts]:
    before = proxy.counts
    pipeline = run()
    return pipeline, proxy.counts - before


def _report(name: str, pipeline: Pipeline, counts: Counts) -> None:
    if pipeline.returncode:
        print(f"\n{name}: FAILED (exit {pipeline.returncode}); its last lines:", file=sys.stderr)
        print(pipeline.tail(40), file=sys.stderr)
        return
    print(f"\n{name}: {pipeline.seconds:.1f} s wall, {counts.requests} requests, "
          f"{counts.bytes_sent:,} bytes sent to AWS, {counts.bytes_received:,} received")
    for job, seconds in pipeline.job_seconds.items():
        print(f"  {job:<24} {seconds:7.2f} s")


def _ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}" if theirs else "n/a"


def _other_measurements(workdir: Path) -> None:
    for name in MEASUREMENTS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError:
            continue
        print(f"\n{name.rsplit('.', 1)[-1]}:")
        for key, value in module.measure(workdir / name).items():
            print(f"  {key:<28} {value}")


def main() -> int:
    if not shutil.which("zip"):
        print("zip is missing (the baseline pipeline uses it): apt-get install -y zip", file=sys.stderr)
        return 2
    # lambda-ci runs from this checkout (an editable install), where PYTHONDONTWRITEBYTECODE may have kept
    # Python from caching its bytecode; installed from the wheel (the image, pip), it is compiled, as the
    # baseline's AWS CLI is.
    compileall.compile_dir(Path(lambda_ci.__file__).parent, quiet=1)
    with (tempfile.TemporaryDirectory(prefix="lambda-ci-bench-") as tmp,
          moto_server(log=Path(tmp) / "moto.log") as moto,
          counting_proxy(moto.url) as proxy,
          oidc_issuer() as issuer):
        sandbox = Sandbox(Path(tmp))
        catalog = sandbox.publish_catalog()
        prepare_account(moto.url, issuer.url)
        _create_functions(moto.url)
        ours = sandbox.consumer(FUNCTION)
        theirs = sandbox.consumer(BASELINE_FUNCTION, files={".gitlab-ci.yml": BASELINE_PIPELINE})
        variables = job_variables(proxy.url, issuer.mint())
        static_keys = {**variables, "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
                       "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
        del static_keys["GITLAB_AWS_IDENTITY_TOKEN"]

        print(f"lambda-ci {catalog.version} ({catalog.sha[:12]}) against the hand-written pipeline, "
              f"one run each, moto at {moto.url} behind {proxy.url}")
        baseline, baseline_counts = _measured(proxy, lambda: sandbox.run(theirs, static_keys))
        pipeline, counts = _measured(proxy, lambda: sandbox.run(ours, variables))
        _report("baseline (hand-written)", baseline, baseline_counts)
        _report("lambda-ci (example)", pipeline, counts)
        if baseline.returncode or pipeline.returncode:
            return 1
        time_ratio = pipeline.seconds / baseline.seconds
        print(f"\nratio lambda-ci / baseline: wall time {time_ratio:.2f} (goal <= {GOAL}), "
              f"requests {_ratio(counts.requests, baseline_counts.requests)}, "
              f"bytes sent {_ratio(counts.bytes_sent, baseline_counts.bytes_sent)}")
        _other_measurements(Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
