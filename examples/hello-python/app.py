"""An example function for the python3.x runtimes.

Invoked directly, it answers {"message", "count"}. Called through an HTTP
route or a function URL (an event with a requestContext), it takes the
name from the query string and answers an HTTP response, which suits both
payload formats.
"""

import json

count = 0


def handler(event, context):
    global count
    count += 1
    event = event or {}
    query = event.get("queryStringParameters") or {}
    name = event.get("name") or query.get("name") or "world"
    print(f"greeting {name} (request {context.aws_request_id})")
    answer = {"message": f"Hello, {name}!", "count": count}
    if "requestContext" in event:
        return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(answer)}
    return answer
