"""moto in server mode over HTTP, as AWS for every test that calls it."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, body: dict | None = None) -> None:
    data = json.dumps(body or {}).encode()
    request = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10):
        pass


class MotoServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    def reset(self) -> None:
        """Forget every resource, and keep Lambda's Invoke working without Docker."""
        _post(f"{self.url}/moto-api/reset")
        _post(f"{self.url}/moto-api/config", {"lambda": {"use_docker": False}})


@contextmanager
def moto_server(log: Path | None = None):
    port = free_port()
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 (closed below)
    moto = Path(sys.executable).with_name("moto_server")
    process = subprocess.Popen([str(moto), "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=out)
    server = MotoServer(port)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                server.reset()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto server did not start on port {port}") from None
                time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        if log:
            out.close()
