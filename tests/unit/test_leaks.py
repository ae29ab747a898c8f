"""No secret leaks (issue 6, item 5): the scanner itself, and the error messages of failing auth. A stub
STS on loopback answers as badly as it can: its refusals echo the whole request (the ID token, the
signature, the session token), and `lambda-ci auth` must still print none of them, with or without --debug."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from tests.stack.leaks import find_secrets, token_secrets
from tests.stack.oidc_issuer import OidcIssuer

ROLE = "arn:aws:iam::123456789012:role/gitlab-acme-app-deploy"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzStubSecretKey1"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEStubSessionTokenIAmLongAndSecret+/=="


# ---- the scanner --------------------------------------------------------------------------------------

@pytest.mark.parametrize("prefix", ["", "a", "ab", '{"SecretAccessKey": "'])
def test_the_scanner_finds_a_secret_inside_base64_at_any_alignment(prefix):
    blob = base64.b64encode(f"{prefix}{SECRET_KEY}\"}}".encode()).decode()
    urlsafe = base64.urlsafe_b64encode(f"{prefix}{SECRET_KEY}".encode()).decode()
    assert [hit.form for hit in find_secrets([blob], [SECRET_KEY])] == ["base64"]
    assert len(find_secrets([urlsafe], [SECRET_KEY])) == 1  # base64url (or base64, when they agree)


def test_the_scanner_reads_folders_and_names_the_file(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "job.log").write_text(f"export AWS_SECRET_ACCESS_KEY={SECRET_KEY}\n")
    (tmp_path / "clean.txt").write_text("nothing\n")
    hits = find_secrets([tmp_path, "a clean text"], [SECRET_KEY, "short"])
    assert [(Path(hit.where).name, hit.form) for hit in hits] == [("job.log", "raw")]


# ---- failing auth, against an STS that echoes everything -------------------------------------------------

class StubSts:
    def __init__(self, mode: str) -> None:
        self.mode = mode  # "deny": AssumeRoleWithWebIdentity is refused; "identity": GetCallerIdentity is
        self.requests: list[str] = []


def _error(code: str, message: str) -> bytes:
    return (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            "<RequestId>r</RequestId></ErrorResponse>").encode()


def _credentials() -> bytes:
    return ("<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>"
            f"<AccessKeyId>ASIASTUBKEYID</AccessKeyId><SecretAccessKey>{SECRET_KEY}</SecretAccessKey>"
            f"<SessionToken>{SESSION_TOKEN}</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration>"
            "</Credentials><SubjectFromWebIdentityToken>s</SubjectFromWebIdentityToken>"
            "<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/r/s</Arn><AssumedRoleId>A:s"
            "</AssumedRoleId></AssumedRoleUser></AssumeRoleWithWebIdentityResult>"
            "</AssumeRoleWithWebIdentityResponse>").encode()


@contextmanager
def stub_sts(mode: str):
    stub = StubSts(mode)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            everything = f"{self.headers}{body}".replace("&", " ").replace("<", " ")
            stub.requests.append(everything)
            action = parse_qs(body).get("Action", [""])[0]
            if action == "AssumeRoleWithWebIdentity" and stub.mode == "deny":
                status, answer = 403, _error("AccessDenied", f"Not authorized: you sent {everything}")
            elif action == "AssumeRoleWithWebIdentity":
                status, answer = 200, _credentials()
            else:
                status, answer = 403, _error("InvalidClientTokenId", f"The token is not valid: {everything}")
            self.send_response(status)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def token() -> str:
    return OidcIssuer(0).mint(aud="sts.amazonaws.com")


def auth(endpoint: str, token: str, folder: Path, *flags: str, extra_flags: tuple[str, ...] = (),
         **extra: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAMBDA_CI_", "CI_"))}
    environ.update(AWS_ENDPOINT_URL=endpoint, AWS_REGION="us-east-1", GITLAB_AWS_IDENTITY_TOKEN=token,
                   CI_PROJECT_DIR=str(folder), HOME=str(folder), AWS_CONFIG_FILE=str(folder / "none"),
                   AWS_SHARED_CREDENTIALS_FILE=str(folder / "none"), **extra)
    return subprocess.run([sys.executable, "-m", "lambda_ci", *flags, "auth", f"--role-arn={ROLE}", *extra_flags],
                          cwd=folder, env=environ, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("debug", [(), ("--debug",)])
@pytest.mark.parametrize("mode", ["deny", "identity"])
def test_failing_auth_never_prints_the_token_or_the_keys(tmp_path, token, mode, debug):
    with stub_sts(mode) as (stub, endpoint):
        done = auth(endpoint, token, tmp_path, *debug)
    assert done.returncode == 1, done.stderr
    assert stub.requests and any(token in request for request in stub.requests)  # the echo had it to give
    if mode == "identity":
        assert any(SESSION_TOKEN in request for request in stub.requests)
    secrets = token_secrets(token) | {SECRET_KEY, SESSION_TOKEN}
    assert find_secrets([done.stdout, done.stderr, tmp_path], secrets) == []
    assert done.stderr.strip(), "the failure is explained"


@pytest.mark.parametrize("bad", ["not-a-jwt", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjF9.c2lnbmF0dXJlc2lnbmF0dXJl"])
def test_a_malformed_token_is_not_echoed(tmp_path, bad):
    with stub_sts("deny") as (stub, endpoint):
        done = auth(endpoint, bad, tmp_path)
    assert done.returncode == 2 and stub.requests == []  # refused before STS
    assert len(done.stderr.splitlines()) == 1
    assert find_secrets([done.stderr, done.stdout], {bad, bad.rsplit(".", 1)[-1]} - {"not-a-jwt", "c"}) == []


@pytest.mark.parametrize("where", ["before", "after"])
def test_the_debug_claims_line_carries_no_signature(tmp_path, token, where):
    """Also a regression: `lambda-ci --debug auth` lost --debug (the subcommand's default overrode it)."""
    with stub_sts("deny") as (_, endpoint):
        if where == "before":
            done = auth(endpoint, token, tmp_path, "--debug")
        else:
            done = auth(endpoint, token, tmp_path, extra_flags=["--debug"])
    assert "debug: ID token claims" in done.stderr
    assert find_secrets([done.stderr], token_secrets(token)) == []
    assert json.dumps(token) not in done.stderr
