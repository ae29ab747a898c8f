"""Seeded fault injection for the Lambda behaviour proxy (tests/stack/lambda_proxy.py), driven per test.

`Faults` decides, for each request the proxy receives, whether to answer it as AWS would on a bad day:

- transient faults at a rate (`transient(rate, kinds)`), drawn from a seeded random generator so that a
  failing run is replayed by its seed: `throttle` (Lambda 429 TooManyRequestsException, STS Throttling),
  `5xx` (500/503 ServiceException, STS ServiceUnavailable), `conflict` (409 ResourceConflictException on an
  update while "an update is in progress"), `slow` (forwarded, then answered after the client's read
  timeout: the change is made but the client does not learn it), `reset` (the connection closed without an
  answer, nothing forwarded), `reset_upload` (a request with code in its body closed after reading half of
  it), `idp` (STS IDPCommunicationError on AssumeRoleWithWebIdentity);
- a permanent fault (`fail(operation, ...)`): every call of one operation gets the same error;
- an expired or revoked session (`expire_after(n)`): after the n-th control-plane call, every call gets
  403 ExpiredTokenException;
- a hold (`hold(operation, nth)`): the n-th call of an operation waits at the proxy and tells the test,
  which kills the client (SIGKILL) and then lets the request reach moto (`applied=True`, the change made
  but never answered) or drops it.

Each injected fault is counted by kind (`counts`). Control-plane calls are Lambda's (except Invoke) and
STS's; `reset_upload` also hits S3 PutObject.
"""

from __future__ import annotations

import random
import re
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

TRANSIENT_KINDS = ("throttle", "5xx", "conflict", "slow", "reset", "reset_upload", "idp")
# What each kind may hit: a ResourceConflictException only where Lambda answers one, an upload reset only
# where there is a body of code, an IDP error only on the web identity call.
_UPDATES = {"CreateFunction", "UpdateFunctionCode", "UpdateFunctionConfiguration", "PublishVersion",
            "CreateAlias", "UpdateAlias", "DeleteFunction"}
_UPLOADS = {"CreateFunction", "UpdateFunctionCode", "S3:PutObject"}

_LAMBDA = re.compile(r"^/2015-03-31/functions(?:/(?P<name>[^/]+)(?P<rest>/.*?)?)?/?$")
_ROUTES = [  # (method, rest of the path after the function's name) -> operation
    ("POST", r"", "CreateFunction"), ("GET", r"", "GetFunction"), ("DELETE", r"", "DeleteFunction"),
    ("GET", r"/configuration", "GetFunctionConfiguration"),
    ("PUT", r"/configuration", "UpdateFunctionConfiguration"), ("PUT", r"/code", "UpdateFunctionCode"),
    ("POST", r"/versions", "PublishVersion"), ("GET", r"/versions", "ListVersionsByFunction"),
    ("POST", r"/invocations", "Invoke"), ("POST", r"/aliases", "CreateAlias"), ("GET", r"/aliases", "ListAliases"),
    ("GET", r"/aliases/[^/]+", "GetAlias"), ("PUT", r"/aliases/[^/]+", "UpdateAlias"),
    ("DELETE", r"/aliases/[^/]+", "DeleteAlias"),
]


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # without the query
    operation: str  # Lambda's or STS's operation name, S3:PutObject, or "" (not a control-plane call)
    service: str  # lambda, sts, s3 or ""
    function: str = ""  # Lambda: the function's name
    alias: str = ""  # Lambda: the alias in the path

    @property
    def control_plane(self) -> bool:
        return self.service in ("lambda", "sts") and self.operation not in ("", "Invoke")


def classify(method: str, target: str, headers: Iterable[tuple[str, str]], body: bytes | None) -> Request:
    """The operation a request is, from its method and path (and, for STS's query protocol, its body)."""
    split = urlsplit(target)
    path = split.path
    match = _LAMBDA.match(path)
    if match:
        rest = match["rest"] or ""
        name = unquote(match["name"] or "")
        for verb, pattern, operation in _ROUTES:
            if verb == method and (name or operation == "CreateFunction") and re.fullmatch(pattern, rest):
                alias = unquote(rest.rsplit("/", 1)[-1]) if rest.startswith("/aliases/") else ""
                return Request(method, path, operation, "lambda", _function_name(name), alias)
        return Request(method, path, "", "lambda", _function_name(name))
    if method == "POST" and path in ("", "/") and body is not None:
        action = parse_qs(body.decode(errors="replace")).get("Action", [""])[0]
        if action:
            service = "sts" if action in STS_ACTIONS else ""
            return Request(method, path, action, service)
    if method == "PUT" and path.count("/") >= 2 and not _header(headers, "x-amz-copy-source"):
        return Request(method, path, "S3:PutObject", "s3")
    return Request(method, path, "", "")


STS_ACTIONS = {"AssumeRoleWithWebIdentity", "GetCallerIdentity", "AssumeRole", "GetSessionToken"}


def is_upload(method: str, target: str) -> bool:
    """Whether a request (known before its body is read) carries code: a reset may hit it mid-body."""
    request = classify(method, target, [], None)
    return request.operation in _UPLOADS


def _function_name(given: str) -> str:
    parts = given.split(":")
    return parts[parts.index("function") + 1] if "function" in parts else parts[0]


def _header(headers: Iterable[tuple[str, str]], name: str) -> str:
    return next((v for n, v in headers if n.lower() == name.lower()), "")


@dataclass(frozen=True)
class Fault:
    kind: str
    status: int = 0
    code: str = ""
    message: str = ""


@dataclass
class Hold:
    """The n-th call of an operation, held at the proxy until the test lets it go."""

    operation: str
    nth: int
    applied: bool  # forward it to moto once released (the change made, the answer lost)
    seen: int = 0
    arrived: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)  # forwarded (or dropped)


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self, seed: int = 0) -> None:
        with self._lock:
            self._random = random.Random(seed)
            self.rate = 0.0
            self.kinds: tuple[str, ...] = TRANSIENT_KINDS
            self.slow_seconds = 0.0
            self.permanent: dict[str, Fault] = {}
            self._skip: dict[str, int] = {}
            self.targeted: dict[str, list] = {}  # operation -> [kind, calls to go before it]
            self._times: dict[str, int | None] = {}
            self.expire_at: int | None = None
            self.holds: list[Hold] = []
            self.calls = 0  # control-plane calls seen
            self.counts: Counter[str] = Counter()

    # --- what a test sets -----------------------------------------------------------------------------------

    def transient(self, rate: float, kinds: Iterable[str] = TRANSIENT_KINDS, seed: int = 0,
                  slow_seconds: float = 2.0) -> None:
        """Each control-plane call fails with probability `rate`, with one of `kinds` that fits it.
        `slow_seconds` must exceed the client's read timeout (LAMBDA_CI_AWS_READ_TIMEOUT)."""
        kinds = tuple(kinds)
        unknown = set(kinds) - set(TRANSIENT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds: {sorted(unknown)}")
        with self._lock:
            self._random = random.Random(seed)
            self.rate, self.kinds, self.slow_seconds = rate, kinds, slow_seconds

    def fail(self, operation: str, status: int = 500, code: str = "ServiceException",
             message: str = "Service unavailable (injected, permanent)", skip: int = 0,
             times: int | None = None) -> None:
        """Every call of `operation` after the first `skip` ones gets this error (only `times` of them if
        given: a refusal of one call, not of every later one)."""
        with self._lock:
            self.permanent[operation] = Fault("permanent", status, code, message)
            self._skip[operation] = skip
            self._times[operation] = times

    def inject(self, operation: str, kind: str, nth: int = 1) -> None:
        """The n-th call of `operation` gets one transient fault of `kind` (slow, reset, 5xx, ...)."""
        if kind not in TRANSIENT_KINDS or kind == "reset_upload":
            raise ValueError(f"cannot inject {kind!r} into one call")
        with self._lock:
            self.targeted[operation] = [kind, nth]

    def expire_after(self, calls: int) -> None:
        """The session expires after `calls` more control-plane calls: later ones get 403."""
        with self._lock:
            self.expire_at = self.calls + calls

    def hold(self, operation: str, nth: int = 1, applied: bool = False) -> Hold:
        hold = Hold(operation, nth, applied)
        with self._lock:
            self.holds.append(hold)
        return hold

    def release_all(self) -> None:
        with self._lock:
            holds = list(self.holds)
        for hold in holds:
            hold.released.set()

    # --- what the proxy asks ----------------------------------------------------------------------------------

    def upload_reset(self, method: str, target: str) -> bool:
        """Before reading the body: whether to read half of it and close the connection."""
        if "reset_upload" not in self.kinds or not self.rate or not is_upload(method, target):
            return False
        with self._lock:
            if self._random.random() >= self.rate / len(self.kinds):
                return False
            self.counts["reset_upload"] += 1
            return True

    def held(self, request: Request) -> Hold | None:
        with self._lock:
            for hold in self.holds:
                if hold.operation == request.operation and not hold.arrived.is_set():
                    hold.seen += 1
                    if hold.seen == hold.nth:
                        hold.arrived.set()
                        return hold
        return None

    def decide(self, request: Request) -> Fault | None:
        """The fault for this request, if any (counted), after its body was read."""
        if not request.control_plane:
            return None
        with self._lock:
            self.calls += 1
            if self.expire_at is not None and self.calls > self.expire_at:
                self.counts["expired"] += 1
                return Fault("expired", 403, "ExpiredTokenException",
                             "The security token included in the request is expired")
            permanent = self.permanent.get(request.operation)
            if permanent and self._skip.get(request.operation, 0) > 0:
                self._skip[request.operation] -= 1
            elif permanent and self._times.get(request.operation) != 0:
                if self._times.get(request.operation):
                    self._times[request.operation] -= 1
                self.counts["permanent"] += 1
                return permanent
            target = self.targeted.get(request.operation)
            if target:
                target[1] -= 1
                if target[1] == 0:
                    del self.targeted[request.operation]
                    self.counts[target[0]] += 1
                    return _transient(target[0], request, self._random)
            if not self.rate or self._random.random() >= self.rate:
                return None
            fitting = [kind for kind in self.kinds if _fits(kind, request)]
            if not fitting:
                return None
            kind = self._random.choice(fitting)
            self.counts[kind] += 1
            return _transient(kind, request, self._random)


def _fits(kind: str, request: Request) -> bool:
    if kind == "conflict":
        return request.service == "lambda" and request.operation in _UPDATES
    if kind == "idp":
        return request.operation == "AssumeRoleWithWebIdentity"
    return kind != "reset_upload"  # that one is decided before the body is read


def _transient(kind: str, request: Request, rng: random.Random) -> Fault:
    sts = request.service == "sts"
    if kind == "throttle":
        return Fault(kind, 400, "Throttling", "Rate exceeded") if sts else \
            Fault(kind, 429, "TooManyRequestsException", "Rate exceeded")
    if kind == "5xx":
        status = rng.choice((500, 503))
        if sts:
            return Fault(kind, status, "ServiceUnavailable" if status == 503 else "InternalFailure",
                         "Service unavailable")
        return Fault(kind, status, "ServiceException", "Lambda is unable to process the request")
    if kind == "conflict":
        return Fault(kind, 409, "ResourceConflictException",
                     f"The operation cannot be performed at this time. An update is in progress for resource: "
                     f"{request.function}")
    if kind == "idp":
        return Fault(kind, 400, "IDPCommunicationError",
                     "Couldn't retrieve verification key from your identity provider")
    return Fault(kind)  # slow, reset: the proxy acts them out
