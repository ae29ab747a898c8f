"""What a job shows GitLab: collapsible log sections and dotenv reports."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

_SECTION_NAME = re.compile(r"[^A-Za-z0-9_.-]")


@contextmanager
def section(name: str, header: str, collapsed: bool = False) -> Iterator[None]:
    """A GitLab collapsible log section (plain lines elsewhere are harmless)."""
    key = _SECTION_NAME.sub("_", name)
    options = "[collapsed=true]" if collapsed else ""
    print(f"\x1b[0Ksection_start:{int(time.time())}:{key}{options}\r\x1b[0K{header}", flush=True)
    try:
        yield
    finally:
        print(f"\x1b[0Ksection_end:{int(time.time())}:{key}\r\x1b[0K", flush=True)


def write_dotenv(path: Path, values: Mapping[str, str]) -> None:
    """A dotenv report: KEY=VALUE lines, one per variable, values on one line."""
    lines = []
    for key, value in values.items():
        text = str(value)
        if "\n" in text:
            raise ValueError(f"dotenv value of {key} spans lines")
        lines.append(f"{key}={text}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def warn(message: str) -> None:
    print(f"\x1b[33mWARNING: {message}\x1b[0m", file=sys.stderr, flush=True)
