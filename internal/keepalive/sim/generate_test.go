package sim

import (
	"bytes"
	"testing"
)

func TestGenerateIsDeterministic(t *testing.T) {
	opts := GenOptions{Functions: 20, Days: 2, Day: 1, Seed: 7}
	var a, b, c bytes.Buffer
	if err := Generate(&a, opts); err != nil {
		t.Fatal(err)
	}
	if err := Generate(&b, opts); err != nil {
		t.Fatal(err)
	}
	opts.Seed = 8
	if err := Generate(&c, opts); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("same options gave different traces")
	}
	if bytes.Equal(a.Bytes(), c.Bytes()) {
		t.Error("different seeds gave the same trace")
	}
	tr := new(Trace)
	if err := tr.ReadDay(&a, "generated"); err != nil {
		t.Fatalf("generated day does not read back: %v", err)
	}
}

func TestGeneratedRates(t *testing.T) {
	const n, days = 2000, 1
	tr, err := Synthesize(GenOptions{Functions: n, Days: days, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Functions) != n {
		t.Fatalf("%d functions, want %d", len(tr.Functions), n)
	}
	var hourly, minutely int
	triggers := map[string]int{}
	for _, f := range tr.Functions {
		if f.Invocations() == 0 {
			t.Fatalf("function %s never invoked", f.Name)
		}
		perDay := f.Invocations() / days
		if perDay <= 24 {
			hourly++
		}
		if perDay <= MinutesPerDay {
			minutely++
		}
		triggers[f.Trigger]++
	}
	h, m := float64(hourly)/n, float64(minutely)/n
	t.Logf("invoked at most hourly: %.1f%%, at most every minute: %.1f%%, triggers %v", 100*h, 100*m, triggers)
	if h < 0.40 || h > 0.50 || m < 0.75 || m > 0.85 {
		t.Errorf("shares %.2f and %.2f, want about 0.45 and 0.80", h, m)
	}
	if tm := float64(triggers["timer"]) / n; tm < 0.25 || tm > 0.35 {
		t.Errorf("timer share %.2f, want about 0.30", tm)
	}
}

func TestGenerateOptions(t *testing.T) {
	for _, o := range []GenOptions{{Functions: -1}, {Days: -1}, {Days: 2, Day: 2}, {Day: -1}} {
		if err := Generate(new(bytes.Buffer), o); err == nil {
			t.Errorf("options %+v: no error", o)
		}
	}
}
