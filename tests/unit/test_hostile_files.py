"""Hostile files (issue 6, item 3): package on trees that try to escape, loop or hang, and lint on pipelines
that try to exhaust time or memory. Each is refused with its exact line (or stored safely, where the zip
can hold it), no zip is written, and nothing takes more than a few seconds or much memory."""

from __future__ import annotations

import os
import resource
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from lambda_ci import cli, gitlab_yaml, lint

LAMBDA_CI = [sys.executable, "-m", "lambda_ci"]


def package(tmp_path: Path, capsys) -> tuple[int, str, Path]:
    output = tmp_path / "out" / "function.zip"
    code = cli.main(["package", "--source", str(tmp_path / "src"), "--output", str(output)])
    return code, capsys.readouterr().err, output


@pytest.fixture
def src(tmp_path: Path) -> Path:
    source = tmp_path / "src"
    source.mkdir()
    (source / "app.py").write_text("def handler(event, context):\n    return event\n")
    return source


def assert_refused(tmp_path: Path, capsys, line: str) -> None:
    code, err, output = package(tmp_path, capsys)
    assert (code, err) == (2, f"lambda-ci package: `source_dir` input: {line}\n")
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []
    assert not output.exists()


def test_a_symlink_loop_is_refused(tmp_path, src, capsys):
    (src / "lib").mkdir()
    (src / "lib" / "again").symlink_to("..")
    assert_refused(tmp_path, capsys, "symlink `lib/again` loops back to a folder holding it")


def test_a_symlink_to_itself_is_refused(tmp_path, src, capsys):
    (src / "self").symlink_to("self")
    code, err, output = package(tmp_path, capsys)
    assert code == 2 and err.startswith("lambda-ci package: `source_dir` input: symlink `self` ")
    assert len(err.splitlines()) == 1 and not output.exists()


def test_a_symlink_escaping_the_source_is_refused(tmp_path, src, capsys):
    (tmp_path / "secret.txt").write_text("not for the zip")
    (src / "config.txt").symlink_to("../secret.txt")
    assert_refused(tmp_path, capsys, "symlink `config.txt` points outside the source folder (to `../secret.txt`): "
                                     "copy what it points to into the folder, or exclude it")


def test_an_absolute_symlink_out_is_refused(tmp_path, src, capsys):
    (src / "passwd").symlink_to("/etc/passwd")
    assert_refused(tmp_path, capsys, "symlink `passwd` points outside the source folder (to `/etc/passwd`): "
                                     "copy what it points to into the folder, or exclude it")


def test_a_fifo_is_refused_without_blocking_on_it(tmp_path, src, capsys):
    os.mkfifo(src / "pipe")
    started = time.monotonic()
    assert_refused(tmp_path, capsys, "`pipe` is neither a file nor a folder")
    assert time.monotonic() - started < 5  # opening a FIFO to read it would have hung


def test_a_symlink_to_a_fifo_inside_is_refused(tmp_path, src, capsys):
    os.mkfifo(src / "pipe")
    (src / "link").symlink_to("pipe")
    code, err, output = package(tmp_path, capsys)
    assert code == 2 and "is neither a file nor a folder" in err and not output.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="creating a device node needs root")
def test_a_device_node_is_refused(tmp_path, src, capsys):
    os.mknod(src / "null", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    assert_refused(tmp_path, capsys, "`null` is neither a file nor a folder")


def test_a_name_with_a_line_break_is_stored_as_it_is(tmp_path, src, capsys):
    """Linux and the zip format both hold it, and Lambda unpacks on Linux: stored, byte for byte."""
    (src / "two\nlines.py").write_text("x = 1\n")
    code, err, output = package(tmp_path, capsys)
    assert code == 0, err
    with zipfile.ZipFile(output) as zf:
        assert sorted(zf.namelist()) == ["app.py", "two\nlines.py"]
        assert zf.read("two\nlines.py") == b"x = 1\n"


def test_a_refused_name_with_a_line_break_still_gives_one_line(tmp_path, src, capsys):
    os.mkfifo(src / "a\nb")
    code, err, output = package(tmp_path, capsys)
    assert (code, err) == (2, "lambda-ci package: `source_dir` input: `a\\nb` is neither a file nor a folder\n")


def test_a_name_that_is_not_utf8_is_refused(tmp_path, src, capsys):
    """A zip names its entries in UTF-8 (or CP437): bytes that are neither would unpack as another name."""
    with open(os.fsencode(src) + b"/caf\xe9.py", "w") as f:
        f.write("x = 1\n")
    code, err, output = package(tmp_path, capsys)
    assert (code, err) == (2, "lambda-ci package: `source_dir` input: `'caf\\udce9.py'` is not a UTF-8 name: "
                              "rename it\n")
    assert not output.exists()


def test_an_enormous_sparse_file_is_refused_quickly_without_reading_it(tmp_path, src, capsys):
    with open(src / "huge.bin", "wb") as f:
        f.truncate(300 * 1024 * 1024)  # 300 MB that take no disk and would take seconds to read
    started = time.monotonic()
    code, err, output = package(tmp_path, capsys)
    assert time.monotonic() - started < 5
    # Lambda's limit: the operation cannot succeed (exit 1), not a malformed value.
    assert (code, err) == (1, "lambda-ci package: 300.0 MB unzipped is above Lambda's limit of 250 MB for a "
                              "function and its layers together: leave out what the function does not need "
                              "(exclude input) or ship it as a container image\n")
    assert not output.exists() and not list(output.parent.glob("*"))


# ---- lint on hostile pipelines: bounded time and memory --------------------------------------------------

MEMORY_LIMIT = 1024 * 1024 * 1024  # address space of the lint process: a bomb that expands dies here


def lint_process(path: Path, timeout: float = 60) -> tuple[subprocess.CompletedProcess, float]:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    started = time.monotonic()
    done = subprocess.run([*LAMBDA_CI, "lint", str(path)], capture_output=True, text=True, timeout=timeout,
                          preexec_fn=limit)
    return done, time.monotonic() - started


def billion_laughs(levels: int = 9) -> str:
    lines = ['lol0: &lol0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels + 1):
        lines.append(f"lol{level}: &lol{level} [" + ", ".join([f"*lol{level - 1}"] * 10) + "]")
    lines.append(f"job:\n  script: *lol{levels}")
    return "\n".join(lines) + "\n"


def test_lint_refuses_a_billion_laughs_alias_bomb_at_once(tmp_path):
    path = tmp_path / ".gitlab-ci.yml"
    path.write_text(billion_laughs())
    done, seconds = lint_process(path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"lambda-ci lint: {path}: not valid YAML: expands to more than 100000 values "
                                  "through aliases (a YAML bomb?)")
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr
    assert seconds < 10


def test_lint_refuses_a_recursive_alias(tmp_path):
    path = tmp_path / ".gitlab-ci.yml"
    path.write_text("job: &job\n  script: [echo]\n  extends: *job\n")
    done, _ = lint_process(path)
    assert done.returncode == 2
    assert done.stderr.startswith(f"lambda-ci lint: {path}: not valid YAML: found a recursive alias *job")


def test_lint_refuses_a_document_nested_too_deep(tmp_path):
    path = tmp_path / ".gitlab-ci.yml"
    path.write_text("job:\n  script: " + "[" * 5000 + "]" * 5000 + "\n")
    done, _ = lint_process(path)
    assert done.returncode == 2, done.stderr
    assert "not valid YAML: nested deeper than 100 levels" in done.stderr
    assert "Traceback" not in done.stderr


def test_lint_answers_a_pipeline_with_10000_includes_with_one_finding(tmp_path):
    path = tmp_path / ".gitlab-ci.yml"
    entries = ",".join('{component: "$CI_SERVER_FQDN/acme/lambda-ci/package@0.1.0", '
                       f'inputs: {{job_prefix: p{n}-}}}}' for n in range(10_000))
    path.write_text(f"include: [{entries}]\n")
    done, seconds = lint_process(path)
    assert (done.returncode, done.stderr) == (1, "")
    assert done.stdout == (f"{path}: include: 10000 entries, more than GitLab allows by default (150, the "
                           "instance's ci_max_includes): GitLab refuses the pipeline; nothing else was checked\n")
    assert seconds < 30  # reading 10,000 includes of YAML; rendering them all took minutes


def test_lint_still_checks_a_pipeline_at_the_include_limit(tmp_path):
    pipeline = {"include": [{"component": "gitlab.example.com/acme/lambda-ci/package@0.1.0",
                             "inputs": {"job_prefix": f"p{n}-"}} for n in range(lint.MAX_INCLUDES)]}
    path = tmp_path / ".gitlab-ci.yml"
    path.write_text(gitlab_yaml.dump(pipeline))
    assert cli.main(["lint", str(path)]) == 0


def test_render_inputs_file_with_an_alias_bomb_is_bad_input(tmp_path, capsys):
    path = tmp_path / "inputs.yml"
    path.write_text(billion_laughs().replace("job:\n  script:", "exclude:"))
    assert cli.main(["render", "package", "--inputs", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"lambda-ci render: --inputs {path}: expands to more than 100000 values")
    assert len(err.splitlines()) == 1


def test_deploy_functions_file_that_is_not_text_is_bad_input(tmp_path, capsys):
    """Regression: a binary --functions file was an internal error (UnicodeDecodeError), exit 1."""
    path = tmp_path / "functions.yml"
    path.write_bytes(b"\xff\xfe\x00binary")
    code = cli.main(["deploy", "--function-name", "group", "--functions", str(path)])
    assert (code, capsys.readouterr().err) == (2, f"lambda-ci deploy: `functions` input: {path} is not valid YAML\n")
