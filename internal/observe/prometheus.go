package observe

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/aloft-dev/aloft/internal/async"
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/invoke"
)

// Buckets of the invocation duration histogram, in seconds: from a
// millisecond to Lambda's longest timeout.
var durationBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900}

// Buckets of the init duration histogram, in seconds.
var initBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Buckets of the age of asynchronous events and stream records when
// they are handed to their function, in seconds: up to Lambda's six hours.
var ageBuckets = []float64{0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 21600}

// errorTypes are the error type label's values: the failures outside a
// function's code and the platform's own refusals. A function's own error
// types, which its code chooses, all count as Unhandled; anything else as
// Other.
var errorTypes = map[string]bool{
	"Unhandled": true, "Sandbox.Timedout": true, "Runtime.ExitError": true, "Runtime.OutOfMemory": true,
	"Runtime.InvalidEntrypoint": true, "Runtime.Unknown": true, "ServiceException": true,
	"InvalidParameterValueException": true, "ResourceNotFoundException": true,
}

// Prometheus holds Aloft's Prometheus metrics in a registry of its own
// (with the Go runtime's and the process's). Create it with
// NewPrometheus; its methods are safe for concurrent use.
type Prometheus struct {
	reg *prometheus.Registry

	invocations *prometheus.CounterVec   // function, outcome
	errors      *prometheus.CounterVec   // function, type
	throttles   *prometheus.CounterVec   // function, reason
	cold        *prometheus.CounterVec   // function
	duration    *prometheus.HistogramVec // function
	initDur     *prometheus.HistogramVec // function
	provisioned *prometheus.CounterVec   // function, instance (provisioned or spillover)

	asyncEvents *prometheus.CounterVec   // function, event
	asyncAge    *prometheus.HistogramVec // function
	iterAge     *prometheus.GaugeVec     // function

	gateway *prometheus.CounterVec // route, status
	s3      *prometheus.CounterVec // operation, status
	s3Bytes *prometheus.CounterVec // operation, direction

	fns cowMap[*fnSeries]
}

// fnSeries are one function's series, resolved once.
type fnSeries struct {
	outcomes   [Throttled + 1]prometheus.Counter
	throttles  [2]prometheus.Counter // reserved, account
	cold       prometheus.Counter
	duration   prometheus.Observer
	initDur    prometheus.Observer
	provInv    prometheus.Counter
	spillover  prometheus.Counter
	asyncAge   prometheus.Observer
	asyncCount [asyncKinds]prometheus.Counter
}

// The outcomes, as package invoke names them.
const (
	Succeeded     = invoke.Succeeded
	FunctionError = invoke.FunctionError
	Failed        = invoke.Failed
	Throttled     = invoke.Throttled
)

// NewPrometheus returns the metrics, registered with the Go runtime's
// and the process's collectors and with what src reads at scrape time.
func NewPrometheus(src Sources) *Prometheus {
	fn := []string{"function"}
	p := &Prometheus{
		reg: prometheus.NewRegistry(),
		invocations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aloft_invocations_total",
			Help: "Invocations that ended, by function and outcome (success, function_error, failure, throttled)."}, []string{"function", "outcome"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aloft_invocation_errors_total",
			Help: "Invocations that ended in an error, by function and error type (Unhandled for the function's own errors)."}, []string{"function", "type"}),
		throttles: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aloft_throttles_total",
			Help: "Invocations refused for want of concurrency, by function and reason (reserved: the function's reserved concurrency; account: the account's unreserved concurrency)."}, []string{"function", "reason"}),
		cold: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aloft_cold_starts_total",
			Help: "Invocations that started a new instance, by function."}, fn),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "aloft_invocation_duration_seconds",
			Help: "The function's time on each invocation (Lambda's Duration), by function.", Buckets: durationBuckets}, fn),
		initDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "aloft_init_duration_seconds",
			Help: "Cold starts' time from the start of the instance to the function's first request for work (Lambda's Init Duration), by function.", Buckets: initBuckets}, fn),
		provisioned: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aloft_provisioned_concurrency_invocations_total",
			Help: "Invocations of functions with provisioned concurrency, by function and the instance that ran them (provisioned, or spillover: on demand)."}, []string{"function", "instance"}),
		asyncEvents: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aloft_async_events_total",
			Help: "Asynchronous events by function and what happened (received, dropped, dead_letter_error, destination_failure)."}, []string{"function", "event"}),
		asyncAge: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "aloft_async_event_age_seconds",
			Help: "Age of asynchronous events when handed to their function, by function.", Buckets: ageBuckets}, fn),
		iterAge: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "aloft_mapping_iterator_age_seconds",
			Help: "Age of the last record of a stream mapping's latest batch when it was read (Lambda's IteratorAge), by function."}, fn),
		gateway: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aloft_gateway_requests_total",
			Help: "Requests the HTTP gateway answered, by route key (or none, function_url, site) and status code."}, []string{"route", "status"}),
		s3: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aloft_s3_requests_total",
			Help: "S3 API requests by operation and status code."}, []string{"operation", "status"}),
		s3Bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aloft_s3_bytes_total",
			Help: "Object bytes S3 requests carried, by operation and direction (in: uploaded, out: downloaded)."}, []string{"operation", "direction"}),
	}
	p.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		p.invocations, p.errors, p.throttles, p.cold, p.duration, p.initDur, p.provisioned,
		p.asyncEvents, p.asyncAge, p.iterAge, p.gateway, p.s3, p.s3Bytes,
		&stateCollector{src: src},
	)
	return p
}

// Registry returns the registry, for tests and further collectors.
func (p *Prometheus) Registry() *prometheus.Registry { return p.reg }

// Handler serves the registry in Prometheus's text format (or
// OpenMetrics, when asked). Guard it with Access.
func (p *Prometheus) Handler() http.Handler {
	return promhttp.HandlerFor(p.reg, promhttp.HandlerOpts{Timeout: 10 * time.Second})
}

// series returns the function's series, resolving them on its first
// invocation.
func (p *Prometheus) series(name string) *fnSeries {
	if s, ok := p.fns.load(name); ok {
		return s
	}
	return p.fns.loadOrStore(name, func() *fnSeries {
		s := &fnSeries{
			throttles: [2]prometheus.Counter{p.throttles.WithLabelValues(name, "reserved"), p.throttles.WithLabelValues(name, "account")},
			cold:      p.cold.WithLabelValues(name),
			duration:  p.duration.WithLabelValues(name),
			initDur:   p.initDur.WithLabelValues(name),
			provInv:   p.provisioned.WithLabelValues(name, "provisioned"),
			spillover: p.provisioned.WithLabelValues(name, "spillover"),
			asyncAge:  p.asyncAge.WithLabelValues(name),
		}
		for o := Succeeded; o <= Throttled; o++ {
			s.outcomes[o] = p.invocations.WithLabelValues(name, o.String())
		}
		for k := range asyncKinds {
			s.asyncCount[k] = p.asyncEvents.WithLabelValues(name, asyncKindNames[k])
		}
		return s
	})
}

// Observe counts one ended invocation.
func (p *Prometheus) Observe(o *invoke.Observation) {
	s := p.series(o.Function)
	if o.Outcome >= Succeeded && o.Outcome <= Throttled {
		s.outcomes[o.Outcome].Inc()
	}
	switch o.Outcome {
	case Throttled:
		if o.ErrorType == function.ReasonReserved {
			s.throttles[0].Inc()
		} else {
			s.throttles[1].Inc()
		}
		return
	case FunctionError:
		p.errors.WithLabelValues(o.Function, "Unhandled").Inc()
	case Failed:
		t := o.ErrorType
		if !errorTypes[t] {
			t = "Other"
		}
		p.errors.WithLabelValues(o.Function, t).Inc()
	}
	if o.Cold {
		s.cold.Inc()
		if o.InitDuration > 0 {
			s.initDur.Observe(o.InitDuration.Seconds())
		}
	}
	if o.Duration > 0 { // it ran: not a start that failed, nor refused by the platform
		s.duration.Observe(o.Duration.Seconds())
	}
	switch {
	case o.Provisioned:
		s.provInv.Inc()
	case o.Spillover:
		s.spillover.Inc()
	}
}

// Forget deletes the series of a deleted function.
func (p *Prometheus) Forget(name string) {
	p.fns.delete(name)
	l := prometheus.Labels{"function": name}
	for _, v := range []interface{ DeletePartialMatch(prometheus.Labels) int }{
		p.invocations, p.errors, p.throttles, p.cold, p.duration, p.initDur, p.provisioned, p.asyncEvents, p.asyncAge, p.iterAge,
	} {
		v.DeletePartialMatch(l)
	}
}

// The kinds of asynchronous event counts.
const (
	asyncReceived = iota
	asyncDropped
	asyncDeadLetterError
	asyncDestinationFailure
	asyncKinds
)

var asyncKindNames = [asyncKinds]string{"received", "dropped", "dead_letter_error", "destination_failure"}

// AsyncEvent counts a milestone of an asynchronous event of the named
// function: for async.Delivering, age is the event's age.
func (p *Prometheus) AsyncEvent(name string, m async.Milestone, age time.Duration) {
	s := p.series(name)
	switch m {
	case async.Received:
		s.asyncCount[asyncReceived].Inc()
	case async.Delivering:
		s.asyncAge.Observe(age.Seconds())
	case async.Dropped:
		s.asyncCount[asyncDropped].Inc()
	case async.DeadLetterFailed:
		s.asyncCount[asyncDeadLetterError].Inc()
	case async.DestinationFailed:
		s.asyncCount[asyncDestinationFailure].Inc()
	}
}

// IteratorAge sets the iterator age of the named function's stream
// mapping.
func (p *Prometheus) IteratorAge(name string, age time.Duration) {
	p.iterAge.WithLabelValues(name).Set(age.Seconds())
}

// statuses are the status label's values, by code, so counting a request
// builds no string.
var statuses = func() (s [600]string) {
	for i := 100; i < len(s); i++ {
		s[i] = strconv.Itoa(i)
	}
	return s
}()

func status(code int) string {
	if code < 100 || code >= len(statuses) {
		return "other"
	}
	return statuses[code]
}

// GatewayRequest counts a request the HTTP gateway answered: route is
// the route key that matched (API Gateway's "GET /items/{id}"), or a
// fixed word for what is not a route.
func (p *Prometheus) GatewayRequest(route string, code int) {
	p.gateway.WithLabelValues(route, status(code)).Inc()
}

// S3Request counts an S3 request by operation and status, with the
// object bytes it uploaded (in) and downloaded (out).
func (p *Prometheus) S3Request(op string, code int, in, out int64) {
	p.s3.WithLabelValues(op, status(code)).Inc()
	if in > 0 {
		p.s3Bytes.WithLabelValues(op, "in").Add(float64(in))
	}
	if out > 0 {
		p.s3Bytes.WithLabelValues(op, "out").Add(float64(out))
	}
}

// Sources are what the metrics read at scrape time. Each may be nil.
type Sources struct {
	// Functions returns each function's instances and running
	// invocations, and the running invocations of functions without
	// reserved concurrency (the invoker's Snapshot).
	Functions func() ([]invoke.FunctionState, int)
	// Exists says whether a function still exists; the state of deleted
	// ones is left out.
	Exists func(name string) bool
	// Async returns the asynchronous queue's counters and depths.
	Async func(ctx context.Context) ([]async.Stats, error)
	// Backbone reports whether the backbone answers, and its streams.
	Backbone func(ctx context.Context) ([]Stream, error)
	// Prepared returns how many processes the sandbox keeps started from
	// runtime templates, ready to become instances (sandbox.Preparer).
	Prepared func() int
}

// Stream is one stream of the backbone as a scrape reads it.
type Stream struct {
	Name     string
	Messages uint64
	Bytes    uint64
}
