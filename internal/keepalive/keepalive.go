// Package keepalive decides how long an idle function instance stays warm
// after an invocation, using the hybrid histogram policy of Shahrad et al.,
// "Serverless in the Wild" (USENIX ATC 2020), adapted to one node.
//
// Each function has a Policy that records its idle times: the time from the
// end of one invocation, with no other running, to the start of the next.
// The idle times go into a range-limited histogram of fixed-width bins
// (1 minute over 4 hours by default, as in the paper). When the histogram
// shows a pattern, the policy takes its head (5th percentile) as the
// pre-warm window and its tail (99th percentile) as the end of the
// keep-alive window, with a 10% margin: the pre-warm window shrinks and the
// keep-alive window grows by 10%. After an invocation ends the instance is
// unloaded, loaded again when the pre-warm window has passed and kept until
// the keep-alive window ends, so it is loaded for keep-alive minus pre-warm.
// A pre-warm window of zero means the instance is not unloaded at all.
//
// When the histogram is not representative the policy falls back to a
// standard fixed keep-alive (no pre-warm, instance kept for Config.Fallback):
//   - fewer than Config.MinSamples idle times were seen;
//   - at least a Config.MaxOutOfRange share of them were longer than the
//     histogram range;
//   - the coefficient of variation (CV) of the bin counts is below
//     Config.CVThreshold (2): a flat histogram (low CV) has no usable
//     pattern, a peaked one (high CV) has.
//
// Differences from the paper:
//   - the paper predicts the next idle time with ARIMA when many idle times
//     are out of range; this package uses the fallback instead;
//   - the paper's fallback keeps the instance for the whole histogram range
//     (4 hours); the default here is 10 minutes, the fixed keep-alive Aloft
//     used before, since a single node pays for every idle instance;
//   - the minimum sample count is an addition: the CV test alone trusts a
//     histogram of one idle time;
//   - idle times are rounded to the nearest bin, so one of exactly k bins
//     lands in bin k, and the windows always cover the whole head and tail
//     bins: the pre-warm window is at most the head minus half a bin and the
//     keep-alive window at least the tail plus half a bin, whichever of that
//     and the margin is wider (this only matters for the first few bins);
//   - counts are 16-bit (the paper uses 4 bytes per bin), so a Policy takes
//     about 700 bytes with the default 240 bins; when a count would
//     overflow, every count is halved, which keeps the shape of the
//     histogram and ages old history.
package keepalive

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
)

// Config tunes a Policy. The zero value of a field means its default.
type Config struct {
	// Bin is the width of one histogram bin (default 1 minute).
	Bin time.Duration `json:"Bin"`
	// Bins is the number of bins; Bin*Bins is the histogram range
	// (default 240, a 4-hour range).
	Bins int `json:"Bins"`
	// HeadPct is the percentile of idle times used for the pre-warm
	// window (default 5).
	HeadPct float64 `json:"HeadPct"`
	// TailPct is the percentile of idle times used for the end of the
	// keep-alive window (default 99).
	TailPct float64 `json:"TailPct"`
	// Margin shortens the pre-warm window and lengthens the keep-alive
	// window by this fraction (default 0.10).
	Margin float64 `json:"Margin"`
	// MinSamples is the number of idle times needed before the histogram
	// is trusted (default 5).
	MinSamples int `json:"MinSamples"`
	// CVThreshold is the lowest coefficient of variation of the bin counts
	// for which the histogram counts as a pattern (default 2).
	CVThreshold float64 `json:"CVThreshold"`
	// MaxOutOfRange is the fraction of idle times beyond the histogram
	// range at which the histogram is no longer trusted (default 0.5).
	MaxOutOfRange float64 `json:"MaxOutOfRange"`
	// Fallback is the keep-alive used when the histogram is not trusted
	// (default 10 minutes; the paper keeps the instance for the whole
	// histogram range, which costs a node far more memory).
	Fallback time.Duration `json:"Fallback"`
}

// DefaultConfig returns the settings for a real server: 1-minute bins over
// 4 hours, 5th/99th percentiles, a 10% margin and a 10-minute fallback.
func DefaultConfig() Config {
	return Config{
		Bin:           time.Minute,
		Bins:          240,
		HeadPct:       5,
		TailPct:       99,
		Margin:        0.10,
		MinSamples:    5,
		CVThreshold:   2,
		MaxOutOfRange: 0.5,
		Fallback:      10 * time.Minute,
	}
}

// maxBins bounds the histogram so that a Policy stays small.
const maxBins = 1 << 14

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	if c.Bin == 0 {
		c.Bin = d.Bin
	}
	if c.Bins == 0 {
		c.Bins = d.Bins
	}
	if c.HeadPct == 0 {
		c.HeadPct = d.HeadPct
	}
	if c.TailPct == 0 {
		c.TailPct = d.TailPct
	}
	if c.Margin == 0 {
		c.Margin = d.Margin
	}
	if c.MinSamples == 0 {
		c.MinSamples = d.MinSamples
	}
	if c.CVThreshold == 0 {
		c.CVThreshold = d.CVThreshold
	}
	if c.MaxOutOfRange == 0 {
		c.MaxOutOfRange = d.MaxOutOfRange
	}
	if c.Fallback == 0 {
		c.Fallback = d.Fallback
	}
	return c
}

// Validate reports the first setting of c (after defaults) that makes no
// sense.
func (c Config) Validate() error {
	c = c.WithDefaults()
	switch {
	case c.Bin < 0:
		return errors.New("keepalive: bin width must be positive")
	case c.Bins < 1 || c.Bins > maxBins:
		return fmt.Errorf("keepalive: bins must be between 1 and %d", maxBins)
	case !(c.HeadPct > 0 && c.HeadPct < 100):
		return errors.New("keepalive: head percentile must be in (0, 100)")
	case !(c.TailPct > 0 && c.TailPct <= 100):
		return errors.New("keepalive: tail percentile must be in (0, 100]")
	case c.HeadPct > c.TailPct:
		return errors.New("keepalive: head percentile is above the tail percentile")
	case !(c.Margin >= 0 && c.Margin < 1):
		return errors.New("keepalive: margin must be in [0, 1)")
	case c.MinSamples < 0:
		return errors.New("keepalive: minimum samples must not be negative")
	case !(c.CVThreshold >= 0) || math.IsInf(c.CVThreshold, 0):
		return errors.New("keepalive: CV threshold must be a non-negative number")
	case !(c.MaxOutOfRange > 0 && c.MaxOutOfRange <= 1):
		return errors.New("keepalive: out-of-range fraction must be in (0, 1]")
	case c.Fallback < 0:
		return errors.New("keepalive: fallback must not be negative")
	case c.Bin > math.MaxInt64/time.Duration(c.Bins+1):
		return errors.New("keepalive: histogram range is too long")
	}
	return nil
}

// Range is the longest idle time the histogram holds, Bin*Bins.
func (c Config) Range() time.Duration { return c.Bin * time.Duration(c.Bins) }

// Window is what to do with a function's instance after an invocation ends:
// unload it at once and load it again when PreWarm has passed (PreWarm 0
// means keep it loaded), then keep it loaded until KeepAlive has passed.
// Both durations count from the end of the invocation, and KeepAlive is
// never below PreWarm.
type Window struct {
	PreWarm   time.Duration `json:"PreWarm"`
	KeepAlive time.Duration `json:"KeepAlive"`
	// Adaptive is true when the windows come from the histogram and false
	// for the fixed fallback.
	Adaptive bool `json:"Adaptive"`
}

// Loaded reports whether the instance is loaded idle after the end of an
// invocation: from PreWarm (inclusive) to KeepAlive (exclusive).
func (w Window) Loaded(idle time.Duration) bool {
	return idle >= w.PreWarm && idle < w.KeepAlive
}

// Reason says why a Policy chose its window.
type Reason string

// The reasons a Policy reports in State.
const (
	// ReasonHistogram: the window comes from the histogram.
	ReasonHistogram Reason = "histogram"
	// ReasonFewSamples: fewer than MinSamples idle times so far.
	ReasonFewSamples Reason = "few-samples"
	// ReasonOutOfRange: too many idle times beyond the histogram range.
	ReasonOutOfRange Reason = "out-of-range"
	// ReasonFlat: the bin counts vary too little to show a pattern.
	ReasonFlat Reason = "flat"
)

// State is a snapshot of a Policy for display and metrics.
type State struct {
	// Samples is the number of idle times in the histogram range.
	Samples int `json:"Samples"`
	// OutOfRange is the number of idle times beyond the range.
	OutOfRange int `json:"OutOfRange"`
	// CV is the coefficient of variation of the bin counts.
	CV float64 `json:"CV"`
	// Head and Tail are the idle-time percentiles the window is built
	// from (zero while the histogram is empty).
	Head time.Duration `json:"Head"`
	Tail time.Duration `json:"Tail"`
	// Window is the current decision.
	Window Window `json:"Window"`
	// Reason says why Window was chosen.
	Reason Reason `json:"Reason"`
}

// Policy learns the idle times of one function and picks its keep-alive
// window. It is safe for concurrent use.
type Policy struct {
	mu     sync.Mutex
	cfg    *Config
	counts []uint16 // one count per bin; never grows
	inside uint32   // sum of counts
	oob    uint32   // idle times beyond the range
	sumSq  uint64   // sum of squared counts, for the CV
	cached State
	fresh  bool
}

// New returns a Policy for cfg, with zero fields set to their defaults.
// It panics if cfg is invalid; check user input with Config.Validate.
func New(cfg Config) *Policy {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	c := cfg.WithDefaults()
	return &Policy{cfg: &c, counts: make([]uint16, c.Bins)}
}

// Config returns the settings of p, with defaults filled in.
func (p *Policy) Config() Config { return *p.cfg }

// Observe records one idle time: the time from when the function's last
// invocation ended, with no other running, to the start of the next one.
// An invocation that starts while another is still running ends no idle
// period and is not observed. Negative values count as zero.
func (p *Policy) Observe(idle time.Duration) {
	idle = max(idle, 0)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fresh = false
	bin := p.binOf(idle)
	if bin < 0 {
		if p.oob == math.MaxUint16 {
			p.halve()
		}
		p.oob++
		return
	}
	if p.counts[bin] == math.MaxUint16 {
		p.halve()
	}
	c := uint64(p.counts[bin])
	p.counts[bin]++
	p.inside++
	p.sumSq += 2*c + 1
}

// binOf returns the bin of idle rounded to the nearest bin, or -1 when it
// is beyond the range.
func (p *Policy) binOf(idle time.Duration) int {
	b := p.cfg.Bin
	if idle >= b*time.Duration(len(p.counts)) {
		return -1
	}
	n := (idle + b/2) / b
	if n >= time.Duration(len(p.counts)) {
		return -1
	}
	return int(n)
}

// halve divides every count by two, keeping the shape of the histogram and
// the share of out-of-range idle times.
func (p *Policy) halve() {
	p.inside, p.sumSq = 0, 0
	for i, c := range p.counts {
		c /= 2
		p.counts[i] = c
		p.inside += uint32(c)
		p.sumSq += uint64(c) * uint64(c)
	}
	p.oob /= 2
}

// Window returns the window to apply after the invocation that just ended.
func (p *Policy) Window() Window { return p.State().Window }

// State returns a snapshot of p.
func (p *Policy) State() State {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.fresh {
		p.cached = p.compute()
		p.fresh = true
	}
	return p.cached
}

func (p *Policy) compute() State {
	c := p.cfg
	s := State{Samples: int(p.inside), OutOfRange: int(p.oob), CV: p.cv()}
	fallback := Window{KeepAlive: c.Fallback}
	if p.inside > 0 {
		s.Head = time.Duration(p.percentile(c.HeadPct)) * c.Bin
		s.Tail = time.Duration(p.percentile(c.TailPct)) * c.Bin
	}
	total := int(p.inside) + int(p.oob)
	switch {
	case total < c.MinSamples || total == 0:
		s.Window, s.Reason = fallback, ReasonFewSamples
	case float64(p.oob) >= c.MaxOutOfRange*float64(total):
		s.Window, s.Reason = fallback, ReasonOutOfRange
	case s.CV < c.CVThreshold:
		s.Window, s.Reason = fallback, ReasonFlat
	default:
		s.Window, s.Reason = p.adaptive(s.Head, s.Tail), ReasonHistogram
	}
	return s
}

// adaptive turns the head and tail into windows with the margin, making
// sure they cover the whole head and tail bins.
func (p *Policy) adaptive(head, tail time.Duration) Window {
	c := p.cfg
	half := c.Bin / 2
	pre := min(scale(head, 1-c.Margin), head-half)
	keep := max(scale(tail, 1+c.Margin), tail+half)
	pre = max(pre, 0)
	return Window{PreWarm: pre, KeepAlive: max(keep, pre), Adaptive: true}
}

func scale(d time.Duration, f float64) time.Duration {
	return time.Duration(math.Round(float64(d) * f))
}

// percentile returns the smallest bin at which the cumulative count reaches
// pct percent of the in-range idle times.
func (p *Policy) percentile(pct float64) int {
	need := math.Ceil(float64(pct/100*float64(p.inside)) - 1e-9)
	var cum uint32
	for i, n := range p.counts {
		cum += uint32(n)
		if n > 0 && float64(cum) >= need {
			return i
		}
	}
	return len(p.counts) - 1
}

// cv is the coefficient of variation (population standard deviation over
// mean) of the bin counts, empty bins included.
func (p *Policy) cv() float64 {
	if p.inside == 0 {
		return 0
	}
	n := float64(len(p.counts))
	mean := float64(p.inside) / n
	variance := float64(p.sumSq)/n - float64(mean*mean)
	if variance <= 0 {
		return 0
	}
	return math.Sqrt(variance) / mean
}
