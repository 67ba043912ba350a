// An example function for the nodejs runtimes (an ES module).
let count = 0;

export const handler = async (event, context) => {
  count++;
  const name = (event && event.name) || "world";
  console.log(`greeting ${name} (request ${context.awsRequestId})`);
  return { message: `Hello, ${name}!`, count };
};
