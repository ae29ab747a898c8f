import boto3


def test_moto_server_answers_over_http(aws):
    sts = boto3.client("sts")
    assert sts.get_caller_identity()["Account"] == "123456789012"
