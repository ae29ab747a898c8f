"""A scan for secrets in what a run leaves behind: logs, artifacts, dotenv reports, error messages.

`find_secrets(texts_or_paths, secrets)` looks for each secret as it is, and in its base64 forms (standard
and URL-safe, at each of the three alignments a secret can have inside a longer base64 text, e.g. a
base64-encoded JSON document or a Basic auth header). A folder is scanned file by file, recursively.
Used by the end-to-end tests and by `make reliability` (the figure "secrets found in logs").
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

MIN_LENGTH = 8  # shorter "secrets" (a test's placeholder) would match everywhere
MAX_FILE = 50 * 1024 * 1024


@dataclass(frozen=True)
class Hit:
    where: str  # a path, or `text #N` for the N-th text given
    form: str  # raw, base64 or base64url
    secret: str  # the first characters of the secret, enough to tell which one

    def __str__(self) -> str:
        return f"{self.where}: {self.secret[:6]}... ({self.form})"


def _base64_forms(secret: bytes) -> dict[bytes, str]:
    """The part of base64(... + secret + ...) that depends only on the secret, for each alignment."""
    forms: dict[bytes, str] = {}
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + secret)
        # Characters mixing padding bytes with the secret, at the start, and the last partial group.
        start = (offset * 4 + 2) // 3
        end = len(encoded) - (4 if (offset + len(secret)) % 3 else 0)
        core = encoded[start:end]
        if len(core) >= MIN_LENGTH:
            forms[core] = "base64"
            url = core.replace(b"+", b"-").replace(b"/", b"_")
            if url != core:
                forms[url] = "base64url"
    return forms


def forms_of(secret: str) -> dict[bytes, str]:
    raw = secret.encode()
    return {raw: "raw", **_base64_forms(raw)}


def _sources(texts_or_paths: Iterable[str | bytes | Path]) -> Iterable[tuple[str, bytes]]:
    for number, item in enumerate(texts_or_paths):
        if isinstance(item, Path):
            paths = sorted(p for p in item.rglob("*") if p.is_file() and not p.is_symlink()) if item.is_dir() \
                else [item]
            for path in paths:
                try:
                    with path.open("rb") as f:
                        yield str(path), f.read(MAX_FILE)
                except OSError:
                    continue
        elif isinstance(item, bytes):
            yield f"text #{number}", item
        else:
            yield f"text #{number}", item.encode("utf-8", "surrogateescape")


def find_secrets(texts_or_paths: Iterable[str | bytes | Path], secrets: Iterable[str]) -> list[Hit]:
    """Every place where a secret (or a base64 form of it) appears; [] when there is none."""
    wanted = {form: (kind, secret) for secret in set(secrets) if secret and len(secret) >= MIN_LENGTH
              for form, kind in forms_of(secret).items()}
    hits = []
    for where, content in _sources(texts_or_paths):
        for form, (kind, secret) in wanted.items():
            if form in content:
                hits.append(Hit(where, kind, secret))
    return hits


def token_secrets(token: str) -> set[str]:
    """An ID token and its signature alone (a log cut at the dots must not show it either)."""
    return {token, token.rsplit(".", 1)[-1]} if token else set()
