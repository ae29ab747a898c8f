"""A small HTTP proxy in front of moto that adds the Lambda behaviour moto lacks, driven by each test.

Clients reach it as AWS_ENDPOINT_URL; it forwards every request to moto and changes only this:

- after CreateFunction, UpdateFunctionCode or UpdateFunctionConfiguration, GetFunction and
  GetFunctionConfiguration of $LATEST report State Pending (create) or LastUpdateStatus InProgress
  (update) for a number of reads or seconds (`settle_after`), then Successful, or Failed with a
  LastUpdateStatusReason (`fail_next_update`);
- while a function is in progress, another update (or PublishVersion) gets 409
  ResourceConflictException, as Lambda answers it;
- throttling (`throttle`): the next N Lambda calls, or a fraction of them, get 429 TooManyRequestsException;
- Invoke (RequestResponse) runs the deployed handler in a subprocess of this Python and answers as
  Lambda does: the JSON result, or X-Amz-Function-Error: Unhandled with errorMessage, errorType, stackTrace.

moto's Code.Location is not a URL that serves the zip, so the proxy keeps the zips it forwards
(CreateFunction and UpdateFunctionCode, inline or from moto's S3) by their SHA-256, and Invoke takes the
code whose hash GetFunction reports for the qualifier: exactly the code Lambda would run for it.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import boto3

# Headers about this one connection, which a proxy must not pass on (RFC 9110, 7.6.1).
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}
_FUNCTIONS = re.compile(r"^/2015-03-31/functions(?:/(?P<name>[^/]+)(?P<rest>/.*?)?)?/?$")
# (method, path after the function's name) -> operation, for the operations the proxy changes.
_OPERATIONS = {
    ("POST", None): "CreateFunction", ("GET", ""): "GetFunction", ("GET", "/configuration"): "GetFunctionConfiguration",
    ("PUT", "/code"): "UpdateFunctionCode", ("PUT", "/configuration"): "UpdateFunctionConfiguration",
    ("POST", "/versions"): "PublishVersion", ("POST", "/invocations"): "Invoke",
}
_UPDATES = {"CreateFunction", "UpdateFunctionCode", "UpdateFunctionConfiguration"}
_CONFLICTING = {"UpdateFunctionCode", "UpdateFunctionConfiguration", "PublishVersion"}

# Runs one invocation: the zip's folder first on sys.path (python -I -S keeps the runner's site-packages
# out, as they are out of Lambda), the handler's prints on stderr, the outcome as JSON on stdout.
HARNESS = r"""
import importlib, json, sys, time, traceback
root, handler, meta = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
sys.path.insert(0, root)
out, sys.stdout = sys.stdout, sys.stderr

class Context:
    function_name = meta["name"]
    function_version = meta["version"]
    invoked_function_arn = meta["arn"]
    memory_limit_in_mb = meta["memory"]
    aws_request_id = meta["request_id"]
    log_group_name = "/aws/lambda/" + meta["name"]
    log_stream_name = "lambda-proxy"
    deadline = time.monotonic() + meta["timeout"]
    def get_remaining_time_in_millis(self):
        return max(0, int((self.deadline - time.monotonic()) * 1000))

def error(kind, message, tb=None):
    trace = traceback.format_list(traceback.extract_tb(tb)) if tb else []
    return {"error": {"errorMessage": message, "errorType": kind, "stackTrace": trace}}

module_name, _, function_name = handler.rpartition(".")
try:
    module = importlib.import_module(module_name)
except Exception as e:
    outcome = error("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {e}")
else:
    function = getattr(module, function_name, None)
    if function is None:
        outcome = error("Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'")
    else:
        try:
            result = function(json.loads(sys.stdin.read()), Context())
        except Exception as e:
            outcome = error(type(e).__name__, str(e), e.__traceback__.tb_next)  # from the handler's frame on
        else:
            try:
                outcome = {"result": json.dumps(result)}
            except (TypeError, ValueError) as e:
                outcome = error("Runtime.MarshalError", f"Unable to marshal response: {e}")
out.write(json.dumps(outcome))
"""


@dataclass
class _Update:
    create: bool
    reads_left: int  # status reads still to answer "in progress"
    until: float  # and until this time.monotonic()
    failure: str | None  # LastUpdateStatusReason when it ends Failed


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def _error(status: int, code: str, message: str, **extra: str) -> Answer:
    # Lambda's REST-JSON error: the code in x-amzn-ErrorType, the text in "message".
    body = json.dumps({"Type": "User", "message": message, **extra}).encode()
    return Answer(status, [("Content-Type", "application/json"), ("x-amzn-ErrorType", code)], body)


class LambdaProxy:
    def __init__(self, port: int, upstream: str, cache: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        target = urlsplit(upstream)
        self.upstream = (target.hostname, target.port)
        self.cache = cache  # <hex sha256>.zip as forwarded, <hex sha256>/ unpacked
        keys = {"region_name": "us-east-1", "aws_access_key_id": "proxy", "aws_secret_access_key": "proxy"}
        self._lambda = boto3.client("lambda", endpoint_url=upstream, **keys)
        self._s3 = boto3.client("s3", endpoint_url=upstream, **keys)
        self._lock = threading.Lock()
        self._updates: dict[str, _Update] = {}
        self.reset()

    # --- what a test sets -------------------------------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self._updates.clear()
            self._settle = (0, 0.0)
            self._failure: str | None = None
            self._throttle_next = 0
            self._throttle_fraction = 0.0
            self.throttled = 0  # how many calls were answered 429, for tests to check they happened
            self.conflicts = 0  # how many updates were answered 409

    def settle_after(self, reads: int = 0, seconds: float = 0.0) -> None:
        """Every later create or update stays in progress for `reads` status reads and `seconds`."""
        with self._lock:
            self._settle = (reads, seconds)

    def fail_next_update(self, reason: str) -> None:
        """The next create or update ends Failed with this LastUpdateStatusReason (StateReason on create)."""
        with self._lock:
            self._failure = reason

    def throttle(self, next_calls: int = 0, fraction: float = 0.0) -> None:
        """The next `next_calls` Lambda calls get 429, then each with probability `fraction`."""
        with self._lock:
            self._throttle_next, self._throttle_fraction = next_calls, fraction
            self._random = random.Random(0)  # the same throttled calls in every run

    # --- what the handler calls -------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> Answer:
        split = urlsplit(target)
        match = _FUNCTIONS.match(split.path)
        if not match:
            return self.forward(method, target, headers, body)
        if self._throttled():
            return _error(429, "TooManyRequestsException", "Rate exceeded", Reason="CallerRateLimitExceeded")
        operation = _OPERATIONS.get((method, match["rest"] or ("" if match["name"] else None)))
        name = _function_name(unquote(match["name"] or "") or json.loads(body or b"{}").get("FunctionName", ""))
        qualifier = parse_qs(split.query).get("Qualifier", ["$LATEST"])[0]
        if operation in _CONFLICTING and self._status(name, read=False)[0] == "busy":
            with self._lock:
                self.conflicts += 1
            return _error(409, "ResourceConflictException", "The operation cannot be performed at this time. "
                          f"An update is in progress for resource: {name}")
        if operation == "Invoke" and _header(headers, "X-Amz-Invocation-Type", "RequestResponse") == "RequestResponse":
            return self.invoke(name, qualifier, body)
        answer = self.forward(method, target, headers, body)
        if answer.status // 100 != 2:
            return answer
        if operation in ("CreateFunction", "UpdateFunctionCode"):
            self._keep_code(json.loads(body), operation)
        if operation in _UPDATES:
            self._start_update(name, create=operation == "CreateFunction")
        if operation in _UPDATES or (operation in ("GetFunction", "GetFunctionConfiguration")
                                     and qualifier == "$LATEST"):
            return self._decorated(answer, name, read=operation.startswith("Get"))
        return answer

    def forward(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> Answer:
        upstream = http.client.HTTPConnection(*self.upstream, timeout=120)
        try:
            upstream.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                if name.lower() not in HOP_BY_HOP:
                    upstream.putheader(name, value)
            upstream.endheaders(body)
            response = upstream.getresponse()
            answer = response.read()
            kept = [(n, v) for n, v in response.getheaders() if n.lower() not in HOP_BY_HOP | {"content-length"}]
            return Answer(response.status, kept, answer)
        finally:
            upstream.close()

    # --- update status and conflicts ----------------------------------------------------------------------

    def _throttled(self) -> bool:
        with self._lock:
            if self._throttle_next > 0:
                self._throttle_next -= 1
            elif not (self._throttle_fraction and self._random.random() < self._throttle_fraction):
                return False
            self.throttled += 1
            return True

    def _start_update(self, name: str, create: bool) -> None:
        with self._lock:
            reads, seconds = self._settle
            self._updates[name] = _Update(create, reads, time.monotonic() + seconds, self._failure)
            self._failure = None

    def _status(self, name: str, read: bool) -> tuple[str, _Update | None]:
        """busy, failed or done, and the update; a status read counts toward the end of the update."""
        with self._lock:
            update = self._updates.get(name)
            if update is None:
                return "done", None
            if update.reads_left > 0 or time.monotonic() < update.until:
                if read:
                    update.reads_left -= 1
                return "busy", update
            return ("failed" if update.failure else "done"), update

    def _decorated(self, answer: Answer, name: str, read: bool) -> Answer:
        status, update = self._status(name, read)
        if update is None or status == "done":
            return answer
        document = json.loads(answer.body)
        config = document.get("Configuration", document)  # GetFunction nests it, the others do not
        if status == "busy" and update.create:
            config.update(State="Pending", StateReason="The function is being created.", StateReasonCode="Creating")
            config.pop("LastUpdateStatus", None)
        elif status == "busy":
            config.update(LastUpdateStatus="InProgress", LastUpdateStatusReason="The function is being updated.",
                          LastUpdateStatusReasonCode="InProgress")
        elif update.create:
            config.update(State="Failed", StateReason=update.failure, StateReasonCode="InternalError")
        else:
            config.update(LastUpdateStatus="Failed", LastUpdateStatusReason=update.failure,
                          LastUpdateStatusReasonCode="InternalError")
        return Answer(answer.status, answer.headers, json.dumps(document).encode())

    # --- code and Invoke ------------------------------------------------------------------------------------

    def _keep_code(self, request: dict[str, Any], operation: str) -> None:
        code = request["Code"] if operation == "CreateFunction" else request
        if "ZipFile" in code:
            data = base64.b64decode(code["ZipFile"])
        elif "S3Key" in code:
            data = self._s3.get_object(Bucket=code["S3Bucket"], Key=code["S3Key"])["Body"].read()
        else:
            return  # an image: nothing the proxy can run
        path = self.cache / f"{hashlib.sha256(data).hexdigest()}.zip"
        if not path.exists():
            path.write_bytes(data)

    def _unpacked(self, code_sha256: str) -> Path | None:
        digest = base64.b64decode(code_sha256).hex()
        folder = self.cache / digest
        with self._lock:  # one unpacking per code, even when invocations come together
            if not folder.is_dir():
                zipped = self.cache / f"{digest}.zip"
                if not zipped.is_file():
                    return None
                partial = Path(tempfile.mkdtemp(dir=self.cache))
                with zipfile.ZipFile(zipped) as zf:
                    zf.extractall(partial)
                partial.rename(folder)
        return folder

    def invoke(self, name: str, qualifier: str, payload: bytes) -> Answer:
        try:
            event = json.loads(payload or b"{}")
        except json.JSONDecodeError:
            return _error(400, "InvalidRequestContentException", "Could not parse request body into json")
        try:
            config = self._lambda.get_function(FunctionName=name, Qualifier=qualifier)["Configuration"]
        except self._lambda.exceptions.ResourceNotFoundException as error:
            return _error(404, "ResourceNotFoundException", error.response["Error"]["Message"])
        root = self._unpacked(config["CodeSha256"])
        if root is None:
            return _error(502, "ServiceException", f"lambda proxy: the code of {name}:{qualifier} did not pass "
                          "through this proxy, so it cannot be run")
        meta = {"name": name, "version": config["Version"], "arn": config["FunctionArn"],
                "memory": config["MemorySize"], "timeout": config["Timeout"], "request_id": _request_id()}
        try:
            done = subprocess.run([sys.executable, "-I", "-S", "-c", HARNESS, str(root), config["Handler"],
                                   json.dumps(meta)], input=json.dumps(event).encode(), capture_output=True,
                                  cwd=root, timeout=config["Timeout"])
        except subprocess.TimeoutExpired:
            outcome = {"error": {"errorType": "Sandbox.Timedout", "errorMessage":
                                 f"Task timed out after {config['Timeout']:.2f} seconds"}}
        else:
            try:
                outcome = json.loads(done.stdout)
            except json.JSONDecodeError:
                outcome = {"error": {"errorType": "Runtime.ExitError", "errorMessage":
                                     f"RequestId: {meta['request_id']} Error: Runtime exited with error: "
                                     f"exit status {done.returncode}"}}
        headers = [("Content-Type", "application/json"), ("X-Amz-Executed-Version", config["Version"])]
        if "error" in outcome:
            headers.append(("X-Amz-Function-Error", "Unhandled"))
            return Answer(200, headers, json.dumps(outcome["error"]).encode())
        return Answer(200, headers, outcome["result"].encode())


def _function_name(given: str) -> str:
    """The name from a name, a partial or full ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER])."""
    parts = given.split(":")
    if "function" in parts:
        return parts[parts.index("function") + 1]
    return parts[0]


def _header(headers: list[tuple[str, str]], name: str, default: str) -> str:
    return next((v for n, v in headers if n.lower() == name.lower()), default)


def _request_id() -> str:
    return str(uuid.uuid4())


def _handler(proxy: LambdaProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            answer = proxy.handle(self.command, self.path, list(self.headers.items()), body)
            self.send_response_only(answer.status)
            for name, value in answer.headers:
                self.send_header(name, value)
            if self.command != "HEAD" and answer.status not in (204, 304):
                self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(answer.body)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def lambda_proxy(upstream: str):
    """The proxy to `upstream` (moto's URL) on a free loopback port until the block ends."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    server.daemon_threads = True
    cache = Path(tempfile.mkdtemp(prefix="lambda-proxy-"))
    proxy = LambdaProxy(server.server_address[1], upstream, cache)
    server.RequestHandlerClass = _handler(proxy)
    thread = threading.Thread(target=server.serve_forever, name="lambda-proxy", daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
        shutil.rmtree(cache, ignore_errors=True)
