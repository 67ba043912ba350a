# A Lambda REQUEST authorizer for the HTTP gateway tests: it allows the
# token "Bearer good" and denies every other one, and tells in its context
# how many times this instance has run, so that tests see its cache.
calls = 0


def handler(event, context):
    global calls
    calls += 1
    token = (event.get("identitySource") or [""])[0]
    return {
        "isAuthorized": token == "Bearer good",
        "context": {"calls": calls, "user": "alice", "route": event.get("routeKey")},
    }
