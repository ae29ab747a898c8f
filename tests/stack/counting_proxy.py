"""A small HTTP proxy in front of moto that counts the requests and bytes clients send to "AWS".

Clients reach it as AWS_ENDPOINT_URL. It forwards each request unchanged (the Host header too, since
the client signed it) and counts what crossed the wire: request line, headers and body going out, the
response coming back. `make bench` reads the counts per pipeline.
"""

from __future__ import annotations

import http.client
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from tests.stack.loopback import QuietHandler, loopback_server

# Headers about this one connection, which a proxy must not pass on (RFC 9110, 7.6.1).
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}


@dataclass(frozen=True)
class Counts:
    requests: int = 0
    bytes_sent: int = 0  # client -> AWS
    bytes_received: int = 0  # AWS -> client

    def __sub__(self, other: Counts) -> Counts:
        return Counts(*(a - b for a, b in zip(self.astuple(), other.astuple(), strict=True)))

    def astuple(self) -> tuple[int, int, int]:
        return self.requests, self.bytes_sent, self.bytes_received


class CountingProxy:
    def __init__(self, port: int, upstream: str) -> None:
        self.url = f"http://127.0.0.1:{port}"
        target = urlsplit(upstream)
        self.upstream = (target.hostname, target.port)
        self._lock = threading.Lock()
        self._counts = Counts()

    @property
    def counts(self) -> Counts:
        with self._lock:
            return self._counts

    def add(self, sent: int, received: int) -> None:
        with self._lock:
            c = self._counts
            self._counts = Counts(c.requests + 1, c.bytes_sent + sent, c.bytes_received + received)


def _handler(proxy: CountingProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as with AWS: a new connection per call would be unfair

        def _forward(self) -> None:
            if "chunked" in self.headers.get("Transfer-Encoding", ""):
                # botocore always sends a Content-Length; refusing keeps the counts honest if that changes.
                self.send_error(501, "chunked request bodies are not supported by the counting proxy")
                return
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            sent = len(self.raw_requestline) + len(self.headers.as_bytes()) + len(body)

            upstream = http.client.HTTPConnection(*proxy.upstream, timeout=120)
            try:
                upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for name, value in self.headers.items():
                    if name.lower() not in HOP_BY_HOP:
                        upstream.putheader(name, value)
                upstream.endheaders(body)
                response = upstream.getresponse()
                answer = response.read()
                dropped = HOP_BY_HOP | {"content-length"}  # the length is set again below
                headers = [(n, v) for n, v in response.getheaders() if n.lower() not in dropped]
                status, reason = response.status, response.reason
            finally:
                upstream.close()

            # Counted before answering: a client that reads the counts right after its call sees its call.
            proxy.add(sent, len(answer) + sum(len(n) + len(v) + 4 for n, v in headers))
            self.send_response_only(status, reason)
            for name, value in headers:
                self.send_header(name, value)
            if self.command != "HEAD" and status not in (204, 304):
                self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(answer)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _forward

    return Handler


@contextmanager
def counting_proxy(upstream: str):
    """A proxy to `upstream` (moto's URL) on a free loopback port until the block ends."""
    with loopback_server("counting-proxy") as server:
        proxy = CountingProxy(server.server_address[1], upstream)
        server.RequestHandlerClass = _handler(proxy)
        yield proxy
