package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
)

func (e *env) asyncCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "async",
		Short: "Inspect the queue of asynchronous invocations",
	}
	var out *outputFormat
	stats := &cobra.Command{
		Use:   "stats",
		Short: "Show queued, running, retried and failed events per function",
		Long: `Show, per function, the asynchronous events waiting in the durable queue
(queued counts those being delivered too), those running now, and what
happened to the rest since the server started: succeeded, retried after a
function error, failed (retries exhausted or too old) and destination
records sent.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.connect()
			if err != nil {
				return err
			}
			list, err := c.QueueStats(cmd.Context())
			if err != nil {
				return err
			}
			if *out == outputJSON {
				b, err := json.MarshalIndent(list, "", "  ")
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(e.stdout, "%s\n", b)
				return err
			}
			t := newTable(e.stdout, 7, 2, 3, 4, 5, 6, 7)
			t.AppendHeader(tableRow("FUNCTION", "QUEUED", "RUNNING", "SUCCEEDED", "RETRIED", "FAILED", "DESTINATIONS"))
			for _, s := range list {
				t.AppendRow(tableRow(s.Function, groupDigits(int64(s.Queued)), groupDigits(s.InFlight),
					groupDigits(int64(s.Succeeded)), groupDigits(int64(s.Retried)), groupDigits(int64(s.Failed)), groupDigits(int64(s.Destinations))))
			}
			t.Render()
			return nil
		},
	}
	out = addOutputFlag(stats)
	cmd.AddCommand(stats)
	return cmd
}
