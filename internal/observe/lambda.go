package observe

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aloft-dev/aloft/internal/async"
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/invoke"
	"github.com/aloft-dev/aloft/internal/metrics"
)

// Recorder takes one datapoint of a CloudWatch metric (metrics.Store).
type Recorder interface {
	Record(namespace, name string, dims []metrics.Dimension, value float64, unit string, at time.Time)
	// RecordValues records each of values counts[i] times (once when
	// counts is nil) at once.
	RecordValues(namespace, name string, dims []metrics.Dimension, values, counts []float64, unit string, at time.Time)
}

// Namespace is where Lambda's metrics of itself go.
const Namespace = "AWS/Lambda"

// CloudWatch units.
const (
	unitCount = "Count"
	unitMs    = "Milliseconds"
	unitNone  = "None"
)

// Lambda feeds the metrics Lambda publishes of itself into a Recorder,
// in namespace AWS/Lambda, with Lambda's names, units and dimension sets:
// the account-wide aggregate (no dimensions), FunctionName,
// FunctionName with Resource (function:qualifier) for a qualified
// invocation, and FunctionName with ExecutedVersion when a published
// version ran.
//
// Per invocation (Observe): Invocations, Errors (0 or 1, so their
// average is the error rate) and Duration, or Throttles alone for a
// throttled one; ProvisionedConcurrencyInvocations or
// ProvisionedConcurrencySpilloverInvocations for functions with
// provisioned concurrency. Sample publishes the concurrency metrics:
// ConcurrentExecutions and UnreservedConcurrentExecutions (each the peak
// since the last sample, so a minute's Maximum is the minute's peak),
// ProvisionedConcurrentExecutions and ProvisionedConcurrencyUtilization.
// AsyncEvent and IteratorAge publish the asynchronous and stream
// metrics.
//
// Until SetRecorder is called it records nothing. While Run runs,
// Observe only notes the invocation (a short lock and an append) and Run
// records what was noted every tenth of a second, off the invocation's
// path; otherwise Observe records at once. Its methods are safe for
// concurrent use.
type Lambda struct {
	rec atomic.Pointer[Recorder]
	fns cowMap[*lambdaFn]
	// Peaks since the last Sample of all functions' running invocations
	// and of those without reserved concurrency.
	peakAll, peakUnreserved atomic.Int64

	mu      sync.Mutex
	noted   []lambdaPoint // guarded by mu: invocations observed, not yet recorded
	running bool          // guarded by mu: Run is recording what is noted
}

// lambdaPoint is what the feed records of one invocation.
type lambdaPoint struct {
	f                  *lambdaFn
	qualifier, version string
	outcome            invoke.Outcome
	ran                bool // it reached the function (it has a request id)
	provisioned, spill bool
	ms                 float64
	at                 time.Time
}

// maxNoted bounds the invocations noted between two of Run's rounds;
// beyond it Observe records at once.
const maxNoted = 1 << 16

// flushEvery is how often Run records what was noted.
const flushEvery = 100 * time.Millisecond

// lambdaFn is one function's dimension sets, built once, and its peak
// concurrency since the last Sample.
type lambdaFn struct {
	name      string
	fn        []metrics.Dimension
	resources cowMap[[]metrics.Dimension] // by qualifier
	versions  cowMap[[]metrics.Dimension] // by executed version
	peak      atomic.Int64
}

// SetRecorder starts the feed into r.
func (l *Lambda) SetRecorder(r Recorder) {
	if r == nil {
		l.rec.Store(nil)
		return
	}
	l.rec.Store(&r)
}

func (l *Lambda) recorder() Recorder {
	if p := l.rec.Load(); p != nil {
		return *p
	}
	return nil
}

func (l *Lambda) function(name string) *lambdaFn {
	if f, ok := l.fns.load(name); ok {
		return f
	}
	return l.fns.loadOrStore(name, func() *lambdaFn {
		return &lambdaFn{name: name, fn: []metrics.Dimension{{Name: "FunctionName", Value: name}}}
	})
}

func (f *lambdaFn) resource(qualifier string) []metrics.Dimension {
	if d, ok := f.resources.load(qualifier); ok {
		return d
	}
	return f.resources.loadOrStore(qualifier, func() []metrics.Dimension {
		return []metrics.Dimension{{Name: "FunctionName", Value: f.name}, {Name: "Resource", Value: f.name + ":" + qualifier}}
	})
}

func (f *lambdaFn) version(v string) []metrics.Dimension {
	if d, ok := f.versions.load(v); ok {
		return d
	}
	return f.versions.loadOrStore(v, func() []metrics.Dimension {
		return []metrics.Dimension{{Name: "FunctionName", Value: f.name}, {Name: "ExecutedVersion", Value: v}}
	})
}

// sets returns the dimension sets an invocation's metrics go to: the
// aggregate, the function, and the resource and executed version where
// they apply.
func (f *lambdaFn) sets(qualifier, version string) (sets [4][]metrics.Dimension, n int) {
	sets[0], sets[1], n = nil, f.fn, 2
	if qualifier != "" {
		sets[n] = f.resource(qualifier)
		n++
	}
	if version != "" && version != function.LatestVersion {
		sets[n] = f.version(version)
		n++
	}
	return sets, n
}

// raise lifts p to v if v is higher.
func raise(p *atomic.Int64, v int64) {
	for {
		old := p.Load()
		if v <= old || p.CompareAndSwap(old, v) {
			return
		}
	}
}

// Observe publishes one ended invocation (see Lambda for when).
func (l *Lambda) Observe(o *invoke.Observation) {
	r := l.recorder()
	if r == nil {
		return
	}
	f := l.function(o.Function)
	if o.Outcome != Throttled {
		raise(&f.peak, int64(o.Concurrency))
		raise(&l.peakAll, int64(o.AccountConcurrency))
		raise(&l.peakUnreserved, int64(o.UnreservedConcurrency))
	}
	p := lambdaPoint{f: f, qualifier: o.Qualifier, version: o.Version, outcome: o.Outcome, ran: o.RequestID != "",
		provisioned: o.Provisioned, spill: o.Spillover, ms: float64(o.Duration) / float64(time.Millisecond), at: o.Arrived}
	l.mu.Lock()
	if l.running && len(l.noted) < maxNoted {
		l.noted = append(l.noted, p)
		l.mu.Unlock()
		return
	}
	l.mu.Unlock()
	recordPoints(r, []lambdaPoint{p})
}

// pointKey is what the invocations whose metrics are recorded together
// share: the function, how it was invoked and the minute they arrived in
// (the metrics' own resolution).
type pointKey struct {
	f                  *lambdaFn
	qualifier, version string
	minute             int64
}

// pointGroup is the invocations of one pointKey that a flush records.
type pointGroup struct {
	at                                time.Time // the latest arrival
	throttles, ran, errs, prov, spill float64
	durations                         []float64 // of those that ran, in ms, when over 0
}

// add counts p in g.
func (g *pointGroup) add(p *lambdaPoint) {
	if p.at.After(g.at) {
		g.at = p.at
	}
	if p.outcome == Throttled {
		g.throttles++
		return
	}
	if !p.ran { // an invocation error (the platform could not run it): not an invocation
		return
	}
	g.ran++
	if p.outcome != Succeeded {
		g.errs++
	}
	if p.ms > 0 {
		g.durations = append(g.durations, p.ms)
	}
	switch {
	case p.spill:
		g.spill++
	case p.provisioned:
		g.prov++
	}
}

// recordPoints publishes the invocations pts, those of one function,
// qualifier, version and minute together: a handful of series lookups
// per flush instead of six per invocation.
func recordPoints(r Recorder, pts []lambdaPoint) {
	if len(pts) == 0 {
		return
	}
	groups := make(map[pointKey]*pointGroup, 4)
	order := make([]pointKey, 0, 4)
	for i := range pts {
		p := &pts[i]
		k := pointKey{p.f, p.qualifier, p.version, p.at.Unix() / 60}
		if p.outcome == Throttled {
			k.version = "" // throttles have no executed version
		}
		g := groups[k]
		if g == nil {
			g = &pointGroup{}
			groups[k] = g
			order = append(order, k)
		}
		g.add(p)
	}
	for _, k := range order {
		groups[k].record(r, k)
	}
}

var one = []float64{1}

// record publishes g's invocations of k.
func (g *pointGroup) record(r Recorder, k pointKey) {
	f, at := k.f, g.at
	if g.throttles > 0 {
		sets, n := f.sets(k.qualifier, "")
		for _, d := range sets[:n] {
			r.RecordValues(Namespace, "Throttles", d, one, []float64{g.throttles}, unitCount, at)
		}
	}
	if g.ran == 0 {
		return
	}
	errVals, errCounts := []float64{0, 1}, []float64{g.ran - g.errs, g.errs}
	switch {
	case g.errs == 0:
		errVals, errCounts = errVals[:1], errCounts[:1]
	case g.errs == g.ran:
		errVals, errCounts = errVals[1:], errCounts[1:]
	}
	sets, n := f.sets(k.qualifier, k.version)
	for _, d := range sets[:n] {
		r.RecordValues(Namespace, "Invocations", d, one, []float64{g.ran}, unitCount, at)
		r.RecordValues(Namespace, "Errors", d, errVals, errCounts, unitCount, at)
		if len(g.durations) > 0 {
			r.RecordValues(Namespace, "Duration", d, g.durations, nil, unitMs, at)
		}
	}
	for _, c := range []struct {
		name  string
		count float64
	}{{"ProvisionedConcurrencyInvocations", g.prov}, {"ProvisionedConcurrencySpilloverInvocations", g.spill}} {
		if c.count == 0 {
			continue
		}
		r.RecordValues(Namespace, c.name, f.fn, one, []float64{c.count}, unitCount, at)
		if k.qualifier != "" {
			r.RecordValues(Namespace, c.name, f.resource(k.qualifier), one, []float64{c.count}, unitCount, at)
		}
	}
}

// Run records the invocations Observe notes, every tenth of a second,
// until stop is closed; then it records what is left, and Observe
// records at once again.
func (l *Lambda) Run(stop <-chan struct{}) {
	l.mu.Lock()
	l.running = true
	l.mu.Unlock()
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	var spare []lambdaPoint
	for {
		select {
		case <-stop:
			l.mu.Lock()
			l.running = false
			l.mu.Unlock()
			l.flush(&spare)
			return
		case <-t.C:
			l.flush(&spare)
		}
	}
}

// flush records what was noted, handing the noted slice back as spare
// for the next round.
func (l *Lambda) flush(spare *[]lambdaPoint) {
	l.mu.Lock()
	pts := l.noted
	l.noted = (*spare)[:0]
	l.mu.Unlock()
	if r := l.recorder(); r != nil {
		recordPoints(r, pts)
	}
	clear(pts) // let go of the functions' strings
	*spare = pts[:0]
}

// Sample publishes the concurrency metrics at now, from the functions'
// state (the invoker's Snapshot): each function's and the account's
// concurrent executions (the peak since the last sample, or the running
// count now if higher), and provisioned concurrency in use.
func (l *Lambda) Sample(now time.Time, fns []invoke.FunctionState, unreserved int) {
	r := l.recorder()
	total := 0
	for _, s := range fns {
		total += s.Running
	}
	peakAll := max(l.peakAll.Swap(0), int64(total))
	peakUnreserved := max(l.peakUnreserved.Swap(0), int64(unreserved))
	if r == nil {
		return
	}
	r.Record(Namespace, "ConcurrentExecutions", nil, float64(peakAll), unitCount, now)
	r.Record(Namespace, "UnreservedConcurrentExecutions", nil, float64(peakUnreserved), unitCount, now)
	for _, s := range fns {
		f, seen := l.fns.load(s.Function)
		if !seen { // never invoked since this server started
			if s.Running == 0 && s.ProvisionedWanted == 0 {
				continue
			}
			f = l.function(s.Function)
		}
		peak := max(f.peak.Swap(0), int64(s.Running))
		r.Record(Namespace, "ConcurrentExecutions", f.fn, float64(peak), unitCount, now)
		if s.ProvisionedWanted > 0 {
			r.Record(Namespace, "ProvisionedConcurrentExecutions", f.fn, float64(s.ProvisionedBusy), unitCount, now)
			r.Record(Namespace, "ProvisionedConcurrencyUtilization", f.fn, float64(s.ProvisionedBusy)/float64(s.ProvisionedWanted), unitNone, now)
		}
	}
}

// Forget drops what the feed keeps of a deleted function.
func (l *Lambda) Forget(name string) { l.fns.delete(name) }

// AsyncEvent publishes a milestone of an asynchronous event of the
// named function: AsyncEventsReceived, AsyncEventAge (at delivery),
// AsyncEventsDropped, DeadLetterErrors, DestinationDeliveryFailures.
func (l *Lambda) AsyncEvent(name string, m async.Milestone, age time.Duration, at time.Time) {
	r := l.recorder()
	if r == nil {
		return
	}
	metric, value, unit := "", 1.0, unitCount
	switch m {
	case async.Received:
		metric = "AsyncEventsReceived"
	case async.Delivering:
		metric, value, unit = "AsyncEventAge", float64(age)/float64(time.Millisecond), unitMs
	case async.Dropped:
		metric = "AsyncEventsDropped"
	case async.DeadLetterFailed:
		metric = "DeadLetterErrors"
	case async.DestinationFailed:
		metric = "DestinationDeliveryFailures"
	default:
		return
	}
	r.Record(Namespace, metric, l.function(name).fn, value, unit, at)
	r.Record(Namespace, metric, nil, value, unit, at)
}

// IteratorAge publishes the iterator age of a stream mapping's latest
// round for the function of functionArn (qualified or not).
func (l *Lambda) IteratorAge(functionArn string, age time.Duration, at time.Time) {
	r := l.recorder()
	if r == nil {
		return
	}
	name, qualifier := FunctionOf(functionArn)
	f := l.function(name)
	ms := float64(age) / float64(time.Millisecond)
	r.Record(Namespace, "IteratorAge", nil, ms, unitMs, at)
	r.Record(Namespace, "IteratorAge", f.fn, ms, unitMs, at)
	if qualifier != "" {
		r.Record(Namespace, "IteratorAge", f.resource(qualifier), ms, unitMs, at)
	}
}

// FunctionOf returns the name and qualifier of a function ARN, or of a
// bare name.
func FunctionOf(arn string) (name, qualifier string) {
	if !strings.HasPrefix(arn, "arn:") {
		name, qualifier, _ = strings.Cut(arn, ":")
		return name, qualifier
	}
	parts := strings.SplitN(arn, ":", 8)
	if len(parts) < 7 {
		return arn, ""
	}
	if len(parts) == 8 {
		return parts[6], parts[7]
	}
	return parts[6], ""
}

var _ Recorder = (*metrics.Store)(nil)
