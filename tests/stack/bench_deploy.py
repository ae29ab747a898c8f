"""Benchmark of `lambda-ci deploy` against what teams do today, side by side in one run against moto:
`aws lambda update-function-code --zip-file fileb://...` then `aws lambda publish-version` (AWS CLI v1).

(a) a redeploy of unchanged code: bytes uploaded and wall time of each (the median of REDEPLOYS runs of
    each side, taken in turns: one run of either lasts about a second, and the machine's load moves it);
(b) 50 functions from one list, half of them changed: `lambda-ci deploy --functions` against a
    sequential loop of the baseline over all 50.

Both sides run as processes of this venv through a counting proxy, so start-up and the wire are counted
alike. `python -m tests.stack.bench_deploy` starts its own moto server.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import boto3
import yaml

from tests.stack.counting_proxy import Counts, counting_proxy
from tests.stack.moto_server import moto_server

BIN = Path(sys.executable).parent
MANY = 50
REDEPLOYS = 5
PAYLOAD = 512 * 1024  # incompressible bytes per zip, so uploading is not free


def _package(path: Path, body: str, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("app.py", f"def handler(event, context):\n    return {{'body': {body!r}}}\n")
        zf.writestr("data.bin", random.Random(seed).randbytes(PAYLOAD))
    return path


def _env(endpoint: str, home: Path) -> dict[str, str]:
    return {**os.environ, "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "HOME": str(home),
            "AWS_CONFIG_FILE": str(home / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(home / "none")}


def _run(args: list[str], env: dict[str, str]) -> None:
    subprocess.run(args, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _lambda_ci(*args: str) -> list[str]:
    return [str(BIN / "lambda-ci"), "deploy", "--runtime", "python3.12", *args]


def _baseline(env: dict[str, str], name: str, package: Path) -> None:
    aws = str(BIN / "aws")
    _run([aws, "lambda", "update-function-code", "--function-name", name, "--zip-file", f"fileb://{package}"], env)
    _run([aws, "lambda", "publish-version", "--function-name", name], env)


def _timed(proxy, work) -> tuple[float, Counts]:
    before, started = proxy.counts, time.monotonic()
    work()
    return time.monotonic() - started, proxy.counts - before


def _median(runs: list[tuple[float, Counts]]) -> tuple[float, Counts]:
    return sorted(runs, key=lambda run: run[0])[len(runs) // 2]


def measure(workdir: Path) -> dict[str, float]:
    """What `make bench` prints (tests/stack/bench.py): both sides against a moto server of their own."""
    workdir.mkdir(parents=True, exist_ok=True)
    with moto_server() as moto, tempfile.TemporaryDirectory(prefix="bench-deploy-", dir=workdir) as folder:
        return _measure(moto.url, Path(folder))


def _measure(endpoint_url: str, work: Path) -> dict[str, float]:
    direct = _env(endpoint_url, work)
    keys = {"endpoint_url": endpoint_url, "region_name": "us-east-1", "aws_access_key_id": "bench",
            "aws_secret_access_key": "bench"}
    role = boto3.client("iam", **keys).create_role(RoleName="bench-exec", AssumeRolePolicyDocument="{}")
    role_arn = role["Role"]["Arn"]

    # (a) one function, deployed once beforehand; then the same code again.
    single = _package(work / "single/function.zip", "v1", 0)
    _run(_lambda_ci("--function-name", "bench-one", "--package", str(single), "--execution-role-arn",
                    role_arn), direct)
    # (b) 50 functions deployed once beforehand; then half of them with new code.
    before = [{"function_name": f"bench-{i}", "package": str(_package(work / f"v1/{i}.zip", "v1", i))}
              for i in range(MANY)]
    (work / "v1.yml").write_text(yaml.safe_dump(before))
    _run(_lambda_ci("--function-name", "bench", "--functions", str(work / "v1.yml"),
                    "--execution-role-arn", role_arn), direct)
    after = [{**item, "package": str(_package(work / f"v2/{i}.zip", "v2", MANY + i))} if i % 2 else item
             for i, item in enumerate(before)]
    (work / "v2.yml").write_text(yaml.safe_dump(after))

    with counting_proxy(endpoint_url) as proxy:
        env = _env(proxy.url, work)
        ours_runs, base_runs = [], []
        for _ in range(REDEPLOYS):
            ours_runs.append(_timed(proxy, lambda: _run(_lambda_ci("--function-name", "bench-one", "--package",
                                                                   str(single)), env)))
            base_runs.append(_timed(proxy, lambda: _baseline(env, "bench-one", single)))
        ours_one, base_one = _median(ours_runs), _median(base_runs)
        ours_many = _timed(proxy, lambda: _run(_lambda_ci("--function-name", "bench", "--functions",
                                                          str(work / "v2.yml")), env))

        def loop() -> None:
            for item in after:
                _baseline(env, item["function_name"], Path(item["package"]))

        base_many = _timed(proxy, loop)
    return {
        "redeploy_seconds": ours_one[0], "redeploy_baseline_seconds": base_one[0],
        "redeploy_ratio": ours_one[0] / base_one[0],
        "redeploy_bytes_sent": ours_one[1].bytes_sent, "redeploy_baseline_bytes_sent": base_one[1].bytes_sent,
        "many_seconds": ours_many[0], "many_baseline_seconds": base_many[0],
        "many_ratio": ours_many[0] / base_many[0],
        "many_bytes_sent": ours_many[1].bytes_sent, "many_baseline_bytes_sent": base_many[1].bytes_sent,
    }


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        results = measure(Path(folder))
    print(f"redeploy of unchanged code: lambda-ci {results['redeploy_seconds']:.2f}s, "
          f"{results['redeploy_bytes_sent']} bytes sent; baseline {results['redeploy_baseline_seconds']:.2f}s, "
          f"{results['redeploy_baseline_bytes_sent']} bytes sent; ratio {results['redeploy_ratio']:.2f} "
          "(target at most 0.5)")
    print(f"{MANY} functions, half changed: lambda-ci --functions {results['many_seconds']:.2f}s, "
          f"{results['many_bytes_sent']} bytes sent; sequential baseline {results['many_baseline_seconds']:.2f}s, "
          f"{results['many_baseline_bytes_sent']} bytes sent; ratio {results['many_ratio']:.2f} (target at most 0.2)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
