package xrayapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aloft-dev/aloft/internal/traces"
)

// fakeStore answers with what the test sets and keeps the last query.
type fakeStore struct {
	q    traces.Query
	page traces.Page
	docs []string
}

func (f *fakeStore) Summaries(_ context.Context, q traces.Query) (*traces.Page, error) {
	f.q = q
	if q.Filter != nil && q.Offset == 0 && f.page.Next == 0 {
		return &traces.Page{}, nil
	}
	p := f.page
	return &p, nil
}

func (f *fakeStore) Get(_ context.Context, roots []string) ([]*traces.Trace, []string, error) {
	return []*traces.Trace{{ID: roots[0], Duration: 1.5, Segments: []traces.Doc{{ID: "a", Body: json.RawMessage(`{"id":"a"}`)}}}}, roots[1:], nil
}

func (f *fakeStore) Put(docs []string) []traces.Unprocessed {
	f.docs = docs
	return []traces.Unprocessed{{ID: "x", ErrorCode: "InvalidParameterException", Message: "no"}}
}

func call(t *testing.T, h http.Handler, path, body string) (int, string, map[string]any) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", path, strings.NewReader(body)))
	var out map[string]any
	json.Unmarshal(w.Body.Bytes(), &out)
	return w.Code, w.Header().Get("X-Amzn-Errortype"), out
}

func TestSummaries(t *testing.T) {
	f := &fakeStore{page: traces.Page{Summaries: []traces.Summary{{ID: "1-5759e988-bd862e3fe1be46a994272793", StartTime: 10,
		EntryPoint: traces.Service{Name: "fn", Type: "AWS::Lambda"}, Services: []traces.Service{{Name: "fn", Type: "AWS::Lambda"}},
		HTTP: &traces.HTTP{Response: &traces.HTTPResponse{Status: 500}}}}, Processed: 7, Next: 100}}
	h := New(f, nil)
	code, _, out := call(t, h, "/TraceSummaries", `{"StartTime":1700000000.5,"EndTime":1700000100,"TimeRangeType":"Event","Sampling":true,"SamplingStrategy":{"Name":"FixedRate","Value":0.5}}`)
	if code != 200 || out["TracesProcessedCount"].(float64) != 7 || out["NextToken"] == nil {
		t.Fatalf("%d %v", code, out)
	}
	s := out["TraceSummaries"].([]any)[0].(map[string]any)
	if s["Id"] != "1-5759e988-bd862e3fe1be46a994272793" || s["Http"].(map[string]any)["HttpStatus"].(float64) != 500 || s["EntryPoint"].(map[string]any)["Name"] != "fn" {
		t.Errorf("summary %v", s)
	}
	if !f.q.ByEvent || f.q.Sample != 0.5 || f.q.Start.Unix() != 1700000000 || f.q.Start.Nanosecond() != 500000000 {
		t.Errorf("query %+v", f.q)
	}
	// The next page: the same query with its token.
	tok := out["NextToken"].(string)
	code, _, _ = call(t, h, "/TraceSummaries", `{"StartTime":1700000000.5,"EndTime":1700000100,"NextToken":"`+tok+`"}`)
	if code != 200 || f.q.Offset != 100 {
		t.Errorf("next page: %d, offset %d", code, f.q.Offset)
	}

	for _, tc := range []struct{ name, body string }{
		{"unknown parameter", `{"StartTime":1,"EndTime":2,"GroupName":"g"}`},
		{"no times", `{}`},
		{"service time range", `{"StartTime":1,"EndTime":2,"TimeRangeType":"Service"}`},
		{"partial scan", `{"StartTime":1,"EndTime":2,"Sampling":true,"SamplingStrategy":{"Name":"PartialScan"}}`},
		{"strategy without sampling", `{"StartTime":1,"EndTime":2,"SamplingStrategy":{"Name":"FixedRate","Value":0.1}}`},
		{"unsupported filter", `{"StartTime":1,"EndTime":2,"FilterExpression":"annotation.a = 1"}`},
		{"token of another query", `{"StartTime":1700000000.5,"EndTime":1700000100,"FilterExpression":"fault","NextToken":"` + tok + `"}`},
		{"forged token", `{"StartTime":1,"EndTime":2,"NextToken":"nonsense"}`},
		{"not JSON", `{`},
	} {
		code, typ, out := call(t, h, "/TraceSummaries", tc.body)
		if code != 400 || !strings.HasPrefix(typ, "InvalidRequestException") || out["message"] == nil && out["Message"] == nil {
			t.Errorf("%s: %d %q %v", tc.name, code, typ, out)
		}
	}
}

func TestBatchGetAndPut(t *testing.T) {
	f := &fakeStore{}
	h := New(f, nil)
	code, _, out := call(t, h, "/Traces", `{"TraceIds":["1-5759e988-bd862e3fe1be46a994272793","1-5759e988-bd862e3fe1be46a994272794"]}`)
	tr := out["Traces"].([]any)
	if code != 200 || len(tr) != 1 || len(out["UnprocessedTraceIds"].([]any)) != 1 {
		t.Fatalf("%d %v", code, out)
	}
	seg := tr[0].(map[string]any)["Segments"].([]any)[0].(map[string]any)
	if seg["Id"] != "a" || seg["Document"] != `{"id":"a"}` {
		t.Errorf("segment %v", seg)
	}
	for _, body := range []string{`{}`, `{"TraceIds":["a","b","c","d","e","f"]}`, `{"TraceIds":["a"],"NextToken":"x"}`} {
		if code, typ, _ := call(t, h, "/Traces", body); code != 400 || !strings.HasPrefix(typ, "InvalidRequestException") {
			t.Errorf("%s: %d %q", body, code, typ)
		}
	}
	code, _, out = call(t, h, "/TraceSegments", `{"TraceSegmentDocuments":["{}","{}"]}`)
	if code != 200 || len(f.docs) != 2 || len(out["UnprocessedTraceSegments"].([]any)) != 1 {
		t.Errorf("put: %d %v", code, out)
	}
	if code, _, _ := call(t, h, "/TraceSegments", `{"TraceSegmentDocuments":[]}`); code != 400 {
		t.Errorf("an empty put: %d", code)
	}
	if code, _, _ := call(t, h, "/SamplingRules", `{}`); code != 404 {
		t.Errorf("an unknown operation: %d", code)
	}
}

func TestOperation(t *testing.T) {
	for path, want := range map[string]string{"/TraceSummaries": "xray:GetTraceSummaries", "/Traces": "xray:BatchGetTraces",
		"/TraceSegments": "xray:PutTraceSegments", "/Other": ""} {
		op, aerr := Operation(httptest.NewRequest("POST", path, nil), nil)
		if aerr != nil || op.Action != want || (want != "" && op.Resource != "*") {
			t.Errorf("%s: %+v %v", path, op, aerr)
		}
	}
}
