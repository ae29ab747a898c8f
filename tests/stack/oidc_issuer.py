"""GitLab's identity, locally: an OIDC issuer on loopback that signs GitLab-shaped ID tokens (RS256).

It serves `/.well-known/openid-configuration` and the JWKS it points to, as GitLab does at
`/oauth/discovery/keys`, so a verifier can fetch the key the way AWS does. The claims follow GitLab's
ID token documentation, including its types: ids and `ref_protected` are strings, `runner_id` a number.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.stack.loopback import QuietHandler, loopback_server

JWKS_PATH = "/oauth/discovery/keys"
LIFETIME = 3600  # seconds, GitLab's default for a job that has the default timeout


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _uint(number: int) -> str:
    return b64url(number.to_bytes((number.bit_length() + 7) // 8, "big"))


class OidcIssuer:
    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        numbers = self._key.public_key().public_numbers()
        public = {"e": _uint(numbers.e), "kty": "RSA", "n": _uint(numbers.n)}
        # The kid is the RFC 7638 thumbprint, as GitLab computes it.
        thumbprint = json.dumps(public, separators=(",", ":"), sort_keys=True).encode()
        self.kid = b64url(hashlib.sha256(thumbprint).digest())
        self.jwks = {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    @property
    def configuration(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "jwks_uri": self.url + JWKS_PATH,
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": sorted(self.claims()),
        }

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """A job's claims; an override of None leaves that claim out. `sub` follows project_path and ref."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "namespace_id": "72",
            "namespace_path": "acme",
            "project_id": "20",
            "project_path": "acme/hello-python",
            "user_id": "1",
            "user_login": "ci-user",
            "user_email": "ci-user@example.com",
            "pipeline_id": "574",
            "pipeline_source": "push",
            "job_id": "302",
            "ref": "main",
            "ref_type": "branch",
            "ref_path": "refs/heads/main",
            "ref_protected": "true",
            "environment": "production",
            "environment_protected": "true",
            "deployment_tier": "production",
            "runner_id": 1,
            "runner_environment": "self-hosted",
            "sha": "714a629c0b401fdce83e847fc9589983fc6f46bc",
            "ci_config_ref_uri": "gitlab.example.com/acme/hello-python//.gitlab-ci.yml@refs/heads/main",
            "ci_config_sha": "714a629c0b401fdce83e847fc9589983fc6f46bc",
            "project_visibility": "private",
            "jti": str(uuid.uuid4()),
            "iss": self.url,
            "iat": now,
            "nbf": now - 5,
            "exp": now + LIFETIME,
            "aud": "sts.amazonaws.com",
        }
        claims.update(overrides)
        claims.setdefault(
            "sub", f"project_path:{claims['project_path']}:ref_type:{claims['ref_type']}:ref:{claims['ref']}"
        )
        return {name: value for name, value in claims.items() if value is not None}

    def mint(self, **overrides: Any) -> str:
        header = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        parts = (header, self.claims(**overrides))
        signing_input = ".".join(b64url(json.dumps(part, separators=(",", ":")).encode()) for part in parts)
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64url(signature)}"


def _handler(issuer: OidcIssuer) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        def do_GET(self) -> None:
            documents = {"/.well-known/openid-configuration": issuer.configuration, JWKS_PATH: issuer.jwks}
            document = documents.get(self.path.split("?")[0])
            body = json.dumps(document).encode()
            self.send_response(200 if document else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextmanager
def oidc_issuer():
    """An issuer serving on a free loopback port until the block ends."""
    with loopback_server("oidc-issuer") as server:
        issuer = OidcIssuer(server.server_address[1])
        server.RequestHandlerClass = _handler(issuer)
        yield issuer
