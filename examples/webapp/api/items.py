# The API of the web application: GET /items lists the items with their
# count, POST /items adds one, and count_items keeps the count from the
# table's stream. The items live in the DynamoDB table named by
# ITEMS_TABLE, through boto3 (which the runtime provides, as Lambda's
# does): one partition, "default", sorted by creation time, beside one
# counter item in the partition "stats".
import base64
import json
import os
import time
import uuid

import boto3
from boto3.dynamodb.conditions import Key

TABLE = boto3.resource("dynamodb").Table(os.environ.get("ITEMS_TABLE", "webapp-items"))
LIST = "default"
COUNTER = {"list": "stats", "sk": "count"}


def respond(status, body):
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
    }


def list_items(event, context):
    items, start = [], None
    while True:
        kwargs = {"KeyConditionExpression": Key("list").eq(LIST)}
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = TABLE.query(**kwargs)
        items += [{"id": i["id"], "name": i["name"], "created": i["created"]} for i in page["Items"]]
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    counter = TABLE.get_item(Key=COUNTER).get("Item") or {}
    return respond(200, {"items": items, "count": int(counter.get("items", 0))})


def add_items(event, context):
    body = event.get("body") or ""
    try:
        if event.get("isBase64Encoded"):
            body = base64.b64decode(body)
        data = json.loads(body)
    except ValueError:
        return respond(400, {"message": "the body must be JSON"})
    name = data.get("name") if isinstance(data, dict) else None
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        return respond(400, {"message": 'expected {"name": "..."} with 1 to 200 characters'})
    now = time.time()
    item = {
        "id": uuid.uuid4().hex,
        "name": name.strip(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
    }
    # The sort key starts with the creation time: a query lists oldest first.
    TABLE.put_item(
        Item={"list": LIST, "sk": f"{int(now * 1000):015d}-{item['id']}", **item},
        ConditionExpression="attribute_not_exists(sk)",
    )
    return respond(201, item)


def count_items(event, context):
    """Triggered by the table's stream (filtered to the "default" list):
    adds the items inserted and takes away those removed."""
    delta = 0
    for record in event["Records"]:
        if record["eventName"] == "INSERT":
            delta += 1
        elif record["eventName"] == "REMOVE":
            delta -= 1
    if delta:
        TABLE.update_item(
            Key=COUNTER,
            UpdateExpression="ADD #n :d",
            ExpressionAttributeNames={"#n": "items"},
            ExpressionAttributeValues={":d": delta},
        )
    return {"batchItemFailures": []}
