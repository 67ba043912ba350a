# The API of the web application: GET /items lists the items, POST /items
# adds one. Each item is its own object in the bucket named by ITEMS_BUCKET,
# under items/<created>-<id>.json, so items outlive the function's instances
# and concurrent additions never overwrite one another.
import base64
import json
import os
import time
import uuid
import xml.etree.ElementTree as ET

import s3

BUCKET = os.environ.get("ITEMS_BUCKET", "webapp-items")
PREFIX = "items/"
NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def respond(status, body):
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
    }


def list_items(event, context):
    keys, token = [], None
    while True:
        query = {"list-type": "2", "prefix": PREFIX}
        if token:
            query["continuation-token"] = token
        status, _, body = s3.request("GET", BUCKET, query=query)
        if status != 200:
            raise RuntimeError(f"listing {BUCKET}: {status} {body[:200]!r}")
        root = ET.fromstring(body)
        keys += [c.findtext(NS + "Key") for c in root.iter(NS + "Contents")]
        token = root.findtext(NS + "NextContinuationToken")
        if not token:
            break
    items = []
    for key in sorted(keys):  # keys start with the creation time: oldest first
        status, _, body = s3.request("GET", BUCKET, key)
        if status == 200:
            items.append(json.loads(body))
    return respond(200, items)


def add_item(event, context):
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
    key = f"{PREFIX}{int(now * 1000):015d}-{item['id']}.json"
    status, _, body = s3.request("PUT", BUCKET, key, body=json.dumps(item).encode(),
                                 headers={"content-type": "application/json"})
    if status != 200:
        raise RuntimeError(f"storing {key}: {status} {body[:200]!r}")
    return respond(201, item)
