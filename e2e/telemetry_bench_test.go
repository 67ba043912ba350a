package e2e

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// BenchmarkTelemetryOverhead measures what observing invocations (the
// Prometheus metrics, the AWS/Lambda feed and the trace observer) adds
// to a warm no-op invocation. Four servers, two with telemetry and two
// without (--telemetry=false), are started in the order on, off, off,
// on, so that whatever the order of start favours falls on both sides
// alike, and are invoked in turn, each round starting one server later
// than the one before, so that drift in the machine's load does too. It
// reports each side's median and 99th percentile, and the medians'
// difference. With ALOFT_BENCH_CONTROL=1 every server runs without
// telemetry: the difference it then reports is the benchmark's own noise.
func BenchmarkTelemetryOverhead(b *testing.B) {
	control := os.Getenv("ALOFT_BENCH_CONTROL") == "1"
	goRC := runtimeCases()[0]
	code := alofttest.GoFunction(b, "e2e/functions/gofn", "v1")
	payload := []byte(`{"op":"noop"}`)
	type server struct {
		srv *alofttest.Server
		on  bool
		inv *signedInvoker
	}
	var servers []*server
	for _, on := range []bool{true, false, false, true} {
		s := &server{on: on}
		if on && !control {
			s.srv = alofttest.Start(b)
		} else {
			s.srv = alofttest.Start(b, "--telemetry=false")
		}
		createB(b, s.srv.Lambda(), "bench-telemetry", goRC.runtime, goRC.handler, code)
		s.inv = newSignedInvoker(s.srv, "bench-telemetry", payload)
		servers = append(servers, s)
	}
	for range 300 { // warm them all: instances, connections, caches
		for _, s := range servers {
			if err := s.inv.invoke(); err != nil {
				b.Fatal(err)
			}
		}
	}
	lat := map[bool][]time.Duration{true: make([]time.Duration, 0, 2*b.N), false: make([]time.Duration, 0, 2*b.N)}
	b.ResetTimer()
	for n := range b.N {
		for k := range servers {
			s := servers[(n+k)%len(servers)]
			t0 := time.Now()
			if err := s.inv.invoke(); err != nil {
				b.Fatal(err)
			}
			lat[s.on] = append(lat[s.on], time.Since(t0))
		}
	}
	b.StopTimer()
	p50 := map[bool]time.Duration{}
	for _, on := range []bool{true, false} {
		name := map[bool]string{true: "on", false: "off"}[on]
		p50[on] = percentile(lat[on], 0.50)
		b.ReportMetric(us(p50[on]), name+"-p50-µs")
		b.ReportMetric(us(percentile(lat[on], 0.99)), name+"-p99-µs")
	}
	b.ReportMetric(us(p50[true]-p50[false]), "added-p50-µs")

	// The servers with telemetry counted what they ran; the others did not.
	for _, s := range servers {
		_, body := scrapeB(b, s.srv.URL)
		if counted := strings.Contains(body, `aloft_invocations_total{function="bench-telemetry",outcome="success"}`); counted != (s.on && !control) {
			b.Errorf("a server with telemetry %v counted invocations: %v", s.on, counted)
		}
	}
}
