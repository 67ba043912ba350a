package traces

import (
	"encoding/json"
	"time"

	"github.com/aloft-dev/aloft/internal/traces/traceid"
)

// Segment is an X-Ray segment document, or a subsegment within one:
// the fields Aloft writes and reads. Times are epoch seconds with a
// fraction.
type Segment struct {
	Name        string     `json:"name"`
	ID          string     `json:"id"`
	TraceID     string     `json:"trace_id,omitempty"`
	ParentID    string     `json:"parent_id,omitempty"`
	Type        string     `json:"type,omitempty"` // "subsegment" for a subsegment sent on its own
	StartTime   float64    `json:"start_time"`
	EndTime     float64    `json:"end_time,omitempty"`
	InProgress  bool       `json:"in_progress,omitempty"`
	Origin      string     `json:"origin,omitempty"`
	Namespace   string     `json:"namespace,omitempty"`
	Error       bool       `json:"error,omitempty"`
	Fault       bool       `json:"fault,omitempty"`
	Throttle    bool       `json:"throttle,omitempty"`
	HTTP        *HTTP      `json:"http,omitempty"`
	AWS         *AWS       `json:"aws,omitempty"`
	Cause       *Cause     `json:"cause,omitempty"`
	Subsegments []*Segment `json:"subsegments,omitempty"`
}

// HTTP is a segment's http field.
type HTTP struct {
	Request  *HTTPRequest  `json:"request,omitempty"`
	Response *HTTPResponse `json:"response,omitempty"`
}

// HTTPRequest is what a segment says of the request it served.
type HTTPRequest struct {
	Method    string `json:"method,omitempty"`
	URL       string `json:"url,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
	ClientIP  string `json:"client_ip,omitempty"`
}

// HTTPResponse is what a segment says of its answer.
type HTTPResponse struct {
	Status int `json:"status,omitempty"`
}

// AWS is a segment's aws field.
type AWS struct {
	RequestID   string `json:"request_id,omitempty"`
	FunctionARN string `json:"function_arn,omitempty"`
	Resource    string `json:"resource_names,omitempty"`
	ColdStart   *bool  `json:"cold_start,omitempty"`
	Region      string `json:"region,omitempty"`
	Operation   string `json:"operation,omitempty"`
}

// Cause is a segment's cause field: why it failed.
type Cause struct {
	Exceptions []Exception `json:"exceptions"`
}

// Exception is one exception of a Cause.
type Exception struct {
	ID      string `json:"id,omitempty"`
	Type    string `json:"type,omitempty"`
	Message string `json:"message,omitempty"`
}

// Origins of the segments Aloft writes.
const (
	OriginLambda   = "AWS::Lambda"
	OriginFunction = "AWS::Lambda::Function"
	OriginGateway  = "AWS::ApiGateway::Stage"
)

// Seconds returns t as a segment time: epoch seconds with a fraction.
func Seconds(t time.Time) float64 {
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9
}

// Outcome is how an invocation ended, as its segments record it.
type Outcome uint8

// Invocation outcomes.
const (
	Succeeded     Outcome = iota + 1 // the function answered
	FunctionError                    // the function answered with an error
	Failed                           // it failed outside its code (timeout, crash)
	Throttled                        // refused for want of concurrency
)

// Invocation is one ended invocation, as its segments are built from it.
// Times are zero for phases that did not happen.
type Invocation struct {
	Function    string
	FunctionARN string
	Region      string
	RequestID   string // the invocation's request id (a UUID): the segments' ids derive from it
	Trace       string // the X-Amzn-Trace-Id the invocation carried: its Parent is the caller's segment
	Outcome     Outcome
	ErrorType   string

	Arrived, Acquired                    time.Time
	Cold                                 bool
	SandboxStart, SandboxReady, InitDone time.Time
	Duration                             time.Duration // the function's time on the event
	Ended                                time.Time
}

// Doc is one stored segment document.
type Doc struct {
	Trace string          // the root of its trace
	ID    string          // the segment's id
	Body  json.RawMessage // the document
}

// Build returns the segment documents of a sampled invocation: its
// service segment and, unless it was throttled, its function segment
// (see the package doc). It returns nil for an invocation whose trace
// header is not sampled or not valid.
func Build(inv *Invocation) []Doc {
	h, ok := traceid.Parse(inv.Trace)
	if !ok || h.Sampled != traceid.Sampled {
		return nil
	}
	svcID, fnID := traceid.ServiceSegmentID(inv.RequestID), traceid.FunctionSegmentID(inv.RequestID)
	if svcID == "" {
		return nil
	}
	status := 200
	switch inv.Outcome {
	case Throttled:
		status = 429
	case Failed:
		status = 500
	}
	svc := &Segment{Name: inv.Function, ID: svcID, TraceID: h.Root, ParentID: h.Parent,
		StartTime: Seconds(inv.Arrived), EndTime: Seconds(inv.Ended), Origin: OriginLambda,
		Throttle: inv.Outcome == Throttled, Error: inv.Outcome == Throttled, Fault: inv.Outcome == Failed,
		HTTP: &HTTP{Response: &HTTPResponse{Status: status}},
		AWS:  &AWS{RequestID: inv.RequestID, FunctionARN: inv.FunctionARN, Region: inv.Region}}
	// Queueing: the wait for an instance (a free one, or a slot for a
	// new one).
	ready := inv.Acquired
	if inv.Cold && !inv.SandboxStart.IsZero() {
		ready = inv.SandboxStart
	}
	if !ready.IsZero() && ready.After(inv.Arrived) {
		svc.Subsegments = append(svc.Subsegments, &Segment{Name: "Queueing", ID: subID(fnID, 1),
			StartTime: Seconds(inv.Arrived), EndTime: Seconds(ready)})
	}
	docs := make([]Doc, 0, 2)
	docs = append(docs, doc(svc))
	if inv.Outcome == Throttled || fnID == "" {
		return docs
	}
	start := inv.Acquired
	if inv.Cold && !inv.SandboxStart.IsZero() {
		start = inv.SandboxStart
	}
	if start.IsZero() {
		start = inv.Arrived
	}
	cold := inv.Cold
	fn := &Segment{Name: inv.Function, ID: fnID, TraceID: h.Root, ParentID: svcID,
		StartTime: Seconds(start), EndTime: Seconds(inv.Ended), Origin: OriginFunction,
		Error: inv.Outcome == FunctionError, Fault: inv.Outcome == Failed,
		AWS: &AWS{RequestID: inv.RequestID, FunctionARN: inv.FunctionARN, ColdStart: &cold}}
	if inv.ErrorType != "" {
		fn.Cause = &Cause{Exceptions: []Exception{{ID: subID(fnID, 2), Type: inv.ErrorType}}}
	}
	if inv.Cold && !inv.SandboxStart.IsZero() && !inv.SandboxReady.IsZero() {
		fn.Subsegments = append(fn.Subsegments, &Segment{Name: "Sandbox", ID: subID(fnID, 3),
			StartTime: Seconds(inv.SandboxStart), EndTime: Seconds(inv.SandboxReady)})
		if !inv.InitDone.IsZero() {
			fn.Subsegments = append(fn.Subsegments, &Segment{Name: "Initialization", ID: subID(fnID, 4),
				StartTime: Seconds(inv.SandboxReady), EndTime: Seconds(inv.InitDone),
				Fault: inv.Outcome == Failed && inv.ErrorType == "Runtime.InitError"})
		}
	}
	if inv.Duration > 0 || inv.Outcome != Failed {
		fn.Subsegments = append(fn.Subsegments, &Segment{Name: "Invocation", ID: subID(fnID, 5),
			StartTime: Seconds(inv.Ended.Add(-inv.Duration)), EndTime: Seconds(inv.Ended),
			Error: inv.Outcome == FunctionError, Fault: inv.Outcome == Failed})
	}
	return append(docs, doc(fn))
}

// Hop is the segment of a request's hop through an ingress (the HTTP
// gateway, an event source), which the service segments of the
// invocations it made descend from.
type Hop struct {
	Header traceid.Header // as the request arrived: its root, decision and caller's segment
	ID     string         // the hop's segment id: the Parent the invocations it makes carry
	Start  time.Time
}

// Downstream returns the X-Amzn-Trace-Id the hop's invocations carry.
func (h *Hop) Downstream() string {
	d := h.Header
	d.Parent = h.ID
	return d.String()
}

// Sampled reports whether the hop is recorded.
func (h *Hop) Sampled() bool { return h.Header.Sampled == traceid.Sampled }

// Segment returns the hop's segment, ended at end, for the caller to
// complete (HTTP, flags) and record.
func (h *Hop) Segment(name, origin string, end time.Time) *Segment {
	return &Segment{Name: name, ID: h.ID, TraceID: h.Header.Root, ParentID: h.Header.Parent,
		StartTime: Seconds(h.Start), EndTime: Seconds(end), Origin: origin}
}

// NewHop starts a hop at now for a request with trace header h.
func NewHop(h traceid.Header, now time.Time) Hop {
	return Hop{Header: h, ID: traceid.NewID(), Start: now}
}

// Encode returns a segment as a stored document.
func Encode(s *Segment) Doc { return doc(s) }

func doc(s *Segment) Doc {
	b, _ := json.Marshal(s) // a Segment always encodes
	return Doc{Trace: s.TraceID, ID: s.ID, Body: b}
}

// subID derives the id of subsegment n of the segment with id id: its
// digits with the last one replaced, so that it is stable and distinct.
func subID(id string, n int) string {
	if len(id) != 16 {
		return traceid.NewID()
	}
	const digits = "0123456789abcdef"
	b := []byte(id)
	// Flip the first digit by n, keeping it hex.
	for i, c := range digits {
		if byte(c) == b[0] {
			b[0] = digits[(i+n)%16]
			break
		}
	}
	return string(b)
}
