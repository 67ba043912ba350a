import json

attempts = {}


def flaky(event, context):
    """Fails the first two deliveries of each event, then succeeds."""
    key = event["id"]
    attempts[key] = attempts.get(key, 0) + 1
    print(f"attempt {attempts[key]} for {key}")
    if attempts[key] < 3:
        raise RuntimeError(f"attempt {attempts[key]} fails")
    return {"done": key, "attempts": attempts[key]}


def fail(event, context):
    raise ValueError("always fails")


def sink(event, context):
    print("RECORD " + json.dumps(event, sort_keys=True))
    return None
