"""What the stack's small HTTP services share: a threaded server on a free 127.0.0.1 port."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class QuietHandler(BaseHTTPRequestHandler):
    """No access log on stderr: the services' own records (counts, faults) are what tests read."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def loopback_server(name: str) -> Iterator[ThreadingHTTPServer]:
    """A server serving in a thread until the block ends. Its port is known only once it is bound, so the
    caller sets RequestHandlerClass (which may need the port) before telling anyone the address."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), QuietHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
