// Package otlp exports Aloft's traces to an OpenTelemetry collector as
// spans, over OTLP/HTTP with the JSON encoding (POST <endpoint>/v1/traces,
// resourceSpans → scopeSpans → spans). Every X-Ray segment and
// subsegment becomes a span with the same ids (the W3C trace id is the
// X-Ray root's 32 hex digits), a span kind (server for the service and
// gateway segments, internal for the rest), and the attributes of
// OpenTelemetry's FaaS conventions (faas.name, faas.invocation_id,
// faas.coldstart, cloud.provider).
//
// The exporter is written here, a few hundred lines of the standard
// library, rather than taken from the OpenTelemetry Go SDK: its OTLP
// exporters bring gRPC and protobuf along, about 11 MB more in the one
// binary, for a wire format that is plain JSON over HTTP.
//
// Export never blocks: segments wait in a bounded queue (dropped and
// counted when it is full) and are posted in batches, each with a
// timeout, by one goroutine.
package otlp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aloft-dev/aloft/internal/traces"
	"github.com/aloft-dev/aloft/internal/traces/traceid"
)

// Defaults of Options.
const (
	DefaultQueue    = 10000
	DefaultBatch    = 512
	DefaultInterval = time.Second
	DefaultTimeout  = 10 * time.Second
)

// Options configure an Exporter.
type Options struct {
	// Endpoint is the collector's OTLP/HTTP base URL (http://host:4318);
	// spans go to its /v1/traces, unless it names that path itself.
	Endpoint string
	Queue    int           // segments waiting at most; more are dropped
	Batch    int           // segments posted at once at most
	Interval time.Duration // how often waiting segments are posted
	Timeout  time.Duration // of one post
	Client   *http.Client
	Logger   *slog.Logger
}

// Stats are an exporter's counters, in segments.
type Stats struct {
	Exported, Dropped, Failed uint64
}

// Exporter posts segments to a collector. Create it with New.
type Exporter struct {
	o   Options
	url string

	mu    sync.Mutex // guards queue
	queue []traces.Doc
	kick  chan struct{}
	quit  chan struct{}
	done  chan struct{}
	once  sync.Once

	exported, dropped, failed atomic.Uint64
}

// New returns an exporter to the collector at o.Endpoint and starts it.
func New(o Options) (*Exporter, error) {
	u, err := url.Parse(o.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("otlp: endpoint %q is not an http(s) URL", o.Endpoint)
	}
	target := strings.TrimSuffix(o.Endpoint, "/")
	if !strings.HasSuffix(u.Path, "/v1/traces") {
		target += "/v1/traces"
	}
	if o.Queue <= 0 {
		o.Queue = DefaultQueue
	}
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	e := &Exporter{o: o, url: target, kick: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go e.run()
	return e, nil
}

// Export queues segments (traces.Options.Export). It never blocks.
func (e *Exporter) Export(docs []traces.Doc) {
	e.mu.Lock()
	n := min(e.o.Queue-len(e.queue), len(docs))
	if n > 0 {
		e.queue = append(e.queue, docs[:n]...)
	}
	n = max(n, 0)
	full := len(e.queue) >= e.o.Batch
	e.mu.Unlock()
	if n < len(docs) {
		e.dropped.Add(uint64(len(docs) - n))
	}
	if full {
		select {
		case e.kick <- struct{}{}:
		default:
		}
	}
}

// Stats returns the exporter's counters.
func (e *Exporter) Stats() Stats {
	return Stats{Exported: e.exported.Load(), Dropped: e.dropped.Load(), Failed: e.failed.Load()}
}

// Close posts what waits, within ctx, and stops the exporter. It is
// idempotent.
func (e *Exporter) Close(ctx context.Context) error {
	var err error
	e.once.Do(func() {
		close(e.quit)
		select {
		case <-e.done:
		case <-ctx.Done():
			err = ctx.Err()
			return
		}
		for err == nil && e.pending() > 0 {
			err = e.post(ctx)
		}
	})
	return err
}

func (e *Exporter) pending() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.queue)
}

func (e *Exporter) run() {
	defer close(e.done)
	t := time.NewTicker(e.o.Interval)
	defer t.Stop()
	for {
		select {
		case <-e.quit:
			return
		case <-t.C:
		case <-e.kick:
		}
		for e.pending() > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), e.o.Timeout)
			err := e.post(ctx)
			cancel()
			if err != nil {
				e.o.Logger.Warn("spans not exported", "endpoint", e.url, "err", err)
				break
			}
		}
	}
}

// post sends one batch of what waits.
func (e *Exporter) post(ctx context.Context) error {
	e.mu.Lock()
	n := min(len(e.queue), e.o.Batch)
	batch := make([]traces.Doc, n)
	copy(batch, e.queue)
	e.queue = append(e.queue[:0], e.queue[n:]...)
	e.mu.Unlock()
	if n == 0 {
		return nil
	}
	body, err := json.Marshal(Request(batch))
	if err != nil {
		e.failed.Add(uint64(n))
		return fmt.Errorf("otlp: encode: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(body))
	if err != nil {
		e.failed.Add(uint64(n))
		return fmt.Errorf("otlp: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.o.Client.Do(req)
	if err != nil {
		e.failed.Add(uint64(n))
		return fmt.Errorf("otlp: post: %w", err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		e.failed.Add(uint64(n))
		return fmt.Errorf("otlp: post: collector answered %s", resp.Status)
	}
	e.exported.Add(uint64(n))
	return nil
}

// The request's JSON shape (opentelemetry-proto, JSON mapping).
type (
	// ExportRequest is an ExportTraceServiceRequest.
	ExportRequest struct {
		ResourceSpans []ResourceSpans `json:"resourceSpans"`
	}
	// ResourceSpans are the spans of one resource (a function).
	ResourceSpans struct {
		Resource   Resource     `json:"resource"`
		ScopeSpans []ScopeSpans `json:"scopeSpans"`
	}
	// Resource is what produced spans.
	Resource struct {
		Attributes []KeyValue `json:"attributes"`
	}
	// ScopeSpans are the spans of one instrumentation scope.
	ScopeSpans struct {
		Scope Scope  `json:"scope"`
		Spans []Span `json:"spans"`
	}
	// Scope names the instrumentation.
	Scope struct {
		Name string `json:"name"`
	}
	// Span is one span.
	Span struct {
		TraceID           string     `json:"traceId"`
		SpanID            string     `json:"spanId"`
		ParentSpanID      string     `json:"parentSpanId,omitempty"`
		Name              string     `json:"name"`
		Kind              int        `json:"kind"`
		StartTimeUnixNano string     `json:"startTimeUnixNano"`
		EndTimeUnixNano   string     `json:"endTimeUnixNano"`
		Attributes        []KeyValue `json:"attributes,omitempty"`
		Status            *Status    `json:"status,omitempty"`
	}
	// Status is a span's status.
	Status struct {
		Code    int    `json:"code"`
		Message string `json:"message,omitempty"`
	}
	// KeyValue is an attribute.
	KeyValue struct {
		Key   string `json:"key"`
		Value Value  `json:"value"`
	}
	// Value is an attribute's value: one of its fields.
	Value struct {
		StringValue *string `json:"stringValue,omitempty"`
		BoolValue   *bool   `json:"boolValue,omitempty"`
		IntValue    *string `json:"intValue,omitempty"`
	}
)

// Span kinds and status codes.
const (
	KindInternal = 1
	KindServer   = 2
	StatusError  = 2
)

// Scope is the instrumentation scope the spans carry.
const scopeName = "aloft"

func str(k, v string) KeyValue { return KeyValue{k, Value{StringValue: &v}} }
func boolean(k string, v bool) KeyValue {
	return KeyValue{k, Value{BoolValue: &v}}
}
func integer(k string, v int) KeyValue {
	s := strconv.Itoa(v)
	return KeyValue{k, Value{IntValue: &s}}
}

// Request returns the export request of segment documents: a resource
// per service (the segments' names), their segments and subsegments as
// spans. Documents that are not complete segments (in progress, not
// JSON) are left out.
func Request(docs []traces.Doc) *ExportRequest {
	out := &ExportRequest{ResourceSpans: []ResourceSpans{}}
	byService := map[string]int{}
	for _, d := range docs {
		var s traces.Segment
		if json.Unmarshal(d.Body, &s) != nil || s.InProgress || s.EndTime == 0 || !traceid.ValidRoot(s.TraceID) || !traceid.ValidID(s.ID) {
			continue
		}
		i, ok := byService[s.Name]
		if !ok {
			i = len(out.ResourceSpans)
			byService[s.Name] = i
			out.ResourceSpans = append(out.ResourceSpans, ResourceSpans{
				Resource: Resource{Attributes: []KeyValue{str("service.name", s.Name), str("cloud.provider", "aws"),
					str("cloud.platform", "aws_lambda"), str("faas.name", s.Name)}},
				ScopeSpans: []ScopeSpans{{Scope: Scope{Name: scopeName}}},
			})
		}
		ss := &out.ResourceSpans[i].ScopeSpans[0]
		ss.Spans = appendSpans(ss.Spans, traceid.W3CTraceID(s.TraceID), s.ParentID, &s, true)
	}
	return out
}

// appendSpans appends the span of s, and those of its subsegments.
func appendSpans(dst []Span, traceID, parent string, s *traces.Segment, top bool) []Span {
	if !traceid.ValidID(s.ID) || s.EndTime == 0 {
		return dst
	}
	sp := Span{TraceID: traceID, SpanID: s.ID, ParentSpanID: parent, Name: s.Name, Kind: KindInternal,
		StartTimeUnixNano: nanos(s.StartTime), EndTimeUnixNano: nanos(s.EndTime)}
	if top && s.Origin != traces.OriginFunction && s.Type == "" {
		sp.Kind = KindServer
	}
	if s.Origin != "" {
		sp.Attributes = append(sp.Attributes, str("aws.xray.origin", s.Origin))
	}
	if a := s.AWS; a != nil {
		if a.RequestID != "" {
			sp.Attributes = append(sp.Attributes, str("faas.invocation_id", a.RequestID))
		}
		if a.FunctionARN != "" {
			sp.Attributes = append(sp.Attributes, str("cloud.resource_id", a.FunctionARN))
		}
		if a.ColdStart != nil {
			sp.Attributes = append(sp.Attributes, boolean("faas.coldstart", *a.ColdStart))
		}
		if a.Region != "" {
			sp.Attributes = append(sp.Attributes, str("cloud.region", a.Region))
		}
	}
	if h := s.HTTP; h != nil {
		if h.Request != nil && h.Request.Method != "" {
			sp.Attributes = append(sp.Attributes, str("http.request.method", h.Request.Method))
		}
		if h.Request != nil && h.Request.URL != "" {
			sp.Attributes = append(sp.Attributes, str("url.full", h.Request.URL))
		}
		if h.Response != nil && h.Response.Status != 0 {
			sp.Attributes = append(sp.Attributes, integer("http.response.status_code", h.Response.Status))
		}
	}
	if s.Error || s.Fault {
		sp.Status = &Status{Code: StatusError}
		if s.Cause != nil && len(s.Cause.Exceptions) > 0 {
			sp.Status.Message = s.Cause.Exceptions[0].Type
		}
	}
	dst = append(dst, sp)
	for _, sub := range s.Subsegments {
		dst = appendSpans(dst, traceID, s.ID, sub, false)
	}
	return dst
}

// nanos returns epoch seconds as OTLP's decimal string of nanoseconds.
func nanos(secs float64) string {
	whole := int64(secs)
	frac := int64((secs-float64(whole))*1e6+0.5) * 1000 // segments keep microseconds
	return strconv.FormatInt(whole*1e9+frac, 10)
}
