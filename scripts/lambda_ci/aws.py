"""boto3 sessions and clients from the standard places (AWS_REGION, AWS_PROFILE, shared config files,
AWS_ENDPOINT_URL), with one retry policy."""

from __future__ import annotations

import os

import boto3
from botocore.config import Config

from lambda_ci import regions

# Adaptive mode backs off with jitter on throttling and 5xx, and rate-limits the client itself.
RETRIES = Config(retries={"mode": "adaptive", "max_attempts": 8}, connect_timeout=10, read_timeout=70)
# Seconds to wait for an answer before the call is retried (botocore has no standard variable for it):
# the fault tests set it low so that a slow answer costs a second, not a minute.
READ_TIMEOUT_VARIABLE = "LAMBDA_CI_AWS_READ_TIMEOUT"


def session(requested_region: str = "") -> boto3.Session:
    return boto3.Session(region_name=regions.region(requested_region))


def with_read_timeout(config: Config) -> Config:
    """`config`, with the read timeout of LAMBDA_CI_AWS_READ_TIMEOUT (seconds) when that is set."""
    given = os.environ.get(READ_TIMEOUT_VARIABLE, "")
    try:
        seconds = float(given)
    except ValueError:
        return config
    return config.merge(Config(read_timeout=seconds)) if seconds > 0 else config


def client(service: str, requested_region: str = "", boto_session: boto3.Session | None = None):
    return (boto_session or session(requested_region)).client(service, config=with_read_timeout(RETRIES))
