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

- the guards moto does not enforce: every $LATEST and alias answer carries a RevisionId that changes with
  each change; UpdateFunctionCode, UpdateFunctionConfiguration, PublishVersion and UpdateAlias given an
  old RevisionId get 412 PreconditionFailedException, and PublishVersion given a CodeSha256 other than
  $LATEST's gets InvalidParameterValueException; PublishVersion of an unchanged $LATEST returns the version
  already published from it (as Lambda does), instead of moto's duplicate;
- faults (`faults`, tests/stack/faults.py): transient ones at a seeded rate, permanent ones, an expired
  session, and holds that let a test kill the client at a given call; every alias change is recorded in
  `alias_log`, and the keys STS hands out in `secrets`, for the reliability figures.

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
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import boto3

from tests.stack.faults import Fault, Faults, Request, classify
from tests.stack.loopback import QuietHandler, loopback_server

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
    delay: float = 0.0  # seconds to wait before answering (a slow answer)


DROP = Answer(0, [], b"")  # close the connection without answering


def _sts_error(status: int, code: str, message: str) -> Answer:
    body = (f'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
            f"<Code>{code}</Code><Message>{message}</Message></Error><RequestId>{uuid.uuid4()}</RequestId>"
            "</ErrorResponse>").encode()
    return Answer(status, [("Content-Type", "text/xml")], body)


def _fault_answer(fault: Fault, request: Request) -> Answer:
    if request.service == "sts":
        return _sts_error(fault.status, fault.code, fault.message)
    return _error(fault.status, fault.code, fault.message)


def _as_lambda(answer: Answer) -> Answer:
    """moto says ConflictException where Lambda says ResourceConflictException (an alias that exists)."""
    kind = next((v for n, v in answer.headers if n.lower() == "x-amzn-errortype"), "")
    if answer.status != 409 or not kind.startswith("ConflictException"):
        return answer
    headers = [(n, v) for n, v in answer.headers if n.lower() != "x-amzn-errortype"]
    return Answer(409, [*headers, ("x-amzn-ErrorType", "ResourceConflictException")], answer.body, answer.delay)


_PRECONDITION = ("The Revision Id provided does not match the latest Revision Id. Call the {} API to retrieve "
                 "the latest Revision Id")
_STS_SECRETS = re.compile(rb"<(SecretAccessKey|SessionToken)>([^<]+)</")


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
        self._guard_lock = threading.Lock()  # a guarded change is checked and made as one step
        self._updates: dict[str, _Update] = {}
        self.faults = Faults()
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
            self.guarded = 0  # how many changes the RevisionId / CodeSha256 guards refused
            self._revisions: dict[str, str] = {}  # function -> RevisionId of $LATEST
            self._alias_revisions: dict[tuple[str, str], str] = {}
            self._published: dict[str, tuple[str, str]] = {}  # function -> ($LATEST's RevisionId, version)
            self.alias_log: list[tuple[str, str, str, dict[str, float]]] = []  # function, alias, version, weights
            self.secrets: set[str] = set()  # what STS handed out through this proxy
        self.faults.reset()

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
        """The answer to one request: held, faulted, or with Lambda's behaviour."""
        request = classify(method, target, headers, body)
        hold = self.faults.held(request)
        if hold is not None:
            hold.released.wait(60)
            if hold.applied:
                self._behave(request, method, target, headers, body)
            hold.done.set()
            return DROP
        fault = self.faults.decide(request)
        if fault is None:
            return self._behave(request, method, target, headers, body)
        if fault.kind == "reset":
            return DROP
        if fault.kind == "slow":
            answer = self._behave(request, method, target, headers, body)
            return Answer(answer.status, answer.headers, answer.body, delay=self.faults.slow_seconds)
        return _fault_answer(fault, request)

    def _behave(self, request: Request, method: str, target: str, headers: list[tuple[str, str]],
                body: bytes) -> Answer:
        if request.operation in ("UpdateFunctionCode", "UpdateFunctionConfiguration", "PublishVersion",
                                 "CreateFunction", "CreateAlias", "UpdateAlias", "DeleteFunction"):
            with self._guard_lock:
                refused = self._refused(request, target, body)
                if refused is not None:
                    return refused
                answer = _as_lambda(self._lambda_behaviour(method, target, headers, body))
                return self._revised(request, target, body, answer)
        answer = self._lambda_behaviour(method, target, headers, body)
        if request.operation == "AssumeRoleWithWebIdentity" and answer.status == 200:
            with self._lock:
                self.secrets.update(value.decode() for _, value in _STS_SECRETS.findall(answer.body))
        if request.operation in ("GetFunction", "GetFunctionConfiguration", "GetAlias", "ListAliases"):
            return self._revised(request, target, body, answer)
        return answer

    # --- RevisionId and CodeSha256 guards, PublishVersion's de-duplication --------------------------------

    def _revision(self, name: str) -> str:
        with self._lock:
            return self._revisions.setdefault(name, str(uuid.uuid4()))

    def _alias_revision(self, name: str, alias: str) -> str:
        with self._lock:
            return self._alias_revisions.setdefault((name, alias), str(uuid.uuid4()))

    def _refuse(self, code: str, message: str, status: int = 412) -> Answer:
        with self._lock:
            self.guarded += 1
        return _error(status, code, message)

    def _refused(self, request: Request, target: str, body: bytes) -> Answer | None:
        name = request.function
        given = json.loads(body or b"{}") if request.method != "DELETE" else {}
        if request.operation == "UpdateAlias":
            if given.get("RevisionId") and given["RevisionId"] != self._alias_revision(name, request.alias):
                return self._refuse("PreconditionFailedException", _PRECONDITION.format("GetAlias"))
            return None
        if request.operation not in ("UpdateFunctionCode", "UpdateFunctionConfiguration", "PublishVersion"):
            return None
        if given.get("RevisionId") and given["RevisionId"] != self._revision(name):
            return self._refuse("PreconditionFailedException", _PRECONDITION.format("GetFunction"))
        if request.operation == "PublishVersion" and given.get("CodeSha256"):
            try:
                latest = self._lambda.get_function_configuration(FunctionName=name)["CodeSha256"]
            except self._lambda.exceptions.ResourceNotFoundException:
                return None
            if latest != given["CodeSha256"]:
                return self._refuse("InvalidParameterValueException",
                                    f"CodeSHA256 ({given['CodeSha256']}) is different from current CodeSHA256 in "
                                    f"$LATEST ({latest}). Please try again from the previous step.", status=400)
        if request.operation == "PublishVersion":
            with self._lock:
                published = self._published.get(name)
            if published and published[0] == self._revision(name):
                # $LATEST has not changed since it was published: Lambda answers with that version.
                config = self._lambda.get_function_configuration(FunctionName=name, Qualifier=published[1])
                config.pop("ResponseMetadata", None)
                config["RevisionId"] = self._version_revision(name, published[1])
                return Answer(201, [("Content-Type", "application/json")], json.dumps(config).encode())
        return None

    def _version_revision(self, name: str, version: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{name}:{version}:{self._revision(name)}"))

    def _revised(self, request: Request, target: str, body: bytes, answer: Answer) -> Answer:
        """After a change: the new RevisionId (and the alias log); on every answer: the current one."""
        if answer.status // 100 != 2 or not answer.body:
            return answer
        name, operation = request.function, request.operation
        document = json.loads(answer.body)
        with self._lock:
            if operation in ("CreateFunction", "UpdateFunctionCode", "UpdateFunctionConfiguration"):
                self._revisions[name] = str(uuid.uuid4())
                if operation == "CreateFunction":
                    self._published.pop(name, None)
            elif operation == "DeleteFunction" and "Qualifier=" not in target:
                self._revisions.pop(name, None)
                self._published.pop(name, None)
            elif operation in ("CreateAlias", "UpdateAlias"):
                alias = document.get("Name") or request.alias
                self._alias_revisions[(name, alias)] = str(uuid.uuid4())
                weights = dict((document.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {})
                self.alias_log.append((name, alias, document.get("FunctionVersion", ""), weights))
        if operation == "PublishVersion":
            with self._lock:
                self._published[name] = (self._revisions.setdefault(name, str(uuid.uuid4())), document["Version"])
        if operation in ("CreateAlias", "UpdateAlias", "GetAlias"):
            document["RevisionId"] = self._alias_revision(name, document.get("Name") or request.alias)
        elif operation == "ListAliases":
            for alias in document.get("Aliases", []):
                alias["RevisionId"] = self._alias_revision(name, alias["Name"])
        else:
            config = document.get("Configuration", document)
            version = config.get("Version", "$LATEST")
            config["RevisionId"] = self._revision(name) if version == "$LATEST" else \
                self._version_revision(name, version)
        return Answer(answer.status, answer.headers, json.dumps(document).encode(), answer.delay)

    def _lambda_behaviour(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> Answer:
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
    class Handler(QuietHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if proxy.faults.upload_reset(self.command, self.path):
                self.rfile.read(length // 2)  # mid-upload
                self._reset()
                return
            body = self.rfile.read(length)
            answer = proxy.handle(self.command, self.path, list(self.headers.items()), body)
            if answer is DROP:
                self._reset()
                return
            if answer.delay:
                time.sleep(answer.delay)
            try:
                self._answer(answer)
            except OSError:  # the client gave up waiting (a slow answer): as with AWS, nobody hears it
                self.close_connection = True

        def _reset(self) -> None:
            # RST instead of FIN: the client sees its connection reset, as on a network fault.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True

        def _answer(self, answer: Answer) -> None:
            self.send_response_only(answer.status)
            for name, value in answer.headers:
                self.send_header(name, value)
            if self.command != "HEAD" and answer.status not in (204, 304):
                self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(answer.body)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _serve

    return Handler


@contextmanager
def lambda_proxy(upstream: str):
    """The proxy to `upstream` (moto's URL) on a free loopback port until the block ends."""
    cache = Path(tempfile.mkdtemp(prefix="lambda-proxy-"))
    try:
        with loopback_server("lambda-proxy") as server:
            proxy = LambdaProxy(server.server_address[1], upstream, cache)
            server.RequestHandlerClass = _handler(proxy)
            yield proxy
    finally:
        shutil.rmtree(cache, ignore_errors=True)
