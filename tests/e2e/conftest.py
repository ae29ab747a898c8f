"""The stack of the end-to-end tests: a published catalog, once per session.

AWS (moto) and GitLab's identity (the OIDC issuer) are the session's, from tests/conftest.py; each
pipeline test resets moto itself.
"""

from __future__ import annotations

import pytest

from tests.stack.gitlab_ci_local import Sandbox


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    """A sandbox where this catalog's working tree is published at its version tag."""
    sandbox = Sandbox(tmp_path_factory.mktemp("gitlab"))
    sandbox.publish_catalog()
    return sandbox
