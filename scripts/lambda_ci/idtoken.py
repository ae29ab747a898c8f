"""The job's GitLab ID token: read from GITLAB_AWS_IDENTITY_TOKEN and checked before STS sees it.

The signature is not verified here (STS does that with the issuer's keys); the claims are decoded so
that a missing, expired, not yet valid or wrongly addressed token gets a line that says so, instead of
STS's terse InvalidIdentityToken.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lambda_ci.errors import BadInput

VARIABLE = "GITLAB_AWS_IDENTITY_TOKEN"
# Removed in GitLab 17.0; a job that still reads them has no token at all.
DEPRECATED = ("CI_JOB_JWT", "CI_JOB_JWT_V1", "CI_JOB_JWT_V2")
# STS, then every SDK call that follows, needs the token to last a little longer than this check.
MIN_REMAINING = 60
# GitLab's clock and the runner's may differ by a few seconds; more than this is a broken clock.
CLOCK_LEEWAY = 30


@dataclass(frozen=True)
class IdToken:
    raw: str = field(repr=False)
    claims: Mapping[str, Any]

    @property
    def iss(self) -> str:
        return str(self.claims.get("iss", ""))

    @property
    def sub(self) -> str:
        return str(self.claims.get("sub", ""))

    @property
    def audiences(self) -> list[str]:
        aud = self.claims.get("aud", [])
        return [aud] if isinstance(aud, str) else [str(a) for a in aud]

    @property
    def aud(self) -> str:
        return ",".join(self.audiences)

    def summary(self) -> str:
        """The claims worth seeing in a debug log (none of them is a secret; the token itself is)."""
        names = ("iss", "sub", "aud", "exp", "nbf", "iat", "project_path", "ref", "ref_type", "environment")
        return ", ".join(f"{n}={self.claims[n]}" for n in names if n in self.claims)


def snippet(audience: str) -> str:
    return f"  id_tokens:\n    {VARIABLE}:\n      aud: {audience}"


def deprecated_in(environ: Mapping[str, str]) -> list[str]:
    return [name for name in DEPRECATED if environ.get(name)]


def load(environ: Mapping[str, str], audience: str, now: datetime) -> IdToken:
    """The job's token, decoded and checked; BadInput with the problem and its fix otherwise."""
    raw = environ.get(VARIABLE, "").strip()
    if not raw:
        removed = deprecated_in(environ)
        why = f" ({', '.join(removed)} was removed in GitLab 17.0)" if removed else ""
        raise BadInput(f"{VARIABLE} is not set{why}: the job needs an ID token, add to it:\n"
                       + snippet(audience), keep_lines=True)
    token = IdToken(raw, decode(raw))
    check(token, audience, now)
    return token


def decode(raw: str) -> dict[str, Any]:
    parts = raw.split(".")
    if len(parts) != 3:
        raise BadInput(f"{VARIABLE} is malformed: a JWT has 3 dot-separated parts, this value has "
                       f"{len(parts)}")
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(payload)
    except (binascii.Error, ValueError):
        raise BadInput(f"{VARIABLE} is malformed: its payload is not base64url-encoded JSON") from None
    if not isinstance(claims, dict):
        raise BadInput(f"{VARIABLE} is malformed: its payload is not a JSON object")
    for name in ("exp", "nbf"):
        if name in claims and not isinstance(claims[name], int | float):
            raise BadInput(f"{VARIABLE} is malformed: its `{name}` claim is not a number")
    if "exp" not in claims:
        raise BadInput(f"{VARIABLE} is malformed: it has no `exp` claim")
    return claims


def check(token: IdToken, audience: str, now: datetime) -> None:
    moment = now.timestamp()
    exp = token.claims["exp"]
    if exp <= moment:
        raise BadInput(f"{VARIABLE} expired at {iso(exp)}, {moment - exp:.0f} s ago: GitLab issues it when "
                       "the job starts and it lasts the job's timeout; retry the job")
    if exp - moment < MIN_REMAINING:
        raise BadInput(f"{VARIABLE} expires at {iso(exp)}, in {exp - moment:.0f} s: too late to use "
                       f"(less than {MIN_REMAINING} s left); retry the job")
    nbf = token.claims.get("nbf")
    if nbf is not None and nbf > moment + CLOCK_LEEWAY:
        raise BadInput(f"{VARIABLE} is not valid before {iso(nbf)}, {nbf - moment:.0f} s from now: this "
                       "runner's clock is behind GitLab's; synchronize it (NTP)")
    if audience not in token.audiences:
        raise BadInput(f"{VARIABLE} has aud `{token.aud}`, but the `audience` input is `{audience}`: make "
                       f"them the same (id_tokens: {VARIABLE}: aud: {audience}, or audience: {token.aud})")


def iso(moment: float | datetime) -> str:
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
