// Package observe turns what the server does into metrics: Prometheus
// series served at GET /metrics (Prometheus), and the metrics Lambda
// publishes of itself into CloudWatch's AWS/Lambda namespace (Lambda).
//
// Both take each invocation's Observation as it ends. Per-function series
// are resolved once per function and kept in a copy-on-write map, so an
// observation costs a few atomic additions and no allocation; what is
// read rather than counted (instances by state, queue depths, the
// backbone's streams) is read at scrape time from Sources, never on the
// invocation path.
//
// Labels stay bounded: function names (bounded by the registry, and
// forgotten when a function is deleted), route keys rather than paths,
// status codes, a fixed set of error types and operations; never request
// ids, object keys or anything a caller chooses freely.
//
// # Access
//
// /metrics is open, refused, or needs a bearer token (Access, Guard):
// Prometheus then sends the token from a file,
//
//	scrape_configs:
//	  - job_name: aloft
//	    static_configs: [{targets: ["aloft.example:9000"]}]
//	    authorization:
//	      type: Bearer
//	      credentials_file: /etc/prometheus/aloft-metrics-token
package observe
