package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

// runtimesCmd lists the runtimes the server's host runs.
func (e *env) runtimesCmd() *cobra.Command {
	var out *outputFormat
	cmd := &cobra.Command{
		Use:   "runtimes",
		Short: "List the runtimes the server's host runs, with their interpreters",
		Long: `Lists each runtime identifier functions may be created with on this server,
and the interpreter of its version that runs it. A runtime not listed is
refused at create time; the refusal says what to install.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.connect()
			if err != nil {
				return err
			}
			rts, err := c.Runtimes(cmd.Context())
			if err != nil {
				return err
			}
			if *out == outputJSON {
				return writeJSON(e.stdout, rts)
			}
			for _, r := range rts {
				interp := r.Interpreter
				if interp == "" {
					interp = "(the function's own bootstrap)"
				}
				if _, err := fmt.Fprintf(e.stdout, "%-16s %s\n", r.Runtime, interp); err != nil {
					return err
				}
			}
			return nil
		},
	}
	out = addOutputFlag(cmd)
	return cmd
}
