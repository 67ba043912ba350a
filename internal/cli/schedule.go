package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/spf13/cobra"

	"github.com/aloft-dev/aloft/internal/function"
)

func (e *env) scheduleCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schedule",
		Short: "Create, list and delete schedules that invoke functions",
		Long: `Schedules invoke a function asynchronously at times given by an AWS
schedule expression: rate(5 minutes), cron(0 12 * * ? *) (minutes, hours,
day of month, month, day of week with SUN=1, year) or a one-time
at(2030-01-01T09:00:00). The aws scheduler commands work as well.`,
	}
	cmd.AddCommand(e.scheduleCreateCmd(), e.scheduleListCmd(), e.scheduleDeleteCmd())
	return cmd
}

func (e *env) scheduleCreateCmd() *cobra.Command {
	var (
		expr, fn, input, tz, group string
		disabled, deleteAfter      bool
	)
	cmd := &cobra.Command{
		Use:   "create NAME --expression EXPR --function FUNCTION",
		Short: "Create a schedule",
		Example: `  aloft schedule create nightly --expression 'cron(0 2 * * ? *)' --function report
  aloft schedule create ping --expression 'rate(5 minutes)' --function hello --input '{"name":"cron"}'`,
		Args: nameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.connect()
			if err != nil {
				return err
			}
			target := fn
			if !strings.HasPrefix(fn, "arn:") {
				target = function.ARN(c.Region, fn, "")
			}
			in := &scheduler.CreateScheduleInput{
				Name:               aws.String(args[0]),
				ScheduleExpression: aws.String(expr),
				FlexibleTimeWindow: &types.FlexibleTimeWindow{Mode: types.FlexibleTimeWindowModeOff},
				Target:             &types.Target{Arn: aws.String(target), RoleArn: aws.String(DefaultRole)},
			}
			if input != "" {
				in.Target.Input = aws.String(input)
			}
			if tz != "" {
				in.ScheduleExpressionTimezone = aws.String(tz)
			}
			if group != "" {
				in.GroupName = aws.String(group)
			}
			if disabled {
				in.State = types.ScheduleStateDisabled
			}
			if deleteAfter {
				in.ActionAfterCompletion = types.ActionAfterCompletionDelete
			}
			out, err := c.Scheduler.CreateSchedule(cmd.Context(), in)
			if err != nil {
				return err
			}
			if _, err = fmt.Fprintln(e.stdout, aws.ToString(out.ScheduleArn)); err != nil {
				return err
			}
			e.warnMissingFunction(cmd.Context(), c, target, "the schedule's invocations fail")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&expr, "expression", "e", "", "schedule `EXPRESSION`: rate(...), cron(...) or at(...)")
	f.StringVarP(&fn, "function", "f", "", "`FUNCTION` name or ARN to invoke")
	f.StringVar(&input, "input", "", "event `JSON` to send (default {})")
	f.StringVar(&tz, "timezone", "", "IANA time `ZONE` for cron and at expressions (default UTC)")
	f.StringVar(&group, "group", "", "schedule `GROUP` (default: default)")
	f.BoolVar(&disabled, "disabled", false, "create the schedule disabled")
	f.BoolVar(&deleteAfter, "delete-after-completion", false, "delete a one-time schedule after it fires")
	cmd.MarkFlagRequired("expression")
	cmd.MarkFlagRequired("function")
	return cmd
}

func (e *env) scheduleListCmd() *cobra.Command {
	var out *outputFormat
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List schedules",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.connect()
			if err != nil {
				return err
			}
			var all []types.ScheduleSummary
			p := scheduler.NewListSchedulesPaginator(c.Scheduler, &scheduler.ListSchedulesInput{})
			for p.HasMorePages() {
				page, err := p.NextPage(cmd.Context())
				if err != nil {
					return err
				}
				all = append(all, page.Schedules...)
			}
			if *out == outputJSON {
				return writeJSON(e.stdout, all)
			}
			t := newTable(e.stdout, 5)
			t.AppendHeader(tableRow("NAME", "GROUP", "STATE", "TARGET", "LAST MODIFIED"))
			for _, s := range all {
				target := ""
				if s.Target != nil {
					target = aws.ToString(s.Target.Arn)
					if name, _, ok := function.ParseRef(target); ok {
						target = name
					}
				}
				modified := ""
				if s.LastModificationDate != nil {
					modified = s.LastModificationDate.UTC().Format(time.RFC3339)
				}
				t.AppendRow(tableRow(aws.ToString(s.Name), aws.ToString(s.GroupName), string(s.State), target, modified))
			}
			t.Render()
			return nil
		},
	}
	out = addOutputFlag(cmd)
	return cmd
}

func (e *env) scheduleDeleteCmd() *cobra.Command {
	var group string
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a schedule",
		Args:  nameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.connect()
			if err != nil {
				return err
			}
			in := &scheduler.DeleteScheduleInput{Name: aws.String(args[0])}
			if group != "" {
				in.GroupName = aws.String(group)
			}
			if _, err = c.Scheduler.DeleteSchedule(cmd.Context(), in); err != nil {
				return err
			}
			_, err = fmt.Fprintf(e.stdout, "deleted schedule %s\n", args[0])
			return err
		},
	}
	cmd.Flags().StringVar(&group, "group", "", "schedule `GROUP` (default: default)")
	return cmd
}
