from __future__ import annotations

import pytest

from lambda_ci import lambda_api
from tests.stack.lambda_proxy import lambda_proxy


class Calls:
    """The AWS operations that lambda-ci made, recorded through botocore's event hooks."""

    def __init__(self) -> None:
        self.made: list[tuple[str, dict]] = []

    def record(self, model, params, **_):
        self.made.append((model.name, params))

    def names(self) -> list[str]:
        return [name for name, _ in self.made]

    def params(self, operation: str) -> list[dict]:
        return [params for name, params in self.made if name == operation]

    def clear(self) -> None:
        self.made.clear()


@pytest.fixture
def calls(aws, monkeypatch):
    recorder = Calls()

    def session(settings):
        boto = aws_session(settings)
        boto.events.register("before-parameter-build", recorder.record)
        return boto

    aws_session = lambda_api.session
    monkeypatch.setattr(lambda_api, "session", session)
    return recorder


@pytest.fixture
def proxy(aws, monkeypatch):
    """The Lambda behaviour proxy in front of a clean moto, as AWS_ENDPOINT_URL for lambda-ci and boto3."""
    with lambda_proxy(aws.url) as running:
        monkeypatch.setenv("AWS_ENDPOINT_URL", running.url)
        yield running
