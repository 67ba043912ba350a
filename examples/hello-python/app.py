"""An example function for the python3.x runtimes."""

count = 0


def handler(event, context):
    global count
    count += 1
    name = (event or {}).get("name", "world")
    print(f"greeting {name} (request {context.aws_request_id})")
    return {"message": f"Hello, {name}!", "count": count}
