const VERSION = "v1";
let calls = 0;

export const handler = async (event, context) => {
  calls++;
  event = event || {};
  switch (event.op) {
    case "sleep":
      await new Promise((r) => setTimeout(r, event.ms));
      break;
    case "wait": { // until the test's server answers
      const res = await fetch(event.url);
      await res.text();
      if (!res.ok) throw new Error(`wait: ${res.status}`);
      break;
    }
    case "crash":
      process.exit(3);
    case "error":
      throw new TypeError("bad type from node");
    case "print":
      console.log(event.text);
      break;
  }
  return {
    runtime: "node",
    version: VERSION,
    calls,
    pid: process.pid,
    instance: context.logStreamName,
    requestId: context.awsRequestId,
    arn: context.invokedFunctionArn,
    function: context.functionName,
    memory: Number(context.memoryLimitInMB),
    remaining: context.getRemainingTimeInMillis(),
    greeting: process.env.GREETING || "",
    region: process.env.AWS_REGION || "",
    taskRoot: process.env.LAMBDA_TASK_ROOT || "",
  };
};
