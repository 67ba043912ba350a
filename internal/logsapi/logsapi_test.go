package logsapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/google/go-cmp/cmp"

	"github.com/aloft-dev/aloft/internal/logs"
	"github.com/aloft-dev/aloft/internal/store"
)

const (
	groupA  = "/aws/lambda/alpha"
	groupB  = "/aws/lambda/beta"
	streamX = "2024/05/01/[$LATEST]0123456789abcdef0123456789abcdef"
	streamY = "2024/05/01/[$LATEST]fedcba9876543210fedcba9876543210"
)

type fixture struct {
	srv    *httptest.Server
	client *cloudwatchlogs.Client
	store  *logs.Store
	x, y   []logs.Event // events of streams X and Y of group A
	base   int64
}

func setup(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	bb, err := store.Open(ctx, store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bb.Close() })
	ls, err := logs.Open(ctx, bb.JetStream(), logs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ls.Close(context.Background()) })
	srv := httptest.NewServer(New(ls, nil))
	t.Cleanup(srv.Close)
	client := cloudwatchlogs.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AK", "SK", ""),
	}, func(o *cloudwatchlogs.Options) { o.BaseEndpoint = aws.String(srv.URL) })

	f := &fixture{srv: srv, client: client, store: ls, base: time.Now().Add(-time.Hour).UnixMilli()}
	for i := range 6 {
		ts := f.base + int64(i)*1000
		id := fmt.Sprintf("req-%d", i)
		batch := []logs.Event{
			{Timestamp: ts, Message: "START RequestId: " + id + " Version: $LATEST\n"},
			{Timestamp: ts + 1, Message: fmt.Sprintf("working on item %d\n", i)},
			{Timestamp: ts + 2, Message: "END RequestId: " + id + "\n"},
			{Timestamp: ts + 2, Message: "REPORT RequestId: " + id + "\tDuration: 2.00 ms\n"},
		}
		ls.Append(groupA, streamX, batch)
		f.x = append(f.x, batch...)
		if i%2 == 0 {
			yb := []logs.Event{{Timestamp: ts + 500, Message: fmt.Sprintf("ERROR failure %d\n", i)}}
			ls.Append(groupA, streamY, yb)
			f.y = append(f.y, yb...)
		}
	}
	ls.Append(groupB, streamX, []logs.Event{{Timestamp: f.base, Message: "beta\n"}})
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := ls.Flush(fctx); err != nil {
		t.Fatal(err)
	}
	return f
}

func messages[T any](evs []T, get func(T) *string) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = aws.ToString(get(e))
	}
	return out
}

func storeMsgs(evs []logs.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Message
	}
	return out
}

func outMsg(e types.OutputLogEvent) *string    { return e.Message }
func filtMsg(e types.FilteredLogEvent) *string { return e.Message }

func TestDescribe(t *testing.T) {
	f := setup(t)
	ctx := context.Background()

	out, err := f.client.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.LogGroups) != 2 || out.NextToken != nil {
		t.Fatalf("groups %+v", out.LogGroups)
	}
	g := out.LogGroups[0]
	var wantBytes int64
	for _, e := range append(append([]logs.Event(nil), f.x...), f.y...) {
		wantBytes += int64(len(e.Message))
	}
	if aws.ToString(g.LogGroupName) != groupA || aws.ToInt64(g.StoredBytes) != wantBytes || aws.ToInt64(g.CreationTime) == 0 ||
		aws.ToString(g.Arn) != "arn:aws:logs:us-east-1:000000000000:log-group:"+groupA+":*" ||
		aws.ToString(g.LogGroupArn) != "arn:aws:logs:us-east-1:000000000000:log-group:"+groupA ||
		aws.ToInt32(g.RetentionInDays) != 30 {
		t.Errorf("group %+v", g)
	}

	var names []string
	p := cloudwatchlogs.NewDescribeLogGroupsPaginator(f.client, &cloudwatchlogs.DescribeLogGroupsInput{
		LogGroupNamePrefix: aws.String("/aws/lambda/"), Limit: aws.Int32(1)})
	for pages := 0; p.HasMorePages(); pages++ {
		if pages > 5 {
			t.Fatal("paginator does not stop")
		}
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range page.LogGroups {
			names = append(names, aws.ToString(g.LogGroupName))
		}
	}
	if !slices.Equal(names, []string{groupA, groupB}) {
		t.Errorf("paged groups %v", names)
	}

	so, err := f.client.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{
		LogGroupName: aws.String(groupA), OrderBy: types.OrderByLastEventTime, Descending: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if len(so.LogStreams) != 2 {
		t.Fatalf("streams %+v", so.LogStreams)
	}
	s := so.LogStreams[0]
	if aws.ToString(s.LogStreamName) != streamX ||
		aws.ToInt64(s.FirstEventTimestamp) != f.x[0].Timestamp ||
		aws.ToInt64(s.LastEventTimestamp) != f.x[len(f.x)-1].Timestamp ||
		aws.ToInt64(s.LastIngestionTime) == 0 || aws.ToInt64(s.CreationTime) == 0 ||
		aws.ToString(s.Arn) != "arn:aws:logs:us-east-1:000000000000:log-group:"+groupA+":log-stream:"+streamX {
		t.Errorf("stream %+v", s)
	}
	so, err = f.client.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{
		LogGroupIdentifier:  aws.String("arn:aws:logs:us-east-1:000000000000:log-group:" + groupA + ":*"),
		LogStreamNamePrefix: aws.String("2024/05/01/[$LATEST]f")})
	if err != nil || len(so.LogStreams) != 1 || aws.ToString(so.LogStreams[0].LogStreamName) != streamY {
		t.Errorf("by prefix and ARN: %+v %v", so, err)
	}
}

func TestGetLogEvents(t *testing.T) {
	f := setup(t)
	ctx := context.Background()

	// The SDK paginator follows nextForwardToken and stops when it repeats.
	var got []types.OutputLogEvent
	p := cloudwatchlogs.NewGetLogEventsPaginator(f.client, &cloudwatchlogs.GetLogEventsInput{
		LogGroupName: aws.String(groupA), LogStreamName: aws.String(streamX),
		StartFromHead: aws.Bool(true), Limit: aws.Int32(5),
	}, func(o *cloudwatchlogs.GetLogEventsPaginatorOptions) { o.StopOnDuplicateToken = true })
	for pages := 0; p.HasMorePages(); pages++ {
		if pages > 20 {
			t.Fatal("paginator does not stop")
		}
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Events) > 5 {
			t.Fatalf("page of %d", len(page.Events))
		}
		got = append(got, page.Events...)
	}
	if d := cmp.Diff(storeMsgs(f.x), messages(got, outMsg)); d != "" {
		t.Errorf("paged events (-want +got):\n%s", d)
	}
	for _, e := range got {
		if aws.ToInt64(e.IngestionTime) < aws.ToInt64(e.Timestamp) {
			t.Errorf("ingestion %d before timestamp %d", aws.ToInt64(e.IngestionTime), aws.ToInt64(e.Timestamp))
		}
	}

	// Without startFromHead: the newest events.
	out, err := f.client.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{
		LogGroupName: aws.String(groupA), LogStreamName: aws.String(streamX), Limit: aws.Int32(3)})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(storeMsgs(f.x[len(f.x)-3:]), messages(out.Events, outMsg)); d != "" {
		t.Errorf("tail (-want +got):\n%s", d)
	}
	if !strings.HasPrefix(aws.ToString(out.NextForwardToken), "f/") || !strings.HasPrefix(aws.ToString(out.NextBackwardToken), "b/") {
		t.Errorf("tokens %q %q", aws.ToString(out.NextForwardToken), aws.ToString(out.NextBackwardToken))
	}
	back, err := f.client.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{
		LogGroupName: aws.String(groupA), LogStreamName: aws.String(streamX), Limit: aws.Int32(3), NextToken: out.NextBackwardToken})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(storeMsgs(f.x[len(f.x)-6:len(f.x)-3]), messages(back.Events, outMsg)); d != "" {
		t.Errorf("backward page (-want +got):\n%s", d)
	}

	// Time range [start, end).
	start, end := f.base+2000, f.base+4000
	out, err = f.client.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{
		LogGroupName: aws.String(groupA), LogStreamName: aws.String(streamX),
		StartTime: aws.Int64(start), EndTime: aws.Int64(end), StartFromHead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, e := range f.x {
		if e.Timestamp >= start && e.Timestamp < end {
			want = append(want, e.Message)
		}
	}
	if d := cmp.Diff(want, messages(out.Events, outMsg)); d != "" {
		t.Errorf("range (-want +got):\n%s", d)
	}
}

func TestFilterLogEvents(t *testing.T) {
	f := setup(t)
	ctx := context.Background()

	out, err := f.client.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{
		LogGroupName: aws.String(groupA), FilterPattern: aws.String("ERROR failure"),
		StartTime: aws.Int64(f.base + 1000), EndTime: aws.Int64(f.base + 4500)})
	if err != nil {
		t.Fatal(err)
	}
	// endTime is inclusive for FilterLogEvents.
	if d := cmp.Diff([]string{"ERROR failure 2\n", "ERROR failure 4\n"}, messages(out.Events, filtMsg)); d != "" {
		t.Errorf("pattern and range (-want +got):\n%s", d)
	}
	if len(out.Events) > 0 {
		e := out.Events[0]
		if aws.ToString(e.LogStreamName) != streamY || aws.ToString(e.EventId) == "" || aws.ToInt64(e.IngestionTime) == 0 {
			t.Errorf("event %+v", e)
		}
	}
	if out.NextToken != nil || len(out.SearchedLogStreams) != 1 || !aws.ToBool(out.SearchedLogStreams[0].SearchedCompletely) {
		t.Errorf("token %v searched %+v", out.NextToken, out.SearchedLogStreams)
	}

	// Paginate everything, 4 per page: every event once, pages sorted.
	var got []types.FilteredLogEvent
	p := cloudwatchlogs.NewFilterLogEventsPaginator(f.client, &cloudwatchlogs.FilterLogEventsInput{
		LogGroupName: aws.String(groupA), Limit: aws.Int32(4), Interleaved: aws.Bool(true)})
	for pages := 0; p.HasMorePages(); pages++ {
		if pages > 20 {
			t.Fatal("paginator does not stop")
		}
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page.Events...)
	}
	if len(got) != len(f.x)+len(f.y) {
		t.Errorf("paged %d events, want %d", len(got), len(f.x)+len(f.y))
	}
	ids := map[string]bool{}
	for _, e := range got {
		ids[aws.ToString(e.EventId)] = true
	}
	if len(ids) != len(got) {
		t.Errorf("%d distinct ids for %d events", len(ids), len(got))
	}

	out, err = f.client.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{
		LogGroupName: aws.String(groupA), LogStreamNames: []string{streamX}, FilterPattern: aws.String(`?"item 1" ?"item 3"`)})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"working on item 1\n", "working on item 3\n"}, messages(out.Events, filtMsg)); d != "" {
		t.Errorf("any terms (-want +got):\n%s", d)
	}
}

// TestTailFollow replays what "aws logs tail --follow" does: poll
// FilterLogEvents with interleaved=true and the newest timestamp seen as
// startTime, skipping event IDs already printed.
func TestTailFollow(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	seenAt := map[int64]map[string]bool{}
	var printed []string
	startTime := f.base - 60000
	poll := func() {
		in := &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(groupA), StartTime: aws.Int64(startTime), Interleaved: aws.Bool(true)}
		for {
			out, err := f.client.FilterLogEvents(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range out.Events {
				ts, id := aws.ToInt64(e.Timestamp), aws.ToString(e.EventId)
				if seenAt[ts] == nil {
					seenAt[ts] = map[string]bool{}
				}
				if !seenAt[ts][id] {
					seenAt[ts][id] = true
					printed = append(printed, aws.ToString(e.Message))
				}
			}
			// keep only the newest timestamp's ids
			newest := startTime
			for ts := range seenAt {
				newest = max(newest, ts)
			}
			for ts := range seenAt {
				if ts != newest {
					delete(seenAt, ts)
				}
			}
			if out.NextToken == nil {
				startTime = newest
				return
			}
			in.NextToken = out.NextToken
		}
	}
	poll()
	poll() // nothing new: nothing printed twice
	last := f.x[len(f.x)-1].Timestamp
	extra := []logs.Event{{Timestamp: last, Message: "same millisecond\n"}, {Timestamp: last + 10, Message: "later\n"}}
	f.store.Append(groupA, streamY, extra)
	if err := f.store.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	poll()
	poll()
	want := append(append(storeMsgs(f.x), storeMsgs(f.y)...), storeMsgs(extra)...)
	slices.Sort(want)
	slices.Sort(printed)
	if d := cmp.Diff(want, printed); d != "" {
		t.Errorf("tail output (-want +got):\n%s", d)
	}
}

func TestErrors(t *testing.T) {
	f := setup(t)
	ctx := context.Background()

	_, err := f.client.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String("/aws/lambda/none")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) || nf.ErrorMessage() != "The specified log group does not exist." {
		t.Errorf("missing group: %v", err)
	}
	_, err = f.client.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(groupA), LogStreamName: aws.String("none")})
	if !errors.As(err, &nf) || nf.ErrorMessage() != "The specified log stream does not exist." {
		t.Errorf("missing stream: %v", err)
	}
	_, err = f.client.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("none")})
	if !errors.As(err, &nf) {
		t.Errorf("filter missing group: %v", err)
	}
	var ip *types.InvalidParameterException
	_, err = f.client.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(groupA), FilterPattern: aws.String(`{ $.level = "ERROR" }`)})
	if !errors.As(err, &ip) {
		t.Errorf("json pattern: %v", err)
	}
	_, err = f.client.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{
		LogGroupName: aws.String(groupA), OrderBy: types.OrderByLastEventTime, LogStreamNamePrefix: aws.String("2024")})
	if !errors.As(err, &ip) || ip.ErrorMessage() != "Cannot order by LastEventTime with a logStreamNamePrefix." {
		t.Errorf("order by time with prefix: %v", err)
	}
	_, err = f.client.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{
		LogGroupName: aws.String(groupA), LogStreamName: aws.String(streamX), NextToken: aws.String("garbage")})
	if !errors.As(err, &ip) {
		t.Errorf("bad token: %v", err)
	}

	raw := func(target, body string) (int, string, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", target)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("body %q: %v", data, err)
		}
		return resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"), m
	}
	status, typ, body := raw("Logs_20140328.NoSuchThing", "{}")
	if status != 400 || typ != "UnknownOperationException" || body["__type"] != "UnknownOperationException" {
		t.Errorf("unknown op: %d %q %v", status, typ, body)
	}
	status, typ, body = raw("Logs_20140328.DescribeLogGroups", "{not json")
	if status != 400 || typ != "SerializationException" || body["__type"] != "SerializationException" {
		t.Errorf("bad json: %d %q %v", status, typ, body)
	}
	status, typ, body = raw("Logs_20140328.DescribeLogStreams", `{"logGroupName":"nope"}`)
	if status != 400 || typ != "ResourceNotFoundException" || body["message"] != "The specified log group does not exist." {
		t.Errorf("raw not found: %d %q %v", status, typ, body)
	}
	status, typ, body = raw("Logs_20140328.DescribeLogGroups", `{"limit":51}`)
	if want := "1 validation error detected: Value '51' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 50"; status != 400 ||
		typ != "InvalidParameterException" || body["message"] != want {
		t.Errorf("limit over the maximum: %d %q %v", status, typ, body)
	}
	status, _, body = raw("Logs_20140328.DescribeLogGroups", "")
	if status != 200 || body["logGroups"] == nil {
		t.Errorf("empty body: %d %v", status, body)
	}
}

func TestWriteOperations(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	if _, err := f.client.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("app")}); err != nil {
		t.Fatal(err)
	}
	_, err := f.client.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("app")})
	var exists *types.ResourceAlreadyExistsException
	if !errors.As(err, &exists) {
		t.Errorf("create twice: %v", err)
	}
	if _, err := f.client.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String("app"), LogStreamName: aws.String("main")}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	put, err := f.client.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{
		LogGroupName: aws.String("app"), LogStreamName: aws.String("main"),
		LogEvents: []types.InputLogEvent{
			{Timestamp: aws.Int64(now), Message: aws.String("hello")},
			{Timestamp: aws.Int64(now + 1), Message: aws.String("world")},
			{Timestamp: aws.Int64(now + 24*3600*1000), Message: aws.String("tomorrow")},
		}})
	if err != nil {
		t.Fatal(err)
	}
	if put.RejectedLogEventsInfo == nil || aws.ToInt32(put.RejectedLogEventsInfo.TooNewLogEventStartIndex) != 2 {
		t.Errorf("rejected %+v", put.RejectedLogEventsInfo)
	}
	out, err := f.client.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{
		LogGroupName: aws.String("app"), LogStreamName: aws.String("main"), StartFromHead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"hello", "world"}, messages(out.Events, outMsg)); d != "" {
		t.Errorf("put events (-want +got):\n%s", d)
	}
	if _, err := f.client.DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: aws.String("app")}); err != nil {
		t.Fatal(err)
	}
	_, err = f.client.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String("app")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("after delete: %v", err)
	}
}
