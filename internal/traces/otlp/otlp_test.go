package otlp

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/traces"
	"github.com/aloft-dev/aloft/internal/traces/traceid"
)

func sample(t *testing.T) ([]traces.Doc, string) {
	t.Helper()
	t0 := time.Unix(1700000000, 250000000)
	root := traceid.NewRoot(t0)
	docs := traces.Build(&traces.Invocation{Function: "fn", FunctionARN: "arn:aws:lambda:us-east-1:000000000000:function:fn",
		RequestID: "0123abcd-4567-4abc-8def-0123456789ab", Trace: "Root=" + root + ";Parent=53995c3f42cd8ad8;Sampled=1",
		Outcome: traces.Succeeded, Arrived: t0, Cold: true, SandboxStart: t0.Add(time.Millisecond), SandboxReady: t0.Add(2 * time.Millisecond),
		InitDone: t0.Add(3 * time.Millisecond), Acquired: t0.Add(3 * time.Millisecond), Duration: time.Millisecond, Ended: t0.Add(4 * time.Millisecond)})
	if len(docs) != 2 {
		t.Fatalf("%d documents", len(docs))
	}
	return docs, root
}

func TestRequestShape(t *testing.T) {
	docs, root := sample(t)
	b, err := json.Marshal(Request(docs))
	if err != nil {
		t.Fatal(err)
	}
	// Read it back as a collector would: plain JSON, no Go types.
	var got struct {
		ResourceSpans []struct {
			Resource struct {
				Attributes []map[string]any `json:"attributes"`
			} `json:"resource"`
			ScopeSpans []struct {
				Scope struct{ Name string } `json:"scope"`
				Spans []map[string]any      `json:"spans"`
			} `json:"scopeSpans"`
		} `json:"resourceSpans"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.ResourceSpans) != 1 || len(got.ResourceSpans[0].ScopeSpans) != 1 {
		t.Fatalf("shape: %s", b)
	}
	spans := got.ResourceSpans[0].ScopeSpans[0].Spans
	// Service segment + Queueing, function segment + Sandbox,
	// Initialization, Invocation.
	if len(spans) != 6 {
		t.Fatalf("%d spans: %s", len(spans), b)
	}
	w3c := traceid.W3CTraceID(root)
	byName := map[string]map[string]any{}
	for _, sp := range spans {
		if sp["traceId"] != w3c {
			t.Errorf("traceId %v, want %s", sp["traceId"], w3c)
		}
		if _, ok := sp["startTimeUnixNano"].(string); !ok {
			t.Errorf("startTimeUnixNano is not a string: %v", sp["startTimeUnixNano"])
		}
		name := sp["name"].(string)
		if sp["kind"].(float64) == KindServer {
			name = "server:" + name
		}
		byName[name] = sp
	}
	svc, fn := byName["server:fn"], byName["fn"]
	if svc == nil || fn == nil || svc["parentSpanId"] != "53995c3f42cd8ad8" || fn["parentSpanId"] != svc["spanId"] {
		t.Fatalf("segments: %v / %v", svc, fn)
	}
	if svc["startTimeUnixNano"] != "1700000000250000000" || svc["endTimeUnixNano"] != "1700000000254000000" {
		t.Errorf("service span times %v..%v", svc["startTimeUnixNano"], svc["endTimeUnixNano"])
	}
	if inv := byName["Invocation"]; inv == nil || inv["parentSpanId"] != fn["spanId"] {
		t.Errorf("Invocation span %v", inv)
	}
	attrs := map[string]any{}
	for _, a := range fn["attributes"].([]any) {
		kv := a.(map[string]any)
		attrs[kv["key"].(string)] = kv["value"]
	}
	if v, _ := attrs["faas.coldstart"].(map[string]any); v["boolValue"] != true {
		t.Errorf("faas.coldstart = %v", attrs["faas.coldstart"])
	}
	if v, _ := attrs["faas.invocation_id"].(map[string]any); v["stringValue"] != "0123abcd-4567-4abc-8def-0123456789ab" {
		t.Errorf("faas.invocation_id = %v", attrs["faas.invocation_id"])
	}
	res := map[string]any{}
	for _, kv := range got.ResourceSpans[0].Resource.Attributes {
		res[kv["key"].(string)] = kv["value"].(map[string]any)["stringValue"]
	}
	if res["faas.name"] != "fn" || res["cloud.provider"] != "aws" || res["service.name"] != "fn" {
		t.Errorf("resource attributes %v", res)
	}
}

func TestExportBatchesAndBounds(t *testing.T) {
	var mu sync.Mutex
	var posts []int
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-block
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		b, _ := io.ReadAll(r.Body)
		var req ExportRequest
		json.Unmarshal(b, &req)
		n := 0
		for _, rs := range req.ResourceSpans {
			n += len(rs.ScopeSpans[0].Spans)
		}
		mu.Lock()
		posts = append(posts, n)
		mu.Unlock()
	}))
	defer srv.Close()
	e, err := New(Options{Endpoint: srv.URL, Queue: 4, Batch: 2, Interval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	docs, _ := sample(t)
	// The collector is stuck: Export must not block, and the queue holds 4.
	start := time.Now()
	for i := 0; i < 10; i++ {
		e.Export(docs)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("Export blocked for %v", d)
	}
	close(block)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st := e.Stats()
	if st.Exported+st.Dropped+st.Failed != 20 || st.Dropped < 14 || st.Exported == 0 {
		t.Errorf("stats %+v", st)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, n := range posts {
		// At most two documents a post: 2 service + ... spans, never more
		// than two segments' worth (6 spans each pair).
		if n > 6 {
			t.Errorf("a post carried %d spans, more than a batch of 2 segments", n)
		}
	}
	if _, err := New(Options{Endpoint: "localhost:4318"}); err == nil {
		t.Error("an endpoint without a scheme was taken")
	}
}
