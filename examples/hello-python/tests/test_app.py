import json

import app


def test_greets_the_name_in_the_event():
    answer = app.handler({"name": "GitLab"}, None)

    assert answer["statusCode"] == 200
    body = json.loads(answer["body"])
    assert body["message"] == "Hello, GitLab!"
    assert len(body["greeting_id"]) == 12


def test_greets_the_world_by_default():
    assert json.loads(app.handler({}, None)["body"])["message"] == "Hello, world!"
