package app

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/invoker"
	"github.com/aloft-dev/aloft/internal/traces"
	"github.com/aloft-dev/aloft/internal/traces/otlp"
	"github.com/aloft-dev/aloft/internal/traces/traceid"
)

// tracing is the server's tracing: the sampler every ingress of this
// node shares, the store of segments, and the OTLP exporter, if one is
// configured (--otlp-endpoint).
type tracing struct {
	sampler traceid.Sampler
	store   *traces.Store
	otlp    *otlp.Exporter
}

// openTraces opens the trace store on the backbone and the exporter.
func (s *Server) openTraces(ctx context.Context, js jetstream.JetStream, log *slog.Logger) error {
	var export func([]traces.Doc)
	if s.cfg.OTLPEndpoint != "" {
		e, err := otlp.New(otlp.Options{Endpoint: s.cfg.OTLPEndpoint, Logger: log.With("component", "otlp")})
		if err != nil {
			return fmt.Errorf("app: --otlp-endpoint: %w", err)
		}
		s.tr.otlp, export = e, e.Export
	}
	st, err := traces.Open(ctx, js, traces.Options{Export: export, Logger: log.With("component", "traces")})
	if err != nil {
		return err
	}
	s.tr.store = st
	s.observers = append(s.observers, s.traceInvocation)
	return nil
}

// closeTraces writes the segments that wait, then the spans.
func (s *Server) closeTraces(ctx context.Context) error {
	var err error
	if s.tr.store != nil {
		err = s.tr.store.Close(ctx)
		s.tr.store = nil
	}
	if s.tr.otlp != nil {
		// Spans the collector does not take are its loss, not a failure
		// of the server's stop.
		if e := s.tr.otlp.Close(ctx); e != nil {
			s.log.Warn("spans not exported at shutdown", "err", e)
		}
		s.tr.otlp = nil
	}
	return err
}

// traceInvocation is the invoker's observer for traces: it records the
// segments of a sampled invocation, and returns at once for the others.
func (s *Server) traceInvocation(o *invoker.Observation) {
	st := s.tr.store
	if st == nil || !traceid.IsSampled(o.TraceID) {
		return
	}
	inv := traces.Invocation{Function: o.Function, RequestID: o.RequestID, Trace: o.TraceID, ErrorType: o.ErrorType,
		FunctionARN: "arn:aws:lambda:" + awsproto.DefaultRegion + ":" + awsproto.AccountID + ":function:" + o.Function,
		Arrived:     o.Arrived, Acquired: o.Acquired, Cold: o.Cold,
		SandboxStart: o.SandboxStart, SandboxReady: o.SandboxReady, InitDone: o.InitDone,
		Duration: o.Duration, Ended: o.Ended}
	switch o.Outcome {
	case invoker.Succeeded:
		inv.Outcome = traces.Succeeded
	case invoker.FunctionError:
		inv.Outcome = traces.FunctionError
	case invoker.Throttled:
		inv.Outcome = traces.Throttled
	default:
		inv.Outcome = traces.Failed
	}
	if inv.RequestID == "" {
		// Refused before it had an id (throttled): its segment takes one
		// of its own.
		inv.RequestID = traceid.NewID() + traceid.NewID()
	}
	st.Record(&inv)
}

// Names of the event-source hops' segments.
const (
	hopEventQueue = "event-queue"          // an asynchronous event's wait and delivery
	hopMapping    = "event-source-mapping" // a batch of a queue or stream
)

// invokeHop invokes req for an event source, as one hop of a trace: the
// trace of header (an event's, from the request that queued it) or a new
// one. A hop whose header carried no decision is sampled by the node's
// rule when the function's tracing mode is Active, and not otherwise, as
// Lambda does. A sampled hop's segment (named name,
// with the event's wait since queued as its Dwell Time) is the parent of
// the invocation's.
func (s *Server) invokeHop(ctx context.Context, req *invoker.Request, header, name string, queued time.Time) (*invoker.Response, error) {
	now := time.Now()
	sampler := &s.tr.sampler
	if req.Config == nil || req.Config.TracingConfig.Mode != function.TracingActive {
		sampler = nil
	}
	hop := traces.NewHop(sampler.Start(header, "", now), now)
	req.TraceID = hop.Downstream()
	resp, err := s.invoking.Invoke(ctx, req)
	if st := s.tr.store; st != nil && hop.Sampled() {
		if !queued.IsZero() && queued.Before(now) {
			hop.Start = queued
		}
		seg := hop.Segment(name, "", time.Now())
		if hop.Start != now {
			seg.Subsegments = []*traces.Segment{{Name: "Dwell Time", ID: traceid.NewID(), StartTime: traces.Seconds(queued), EndTime: traces.Seconds(now)}}
		}
		switch {
		case err != nil || resp.Failure != nil:
			seg.Fault = true
		case resp.FunctionError != "":
			seg.Error = true
		}
		st.Add(traces.Encode(seg))
	}
	return resp, err
}

// batchTrace returns the trace header a batch of a source mapping
// continues: that of its first SQS message sent with one (the
// AWSTraceHeader system attribute), as Lambda links a queue's consumer
// to its producer; "" for none. It scans the event rather than decode
// it.
func batchTrace(payload []byte) string {
	const key = `"AWSTraceHeader":"`
	i := bytes.Index(payload, []byte(key))
	if i < 0 {
		return ""
	}
	rest := payload[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 || j > 256 {
		return ""
	}
	return string(rest[:j])
}
