package cli

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/spf13/cobra"

	"github.com/aloft-dev/aloft/internal/client"
	"github.com/aloft-dev/aloft/internal/function"
)

// followLookback is how far before the newest event seen --follow asks
// again, so that events written a little late are not missed.
const followLookback = 5 * time.Second

func (e *env) logsCmd() *cobra.Command {
	var (
		follow bool
		since  string
		filter string
	)
	cmd := &cobra.Command{
		Use:   "logs NAME",
		Short: "Print a function's logs",
		Long: `Print the log events of a function (its log group /aws/lambda/NAME), one
per line: time (UTC), log stream, message.

--since is a duration back from now (90s, 10m, 2h, 3d) or an RFC 3339 time.
--filter is a CloudWatch Logs filter pattern. --follow keeps printing new
events as they arrive, until interrupted.`,
		Example: `  aloft logs hello
  aloft logs hello --since 1h --filter ERROR
  aloft logs hello -f`,
		Args: nameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			start, err := parseSince(since, e.now())
			if err != nil {
				return usageErrorf(cmd, "--since %q: %v", since, err)
			}
			c, err := e.connect()
			if err != nil {
				return err
			}
			in := &cloudwatchlogs.FilterLogEventsInput{
				LogGroupName: aws.String(function.LogGroup(name)),
				StartTime:    aws.Int64(start.UnixMilli()),
			}
			if filter != "" {
				in.FilterPattern = aws.String(filter)
			}
			if follow {
				return e.followLogs(cmd.Context(), c, in)
			}
			events, err := fetchEvents(cmd.Context(), c, in)
			if apiCode(err) == "ResourceNotFoundException" {
				return fmt.Errorf("no logs for function %q (log group %s does not exist)", name, function.LogGroup(name))
			}
			if err != nil {
				return err
			}
			for _, ev := range events {
				e.printEvent(ev)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&follow, "follow", "f", false, "keep printing new events until interrupted")
	f.StringVar(&since, "since", "10m", "how far back to start: a `DURATION` (90s, 10m, 2h, 3d) or an RFC 3339 time")
	f.StringVar(&filter, "filter", "", "only events matching this CloudWatch Logs filter `PATTERN`")
	return cmd
}

// fetchEvents returns all events matching in, oldest first.
func fetchEvents(ctx context.Context, c *client.Client, in *cloudwatchlogs.FilterLogEventsInput) ([]types.FilteredLogEvent, error) {
	var events []types.FilteredLogEvent
	pages := cloudwatchlogs.NewFilterLogEventsPaginator(c.Logs, in, func(o *cloudwatchlogs.FilterLogEventsPaginatorOptions) {
		o.StopOnDuplicateToken = true
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		events = append(events, page.Events...)
	}
	sort.SliceStable(events, func(i, j int) bool {
		return aws.ToInt64(events[i].Timestamp) < aws.ToInt64(events[j].Timestamp)
	})
	return events, nil
}

// followLogs polls for events until ctx ends, printing each event once.
func (e *env) followLogs(ctx context.Context, c *client.Client, in *cloudwatchlogs.FilterLogEventsInput) error {
	start := aws.ToInt64(in.StartTime)
	seen := map[string]int64{} // event id → timestamp, for events at or after start
	for {
		q := *in
		q.StartTime = aws.Int64(start)
		events, err := fetchEvents(ctx, c, &q)
		if ctx.Err() != nil {
			return nil // interrupted: the normal way to stop following
		}
		if err != nil && apiCode(err) != "ResourceNotFoundException" { // no log group yet: wait for one
			return err
		}
		newest := start
		for _, ev := range events {
			ts := aws.ToInt64(ev.Timestamp)
			newest = max(newest, ts)
			id := aws.ToString(ev.EventId)
			if id == "" {
				id = strconv.FormatInt(ts, 10) + "/" + aws.ToString(ev.LogStreamName) + "/" + aws.ToString(ev.Message)
			}
			if _, ok := seen[id]; ok {
				continue
			}
			seen[id] = ts
			e.printEvent(ev)
		}
		start = max(start, newest-followLookback.Milliseconds())
		for id, ts := range seen {
			if ts < start {
				delete(seen, id)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(e.pollInterval):
		}
	}
}

var eventLines = strings.NewReplacer("\r\n", "\n", "\r", "\n", "\u00a0", " ")

// printEvent writes one event as "time stream message".
func (e *env) printEvent(ev types.FilteredLogEvent) {
	ts := time.UnixMilli(aws.ToInt64(ev.Timestamp)).UTC().Format("2006-01-02T15:04:05.000Z07:00")
	msg := strings.TrimRight(aws.ToString(ev.Message), "\r\n")
	// One event may hold several lines joined by CR, with indents kept as
	// no-break spaces (a Python traceback, as Lambda's runtimes write it):
	// a terminal shows them as lines.
	msg = eventLines.Replace(msg)
	fmt.Fprintf(e.stdout, "%s %s %s\n", ts, aws.ToString(ev.LogStreamName), msg)
}

// parseSince reads --since: a duration before now (Go syntax, plus d for
// days) or an RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(days, 64)
		if err != nil || n < 0 {
			return time.Time{}, fmt.Errorf("expected a duration such as 10m, 2h or 3d, or an RFC 3339 time")
		}
		return now.Add(-time.Duration(n * float64(24*time.Hour))), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("expected a duration such as 10m, 2h or 3d, or an RFC 3339 time")
	}
	return now.Add(-d), nil
}
