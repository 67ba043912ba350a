package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// BenchmarkTelemetryOverhead measures what observing invocations (the
// Prometheus metrics and the AWS/Lambda feed, with the metrics store
// when the server has one) adds to a warm no-op invocation: two servers,
// telemetry on and off (--telemetry=false), invoked in alternating pairs
// (on then off, then off then on) so that drift in the machine's load
// falls on both alike. It reports each server's median and 99th
// percentile and the medians' difference.
func BenchmarkTelemetryOverhead(b *testing.B) {
	on := alofttest.Start(b)
	off := alofttest.Start(b, "--telemetry=false")
	goRC := runtimeCases()[0]
	code := alofttest.GoFunction(b, "e2e/functions/gofn", "v1")
	payload := []byte(`{"op":"noop"}`)
	servers := []struct {
		name string
		inv  *signedInvoker
		lat  []time.Duration
	}{{name: "on"}, {name: "off"}}
	for i, srv := range []*alofttest.Server{on, off} {
		createB(b, srv.Lambda(), "bench-telemetry", goRC.runtime, goRC.handler, code)
		servers[i].inv = newSignedInvoker(srv, "bench-telemetry", payload)
	}
	for range 500 { // warm both: instances, connections, caches
		for _, s := range servers {
			if err := s.inv.invoke(); err != nil {
				b.Fatalf("%s: %v", s.name, err)
			}
		}
	}
	for i := range servers {
		servers[i].lat = make([]time.Duration, 0, b.N)
	}
	b.ResetTimer()
	for n := range b.N {
		for k := range 2 {
			i := (n + k) % 2 // on, off; then off, on
			t0 := time.Now()
			if err := servers[i].inv.invoke(); err != nil {
				b.Fatalf("%s: %v", servers[i].name, err)
			}
			servers[i].lat = append(servers[i].lat, time.Since(t0))
		}
	}
	b.StopTimer()
	p50 := map[string]time.Duration{}
	for _, s := range servers {
		p50[s.name] = percentile(s.lat, 0.50)
		b.ReportMetric(us(p50[s.name]), s.name+"-p50-µs")
		b.ReportMetric(us(percentile(s.lat, 0.99)), s.name+"-p99-µs")
	}
	b.ReportMetric(us(p50["on"]-p50["off"]), "added-p50-µs")

	// The server with telemetry counted what it ran; the other did not.
	if _, body := scrapeB(b, on.URL); !strings.Contains(body, `aloft_invocations_total{function="bench-telemetry",outcome="success"}`) {
		b.Error("the server with telemetry did not count the invocations")
	}
	if _, body := scrapeB(b, off.URL); strings.Contains(body, `aloft_invocations_total{function="bench-telemetry"`) {
		b.Error("the server without telemetry counted invocations")
	}
}
