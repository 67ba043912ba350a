package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/aloft-dev/aloft/internal/keepalive/sim"
)

func (e *env) keepaliveCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keepalive",
		Short: "Compare keep-alive policies on invocation traces",
		Long: `Replay invocation traces in the Azure Functions 2019 format (one CSV per
day: HashOwner,HashApp,HashFunction,Trigger,1..1440 invocations per minute)
against Aloft's adaptive keep-alive (a histogram of each function's idle
times) and fixed keep-alive windows, and report cold starts and idle
memory-time. No server is needed.`,
	}
	cmd.AddCommand(e.keepaliveSimulateCmd(), e.keepaliveGenerateCmd(), e.keepaliveShowCmd())
	return cmd
}

func (e *env) keepaliveSimulateCmd() *cobra.Command {
	var (
		format string
		fixed  []time.Duration
		exec   time.Duration
	)
	cmd := &cobra.Command{
		Use:     "simulate TRACE.csv[.gz]...",
		Short:   "Replay traces and compare the adaptive policy with fixed keep-alives",
		Example: `  aloft keepalive simulate internal/keepalive/testdata/synthetic.d0*.csv.gz --fixed 20m --fixed 1h`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return sim.Run(e.stdout, args, sim.Options{Format: format, Fixed: fixed, Exec: exec})
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", "text", "report `FORMAT`: text or json")
	f.DurationSliceVar(&fixed, "fixed", nil, "another fixed keep-alive `DURATION` to compare (repeatable); 10m is always included")
	f.DurationVar(&exec, "exec", 0, "execution time of each invocation")
	return cmd
}

func (e *env) keepaliveGenerateCmd() *cobra.Command {
	var opts sim.GenOptions
	var dir string
	cmd := &cobra.Command{
		Use:   "generate --dir DIR",
		Short: "Write a synthetic trace with heavy-tailed invocation rates",
		Long: `Write a synthetic trace, one CSV file per day (DIR/synthetic.dNN.csv), in
the Azure Functions 2019 format: most functions rare, a few very hot, a mix
of timers, Poisson and bursty traffic, the same for the same seed.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			days := max(opts.Days, 1)
			for d := range days {
				path := filepath.Join(dir, fmt.Sprintf("synthetic.d%02d.csv", d+1))
				f, err := os.Create(path)
				if err != nil {
					return err
				}
				o := opts
				o.Day = d
				err = sim.Generate(f, o)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					return err
				}
				fmt.Fprintln(e.stdout, path)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", ".", "`DIR` to write the day files into")
	f.IntVar(&opts.Functions, "functions", 200, "number of functions")
	f.IntVar(&opts.Days, "days", 1, "number of days")
	f.Uint64Var(&opts.Seed, "seed", 1, "random seed")
	return cmd
}

func (e *env) keepaliveShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show FUNCTION",
		Short: "Show the keep-alive a running server has learned for a function",
		Long: `Show a function's idle-time histogram summary and the windows it gives:
how long an instance waits unloaded after an invocation (pre-warm) and how
long it then stays loaded (keep-alive). Until a function has a usable
pattern, the server's --keep-alive applies.`,
		Args: nameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.connect()
			if err != nil {
				return err
			}
			st, err := c.KeepAlive(cmd.Context(), args[0])
			if err != nil {
				return notFound(err, args[0])
			}
			return writeJSON(e.stdout, st)
		},
	}
}
