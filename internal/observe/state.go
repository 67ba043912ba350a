package observe

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// scrapeWait bounds what a scrape waits for the queue and the backbone.
const scrapeWait = 2 * time.Second

// The series read at scrape time.
var (
	descConcurrent = prometheus.NewDesc("aloft_concurrent_executions",
		"Invocations running now, by function.", []string{"function"}, nil)
	descUnreserved = prometheus.NewDesc("aloft_unreserved_concurrent_executions",
		"Invocations running now of functions without reserved concurrency.", nil, nil)
	descInstances = prometheus.NewDesc("aloft_instances",
		"Function instances by function and state (idle, frozen: idle and paused, busy, starting).", []string{"function", "state"}, nil)
	descProvisioned = prometheus.NewDesc("aloft_provisioned_instances",
		"Provisioned concurrency by function: instances asked for (wanted), initialised (ready), serving now (busy).", []string{"function", "state"}, nil)
	descQueued = prometheus.NewDesc("aloft_async_events_queued",
		"Asynchronous events waiting in the queue, by function.", []string{"function"}, nil)
	descInFlight = prometheus.NewDesc("aloft_async_events_in_flight",
		"Asynchronous events being delivered now, by function.", []string{"function"}, nil)
	descAsyncDone = prometheus.NewDesc("aloft_async_deliveries_total",
		"Deliveries of asynchronous events by function and result (succeeded, retried, throttled, failed), kept across restarts.", []string{"function", "result"}, nil)
	descPrepared = prometheus.NewDesc("aloft_prepared_templates",
		"Processes started ahead of need from runtime templates, ready to become instances.", nil, nil)
	descBackboneUp = prometheus.NewDesc("aloft_backbone_up",
		"1 when the backbone (JetStream) answered the scrape, else 0.", nil, nil)
	descStreamMsgs = prometheus.NewDesc("aloft_backbone_stream_messages",
		"Messages stored in each backbone stream.", []string{"stream"}, nil)
	descStreamBytes = prometheus.NewDesc("aloft_backbone_stream_bytes",
		"Bytes stored in each backbone stream.", []string{"stream"}, nil)
)

// stateCollector reads Sources when scraped.
type stateCollector struct{ src Sources }

// Describe sends the descriptions of every series it may collect.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConcurrent, descUnreserved, descInstances, descProvisioned,
		descQueued, descInFlight, descAsyncDone, descPrepared, descBackboneUp, descStreamMsgs, descStreamBytes} {
		ch <- d
	}
}

// Collect reads the sources and sends what they say.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	exists := func(name string) bool { return c.src.Exists == nil || c.src.Exists(name) }
	if c.src.Functions != nil {
		fns, unreserved := c.src.Functions()
		gauge(descUnreserved, float64(unreserved))
		for _, f := range fns {
			if !exists(f.Function) {
				continue
			}
			gauge(descConcurrent, float64(f.Running), f.Function)
			gauge(descInstances, float64(f.Idle-f.Frozen), f.Function, "idle")
			gauge(descInstances, float64(f.Frozen), f.Function, "frozen")
			gauge(descInstances, float64(f.Busy), f.Function, "busy")
			gauge(descInstances, float64(f.Starting), f.Function, "starting")
			if f.ProvisionedWanted > 0 || f.ProvisionedReady > 0 {
				gauge(descProvisioned, float64(f.ProvisionedWanted), f.Function, "wanted")
				gauge(descProvisioned, float64(f.ProvisionedReady), f.Function, "ready")
				gauge(descProvisioned, float64(f.ProvisionedBusy), f.Function, "busy")
			}
		}
	}
	if c.src.Prepared != nil {
		gauge(descPrepared, float64(c.src.Prepared()))
	}
	ctx, cancel := context.WithTimeout(context.Background(), scrapeWait)
	defer cancel()
	if c.src.Async != nil {
		if stats, err := c.src.Async(ctx); err == nil {
			for _, s := range stats {
				if !exists(s.Function) {
					continue
				}
				gauge(descQueued, float64(s.Queued), s.Function)
				gauge(descInFlight, float64(s.InFlight), s.Function)
				for result, n := range map[string]uint64{"succeeded": s.Succeeded, "retried": s.Retried, "throttled": s.Throttled, "failed": s.Failed} {
					ch <- prometheus.MustNewConstMetric(descAsyncDone, prometheus.CounterValue, float64(n), s.Function, result)
				}
			}
		}
	}
	if c.src.Backbone != nil {
		streams, err := c.src.Backbone(ctx)
		if err != nil {
			gauge(descBackboneUp, 0)
			return
		}
		gauge(descBackboneUp, 1)
		for _, s := range streams {
			gauge(descStreamMsgs, float64(s.Messages), s.Name)
			gauge(descStreamBytes, float64(s.Bytes), s.Name)
		}
	}
}
