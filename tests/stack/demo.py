"""`make demo`: the example's pipeline, end to end, on the local stack; then what AWS reports.

It starts a fresh moto and OIDC issuer, publishes this catalog's working tree at its version tag,
creates the consumer repository (examples/hello-python) in a temporary folder and runs its pipeline with
gitlab-ci-local. Then it runs the deploy job once more on the same package, which must not publish a
new version, and prints the function as AWS (moto) reports it. Everything goes when it ends.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tests.stack.example_pipeline import FUNCTION, job_variables, prepare_account, read_back
from tests.stack.gitlab_ci_local import Pipeline, Sandbox
from tests.stack.moto_server import moto_server
from tests.stack.oidc_issuer import oidc_issuer

DEPLOY_JOB = "lambda-deploy"


def _failed(what: str, pipeline: Pipeline) -> int:
    print(f"\n{what} failed (gitlab-ci-local exit {pipeline.returncode}); its last lines:\n", file=sys.stderr)
    print(pipeline.tail(25), file=sys.stderr)
    return 1


def main() -> int:
    with (tempfile.TemporaryDirectory(prefix="lambda-ci-demo-") as tmp,
          moto_server(log=Path(tmp) / "moto.log") as moto,
          oidc_issuer() as issuer):
        sandbox = Sandbox(Path(tmp))
        catalog = sandbox.publish_catalog()
        print(f"== catalog acme/lambda-ci {catalog.version} at {catalog.sha[:12]} (this working tree)")
        print(f"== AWS: moto at {moto.url}; GitLab ID tokens: {issuer.url}")
        prepare_account(moto.url, issuer.url)
        consumer = sandbox.consumer(FUNCTION)
        variables = job_variables(moto.url, issuer.mint())

        print(f"== pipeline of {consumer} (gitlab-ci-local)\n")
        pipeline = sandbox.run(consumer, variables, echo=True)
        if pipeline.returncode:
            return _failed("the pipeline", pipeline)
        first = read_back(moto.url)

        print(f"\n== {DEPLOY_JOB} again, same package\n")
        again = sandbox.run(consumer, variables, jobs=[DEPLOY_JOB], echo=True)
        if again.returncode:
            return _failed(f"the second {DEPLOY_JOB}", again)
        second = read_back(moto.url)

    new = [v for v in second.versions if v not in first.versions]
    print(f"\n== {FUNCTION}, as AWS reports it")
    print(f"function ARN  {second.arn}")
    print(f"version       {second.versions[-1]} (published: {', '.join(second.versions)})")
    print(f"alias live -> version {second.alias_version}")
    print(f"CodeSha256    {second.code_sha256}")
    outcome = f"published version {', '.join(new)}" if new else "no new version (code unchanged)"
    print(f"second deploy: {outcome}")
    print(f"pipeline: {pipeline.seconds:.1f} s; jobs: "
          + ", ".join(f"{job} {seconds:.1f} s" for job, seconds in pipeline.job_seconds.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
