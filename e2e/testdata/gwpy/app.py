# A Python test function for the HTTP gateway: it answers with the event it
# received as the JSON body of a payload 2.0 response, or with a plain
# dictionary (no statusCode) when the query asks for op=dict.
import json


def handler(event, context):
    query = event.get("queryStringParameters") or {}
    if query.get("op") == "dict":
        return {"runtime": "python", "path": event.get("rawPath")}
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json", "x-runtime": "python"},
        "body": json.dumps(event),
    }
