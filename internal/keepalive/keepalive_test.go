package keepalive

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
	"unsafe"
)

// simulate replays idle times against p the way an invoker uses it: check
// the current window, then record the idle time. It returns the number of
// cold starts after the first warmup idle times and the time the instance
// was loaded while idle.
func simulate(p *Policy, idles []time.Duration, warmup int) (cold int, loaded time.Duration) {
	for i, idle := range idles {
		w := p.Window()
		if i >= warmup && !w.Loaded(idle) {
			cold++
		}
		loaded += min(max(idle, w.PreWarm), w.KeepAlive) - w.PreWarm
		p.Observe(idle)
	}
	return cold, loaded
}

func near(a, b, tol time.Duration) bool { return (a - b).Abs() <= tol }

func TestPeriodicGetsPreWarmAndKeepAlive(t *testing.T) {
	for _, unit := range []time.Duration{time.Minute, time.Second} {
		cfg := Config{Bin: unit, Bins: 240}
		p := New(cfg)
		idles := make([]time.Duration, 200)
		for i := range idles {
			idles[i] = 7 * unit
		}
		cold, loaded := simulate(p, idles, p.Config().MinSamples)
		w := p.Window()
		if !w.Adaptive {
			t.Fatalf("unit %s: window %+v is not adaptive", unit, w)
		}
		if !near(w.PreWarm, 63*unit/10, unit/100) || !near(w.KeepAlive, 77*unit/10, unit/100) {
			t.Errorf("unit %s: window %v..%v, want 6.3..7.7 units", unit, w.PreWarm, w.KeepAlive)
		}
		if cold != 0 {
			t.Errorf("unit %s: %d cold starts after warm-up, want 0", unit, cold)
		}
		// Loaded 0.7 units per gap once adaptive instead of 7 units.
		if limit := time.Duration(len(idles)) * unit; loaded > limit {
			t.Errorf("unit %s: loaded %v while idle, want under %v", unit, loaded, limit)
		}
		st := p.State()
		if st.Reason != ReasonHistogram || st.Head != 7*unit || st.Tail != 7*unit {
			t.Errorf("unit %s: state %+v", unit, st)
		}
	}
}

func TestPeriodicWithJitterStaysWarm(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	p := New(DefaultConfig())
	idles := make([]time.Duration, 500)
	for i := range idles {
		// Every 30 minutes, give or take 40 seconds, minus a short run.
		idles[i] = 30*time.Minute + time.Duration(rng.IntN(80)-40)*time.Second - 2*time.Second
	}
	cold, _ := simulate(p, idles, 20)
	w := p.Window()
	if cold != 0 || !w.Adaptive || w.PreWarm < 25*time.Minute || w.KeepAlive > 35*time.Minute {
		t.Errorf("cold %d, window %+v", cold, w)
	}
}

func TestFrequentPoissonStaysLoaded(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	p := New(DefaultConfig())
	idles := make([]time.Duration, 5000)
	for i := range idles {
		// Exponential idle times with a 2-minute mean.
		idles[i] = time.Duration(rng.ExpFloat64() * float64(2*time.Minute))
	}
	cold, _ := simulate(p, idles, 100)
	w := p.Window()
	if !w.Adaptive || w.PreWarm != 0 {
		t.Fatalf("window %+v, want adaptive and never unloaded", w)
	}
	if rate := float64(cold) / float64(len(idles)-100); rate > 0.02 {
		t.Errorf("cold-start rate %.3f, want at most 0.02", rate)
	}
	// The 99th percentile of the idle times is about 9.2 minutes.
	if w.KeepAlive < 9*time.Minute || w.KeepAlive > 11*time.Minute {
		t.Errorf("keep-alive %v, want about 10m", w.KeepAlive)
	}
}

func TestFewSamplesUseFallback(t *testing.T) {
	cfg := Config{Fallback: 3 * time.Minute}
	p := New(cfg)
	want := Window{KeepAlive: 3 * time.Minute}
	if w := p.Window(); w != want {
		t.Fatalf("empty policy: window %+v, want %+v", w, want)
	}
	for range p.Config().MinSamples - 1 {
		p.Observe(20 * time.Minute)
	}
	if st := p.State(); st.Window != want || st.Reason != ReasonFewSamples {
		t.Fatalf("state %+v, want fallback for few samples", st)
	}
	p.Observe(20 * time.Minute)
	if st := p.State(); !st.Window.Adaptive || st.Reason != ReasonHistogram {
		t.Fatalf("state %+v, want adaptive after %d samples", st, p.Config().MinSamples)
	}
}

func TestOutOfRangeUsesFallback(t *testing.T) {
	p := New(DefaultConfig())
	for range 20 {
		p.Observe(15 * time.Minute)
	}
	if !p.Window().Adaptive {
		t.Fatal("not adaptive after a regular pattern")
	}
	for range 19 {
		p.Observe(5 * time.Hour)
	}
	if st := p.State(); !st.Window.Adaptive || st.OutOfRange != 19 {
		t.Fatalf("state %+v, want still adaptive with 19 of 39 out of range", st)
	}
	p.Observe(4*time.Hour - 29*time.Second) // rounds to bin 240: out of range
	st := p.State()
	want := Window{KeepAlive: 10 * time.Minute}
	if st.Window != want || st.Reason != ReasonOutOfRange || st.OutOfRange != 20 || st.Samples != 20 {
		t.Fatalf("state %+v, want fallback for out-of-range idle times", st)
	}
}

func TestFlatHistogramUsesFallback(t *testing.T) {
	p := New(DefaultConfig())
	// Spread over every bin: no pattern.
	for round := range 3 {
		for b := range 240 {
			p.Observe(time.Duration(b)*time.Minute + time.Duration(round)*time.Second)
		}
	}
	st := p.State()
	if st.CV > 0.01 || st.Reason != ReasonFlat || st.Window.Adaptive {
		t.Fatalf("state %+v, want a flat histogram with the fallback", st)
	}
	// Concentrating the idle times raises the CV past the threshold.
	for range 720 {
		p.Observe(42 * time.Minute)
	}
	if st := p.State(); st.CV < 2 || st.Reason != ReasonHistogram {
		t.Fatalf("state %+v, want a peaked histogram used adaptively", st)
	}
}

func TestCVOfSingleBin(t *testing.T) {
	p := New(DefaultConfig())
	for range 10 {
		p.Observe(time.Hour)
	}
	if cv, want := p.State().CV, math.Sqrt(239); math.Abs(cv-want) > 1e-9 {
		t.Errorf("CV %v, want %v", cv, want)
	}
}

func TestWindowCoversWholeBins(t *testing.T) {
	cases := []struct {
		idle           time.Duration
		preWarm, until time.Duration
	}{
		{0, 0, 30 * time.Second},                // bin 0: stay loaded
		{20 * time.Second, 0, 30 * time.Second}, // rounds to bin 0
		{time.Minute, 30 * time.Second, 90 * time.Second},
		{100 * time.Second, 90 * time.Second, 150 * time.Second}, // bin 2
		{10 * time.Minute, 9 * time.Minute, 11 * time.Minute},
		{239 * time.Minute, 12906 * time.Second, 15774 * time.Second}, // last bin
	}
	for _, c := range cases {
		p := New(DefaultConfig())
		for range 10 {
			p.Observe(c.idle)
		}
		w := p.Window()
		if w.PreWarm != c.preWarm || w.KeepAlive != c.until || !w.Adaptive {
			t.Errorf("idle %v: window %v..%v, want %v..%v", c.idle, w.PreWarm, w.KeepAlive, c.preWarm, c.until)
		}
	}
}

func TestLoaded(t *testing.T) {
	w := Window{PreWarm: time.Minute, KeepAlive: 2 * time.Minute}
	for idle, want := range map[time.Duration]bool{
		0: false, time.Minute - 1: false, time.Minute: true, 2*time.Minute - 1: true, 2 * time.Minute: false,
	} {
		if w.Loaded(idle) != want {
			t.Errorf("Loaded(%v) = %v, want %v", idle, !want, want)
		}
	}
}

func TestStateIsBounded(t *testing.T) {
	p := New(DefaultConfig())
	size := func() uintptr {
		return unsafe.Sizeof(*p) + unsafe.Sizeof(*p.cfg) + uintptr(cap(p.counts))*unsafe.Sizeof(p.counts[0])
	}
	before := size()
	if before > 960 {
		t.Errorf("policy takes %d bytes, want at most 960 (the paper's budget)", before)
	}
	// Enough observations to overflow a 16-bit count several times.
	for i := range 300_000 {
		p.Observe(time.Duration(i%3) * time.Minute)
		if i%1000 == 0 {
			p.Observe(5 * time.Hour)
		}
	}
	if after := size(); after != before {
		t.Errorf("policy grew from %d to %d bytes", before, after)
	}
	st := p.State()
	if st.Samples > 3*math.MaxUint16 || st.Samples < math.MaxUint16 || st.OutOfRange == 0 {
		t.Errorf("state %+v after overflow", st)
	}
	if !st.Window.Adaptive || st.Head != 0 || st.Tail != 2*time.Minute {
		t.Errorf("state %+v, want the pattern kept across halving", st)
	}
	var sum, sq uint64
	for _, c := range p.counts {
		sum += uint64(c)
		sq += uint64(c) * uint64(c)
	}
	if sum != uint64(p.inside) || sq != p.sumSq {
		t.Errorf("counters out of step: sum %d/%d, squares %d/%d", sum, p.inside, sq, p.sumSq)
	}
}

func TestConcurrentUse(t *testing.T) {
	p := New(DefaultConfig())
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				p.Observe(time.Duration(g+i%5) * time.Minute)
				_ = p.Window()
			}
		})
	}
	wg.Wait()
	if st := p.State(); st.Samples != 8000 {
		t.Errorf("samples %d, want 8000", st.Samples)
	}
}

func TestNegativeIdleCountsAsZero(t *testing.T) {
	p := New(DefaultConfig())
	for range 10 {
		p.Observe(-time.Second)
	}
	if st := p.State(); st.Samples != 10 || st.Head != 0 || st.Window.PreWarm != 0 {
		t.Errorf("state %+v", st)
	}
}

func TestConfig(t *testing.T) {
	if got := (Config{}).WithDefaults(); got != DefaultConfig() {
		t.Errorf("zero config with defaults = %+v, want %+v", got, DefaultConfig())
	}
	if r := DefaultConfig().Range(); r != 4*time.Hour {
		t.Errorf("default range %v, want 4h", r)
	}
	bad := []Config{
		{Bin: -time.Second},
		{Bins: -1},
		{Bins: maxBins + 1},
		{HeadPct: 100},
		{TailPct: 101},
		{HeadPct: 50, TailPct: 40},
		{Margin: 1},
		{Margin: -0.1},
		{MinSamples: -1},
		{CVThreshold: math.NaN()},
		{MaxOutOfRange: 1.5},
		{Fallback: -time.Minute},
		{Bin: time.Duration(math.MaxInt64 / 100), Bins: 200},
	}
	for _, c := range bad {
		if c.Validate() == nil {
			t.Errorf("Validate(%+v) = nil, want an error", c)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("New with an invalid config did not panic")
		}
	}()
	New(Config{Bins: -1})
}
