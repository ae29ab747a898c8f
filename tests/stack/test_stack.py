"""Tests of the local stack itself: the OIDC issuer, the counting proxy and the gitlab-ci-local harness.

The harness is proven on a throwaway catalog of one component, so a failure here is the stack's, never
a template's.
"""

from __future__ import annotations

import base64
import json
import subprocess
import urllib.request

import boto3
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.stack.counting_proxy import counting_proxy
from tests.stack.gitlab_ci_local import HOST, VENV_BIN, Sandbox
from tests.stack.oidc_issuer import oidc_issuer


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def _verify(token: str, jwks: dict) -> dict:
    """Check the RS256 signature with the JWKS key named by the token's kid; return the claims."""
    header, claims, signature = token.split(".")
    key = next(k for k in jwks["keys"] if k["kid"] == json.loads(_b64decode(header))["kid"])
    numbers = rsa.RSAPublicNumbers(int.from_bytes(_b64decode(key["e"])), int.from_bytes(_b64decode(key["n"])))
    numbers.public_key().verify(_b64decode(signature), f"{header}.{claims}".encode(),
                                padding.PKCS1v15(), hashes.SHA256())
    return json.loads(_b64decode(claims))


def test_issuer_token_verifies_against_the_served_jwks():
    with oidc_issuer() as issuer:
        configuration = _get_json(issuer.url + "/.well-known/openid-configuration")
        jwks = _get_json(configuration["jwks_uri"])
        claims = _verify(issuer.mint(), jwks)

    assert configuration["issuer"] == issuer.url
    assert claims["iss"] == issuer.url
    assert claims["aud"] == "sts.amazonaws.com"
    assert claims["sub"] == "project_path:acme/hello-python:ref_type:branch:ref:main"
    assert claims["nbf"] <= claims["iat"] < claims["exp"]
    for name in ("namespace_id", "project_id", "pipeline_id", "job_id", "ref_protected", "user_id"):
        assert isinstance(claims[name], str), name  # GitLab sends these as strings
    assert isinstance(claims["runner_id"], int)


def test_issuer_overrides_follow_into_sub_and_none_drops_a_claim():
    with oidc_issuer() as issuer:
        claims = _verify(issuer.mint(ref="release", environment=None, aud="other"), issuer.jwks)

    assert claims["sub"] == "project_path:acme/hello-python:ref_type:branch:ref:release"
    assert "environment" not in claims
    assert claims["aud"] == "other"


def test_a_tampered_token_fails_verification():
    with oidc_issuer() as issuer:
        header, claims, signature = issuer.mint().split(".")
        forged = json.loads(_b64decode(claims)) | {"project_path": "evil/project"}
        forged_claims = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
        with pytest.raises(InvalidSignature):
            _verify(f"{header}.{forged_claims}.{signature}", issuer.jwks)


def test_counting_proxy_forwards_and_counts(aws):
    with counting_proxy(aws.url) as proxy:
        lam = boto3.client("lambda", endpoint_url=proxy.url)
        assert lam.list_functions()["Functions"] == []
        first = proxy.counts
        boto3.client("s3", endpoint_url=proxy.url).create_bucket(Bucket="counted")
        payload = b"x" * 10_000
        boto3.client("s3", endpoint_url=proxy.url).put_object(Bucket="counted", Key="k", Body=payload)
        delta = proxy.counts - first

    assert first.requests == 1 and first.bytes_sent > 0 and first.bytes_received > 0
    assert delta.requests == 2
    assert delta.bytes_sent > len(payload)
    assert boto3.client("s3").get_object(Bucket="counted", Key="k")["Body"].read() == payload


ECHO_TEMPLATE = """\
spec:
  inputs:
    greeting:
      type: string
    stage:
      default: build
  component: [sha, reference]
---
"echo-$[[ inputs.greeting ]]":
  stage: $[[ inputs.stage ]]
  image: registry.example.com/not-pulled:1
  variables:
    GREETING: $[[ inputs.greeting ]]
    COMPONENT_SHA: $[[ component.sha ]]
    COMPONENT_REF: $[[ component.reference ]]
  script:
    - echo "greeting=$GREETING sha=$COMPONENT_SHA ref=$COMPONENT_REF given=$GIVEN"
    - echo "lambda-ci=$(command -v lambda-ci) home=$HOME aws=${AWS_ACCESS_KEY_ID:-none}"
    - echo "project_dir=$CI_PROJECT_DIR pwd=$PWD"
    - echo kept > "$CI_PROJECT_DIR/kept.txt" && echo lost > lost.txt
  artifacts:
    paths: [kept.txt]

"check-$[[ inputs.greeting ]]":
  stage: test
  needs: ["echo-$[[ inputs.greeting ]]"]
  script:
    - test -f kept.txt && test ! -e lost.txt && echo "only declared artifacts reach the next job"
"""


@pytest.fixture
def echo_catalog(tmp_path):
    """A sandbox with a one-component catalog published at 1.2.3."""
    sandbox = Sandbox(tmp_path / "sandbox")
    source = tmp_path / "echo-catalog"
    (source / "templates" / "echo").mkdir(parents=True)
    (source / "templates" / "echo" / "template.yml").write_text(ECHO_TEMPLATE)
    subprocess.run(["git", "init", "-q"], cwd=source, env=sandbox.env, check=True)
    return sandbox, sandbox.publish_catalog(source, version="1.2.3")


def _include(version: str) -> dict[str, str]:
    return {".gitlab-ci.yml": f"include:\n  - component: $CI_SERVER_FQDN/acme/lambda-ci/echo@{version}\n"
                              "    inputs: {greeting: hello}\n"}


def test_component_resolves_at_a_tag_from_the_bare_repository(echo_catalog, monkeypatch):
    sandbox, catalog = echo_catalog
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "a-real-looking-key")  # must not reach a job
    consumer = sandbox.consumer("consumer", source=None, files=_include("1.2.3"))

    pipeline = sandbox.run(consumer, {"GIVEN": "by-variable"})

    assert pipeline.returncode == 0, pipeline.log
    assert f"greeting=hello sha={catalog.sha} ref=1.2.3 given=by-variable" in pipeline.log
    assert f"lambda-ci={VENV_BIN}/lambda-ci home={sandbox.home} aws=none" in pipeline.log
    assert "only declared artifacts reach the next job" in pipeline.log
    project_dir = consumer / ".gitlab-ci-local/builds/echo-hello"
    assert f"project_dir={project_dir} pwd={project_dir}" in pipeline.log
    assert set(pipeline.job_seconds) == {"echo-hello", "check-hello"}
    assert (consumer / ".gitlab-ci-local" / "includes" / HOST / "acme/lambda-ci/1.2.3").is_dir()


def test_an_unknown_tag_fails_the_pipeline(echo_catalog):
    sandbox, _ = echo_catalog
    consumer = sandbox.consumer("consumer", source=None, files=_include("9.9.9"))

    pipeline = sandbox.run(consumer, {})

    assert pipeline.returncode != 0
    assert "Component include could not be fetched" in pipeline.log
