// Package xrayapi serves the AWS X-Ray API subset (rest-json, 2016-04-12)
// over package traces: GetTraceSummaries (POST /TraceSummaries),
// BatchGetTraces (POST /Traces) and PutTraceSegments (POST
// /TraceSegments). It decodes requests, calls the store and encodes its
// answers; requests reach it already authenticated and authorized
// (Operation). Parameters it does not know are refused with
// InvalidRequestException, as are filter expressions beyond the subset
// traces.ParseFilter reads.
//
// Segments reach it over HTTP only: the X-Ray daemon's UDP port (2000)
// is not served, so an SDK inside a function is pointed at the API (its
// HTTP emitter, or PutTraceSegments itself).
package xrayapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"time"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/edge"
	"github.com/aloft-dev/aloft/internal/traces"
)

// MaxBody is the largest request body the API takes.
const MaxBody = 5 << 20

// Store is what the API reads and writes (*traces.Store).
type Store interface {
	Summaries(ctx context.Context, q traces.Query) (*traces.Page, error)
	Get(ctx context.Context, roots []string) ([]*traces.Trace, []string, error)
	Put(docs []string) []traces.Unprocessed
}

// Operation is the X-Ray API's table from requests to IAM actions and
// resources, for the front door's authorization.
func Operation(r *http.Request, _ []byte) (edge.Operation, *awsproto.Error) {
	if r.Method != http.MethodPost {
		return edge.Operation{}, nil
	}
	switch r.URL.Path {
	case "/TraceSummaries":
		return edge.Operation{Action: "xray:GetTraceSummaries", Resource: "*"}, nil
	case "/Traces":
		return edge.Operation{Action: "xray:BatchGetTraces", Resource: "*"}, nil
	case "/TraceSegments":
		return edge.Operation{Action: "xray:PutTraceSegments", Resource: "*"}, nil
	}
	return edge.Operation{}, nil
}

// Actions are the IAM actions of the API's operations.
var Actions = []string{"xray:GetTraceSummaries", "xray:BatchGetTraces", "xray:PutTraceSegments"}

// api serves one store.
type api struct {
	s   Store
	log *slog.Logger // the server's own failures (5xx) go here
}

// New returns the API's handler over s.
func New(s Store, log *slog.Logger) http.Handler {
	a := &api{s, log}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /TraceSummaries", a.summaries)
	mux.HandleFunc("POST /Traces", a.batchGet)
	mux.HandleFunc("POST /TraceSegments", a.putSegments)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		a.writeErr(w, r, awsproto.Errorf(http.StatusNotFound, "UnknownOperationException", "Unknown operation %s %s", r.Method, r.URL.Path))
	})
	return mux
}

// writeErr writes err as X-Ray does: an *awsproto.Error as it is, a
// query the store refuses as InvalidRequestException, the cluster's
// unavailability as 503 ServiceUnavailableException
// (awsproto.Unavailable), and anything else as 500 InternalFailure,
// which is logged with the other failures of the server's own (5xx).
func (a *api) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	var ae *awsproto.Error
	switch {
	case errors.As(err, &ae):
	case errors.Is(err, traces.ErrInvalidQuery):
		ae = invalid("%s", trimPrefix(err.Error()))
	default:
		ae = awsproto.Unavailable(awsproto.RESTJSON, err)
	}
	if ae == nil {
		ae = &awsproto.Error{Status: http.StatusInternalServerError, Code: "InternalFailure", Message: "The service cannot complete the request.", Err: err}
	}
	if ae.Status >= 500 && a.log != nil {
		a.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "request_id", w.Header().Get("X-Amzn-Requestid"), "err", err)
	}
	awsproto.WriteError(w, nil, awsproto.RESTJSON, ae, "")
}

// trimPrefix returns an ErrInvalidQuery's own words.
func trimPrefix(s string) string {
	p := traces.ErrInvalidQuery.Error() + ": "
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

func invalid(format string, args ...any) *awsproto.Error {
	return awsproto.Errorf(http.StatusBadRequest, "InvalidRequestException", format, args...)
}

// decode reads a request body into v, refusing fields v does not have.
func decode(r *http.Request, v any) error {
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r.Body); err != nil {
		return invalid("The request body could not be read.")
	}
	if buf.Len() == 0 {
		buf.WriteString("{}")
	}
	d := json.NewDecoder(&buf)
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return invalid("Could not parse the request body: %v", err)
	}
	return nil
}

func writeOK(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

type summariesIn struct {
	StartTime        *float64
	EndTime          *float64
	TimeRangeType    string
	Sampling         *bool
	SamplingStrategy *struct {
		Name  string
		Value *float64
	}
	FilterExpression string
	NextToken        string
}

type summaryOut struct {
	Id               string
	StartTime        float64
	Duration         float64
	ResponseTime     float64
	HasError         bool
	HasFault         bool
	HasThrottle      bool
	IsPartial        bool
	Http             *httpOut    `json:",omitempty"`
	EntryPoint       *serviceOut `json:",omitempty"`
	ServiceIds       []serviceOut
	Revision         int
	MatchedEventTime float64 `json:",omitempty"`
}

type httpOut struct {
	HttpURL    string `json:",omitempty"`
	HttpStatus int    `json:",omitempty"`
	HttpMethod string `json:",omitempty"`
	UserAgent  string `json:",omitempty"`
	ClientIp   string `json:",omitempty"`
}

type serviceOut struct {
	Name      string
	Names     []string
	AccountId string
	Type      string `json:",omitempty"`
}

// token is a NextToken of GetTraceSummaries: where the next page starts
// in the same query's matches.
type token struct {
	Offset int     `json:"o"`
	Start  float64 `json:"s"`
	End    float64 `json:"e"`
	Filter string  `json:"f"`
}

func (a *api) summaries(w http.ResponseWriter, r *http.Request) {
	var in summariesIn
	if err := decode(r, &in); err != nil {
		a.writeErr(w, r, err)
		return
	}
	if in.StartTime == nil || in.EndTime == nil {
		a.writeErr(w, r, invalid("StartTime and EndTime are required."))
		return
	}
	q := traces.Query{Start: fromSeconds(*in.StartTime), End: fromSeconds(*in.EndTime)}
	switch in.TimeRangeType {
	case "", "TraceId":
	case "Event":
		q.ByEvent = true
	default:
		a.writeErr(w, r, invalid("TimeRangeType %q is not supported; use TraceId or Event.", in.TimeRangeType))
		return
	}
	if in.Sampling != nil && *in.Sampling {
		q.Sample = 0.1
		if st := in.SamplingStrategy; st != nil {
			if st.Name != "" && st.Name != "FixedRate" {
				a.writeErr(w, r, invalid("SamplingStrategy %q is not supported; use FixedRate.", st.Name))
				return
			}
			if st.Value != nil {
				if *st.Value <= 0 || *st.Value > 1 {
					a.writeErr(w, r, invalid("A FixedRate sampling strategy's Value is a share between 0 and 1."))
					return
				}
				q.Sample = *st.Value
			}
		}
	} else if in.SamplingStrategy != nil {
		a.writeErr(w, r, invalid("SamplingStrategy applies only with Sampling true."))
		return
	}
	f, err := traces.ParseFilter(in.FilterExpression)
	if err != nil {
		a.writeErr(w, r, err)
		return
	}
	q.Filter = f
	if in.NextToken != "" {
		t, ok := readToken(in.NextToken)
		if !ok || t.Start != *in.StartTime || t.End != *in.EndTime || t.Filter != in.FilterExpression {
			a.writeErr(w, r, invalid("The NextToken is not one this query's previous page gave."))
			return
		}
		q.Offset = t.Offset
	}
	now := time.Now()
	p, err := a.s.Summaries(r.Context(), q)
	if err != nil {
		a.writeErr(w, r, err)
		return
	}
	out := struct {
		TraceSummaries       []summaryOut
		ApproximateTime      float64
		TracesProcessedCount int64
		NextToken            string `json:",omitempty"`
	}{TraceSummaries: make([]summaryOut, 0, len(p.Summaries)), ApproximateTime: traces.Seconds(now), TracesProcessedCount: int64(p.Processed)}
	for _, s := range p.Summaries {
		o := summaryOut{Id: s.ID, StartTime: s.StartTime, Duration: s.Duration, ResponseTime: s.ResponseTime,
			HasError: s.HasError, HasFault: s.HasFault, HasThrottle: s.HasThrottle, IsPartial: s.IsPartial,
			ServiceIds: make([]serviceOut, 0, len(s.Services)), Revision: 1}
		if q.ByEvent {
			o.MatchedEventTime = s.StartTime
		}
		if h := s.HTTP; h != nil {
			o.Http = &httpOut{}
			if h.Request != nil {
				o.Http.HttpURL, o.Http.HttpMethod, o.Http.UserAgent, o.Http.ClientIp = h.Request.URL, h.Request.Method, h.Request.UserAgent, h.Request.ClientIP
			}
			if h.Response != nil {
				o.Http.HttpStatus = h.Response.Status
			}
		}
		if s.EntryPoint.Name != "" {
			o.EntryPoint = service(s.EntryPoint)
		}
		for _, svc := range s.Services {
			o.ServiceIds = append(o.ServiceIds, *service(svc))
		}
		out.TraceSummaries = append(out.TraceSummaries, o)
	}
	if p.Next > 0 {
		out.NextToken = writeToken(token{Offset: p.Next, Start: *in.StartTime, End: *in.EndTime, Filter: in.FilterExpression})
	}
	writeOK(w, out)
}

func service(s traces.Service) *serviceOut {
	return &serviceOut{Name: s.Name, Names: []string{s.Name}, AccountId: awsproto.AccountID, Type: s.Type}
}

func (a *api) batchGet(w http.ResponseWriter, r *http.Request) {
	var in struct {
		TraceIds  []string
		NextToken string
	}
	if err := decode(r, &in); err != nil {
		a.writeErr(w, r, err)
		return
	}
	switch {
	case len(in.TraceIds) == 0:
		a.writeErr(w, r, invalid("TraceIds is required."))
		return
	case len(in.TraceIds) > traces.MaxBatch:
		a.writeErr(w, r, invalid("At most %d TraceIds are read at once.", traces.MaxBatch))
		return
	case in.NextToken != "":
		a.writeErr(w, r, invalid("The NextToken is not one this server gave: BatchGetTraces answers in one page."))
		return
	}
	found, missing, err := a.s.Get(r.Context(), in.TraceIds)
	if err != nil {
		a.writeErr(w, r, err)
		return
	}
	type segment struct{ Id, Document string }
	type trace struct {
		Id            string
		Duration      float64
		LimitExceeded bool
		Segments      []segment
	}
	out := struct {
		Traces              []trace
		UnprocessedTraceIds []string
	}{Traces: make([]trace, 0, len(found)), UnprocessedTraceIds: missing}
	if out.UnprocessedTraceIds == nil {
		out.UnprocessedTraceIds = []string{}
	}
	for _, t := range found {
		tr := trace{Id: t.ID, Duration: t.Duration, Segments: make([]segment, 0, len(t.Segments))}
		for _, d := range t.Segments {
			tr.Segments = append(tr.Segments, segment{d.ID, string(d.Body)})
		}
		out.Traces = append(out.Traces, tr)
	}
	writeOK(w, out)
}

func (a *api) putSegments(w http.ResponseWriter, r *http.Request) {
	var in struct{ TraceSegmentDocuments []string }
	if err := decode(r, &in); err != nil {
		a.writeErr(w, r, err)
		return
	}
	if len(in.TraceSegmentDocuments) == 0 {
		a.writeErr(w, r, invalid("TraceSegmentDocuments is required."))
		return
	}
	type unprocessed struct{ Id, ErrorCode, Message string }
	out := struct{ UnprocessedTraceSegments []unprocessed }{UnprocessedTraceSegments: []unprocessed{}}
	for _, u := range a.s.Put(in.TraceSegmentDocuments) {
		out.UnprocessedTraceSegments = append(out.UnprocessedTraceSegments, unprocessed{u.ID, u.ErrorCode, u.Message})
	}
	writeOK(w, out)
}

func fromSeconds(f float64) time.Time {
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9))
}

func writeToken(t token) string {
	b, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(b)
}

func readToken(s string) (token, bool) {
	var t token
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &t) != nil || t.Offset <= 0 {
		return token{}, false
	}
	return t, true
}
