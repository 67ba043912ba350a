# A Lambda REQUEST authorizer for the HTTP gateway tests that answers IAM
# policies (payload 2.0 without simple responses), naming routes by the
# API and stage of the event's routeArn:
#   "Bearer orders"          allows GET /orders/* and nothing else
#   "Bearer all-but-secret"  allows every route, and denies GET /orders/secret
#   any other token          a policy without statements, which allows nothing
# Its context tells how many times this instance has run, so that tests
# see its cache.
calls = 0


def statement(effect, resource):
    return {"Effect": effect, "Action": "execute-api:Invoke", "Resource": resource}


def handler(event, context):
    global calls
    calls += 1
    token = (event.get("identitySource") or [""])[0]
    # arn:aws:execute-api:<region>:<account>:<api id>/<stage>/<METHOD>/<path>
    api_stage = "/".join(event["routeArn"].split("/")[:2])
    statements = []
    if token == "Bearer orders":
        statements = [statement("Allow", api_stage + "/GET/orders/*")]
    elif token == "Bearer all-but-secret":
        statements = [
            statement("Allow", api_stage + "/*"),
            statement("Deny", api_stage + "/GET/orders/secret"),
        ]
    return {
        "principalId": token,
        "policyDocument": {"Version": "2012-10-17", "Statement": statements},
        "context": {"calls": calls},
    }
