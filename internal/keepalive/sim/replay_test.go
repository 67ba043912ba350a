package sim

import (
	"math"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/keepalive"
)

// periodic returns a one-function trace invoked every period minutes.
func periodic(period, minutes int, each uint32) *Trace {
	t := &Trace{Minutes: minutes}
	f := t.function("o", "a", "f", "timer")
	for m := 0; m < minutes; m += period {
		f.add(int32(m), each)
	}
	return t
}

func TestReplayPeriodic(t *testing.T) {
	cfg := keepalive.DefaultConfig()
	for _, c := range []struct {
		period                int
		fixedCold, hybridCold int64
	}{
		// Inside the 10-minute window both stay warm; the hybrid policy
		// unloads the instance between invocations.
		{7, 1, 1},
		// Beyond it, the fixed policy is always cold; the hybrid policy
		// is cold until it has MinSamples idle times.
		{15, 96, 1 + int64(cfg.MinSamples)},
		{60, 24, 1 + int64(cfg.MinSamples)},
	} {
		tr := periodic(c.period, MinutesPerDay, 3)
		rep := Replay(tr, Fixed(10*time.Minute), Hybrid(cfg))
		fx, hy := rep.Policies[0], rep.Policies[1]
		if fx.ColdStarts != c.fixedCold || hy.ColdStarts != c.hybridCold {
			t.Errorf("period %d: cold starts fixed %d, hybrid %d; want %d, %d",
				c.period, fx.ColdStarts, hy.ColdStarts, c.fixedCold, c.hybridCold)
		}
		if hy.IdleRatio >= 1 || hy.Adaptive != 1 {
			t.Errorf("period %d: hybrid %+v, want adaptive with less idle memory", c.period, hy)
		}
		t.Logf("period %2d min: fixed %+v", c.period, fx)
		t.Logf("period %2d min: hybrid %+v", c.period, hy)
	}
}

func TestReplayAccounting(t *testing.T) {
	// Invocations at minutes 0, 5 and 30 of a 60-minute trace.
	tr := &Trace{Minutes: 60}
	f := tr.function("o", "a", "f", "http")
	f.add(0, 2)
	f.add(5, 1)
	f.add(30, 1)
	rep := Replay(tr, Fixed(10*time.Minute), Fixed(0))
	fx := rep.Policies[0]
	// Cold at 0 and 30; loaded 5 minutes, then 10, then 10 after the last.
	if fx.ColdStarts != 2 || fx.IdleMinutes != 25 || fx.IdleRatio != 1 {
		t.Errorf("fixed 10m: %+v", fx)
	}
	if pct := []float64{fx.ColdPct, fx.MedianColdPct, fx.P75ColdPct}; pct[0] != 50 || pct[1] != 50 || pct[2] != 50 {
		t.Errorf("fixed 10m percentages %v, want 50", pct)
	}
	// With no keep-alive, every busy period starts cold; the second
	// invocation at minute 0 joins the first one's busy period.
	if z := rep.Policies[1]; z.Name != "fixed-0s" || z.ColdStarts != 3 || z.IdleMinutes != 0 || z.IdleRatio != 0 {
		t.Errorf("fixed 0: %+v", z)
	}

	// With 4-minute invocations the two at minute 0 run until minute 8,
	// so the one arriving at minute 5 queues behind them.
	rep = ReplayExec(tr, 4*time.Minute, Fixed(10*time.Minute))
	if fx := rep.Policies[0]; fx.ColdStarts != 2 || fx.IdleMinutes != 20 {
		t.Errorf("fixed 10m with 4m invocations: %+v", fx)
	}
}

func TestReplayPreWarmTooEarly(t *testing.T) {
	// A policy that pre-warms at 5 minutes and keeps until 8: arriving at
	// 3 minutes is cold and costs nothing; at 6 is warm after 1 minute
	// loaded; at 20 is cold after 3 minutes loaded.
	w := keepalive.Window{PreWarm: 5 * time.Minute, KeepAlive: 8 * time.Minute, Adaptive: true}
	for gap, want := range map[time.Duration]time.Duration{
		3 * time.Minute: 0, 6 * time.Minute: time.Minute, 20 * time.Minute: 3 * time.Minute,
	} {
		if got := loadedFor(w, gap); got != want {
			t.Errorf("loadedFor(%v) = %v, want %v", gap, got, want)
		}
	}
}

func TestPercentile(t *testing.T) {
	s := []float64{0, 10, 20, 30, 100}
	for p, want := range map[float64]float64{0: 0, 50: 20, 75: 30, 90: 72, 100: 100} {
		if got := percentile(s, p); math.Abs(got-want) > 1e-9 {
			t.Errorf("percentile(%v) = %v, want %v", p, got, want)
		}
	}
	if percentile(nil, 50) != 0 {
		t.Error("percentile of nothing is not 0")
	}
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 10 * time.Minute: "10m", 2 * time.Hour: "2h", 90 * time.Second: "1m30s",
	} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
