// Package metrics keeps CloudWatch-style metrics: datapoints by namespace,
// name and dimensions, aggregated per minute on each node and kept on the
// backbone for fifteen days, with the statistics, percentiles, metric math
// and alarms the CloudWatch API serves.
package metrics

// Dimension is a name/value pair that identifies a metric, as
// CloudWatch's (FunctionName=my-fn).
type Dimension struct {
	Name  string `json:"Name"`
	Value string `json:"Value"`
}
