import os
import time

VERSION = "v1"
calls = 0


def handler(event, context):
    global calls
    calls += 1
    event = event or {}
    op = event.get("op")
    if op == "sleep":
        time.sleep(event["ms"] / 1000)
    elif op == "wait":  # until the test's server answers
        import urllib.request

        urllib.request.urlopen(event["url"], timeout=9).read()
    elif op == "crash":
        os._exit(3)
    elif op == "error":
        raise ValueError("bad value from python")
    elif op == "print":
        print(event["text"])
    return {
        "runtime": "python",
        "version": VERSION,
        "calls": calls,
        "pid": os.getpid(),
        "instance": context.log_stream_name,
        "requestId": context.aws_request_id,
        "arn": context.invoked_function_arn,
        "function": context.function_name,
        "memory": int(context.memory_limit_in_mb),
        "remaining": context.get_remaining_time_in_millis(),
        "greeting": os.environ.get("GREETING", ""),
        "region": os.environ.get("AWS_REGION", ""),
        "taskRoot": os.environ.get("LAMBDA_TASK_ROOT", ""),
    }
