package sim

import (
	"fmt"
	"io"
	"time"

	"github.com/aloft-dev/aloft/internal/keepalive"
)

// Baseline is the fixed keep-alive every report is compared with.
const Baseline = 10 * time.Minute

// Options configures Run.
type Options struct {
	// Format is "text" (the default) or "json".
	Format string
	// Hybrid configures the hybrid policy; zero fields take the defaults
	// of keepalive.DefaultConfig.
	Hybrid keepalive.Config
	// Fixed lists more fixed keep-alive windows to compare, besides the
	// 10-minute baseline.
	Fixed []time.Duration
	// Exec is the execution time of every invocation (default 0).
	Exec time.Duration
}

// Run reads the trace files (consecutive days, in order), replays them
// against the fixed 10-minute baseline, the extra fixed windows and the
// hybrid policy, and writes the report to w.
func Run(w io.Writer, tracePaths []string, opts Options) error {
	if opts.Format != "" && opts.Format != "text" && opts.Format != "json" {
		return fmt.Errorf("sim: unknown format %q, want text or json", opts.Format)
	}
	if err := opts.Hybrid.Validate(); err != nil {
		return err
	}
	if opts.Exec < 0 {
		return fmt.Errorf("sim: negative execution time %s", opts.Exec)
	}
	policies := []PolicyFactory{Fixed(Baseline)}
	for _, d := range opts.Fixed {
		if d < 0 {
			return fmt.Errorf("sim: negative keep-alive %s", d)
		}
		policies = append(policies, Fixed(d))
	}
	policies = append(policies, Hybrid(opts.Hybrid))
	trace, err := ReadFiles(tracePaths...)
	if err != nil {
		return err
	}
	rep := ReplayExec(trace, opts.Exec, policies...)
	if opts.Format == "json" {
		return rep.WriteJSON(w)
	}
	return rep.WriteText(w)
}
