"""`lambda-ci build` and the runtime table: platform tags, pip's command, wheels per architecture (from PyPI),
the no-wheel line, the copy of the source and the build record that `package` reads."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from lambda_ci import build, catalog, cli, runtimes
from lambda_ci.errors import BadInput


def test_catalog_runtime_enums_are_the_runtime_table():
    table = list(runtimes.RUNTIMES)
    assert catalog.input_schema("build")["properties"]["runtime"]["enum"] == table
    assert catalog.input_schema("deploy-lambda")["properties"]["runtime"]["enum"] == ["", *table]
    assert catalog.input_schema("build")["properties"]["runtime"]["default"] in table


def test_glibc_follows_amazon_linux():
    for name, runtime in runtimes.RUNTIMES.items():
        on_al2 = name in ("python3.10", "python3.11")
        assert (runtime.glibc, runtime.os) == (((2, 26), "Amazon Linux 2") if on_al2 else
                                               ((2, 34), "Amazon Linux 2023"))
        assert runtime.deprecated < runtime.block_create < runtime.block_update


def test_platform_tags_cover_every_manylinux_level_and_the_legacy_aliases():
    x86 = runtimes.platforms(runtimes.get("python3.12"), "x86_64")
    assert x86[0] == "manylinux_2_34_x86_64"
    assert x86[-2:] == ["manylinux_2_5_x86_64", "manylinux1_x86_64"]
    assert {"manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux_2_28_x86_64",
            "manylinux_2_12_x86_64", "manylinux2010_x86_64"} <= set(x86)
    assert len(x86) == (34 - 5 + 1) + 3
    arm = runtimes.platforms(runtimes.get("python3.11"), "arm64")
    assert arm[0] == "manylinux_2_26_aarch64"
    assert arm[-2:] == ["manylinux_2_17_aarch64", "manylinux2014_aarch64"]  # no aarch64 wheels before 2014
    assert "manylinux_2_28_aarch64" not in arm


def test_pip_installs_binary_wheels_for_the_lambda_platform(tmp_path: Path):
    runtime = runtimes.get("python3.13")
    command = build.pip_command(Path("req.txt"), runtime, "arm64", tmp_path)
    assert command[1:4] == ["-m", "pip", "install"]
    for flag in ("--only-binary=:all:", "--no-compile"):
        assert flag in command
    pairs = list(zip(command, command[1:], strict=False))
    assert ("--python-version", "3.13") in pairs and ("--implementation", "cp") in pairs
    assert ("--target", str(tmp_path)) in pairs and ("--requirement", "req.txt") in pairs
    assert [value for flag, value in pairs if flag == "--platform"] == runtimes.platforms(runtime, "arm64")


def test_unknown_and_deprecated_runtimes():
    with pytest.raises(BadInput, match=r"^`runtime` input: `python3.9` is not a Lambda Python runtime"):
        runtimes.get("python3.9")
    old = runtimes.get("python3.10")
    assert runtimes.lifecycle_warning(old, datetime.date(2026, 10, 30)) is None
    assert runtimes.lifecycle_warning(old, datetime.date(2026, 11, 26)) == (
        "python3.10 is deprecated since 2026-10-31 (no more security patches): Lambda blocks creating "
        "functions on it from 2027-02-01 and updating them from 2027-03-03; move to python3.14")
    assert "since 2027-02-01 and updating them since 2027-03-03" in runtimes.lifecycle_warning(
        old, datetime.date(2027, 3, 3))


def test_unknown_runtime_is_bad_input_on_the_command_line(tmp_path: Path, capsys):
    code = cli.main(["build", "--source", str(tmp_path), "--runtime", "python3.9",
                     "--output", str(tmp_path / "o")])
    assert code == 2
    assert capsys.readouterr().err.startswith("lambda-ci build: `runtime` input: `python3.9` cannot be used")


def test_requirements_file(tmp_path: Path):
    assert build.requirements_file("", tmp_path) is None
    (tmp_path / "requirements.txt").write_text("requests\n")
    assert build.requirements_file("", tmp_path) == tmp_path / "requirements.txt"
    with pytest.raises(BadInput, match="^`requirements` input: `nope.txt` is not a file$"):
        build.requirements_file("nope.txt", tmp_path)


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    src = tmp_path / "src"
    (src / "__pycache__").mkdir(parents=True)
    (src / "__pycache__" / "app.cpython-312.pyc").write_bytes(b"\x00")
    (src / "app.py").write_text("def handler(event, context):\n    return 1\n")
    (src / "tests").mkdir()
    (src / "tests" / "test_app.py").write_text("")
    return tmp_path


def test_build_copies_the_source_into_an_emptied_output_and_records_the_platform(project: Path, monkeypatch,
                                                                                 capsys):
    class Later(datetime.date):
        @classmethod
        def today(cls):
            return cls(2027, 7, 1)

    monkeypatch.setattr(build, "datetime", SimpleNamespace(date=Later))
    stale = project / "build" / "lambda" / "stale.py"
    stale.parent.mkdir(parents=True)
    stale.write_text("")
    code = cli.main(["build", "--source", "src", "--runtime", "python3.11", "--architecture", "arm64",
                     "--output", "build/lambda"])
    assert code == 0
    output = project / "build" / "lambda"
    assert sorted(p.relative_to(output).as_posix() for p in output.rglob("*")) == ["app.py"]
    assert json.loads((project / "build" / "lambda.build.json").read_text()) == {
        "runtime": "python3.11", "architecture": "arm64"}
    assert "WARNING: python3.11 is deprecated since 2027-06-30" in capsys.readouterr().err


@pytest.mark.parametrize(("output", "line"), [
    (".", "holds the source or the project, and the build empties it first: give a folder of its own, such "
          "as build/lambda"),
    ("src/build", "is inside source_dir: give a folder outside it, such as build/lambda"),
])
def test_build_refuses_an_output_it_must_not_empty(project: Path, capsys, output, line):
    assert cli.main(["build", "--source", "src", "--output", output]) == 2
    resolved = (project / output).resolve()
    assert capsys.readouterr().err == f"lambda-ci build: `output_dir` input: `{resolved}` {line}\n"
    assert (project / "src" / "app.py").exists()


@pytest.mark.parametrize(("architecture", "machine"), [("x86_64", "x86_64"), ("arm64", "aarch64")])
def test_wheels_come_for_the_lambda_architecture(project: Path, architecture, machine):
    """markupsafe publishes compiled wheels per architecture: its extension module names the machine."""
    (project / "src" / "requirements.txt").write_text("markupsafe==3.0.3\n")
    code = cli.main(["build", "--source", "src", "--runtime", "python3.12", "--architecture", architecture,
                     "--output", "build/lambda"])
    assert code == 0
    output = project / "build" / "lambda"
    extensions = [p.name for p in output.glob("markupsafe/*.so")]
    assert extensions == [f"_speedups.cpython-312-{machine}-linux-gnu.so"]
    wheel = next(output.glob("markupsafe-3.0.3.dist-info")).joinpath("WHEEL").read_text()
    assert f"Tag: cp312-cp312-manylinux_2_17_{machine}" in wheel
    assert not list(output.rglob("*.pyc"))


def test_a_requirement_without_a_wheel_fails_with_one_line(project: Path, capsys):
    # markupsafe 1.1.1 published wheels up to CPython 3.8 only.
    (project / "src" / "requirements.txt").write_text("markupsafe==1.1.1\n")
    code = cli.main(["build", "--source", "src", "--runtime", "python3.12", "--architecture", "arm64",
                     "--output", "build/lambda"])
    assert code == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        "lambda-ci build: `markupsafe==1.1.1` has no wheel for python3.12 on arm64 (cp312, "
        "manylinux_2_34_aarch64 or older): require a version that publishes one, or build the wheel yourself "
        "and add `--find-links DIR` to the requirements file (a pure-Python sdist builds anywhere with "
        "`pip wheel --no-deps`; a compiled one must be built on Amazon Linux 2023 aarch64)")
