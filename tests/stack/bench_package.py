"""Benchmark of `lambda-ci package` against `zip -r -q -X` (Info-ZIP, apt package zip) on one generated tree.

Targets (issue 4): wall time at most 0.5 of zip's at an output size within 0.5% of zip's, peak memory under
100 MB, and the same bytes from two copies of the tree made with other mtimes, umask and creation order.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

LAMBDA_CI = Path(sys.executable).with_name("lambda-ci")
RUNS = 3  # best of, for both tools: the machine's noise is not the tools' speed
TIME_TARGET = 0.5
SIZE_TOLERANCE = 0.005
MEMORY_TARGET_MB = 100


def generate(root: Path, seed: int = 4, reverse: bool = False, mtime_seed: int | None = None) -> int:
    """A ~52 MB tree: source text, already-compressed data, random bytes, structured binaries and many
    small files. The same seed gives the same files; `reverse` creates them in the opposite order and
    `mtime_seed` gives them other timestamps. Returns the bytes written."""
    rng = random.Random(seed)
    words = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz_", k=rng.randint(2, 12))) for _ in range(3000)]
    lines = [" " * 4 * rng.randint(0, 3) + " ".join(rng.choices(words, k=rng.randint(1, 10))) + "\n"
             for _ in range(5000)]

    def text(size: int) -> bytes:
        return "".join(rng.choices(lines, k=size // 36)).encode()

    files: dict[str, bytes] = {}
    for i in range(900):  # source: ~12 MB
        files[f"app/pkg{i % 40}/module{i}.py"] = text(rng.randint(2_000, 18_000))
    for i in range(9):  # already compressed: ~11 MB
        files[f"data/archive{i}.gz"] = zlib.compress(text(rng.randint(1_500_000, 3_500_000)), 1)
    for i in range(8):  # incompressible: ~12 MB
        files[f"assets/blob{i}.bin"] = rng.randbytes(rng.randint(200_000, 3_000_000))
    skewed = bytes(min(value, 15 + value % 3) for value in range(256))  # few symbols: deflate halves it
    for i in range(4):  # structured binary, like a shared library's tables: ~8 MB
        files[f"lib/native{i}.so"] = rng.randbytes(2_000_000).translate(skewed)
    for i in range(5000):  # many small files: ~6 MB
        files[f"vendor/dist{i % 200}/f{i}.txt"] = text(rng.randint(100, 1_800))

    names = sorted(files, reverse=reverse)
    stamp = random.Random(mtime_seed)
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(files[name])
        if name.endswith(".so"):
            path.chmod(path.stat().st_mode | 0o111)
        if mtime_seed is not None:
            moment = stamp.randint(0, 2**31 - 1)
            os.utime(path, (moment, moment))
    return sum(len(data) for data in files.values())


# Runs one command, prints its wall seconds, peak RSS in bytes and exit code. The measuring process is a
# small fresh one: a child's peak RSS includes the memory of the process it was forked from, and the
# benchmark holds the generated files for a while.
_RUN = """
import os, sys, time
if sys.argv[1] != "-":
    os.umask(int(sys.argv[1], 8))
start = time.perf_counter()
quiet = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)]
pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ, file_actions=quiet)
_, status, usage = os.wait4(pid, 0)
print(time.perf_counter() - start, usage.ru_maxrss * 1024, os.waitstatus_to_exitcode(status))
"""


def _timed(command: list[str], cwd: Path | None = None, umask: str = "-") -> tuple[float, int]:
    """Wall seconds and peak RSS in bytes of one run of command."""
    answer = subprocess.run([sys.executable, "-c", _RUN, umask, *command], cwd=cwd, check=True,
                            capture_output=True, text=True).stdout.split()
    seconds, peak, code = float(answer[0]), int(answer[1]), int(answer[2])
    if code != 0:
        raise RuntimeError(f"{' '.join(command)} failed with exit code {code}")
    return seconds, peak


def _package(source: Path, output: Path, umask: str = "-") -> tuple[float, int]:
    return _timed([str(LAMBDA_CI), "package", "--source", str(source), "--output", str(output)], umask=umask)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def measure(workdir: Path) -> dict:
    if not shutil.which("zip"):
        raise RuntimeError("zip is missing: apt-get install -y zip")
    workdir.mkdir(parents=True, exist_ok=True)
    tree, other = workdir / "tree", workdir / "tree-again"
    for folder in (tree, other):
        shutil.rmtree(folder, ignore_errors=True)
    previous = os.umask(0o022)
    try:
        tree_bytes = generate(tree)
        os.umask(0o077)
        generate(other, reverse=True, mtime_seed=7)
    finally:
        os.umask(previous)

    zip_out, ours = workdir / "zip-r.zip", workdir / "lambda-ci.zip"
    zip_seconds, runs = [], []
    for _ in range(RUNS):  # interleaved, so that a busy moment of the machine hits both tools
        zip_out.unlink(missing_ok=True)
        zip_seconds.append(_timed([shutil.which("zip"), "-r", "-q", "-X", str(zip_out), "."], cwd=tree)[0])
        runs.append(_package(tree, ours))
    again = workdir / "lambda-ci-again.zip"
    _package(other, again, umask="077")

    best_zip, best_ours = min(zip_seconds), min(seconds for seconds, _ in runs)
    result = {
        "cores": len(os.sched_getaffinity(0)),
        "tree_bytes": tree_bytes,
        "zip_seconds": round(best_zip, 3),
        "zip_size": zip_out.stat().st_size,
        "lambda_ci_seconds": round(best_ours, 3),
        "lambda_ci_size": ours.stat().st_size,
        "time_ratio": round(best_ours / best_zip, 3),
        "size_ratio": round(ours.stat().st_size / zip_out.stat().st_size, 4),
        "peak_memory_mb": round(max(rss for _, rss in runs) / 2**20, 1),
        "identical_across_trees": _sha(ours) == _sha(again),
    }
    result["targets_missed"] = [label for label, ok in checks(result).items() if not ok]
    return result


def checks(result: dict) -> dict[str, bool]:
    return {
        f"time ratio {result['time_ratio']} <= {TIME_TARGET}": result["time_ratio"] <= TIME_TARGET,
        f"size ratio {result['size_ratio']} at most {1 + SIZE_TOLERANCE} of zip's":
            result["size_ratio"] <= 1 + SIZE_TOLERANCE,
        f"peak memory {result['peak_memory_mb']} MB < {MEMORY_TARGET_MB} MB":
            result["peak_memory_mb"] < MEMORY_TARGET_MB,
        "byte-identical across mtimes, umask and creation order": result["identical_across_trees"],
    }


def main() -> int:
    result = measure(Path(os.environ.get("BENCH_DIR", "/tmp/lambda-ci-bench-package")))
    print(f"package benchmark on {result['tree_bytes'] / 1e6:.1f} MB, {result['cores']} cores:")
    print(f"  zip -r -q -X      {result['zip_seconds']:6.3f} s  {result['zip_size']:>10} bytes")
    print(f"  lambda-ci package {result['lambda_ci_seconds']:6.3f} s  {result['lambda_ci_size']:>10} bytes  "
          f"peak {result['peak_memory_mb']} MB")
    for label, ok in checks(result).items():
        print(f"  {'ok  ' if ok else 'FAIL'} {label}")
    return 1 if result["targets_missed"] else 0


if __name__ == "__main__":
    sys.exit(main())
