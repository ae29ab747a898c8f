"""The stack of the end-to-end tests: GitLab's identity and a published catalog, once per session.

AWS is the session's moto server (tests/conftest.py); each pipeline test resets it itself.
"""

from __future__ import annotations

import pytest

from tests.stack.gitlab_ci_local import Sandbox
from tests.stack.oidc_issuer import oidc_issuer


@pytest.fixture(scope="session")
def issuer():
    with oidc_issuer() as issuer:
        yield issuer


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    """A sandbox where this catalog's working tree is published at its version tag."""
    sandbox = Sandbox(tmp_path_factory.mktemp("gitlab"))
    sandbox.publish_catalog()
    return sandbox
