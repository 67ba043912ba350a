package app

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/async"
	"github.com/aloft-dev/aloft/internal/invoke"
	"github.com/aloft-dev/aloft/internal/invoker"
	"github.com/aloft-dev/aloft/internal/observe"
	"github.com/aloft-dev/aloft/internal/sandbox"
)

// sampleEvery is how often the concurrency metrics of AWS/Lambda are
// published: a minute's Maximum is then the peak of six samples, each
// the peak since the one before.
const sampleEvery = 10 * time.Second

// telemetry is the server's metrics: Prometheus at /metrics, the
// AWS/Lambda feed, and the sampler of concurrency. Every invocation's
// Observation goes to both feeds and to the observers in
// Server.observers (traces append theirs there before the invoker is
// built).
type telemetry struct {
	prom   *observe.Prometheus
	lambda observe.Lambda

	// What the scrape and the sampler read; set as the parts come up,
	// cleared as they stop.
	inv   atomic.Pointer[invoker.Invoker]
	queue atomic.Pointer[async.Queue]

	stop chan struct{}
	wg   sync.WaitGroup
}

// startTelemetry builds the metrics, before the invoker, reading the
// registry and the backbone js at scrape time.
func (s *Server) startTelemetry(js jetstream.JetStream) {
	t := &telemetry{stop: make(chan struct{})}
	exists := func(name string) bool { _, ok := s.reg.Get(name); return ok }
	t.prom = observe.NewPrometheus(observe.Sources{
		Functions: func() ([]invoke.FunctionState, int) {
			if iv := t.inv.Load(); iv != nil {
				return iv.Snapshot()
			}
			return nil, 0
		},
		Exists: exists,
		Async: func(ctx context.Context) ([]async.Stats, error) {
			if q := t.queue.Load(); q != nil {
				return q.Stats(ctx)
			}
			return nil, nil
		},
		Backbone: func(ctx context.Context) ([]observe.Stream, error) { return backboneStreams(ctx, js) },
		Prepared: func() int {
			if p, ok := s.driver.(sandbox.Preparer); ok {
				return p.Prepared()
			}
			return 0
		},
	})
	// A deleted function's series go with it.
	s.reg.OnChange(func(name string) {
		if !exists(name) {
			t.prom.Forget(name)
			t.lambda.Forget(name)
		}
	})
	s.tel = t
}

// backboneStreams lists the backbone's streams with their sizes.
func backboneStreams(ctx context.Context, js jetstream.JetStream) ([]observe.Stream, error) {
	l := js.ListStreams(ctx)
	var out []observe.Stream
	for si := range l.Info() {
		out = append(out, observe.Stream{Name: si.Config.Name, Messages: si.State.Msgs, Bytes: si.State.Bytes})
	}
	if err := l.Err(); err != nil {
		return nil, fmt.Errorf("app: list streams: %w", err)
	}
	return out, nil
}

// observer returns what the invoker calls as each invocation ends: the
// Prometheus metrics, the AWS/Lambda feed and s.observers in turn; nil
// (nothing observed) with telemetry off.
func (s *Server) observer() func(*invoker.Observation) {
	if !s.cfg.Telemetry || s.tel == nil {
		return nil
	}
	prom, lambda := s.tel.prom, &s.tel.lambda
	more := slices.Clone(s.observers)
	if len(more) == 0 {
		return func(o *invoker.Observation) {
			prom.Observe(o)
			lambda.Observe(o)
		}
	}
	return func(o *invoker.Observation) {
		prom.Observe(o)
		lambda.Observe(o)
		for _, f := range more {
			f(o)
		}
	}
}

// asyncObserver counts the asynchronous queue's milestones, or is nil
// with telemetry off.
func (s *Server) asyncObserver() func(string, async.Milestone, time.Duration) {
	if !s.cfg.Telemetry || s.tel == nil {
		return nil
	}
	t := s.tel
	return func(fn string, m async.Milestone, age time.Duration) {
		t.prom.AsyncEvent(fn, m, age)
		t.lambda.AsyncEvent(fn, m, age, time.Now())
	}
}

// iteratorAge publishes stream mappings' iterator ages, or is nil with
// telemetry off.
func (s *Server) iteratorAge() func(string, time.Duration) {
	if !s.cfg.Telemetry || s.tel == nil {
		return nil
	}
	t := s.tel
	return func(arn string, age time.Duration) {
		name, _ := observe.FunctionOf(arn)
		t.prom.IteratorAge(name, age)
		t.lambda.IteratorAge(arn, age, time.Now())
	}
}

// gatewayObserver counts the HTTP gateway's answers by route and
// status, or is nil with telemetry off.
func (s *Server) gatewayObserver() func(string, int) {
	if !s.cfg.Telemetry || s.tel == nil {
		return nil
	}
	return s.tel.prom.GatewayRequest
}

// s3Observer counts S3 requests and their bytes by operation and
// status, or is nil with telemetry off.
func (s *Server) s3Observer() func(string, int, int64, int64) {
	if !s.cfg.Telemetry || s.tel == nil {
		return nil
	}
	return s.tel.prom.S3Request
}

// telemetryRunning tells the metrics of the invoker and the queue, once
// both are up, and starts the sampler of concurrency.
func (s *Server) telemetryRunning() {
	t := s.tel
	if t == nil {
		return
	}
	t.inv.Store(s.inv)
	t.queue.Store(s.queue)
	if !s.cfg.Telemetry {
		return
	}
	exists := func(name string) bool { _, ok := s.reg.Get(name); return ok }
	t.wg.Add(2)
	go func() { defer t.wg.Done(); t.lambda.Run(t.stop) }()
	go func() {
		defer t.wg.Done()
		tick := time.NewTicker(sampleEvery)
		defer tick.Stop()
		for {
			select {
			case <-t.stop:
				return
			case now := <-tick.C:
				iv := t.inv.Load()
				if iv == nil {
					continue
				}
				fns, unreserved := iv.Snapshot()
				live := fns[:0]
				for _, f := range fns {
					if exists(f.Function) {
						live = append(live, f)
					}
				}
				t.lambda.Sample(now, live, unreserved)
			}
		}
	}()
}

// SetMetricsRecorder starts the AWS/Lambda feed into r (the CloudWatch
// metrics store), once it exists.
func (s *Server) SetMetricsRecorder(r observe.Recorder) {
	if s.tel != nil {
		s.tel.lambda.SetRecorder(r)
	}
}

// metricsHandler serves /metrics as cfg says: open, behind the bearer
// token in the token file, or not at all.
func (s *Server) metricsHandler(dataDir string) (http.Handler, error) {
	if s.tel == nil {
		return nil, nil
	}
	access, err := observe.ParseAccess(s.cfg.MetricsAccess)
	if err != nil {
		return nil, err
	}
	if access == "" {
		access = observe.DefaultAccess(s.ln.Addr().String())
	}
	token := ""
	if access == observe.Token {
		file := s.cfg.MetricsTokenFile
		if file == "" {
			file = filepath.Join(dataDir, "metrics-token")
		}
		if token, err = observe.LoadToken(file); err != nil {
			return nil, err
		}
		s.log.Info("GET /metrics needs a bearer token", "token_file", file)
	}
	return observe.Guard(s.tel.prom.Handler(), access, token), nil
}

// stopTelemetry stops the sampler and lets go of the invoker and the
// queue; safe on a server that never started it.
func (s *Server) stopTelemetry() {
	t := s.tel
	if t == nil {
		return
	}
	t.inv.Store(nil)
	t.queue.Store(nil)
	select {
	case <-t.stop:
	default:
		close(t.stop)
	}
	t.wg.Wait()
}
