"""The Region from AWS's standard variables, and the partition it belongs to: pure, so that what needs
only these (`auth process` answering from its cache) does not load the SDK."""

from __future__ import annotations

import os

DEFAULT_REGION = "us-east-1"


def region(requested: str = "") -> str:
    return requested or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION


def partition(region_name: str) -> str:
    if region_name.startswith("cn-"):
        return "aws-cn"
    if region_name.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"
