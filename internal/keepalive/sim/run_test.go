package sim

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/keepalive"
)

var update = flag.Bool("update", false, "rewrite the trace and golden files in ../testdata")

// The committed trace: generated, three days of 200 functions.
var (
	traceOpts  = GenOptions{Functions: 200, Days: 3, Seed: 1}
	tracePaths = []string{
		"../testdata/synthetic.d01.csv.gz",
		"../testdata/synthetic.d02.csv.gz",
		"../testdata/synthetic.d03.csv.gz",
	}
)

func TestMain(m *testing.M) {
	flag.Parse()
	if *update {
		if err := writeTrace(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	os.Exit(m.Run())
}

func writeTrace() error {
	for day, p := range tracePaths {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		o := traceOpts
		o.Day = day
		if err := Generate(zw, o); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return err
		}
		if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func TestTraceMatchesGenerator(t *testing.T) {
	for day, p := range tracePaths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(zr)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		o := traceOpts
		o.Day = day
		if err := Generate(&want, o); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Errorf("%s differs from the generator's output; run go test -update", p)
		}
	}
}

// TestHybridBeatsFixedOnTrace checks the paper's claim on the committed
// trace: fewer cold starts at the 75th percentile of functions, for no more
// idle memory-time than the fixed 10-minute keep-alive.
func TestHybridBeatsFixedOnTrace(t *testing.T) {
	tr, err := ReadFiles(tracePaths...)
	if err != nil {
		t.Fatal(err)
	}
	rep := Replay(tr, Fixed(10*time.Minute), Hybrid(keepalive.DefaultConfig()))
	fx, hy := rep.Policies[0], rep.Policies[1]
	for _, p := range rep.Policies {
		t.Logf("%-9s cold starts %5d (%.2f%%), per function median %.2f%% p75 %.2f%%, idle %.0f min (%.3f of fixed)",
			p.Name, p.ColdStarts, p.ColdPct, p.MedianColdPct, p.P75ColdPct, p.IdleMinutes, p.IdleRatio)
	}
	if hy.P75ColdPct >= fx.P75ColdPct {
		t.Errorf("hybrid p75 cold starts %.2f%%, not below fixed %.2f%%", hy.P75ColdPct, fx.P75ColdPct)
	}
	if hy.MedianColdPct > fx.MedianColdPct {
		t.Errorf("hybrid median cold starts %.2f%%, above fixed %.2f%%", hy.MedianColdPct, fx.MedianColdPct)
	}
	if hy.IdleMinutes > fx.IdleMinutes {
		t.Errorf("hybrid idle memory %.0f min, above fixed %.0f min", hy.IdleMinutes, fx.IdleMinutes)
	}
}

func TestRunGolden(t *testing.T) {
	opts := Options{Fixed: []time.Duration{20 * time.Minute, time.Hour}}
	for _, format := range []string{"text", "json"} {
		opts.Format = format
		var out bytes.Buffer
		if err := Run(&out, tracePaths, opts); err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("..", "testdata", "report."+format+".golden")
		if *update {
			if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), want) {
			t.Errorf("%s report differs from %s; run go test -update\ngot:\n%s", format, golden, out.Bytes())
		}
	}
}

func TestRunErrors(t *testing.T) {
	for name, c := range map[string]struct {
		paths []string
		opts  Options
	}{
		"format":    {tracePaths, Options{Format: "xml"}},
		"config":    {tracePaths, Options{Hybrid: keepalive.Config{Margin: 2}}},
		"exec":      {tracePaths, Options{Exec: -time.Second}},
		"fixed":     {tracePaths, Options{Fixed: []time.Duration{-time.Minute}}},
		"no files":  {nil, Options{}},
		"not found": {[]string{"../testdata/missing.csv"}, Options{}},
	} {
		if err := Run(io.Discard, c.paths, c.opts); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
