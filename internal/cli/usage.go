package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/aloft-dev/aloft/internal/meter"
)

func (e *env) usageCmd() *cobra.Command {
	var out *outputFormat
	cmd := &cobra.Command{
		Use:   "usage",
		Short: "Show requests, compute and what they would cost on AWS Lambda",
		Long: `Show, per function, the requests served, the billed duration and the
GB-seconds used, priced with AWS Lambda's public on-demand rates (USD), and
how they compare with Lambda's monthly free tier.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.connect()
			if err != nil {
				return err
			}
			u, err := c.Usage(cmd.Context())
			if err != nil {
				return err
			}
			if *out == outputJSON {
				// The report is Aloft's own type: its JSON tags say it all.
				b, err := json.MarshalIndent(u, "", "  ")
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(e.stdout, "%s\n", b)
				return err
			}
			writeUsage(e, u)
			return nil
		},
	}
	out = addOutputFlag(cmd)
	return cmd
}

func writeUsage(e *env, u *meter.Report) {
	t := newTable(e.stdout, 5, 2, 3, 4, 5)
	t.AppendHeader(tableRow("FUNCTION", "REQUESTS", "BILLED MS", "GB-S", "COST (USD)"))
	row := func(name string, m meter.Usage) []any {
		return tableRow(name, groupDigits(m.Requests), groupDigits(m.BilledMs), trimFloat(m.GBSeconds, 6, 1), "$"+trimFloat(m.Cost, 8, 2))
	}
	for _, f := range u.Functions {
		t.AppendRow(row(f.FunctionName, f))
	}
	t.AppendFooter(row("TOTAL", u.Total))
	t.Render()
	if u.FreeTier.Requests > 0 || u.FreeTier.GBSeconds > 0 {
		fmt.Fprintf(e.stdout, "\nLambda's free tier is %s requests and %s GB-s a month; the total above is %s%% and %s%% of it.\n",
			groupDigits(u.FreeTier.Requests), groupDigits(u.FreeTier.GBSeconds),
			percent(float64(u.Total.Requests), float64(u.FreeTier.Requests)),
			percent(u.Total.GBSeconds, float64(u.FreeTier.GBSeconds)))
	}
}

// percent is part/whole in percent with four decimals.
func percent(part, whole float64) string {
	if whole <= 0 || part <= 0 {
		return "0"
	}
	p := 100 * part / whole
	if p < 0.00005 {
		return "<0.0001"
	}
	return trimFloat(p, 4, 0)
}
