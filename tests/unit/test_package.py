"""`lambda-ci package`: reproducible bytes, a valid zip, excludes, refusals, layers, limits, the manifest."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from lambda_ci import cli, package

FILES = {
    "app.py": b"def handler(event, context):\n    return {'ok': True}\n" * 20,
    "run.sh": b"#!/bin/sh\nexec python app.py\n",
    "pkg/__init__.py": b"",
    "pkg/data.json": json.dumps({"k": list(range(3000))}).encode(),
    "pkg/tests/test_inner.py": b"# a package's own tests folder is not the function's: kept\n",
    "donn\u00e9es/caf\u00e9.txt": "d\u00e9j\u00e0 vu\n".encode(),
    # Larger than a piece: compressed in several pieces, one deflate stream.
    "big/text.txt": b"".join(b"line %d of a long and repetitive file\n" % i for i in range(60_000)),
    # Incompressible and larger than a piece: stored raw.
    "big/random.bin": random.Random(1).randbytes(600_000),
}
LEFT_OUT = {
    "__pycache__/app.cpython-312.pyc": b"\x00",
    "pkg/__pycache__/x.pyc": b"\x00",
    "pkg/stale.pyc": b"\x00",
    ".git/HEAD": b"ref: refs/heads/main\n",
    ".aws/credentials": b"[default]\n",
    "tests/test_app.py": b"def test(): pass\n",
}


def make_tree(root: Path, files: dict[str, bytes], reverse: bool = False,
              mtime_seed: int | None = None) -> Path:
    stamps = random.Random(mtime_seed)
    for name in sorted(files, reverse=reverse):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(files[name])
        if name.endswith(".sh"):
            path.chmod(path.stat().st_mode | stat.S_IXUSR)
        if mtime_seed is not None:
            moment = stamps.randint(0, 2**31 - 1)
            os.utime(path, (moment, moment))
    return root


def package_cli(*args: str) -> int:
    return cli.main(["package", *args])


def read_zip(path: Path) -> dict[str, tuple[bytes, int, tuple]]:
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
        return {i.filename: (z.read(i), i.external_attr >> 16, i.date_time) for i in z.infolist()}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "src", {**FILES, **LEFT_OUT})


def test_same_bytes_whatever_mtimes_umask_and_creation_order(tmp_path: Path):
    previous = os.umask(0o022)
    try:
        one = make_tree(tmp_path / "one", {**FILES, **LEFT_OUT}, mtime_seed=1)
        os.umask(0o077)
        two = make_tree(tmp_path / "two", {**FILES, **LEFT_OUT}, reverse=True, mtime_seed=2)
    finally:
        os.umask(previous)
    assert package_cli("--source", str(one), "--output", str(tmp_path / "one.zip")) == 0
    assert package_cli("--source", str(two), "--output", str(tmp_path / "two.zip")) == 0
    assert (tmp_path / "one.zip").read_bytes() == (tmp_path / "two.zip").read_bytes()


def test_bytes_are_the_same_on_every_machine(tree: Path, tmp_path: Path):
    """Pinned: a change of compressor, level or layout (or a machine where zlib-ng compresses differently)
    changes every package's CodeSha256, and with it every deploy; it must be a deliberate change."""
    assert package_cli("--source", str(tree), "--output", str(tmp_path / "f.zip")) == 0
    manifest = json.loads((tmp_path / "f.manifest.json").read_text())
    assert manifest["code_sha256"] == "AjICrNTHYYVDCvwWcyKH0I75YmagT5573YMFnLbTAE0="


def test_bytes_do_not_depend_on_the_thread_count(tree: Path, tmp_path: Path):
    members = package.collect(tree)
    outputs = []
    for workers in (1, 3):
        with (tmp_path / f"{workers}.zip").open("w+b") as out:
            package.write_zip(members, out, workers=workers)
        outputs.append((tmp_path / f"{workers}.zip").read_bytes())
    assert outputs[0] == outputs[1]


def test_zip_is_valid_sorted_and_normalised(tree: Path, tmp_path: Path):
    output = tmp_path / "dist" / "function.zip"
    assert package_cli("--source", str(tree), "--output", str(output)) == 0
    entries = read_zip(output)
    assert list(entries) == sorted(FILES, key=str.encode)  # no directories, nothing of LEFT_OUT
    for name, (data, mode, date_time) in entries.items():
        assert data == FILES[name]
        assert mode == (stat.S_IFREG | (0o755 if name == "run.sh" else 0o644))
        assert date_time == (1980, 1, 1, 0, 0, 0)
    with zipfile.ZipFile(output) as z:
        methods = {i.filename: i.compress_type for i in z.infolist()}
        assert all(not i.extra for i in z.infolist())
    assert methods["big/text.txt"] == zipfile.ZIP_DEFLATED
    assert methods["big/random.bin"] == zipfile.ZIP_STORED
    if shutil.which("unzip"):
        subprocess.run(["unzip", "-tq", str(output)], check=True, capture_output=True)


def test_user_excludes_add_to_the_defaults(tree: Path, tmp_path: Path):
    output = tmp_path / "f.zip"
    assert package_cli("--source", str(tree), "--output", str(output),
                       "--exclude", "*.json", "--exclude", "big/", "--exclude", "**/tests") == 0
    assert sorted(read_zip(output)) == ["app.py", "donn\u00e9es/caf\u00e9.txt", "pkg/__init__.py", "run.sh"]


def test_layer_puts_the_tree_under_python(tree: Path, tmp_path: Path):
    output = tmp_path / "layer.zip"
    assert package_cli("--source", str(tree), "--output", str(output), "--layer") == 0
    names = list(read_zip(output))
    assert names == sorted((f"python/{name}" for name in FILES), key=str.encode)
    assert json.loads((tmp_path / "layer.manifest.json").read_text())["layer"] is True


def _compiled(tree: Path, mode: str) -> None:
    """As a user would: the names recorded in the .pyc are Lambda's (/var/task), not the build folder's."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", "--invalidation-mode", mode,
                    "-s", str(tree), "-p", "/var/task", str(tree / "pkg")], check=True)


def test_keep_bytecode_keeps_hash_based_pyc_reproducibly(tmp_path: Path, capsys):
    """compileall in unchecked-hash mode writes no mtime into the .pyc, so the zip stays the same when
    the sources are touched."""
    outputs = []
    for run, seed in enumerate((1, 2)):
        source = make_tree(tmp_path / f"src{run}", FILES, mtime_seed=seed)
        _compiled(source, "unchecked-hash")
        output = tmp_path / f"{run}.zip"
        assert package_cli("--source", str(source), "--output", str(output), "--keep-bytecode") == 0
        outputs.append(output.read_bytes())
    assert outputs[0] == outputs[1]
    tag = sys.implementation.cache_tag
    assert f"pkg/__pycache__/__init__.{tag}.pyc" in read_zip(tmp_path / "0.zip")
    assert "WARNING" not in capsys.readouterr().err


def test_keep_bytecode_warns_about_timestamped_pyc(tree: Path, tmp_path: Path, capsys):
    _compiled(tree, "timestamp")
    output = tmp_path / "f.zip"
    assert package_cli("--source", str(tree), "--output", str(output), "--keep-bytecode") == 0
    names = read_zip(output)
    assert {"pkg/stale.pyc", "__pycache__/app.cpython-312.pyc"} <= set(names)  # the tree's, kept as they are
    first = min(name for name in names if name.startswith("pkg/__pycache__/__init__"))
    assert capsys.readouterr().err == (
        f"\x1b[33mWARNING: 2 kept .pyc files hold their sources' mtimes (e.g. {first}), so the zip changes "
        "whenever the sources are touched: compile them with "
        "`python -m compileall --invalidation-mode unchecked-hash`\x1b[0m\n")


def test_symlinks_inside_are_stored_as_content(tmp_path: Path):
    source = make_tree(tmp_path / "src", {"app.py": b"print(1)\n", "lib/util.py": b"X = 1\n"})
    (source / "alias.py").symlink_to("app.py")
    (source / "shared").symlink_to("lib", target_is_directory=True)
    (source / "outside").symlink_to("/etc/hostname")
    output = tmp_path / "f.zip"
    assert package_cli("--source", str(source), "--output", str(output), "--exclude", "outside") == 0
    entries = read_zip(output)
    assert entries["alias.py"][0] == b"print(1)\n"
    assert entries["shared/util.py"][0] == b"X = 1\n"
    assert all(stat.S_ISREG(mode) for _, mode, _ in entries.values())


@pytest.mark.parametrize(("make", "line"), [
    (lambda s: (s / "passwd").symlink_to("/etc/passwd"),
     "symlink `passwd` points outside the source folder (to `/etc/passwd`): copy what it points to into the "
     "folder, or exclude it"),
    (lambda s: (s / "lib" / "up").symlink_to("../../secret.txt"),
     "symlink `lib/up` points outside the source folder (to `../../secret.txt`): copy what it points to into "
     "the folder, or exclude it"),
    (lambda s: (s / "..\\evil.py").write_text(""),
     "`..\\evil.py` has a `..` part, which would unpack outside the function's folder: rename it"),
    (lambda s: (s / "lib" / "a\\..\\..\\evil.py").write_text(""),
     "`lib/a\\..\\..\\evil.py` has a `..` part, which would unpack outside the function's folder: rename it"),
    (lambda s: (s / "\\etc\\cron.d").write_text(""),
     "`\\etc\\cron.d` is an absolute path, which would unpack outside the function's folder: rename it"),
    (lambda s: (s / "C:\\evil.py").write_text(""),
     "`C:\\evil.py` is an absolute path, which would unpack outside the function's folder: rename it"),
    (lambda s: (s / "lib" / "loop").symlink_to(".."),
     "symlink `lib/loop` loops back to a folder holding it"),
    (lambda s: (s / "gone").symlink_to("missing.py"),
     "symlink `gone` points to nothing (`missing.py`)"),
    (lambda s: os.mkfifo(s / "pipe"),
     "`pipe` is neither a file nor a folder"),
])
def test_unsafe_trees_are_refused_with_one_line(tmp_path: Path, capsys, make, line):
    (tmp_path / "secret.txt").write_text("secret")
    source = make_tree(tmp_path / "src", {"app.py": b"", "lib/util.py": b""})
    make(source)
    output = tmp_path / "f.zip"
    assert package_cli("--source", str(source), "--output", str(output)) == 2
    assert capsys.readouterr().err == f"lambda-ci package: `source_dir` input: {line}\n"
    assert not output.exists()


def test_a_missing_or_empty_source_is_bad_input(tmp_path: Path, capsys):
    assert package_cli("--source", str(tmp_path / "nope"), "--output", str(tmp_path / "f.zip")) == 2
    prefix = "lambda-ci package: `source_dir` input:"
    assert capsys.readouterr().err == f"{prefix} `{tmp_path / 'nope'}` is not a folder\n"
    make_tree(tmp_path / "empty", {"__pycache__/a.pyc": b""})
    assert package_cli("--source", str(tmp_path / "empty"), "--output", str(tmp_path / "f.zip")) == 2
    assert capsys.readouterr().err == (f"{prefix} `{tmp_path / 'empty'}` has no files to package "
                                       "(after the excludes)\n")


def test_above_250_mb_unzipped_fails_before_writing(tmp_path: Path, capsys):
    source = make_tree(tmp_path / "src", {"app.py": b""})
    with (source / "model.bin").open("wb") as sparse:
        sparse.truncate(251 * 2**20)
    output = tmp_path / "f.zip"
    assert package_cli("--source", str(source), "--output", str(output)) == 1
    assert capsys.readouterr().err == (
        "lambda-ci package: 251.0 MB unzipped is above Lambda's limit of 250 MB for a function and its "
        "layers together: leave out what the function does not need (exclude input) or ship it as a "
        "container image\n")
    assert not output.exists()


def test_above_50_mb_zipped_warns_that_deploy_uses_s3(tmp_path: Path, capsys):
    source = make_tree(tmp_path / "src", {"blob.bin": random.Random(2).randbytes(51 * 2**20)})
    output = tmp_path / "f.zip"
    assert package_cli("--source", str(source), "--output", str(output)) == 0
    size = output.stat().st_size
    assert size > package.DIRECT_UPLOAD_LIMIT
    assert capsys.readouterr().err == (
        f"\x1b[33mWARNING: {output} is {size / 2**20:.1f} MB zipped, above the 50 MB of a direct upload: "
        "deploy will upload it through S3 (set the deploy's s3_bucket input)\x1b[0m\n")


def test_manifest(tree: Path, tmp_path: Path):
    output = tmp_path / "dist" / "function.zip"
    assert package_cli("--source", str(tree), "--output", str(output)) == 0
    manifest = json.loads((tmp_path / "dist" / "function.manifest.json").read_text())
    data = output.read_bytes()
    assert manifest == {
        "code_sha256": base64.b64encode(hashlib.sha256(data).digest()).decode(),
        "size": len(data),
        "unzipped_size": sum(len(content) for content in FILES.values()),
        "files": len(FILES),
        "layer": False,
        "runtime": None,
        "architecture": None,
        "compressor": "zlib-ng",
        "compressor_version": package.compressor_version(),
        "compression_level": package.LEVEL,
    }


def test_manifest_records_the_build_and_goes_where_asked(tmp_path: Path):
    source = make_tree(tmp_path / "build" / "lambda", {"app.py": b""})
    build_info = {"runtime": "python3.13", "architecture": "arm64"}
    (tmp_path / "build" / "lambda.build.json").write_text(json.dumps(build_info))
    manifest = tmp_path / "out" / "m.json"
    zip_path = tmp_path / "f.zip"
    assert package_cli("--source", str(source), "--output", str(zip_path), "--manifest", str(manifest)) == 0
    recorded = json.loads(manifest.read_text())
    assert (recorded["runtime"], recorded["architecture"]) == ("python3.13", "arm64")


def test_an_output_inside_the_source_is_not_packaged_into_itself(tmp_path: Path):
    source = make_tree(tmp_path / "src", {"app.py": b"x = 1\n"})
    output = source / "dist" / "function.zip"
    assert package_cli("--source", str(source), "--output", str(output)) == 0
    first = output.read_bytes()
    assert package_cli("--source", str(source), "--output", str(output)) == 0
    assert output.read_bytes() == first
    assert list(read_zip(output)) == ["app.py"]


def test_excludes_match_names_anywhere_and_paths_from_the_top():
    excluded = package._excluder(["*.md", "/docs", "a/b/*.txt", "**/cache"])
    assert excluded("x/README.md", "README.md")
    assert excluded("docs", "docs") and not excluded("pkg/docs", "docs")
    assert excluded("a/b/c.txt", "c.txt") and not excluded("z/a/b/c.txt", "c.txt")
    assert excluded("cache", "cache") and excluded("p/q/cache", "cache")
