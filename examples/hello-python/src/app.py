"""hello-python: the sample function that lambda-ci's example pipeline deploys."""

import json

import shortuuid


def handler(event, context):
    """Greet whoever the event names; every answer carries a short id to find it in the logs."""
    name = (event or {}).get("name") or "world"
    body = {"message": f"Hello, {name}!", "greeting_id": shortuuid.uuid()[:12]}
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}
