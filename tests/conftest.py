from __future__ import annotations

import pytest

from tests.stack.moto_server import moto_server
from tests.stack.oidc_issuer import oidc_issuer


@pytest.fixture(scope="session")
def moto():
    """One moto server for the session; `aws` resets it for each test that uses it."""
    with moto_server() as server:
        yield server


@pytest.fixture(scope="session")
def issuer():
    """GitLab's identity: a local OIDC issuer that signs ID tokens, for the session."""
    with oidc_issuer() as running:
        yield running


@pytest.fixture
def aws(moto, monkeypatch, tmp_path):
    """An environment where boto3 and the AWS CLI talk to a clean moto, with throwaway keys."""
    moto.reset()
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("HOME", str(tmp_path))  # the AWS CLI caches credentials under ~/.aws/cli/cache
    return moto
