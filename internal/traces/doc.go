// Package traces keeps the traces of invocations, as AWS X-Ray keeps
// them, and answers X-Ray's read operations over them.
//
// An invocation that was sampled (see package traceid: the header that
// came with the request, or the default rule) becomes X-Ray segment
// documents (Build): the service segment (origin AWS::Lambda, with the
// wait for an instance as its Queueing subsegment), and the function
// segment (origin AWS::Lambda::Function, with the cold start's Sandbox and
// Initialization and the Invocation itself as subsegments). An ingress
// (the HTTP gateway, an event source) adds its own segment as the
// service segment's parent (Hop), and a tracing SDK inside the function
// adds subsegments under the function segment through PutTraceSegments.
//
// Segments wait in a bounded buffer in memory (Add never blocks; a full
// buffer drops and counts) and are written in batches, about every 200
// ms or every few hundred segments, to the backbone's stream
// aloft_traces: one message per trace per batch, on the trace's own
// subject (aloft.traces.<root>), kept for 30 days within a byte budget
// of its own, so that every node of a cluster reads every node's traces.
// Each batch is also handed to an exporter, if one is set (package otlp).
//
// Summaries (GetTraceSummaries) scans the stream over a time range,
// filtered by a small subset of X-Ray's filter expressions; Get
// (BatchGetTraces) reads the subjects of the traces asked for.
package traces
