package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/aloft-dev/aloft/internal/keepalive"
)

// Decider is a keep-alive policy for one function: it learns from idle times
// and says what to do after each invocation. *keepalive.Policy is one.
type Decider interface {
	// Observe records an idle time: from the end of one busy period to
	// the start of the next.
	Observe(idle time.Duration)
	// Window returns the window to apply after the invocation that just
	// ended.
	Window() keepalive.Window
}

// PolicyFactory names a policy and makes one Decider per function.
type PolicyFactory struct {
	Name string
	New  func() Decider
}

// Hybrid is the hybrid histogram policy with cfg.
func Hybrid(cfg keepalive.Config) PolicyFactory {
	return PolicyFactory{Name: "hybrid", New: func() Decider { return keepalive.New(cfg) }}
}

// Fixed is the standard policy: keep the instance loaded for d after every
// invocation.
func Fixed(d time.Duration) PolicyFactory {
	return PolicyFactory{Name: "fixed-" + shortDuration(d), New: func() Decider { return fixed(d) }}
}

type fixed time.Duration

func (fixed) Observe(time.Duration)      {}
func (f fixed) Window() keepalive.Window { return keepalive.Window{KeepAlive: time.Duration(f)} }

// Report compares policies on one trace.
type Report struct {
	Functions   int   `json:"Functions"`
	Invocations int64 `json:"Invocations"`
	Minutes     int   `json:"Minutes"`
	// Exec is the execution time assumed for every invocation.
	Exec time.Duration `json:"Exec"`
	// Baseline is the policy that IdleRatio is relative to: the first one.
	Baseline string         `json:"Baseline"`
	Policies []PolicyResult `json:"Policies"`
}

// PolicyResult is how one policy did on the trace. Percentages, minutes
// and ratios are rounded to 4 decimal places.
type PolicyResult struct {
	Name       string `json:"Name"`
	ColdStarts int64  `json:"ColdStarts"`
	// ColdPct is the share of all invocations that were cold, in percent.
	ColdPct float64 `json:"ColdPct"`
	// MedianColdPct and P75ColdPct are the median and 75th percentile,
	// across functions, of each function's cold-start percentage.
	MedianColdPct float64 `json:"MedianColdPct"`
	P75ColdPct    float64 `json:"P75ColdPct"`
	// IdleMinutes is the time instances were loaded but not executing,
	// summed over functions.
	IdleMinutes float64 `json:"IdleMinutes"`
	// IdleRatio is IdleMinutes over the baseline's (0 when the baseline
	// has none).
	IdleRatio float64 `json:"IdleRatio"`
	// Adaptive is the number of functions whose last window came from a
	// histogram.
	Adaptive int `json:"Adaptive"`
}

// Replay runs every policy over trace with invocations that take no time.
func Replay(trace *Trace, policies ...PolicyFactory) Report {
	return ReplayExec(trace, 0, policies...)
}

// ReplayExec runs every policy over trace with each invocation executing
// for exec.
//
// The model is the paper's single-instance one: each function has at most
// one instance. The invocations counted in a minute all arrive at the start
// of that minute and run one after another, so they form one busy period
// (with the work still queued from earlier minutes, if any). Only the first
// invocation of a busy period can be cold and only the gaps between busy
// periods are idle times: the policy observes each gap and chooses its
// window when a busy period ends. An invocation is cold when the instance
// is not loaded at its start: the first invocation of every function, and
// the first of a busy period that starts outside the window. Idle
// memory-time is the time an instance is loaded but not executing, counted
// up to the end of the trace.
func ReplayExec(trace *Trace, exec time.Duration, policies ...PolicyFactory) Report {
	rep := Report{
		Functions:   len(trace.Functions),
		Invocations: trace.Invocations(),
		Minutes:     trace.Minutes,
		Exec:        exec,
	}
	end := time.Duration(trace.Minutes) * time.Minute
	pcts := make([]float64, 0, len(trace.Functions))
	for _, pf := range policies {
		res := PolicyResult{Name: pf.Name}
		var idle time.Duration
		pcts = pcts[:0]
		for _, f := range trace.Functions {
			r := replayFunction(f, pf.New(), exec, end)
			res.ColdStarts += r.cold
			idle += r.idle
			if r.adaptive {
				res.Adaptive++
			}
			if r.invocations > 0 {
				pcts = append(pcts, 100*float64(r.cold)/float64(r.invocations))
			}
		}
		slices.Sort(pcts)
		res.MedianColdPct = percentile(pcts, 50)
		res.P75ColdPct = percentile(pcts, 75)
		if rep.Invocations > 0 {
			res.ColdPct = 100 * float64(res.ColdStarts) / float64(rep.Invocations)
		}
		res.IdleMinutes = idle.Minutes()
		rep.Policies = append(rep.Policies, res)
	}
	if len(rep.Policies) > 0 {
		rep.Baseline = rep.Policies[0].Name
		base := rep.Policies[0].IdleMinutes
		for i := range rep.Policies {
			p := &rep.Policies[i]
			if base > 0 {
				p.IdleRatio = p.IdleMinutes / base
			}
			p.ColdPct, p.MedianColdPct, p.P75ColdPct = round4(p.ColdPct), round4(p.MedianColdPct), round4(p.P75ColdPct)
			p.IdleMinutes, p.IdleRatio = round4(p.IdleMinutes), round4(p.IdleRatio)
		}
	}
	return rep
}

// round4 rounds x to 4 decimal places, which keeps reports stable.
func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }

type fnResult struct {
	invocations, cold int64
	idle              time.Duration
	adaptive          bool
}

// replayFunction plays one function's invocations against d.
func replayFunction(f *Function, d Decider, exec, end time.Duration) fnResult {
	var (
		r       fnResult
		started bool
		last    time.Duration // when the instance last became idle
		w       keepalive.Window
	)
	for i, m := range f.Minutes {
		arrive := time.Duration(m) * time.Minute
		n := int64(f.Counts[i])
		r.invocations += n
		switch {
		case !started:
			started = true
			r.cold++
		case arrive > last:
			gap := arrive - last
			if !w.Loaded(gap) {
				r.cold++
			}
			r.idle += loadedFor(w, gap)
			d.Observe(gap)
		}
		// The minute's invocations run one after another from the later
		// of their arrival and the end of the work already queued.
		last = max(arrive, last) + time.Duration(n)*exec
		w = d.Window()
	}
	if started && end > last {
		r.idle += loadedFor(w, end-last)
	}
	r.adaptive = w.Adaptive
	return r
}

// loadedFor is how long the instance was loaded during an idle gap under w.
func loadedFor(w keepalive.Window, gap time.Duration) time.Duration {
	return min(max(gap, w.PreWarm), w.KeepAlive) - min(w.PreWarm, w.KeepAlive)
}

// percentile interpolates linearly between the closest ranks of sorted.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	pos := p / 100 * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	return sorted[lo] + float64((sorted[hi]-sorted[lo])*(pos-float64(lo)))
}

// WriteText writes r as a table.
func (r Report) WriteText(w io.Writer) error {
	days := float64(r.Minutes) / MinutesPerDay
	if _, err := fmt.Fprintf(w, "trace: %d functions, %.4g days, %d invocations, %s per invocation\n",
		r.Functions, days, r.Invocations, r.Exec); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "policy\tcold starts\tcold %%\tmedian fn cold %%\tp75 fn cold %%\tidle memory (min)\tidle vs %s\tadaptive fns\t\n", r.Baseline)
	for _, p := range r.Policies {
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.2f\t%.2f\t%.0f\t%.3f\t%d\t\n",
			p.Name, p.ColdStarts, p.ColdPct, p.MedianColdPct, p.P75ColdPct, p.IdleMinutes, p.IdleRatio, p.Adaptive)
	}
	return tw.Flush()
}

// WriteJSON writes r as indented JSON.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// shortDuration formats d without zero units: 10m rather than 10m0s.
func shortDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}
