"""The manifest's code_sha256 is what Lambda reports as CodeSha256 for the uploaded zip (moto over HTTP)."""

from __future__ import annotations

import json
from pathlib import Path

import boto3

from lambda_ci import cli

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def test_manifest_code_sha256_is_lambdas_code_sha256(aws, tmp_path: Path):
    source = tmp_path / "build" / "lambda"
    (source / "lib").mkdir(parents=True)
    (source / "app.py").write_text("def handler(event, context):\n    return event\n")
    (source / "lib" / "data.txt").write_text("data\n" * 1000)
    build_info = {"runtime": "python3.12", "architecture": "arm64"}
    (tmp_path / "build" / "lambda.build.json").write_text(json.dumps(build_info))
    output = tmp_path / "dist" / "function.zip"
    assert cli.main(["package", "--source", str(source), "--output", str(output)]) == 0
    manifest = json.loads((tmp_path / "dist" / "function.manifest.json").read_text())

    iam = boto3.client("iam")
    role = iam.create_role(RoleName="package-test", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    lam = boto3.client("lambda")
    created = lam.create_function(FunctionName="packaged", Runtime=manifest["runtime"], Role=role,
                                  Handler="app.handler", Architectures=[manifest["architecture"]],
                                  Code={"ZipFile": output.read_bytes()})
    assert created["CodeSha256"] == manifest["code_sha256"]
    assert created["CodeSize"] == manifest["size"]
    updated = lam.update_function_code(FunctionName="packaged", ZipFile=output.read_bytes())
    assert updated["CodeSha256"] == manifest["code_sha256"]
