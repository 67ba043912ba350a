// templates.js: starting code for new functions, and the sample events
// a test can start from.

const py = {
  file: 'lambda_function.py',
  handler: 'lambda_function.lambda_handler',
};
const node = {
  file: 'index.mjs',
  handler: 'index.handler',
};

/** templates are what a new function can start from; trigger says what else is created. */
export const templates = [
  {
    id: 'blank', title: 'Blank function', trigger: null,
    blurb: 'A handler that answers hello.',
    python: `import json


def lambda_handler(event, context):
    return {
        "statusCode": 200,
        "body": json.dumps("Hello from Aloft!"),
    }
`,
    node: `export const handler = async (event) => {
  return {
    statusCode: 200,
    body: JSON.stringify('Hello from Aloft!'),
  };
};
`,
  },
  {
    id: 'http', title: 'HTTP API', trigger: 'http',
    blurb: 'An HTTP API (API Gateway v2) whose route ANY /<function> calls the function with payload 2.0.',
    python: `import json


def lambda_handler(event, context):
    name = (event.get("queryStringParameters") or {}).get("name", "world")
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"hello": name, "path": event.get("rawPath")}),
    }
`,
    node: `export const handler = async (event) => {
  const name = (event.queryStringParameters || {}).name || 'world';
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ hello: name, path: event.rawPath }),
  };
};
`,
  },
  {
    id: 's3', title: 'S3 object processing', trigger: 's3',
    blurb: 'A bucket whose new objects (s3:ObjectCreated:*) are handed to the function.',
    python: `import urllib.parse


def lambda_handler(event, context):
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        size = record["s3"]["object"].get("size", 0)
        print(f"new object s3://{bucket}/{key} ({size} bytes)")
    return {"processed": len(event["Records"])}
`,
    node: `export const handler = async (event) => {
  for (const record of event.Records) {
    const bucket = record.s3.bucket.name;
    const key = decodeURIComponent(record.s3.object.key.replace(/\\+/g, ' '));
    console.log(\`new object s3://\${bucket}/\${key} (\${record.s3.object.size || 0} bytes)\`);
  }
  return { processed: event.Records.length };
};
`,
  },
  {
    id: 'sqs', title: 'Queue processing', trigger: 'sqs',
    blurb: 'An SQS queue whose messages are handed to the function in batches (an event source mapping).',
    python: `def lambda_handler(event, context):
    failures = []
    for record in event["Records"]:
        try:
            print("message", record["messageId"], record["body"])
        except Exception:
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
`,
    node: `export const handler = async (event) => {
  const batchItemFailures = [];
  for (const record of event.Records) {
    try {
      console.log('message', record.messageId, record.body);
    } catch {
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures };
};
`,
  },
  {
    id: 'schedule', title: 'Schedule', trigger: 'schedule',
    blurb: 'A schedule (EventBridge Scheduler) that invokes the function every 5 minutes.',
    python: `import datetime


def lambda_handler(event, context):
    print("scheduled run at", datetime.datetime.now(datetime.timezone.utc).isoformat())
    return {"ok": True}
`,
    node: `export const handler = async (event) => {
  console.log('scheduled run at', new Date().toISOString());
  return { ok: true };
};
`,
  },
];

/** codeFor returns the file name, handler and source of a template for a runtime. */
export function codeFor(tpl, runtime) {
  const r = runtime.startsWith('python') ? py : node;
  return { ...r, source: runtime.startsWith('python') ? tpl.python : tpl.node };
}

const now = () => new Date().toISOString();

/** events are sample test events, shaped as the AWS services send them. */
export const events = {
  'API Gateway HTTP API (2.0)': () => ({
    version: '2.0', routeKey: 'GET /hello', rawPath: '/hello', rawQueryString: 'name=aloft',
    headers: { accept: '*/*', host: 'example.execute-api.us-east-1.amazonaws.com', 'user-agent': 'curl/8.5.0' },
    queryStringParameters: { name: 'aloft' },
    requestContext: {
      accountId: '000000000000', apiId: 'example', domainName: 'example.execute-api.us-east-1.amazonaws.com', domainPrefix: 'example',
      http: { method: 'GET', path: '/hello', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'curl/8.5.0' },
      requestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678', routeKey: 'GET /hello', stage: '$default', time: '05/Dec/2026:12:00:00 +0000', timeEpoch: 1796472000000,
    },
    isBase64Encoded: false,
  }),
  'S3 Put': () => ({
    Records: [{
      eventVersion: '2.1', eventSource: 'aws:s3', awsRegion: 'us-east-1', eventTime: now(), eventName: 'ObjectCreated:Put',
      userIdentity: { principalId: 'EXAMPLE' }, requestParameters: { sourceIPAddress: '127.0.0.1' },
      responseElements: { 'x-amz-request-id': 'EXAMPLE123456789', 'x-amz-id-2': 'EXAMPLE123/5678abcdefghijklambdaisawesome/mnopqrstuvwxyzABCDEFGH' },
      s3: {
        s3SchemaVersion: '1.0', configurationId: 'testConfigRule',
        bucket: { name: 'example-bucket', ownerIdentity: { principalId: 'EXAMPLE' }, arn: 'arn:aws:s3:::example-bucket' },
        object: { key: 'test/key', size: 1024, eTag: '0123456789abcdef0123456789abcdef', sequencer: '0A1B2C3D4E5F678901' },
      },
    }],
  }),
  'SQS receive': () => ({
    Records: [{
      messageId: '059f36b4-87a3-44ab-83d2-661975830a7d', receiptHandle: 'AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...', body: 'Hello from SQS!',
      attributes: { ApproximateReceiveCount: '1', SentTimestamp: '1545082649183', SenderId: 'AIDAIENQZJOLO23YVJ4VO', ApproximateFirstReceiveTimestamp: '1545082649185' },
      messageAttributes: {}, md5OfBody: '098f6bcd4621d373cade4e832627b4f6', eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:my-queue', awsRegion: 'us-east-1',
    }],
  }),
  'Scheduled event': () => ({
    version: '0', id: '53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa', 'detail-type': 'Scheduled Event', source: 'aws.scheduler',
    account: '000000000000', time: now(), region: 'us-east-1', resources: ['arn:aws:scheduler:us-east-1:000000000000:schedule/default/example'], detail: {},
  }),
  'Empty': () => ({}),
};
