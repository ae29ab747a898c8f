"""The one table of Lambda Python runtimes: Python version, the glibc of its Amazon Linux, and AWS's
deprecation dates. catalog.yml's runtime enums must list exactly these names (a unit test checks it)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from lambda_ci.errors import BadInput


@dataclass(frozen=True)
class Runtime:
    name: str
    python: str  # "3.12": pip's --python-version
    os: str
    glibc: tuple[int, int]  # the newest manylinux_2_X a wheel may need
    deprecated: datetime.date  # no more patches from AWS
    block_create: datetime.date
    block_update: datetime.date  # deploys of the function fail from this day

    @property
    def abi(self) -> str:
        return "cp" + self.python.replace(".", "")


_AL2, _AL2023 = "Amazon Linux 2", "Amazon Linux 2023"
_D = datetime.date

# Dates from AWS's "Supported runtimes" table and its end-of-support notices of 2026 (projected; AWS moves
# them: python3.10's and python3.11's moved when AWS extended its Amazon Linux 2 runtimes past AL2's end).
RUNTIMES: dict[str, Runtime] = {r.name: r for r in (
    Runtime("python3.10", "3.10", _AL2, (2, 26), _D(2026, 10, 31), _D(2027, 2, 1), _D(2027, 3, 3)),
    Runtime("python3.11", "3.11", _AL2, (2, 26), _D(2027, 6, 30), _D(2027, 7, 31), _D(2027, 8, 31)),
    Runtime("python3.12", "3.12", _AL2023, (2, 34), _D(2028, 10, 31), _D(2028, 11, 30), _D(2029, 1, 10)),
    Runtime("python3.13", "3.13", _AL2023, (2, 34), _D(2029, 6, 30), _D(2029, 7, 31), _D(2029, 8, 31)),
    Runtime("python3.14", "3.14", _AL2023, (2, 34), _D(2029, 6, 30), _D(2029, 7, 31), _D(2029, 8, 31)),
)}

# Lambda's architecture names -> the machine names in wheel platform tags.
MACHINES = {"x86_64": "x86_64", "arm64": "aarch64"}

# PEP 600 names for older glibc levels (PEP 513/571/599); pip matches tags literally, so wheels tagged only
# with the legacy alias are found only when the alias is passed too.
_LEGACY = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}


def get(name: str) -> Runtime:
    try:
        return RUNTIMES[name]
    except KeyError:
        known = ", ".join(RUNTIMES)
        raise BadInput(f"`runtime` input: `{name}` is not a Lambda Python runtime lambda-ci knows ({known})"
                       ) from None


def platforms(runtime: Runtime, architecture: str) -> list[str]:
    """Every manylinux tag a wheel for this runtime and architecture may carry, newest first."""
    machine = MACHINES[architecture]
    # manylinux wheels for aarch64 start at glibc 2.17 (manylinux2014); x86_64 ones go back to 2.5.
    oldest = 5 if machine == "x86_64" else 17
    major, newest = runtime.glibc
    tags = []
    for minor in range(newest, oldest - 1, -1):
        tags.append(f"manylinux_{major}_{minor}_{machine}")
        if (major, minor) in _LEGACY:
            tags.append(f"{_LEGACY[major, minor]}_{machine}")
    return tags


def lifecycle_warning(runtime: Runtime, today: datetime.date) -> str | None:
    """The warning to print for a runtime AWS has deprecated (None while it is supported)."""
    if today < runtime.deprecated:
        return None

    def when(day: datetime.date) -> str:
        return f"since {day}" if today >= day else f"from {day}"

    newest = list(RUNTIMES)[-1]  # the table runs oldest to newest
    return (f"{runtime.name} is deprecated since {runtime.deprecated} (no more security patches): Lambda "
            f"blocks creating functions on it {when(runtime.block_create)} and updating them "
            f"{when(runtime.block_update)}; move to {newest}")
