package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const filterTarget = "POST Logs_20140328.FilterLogEvents"

// logEvent renders one FilteredLogEvent.
func logEvent(id string, at time.Time, stream, msg string) string {
	b, _ := json.Marshal(map[string]any{
		"eventId": id, "timestamp": at.UnixMilli(), "ingestionTime": at.UnixMilli() + 5,
		"logStreamName": stream, "message": msg,
	})
	return string(b)
}

const stream = "2025/01/02/[$LATEST]0123456789abcdef0123456789abcdef"

func TestLogs(t *testing.T) {
	t0 := fixedNow.Add(-3 * time.Minute)
	f := newFakeAPI(t, map[string]http.HandlerFunc{
		filterTarget: func(w http.ResponseWriter, r *http.Request) {
			var in map[string]any
			_ = json.NewDecoder(r.Body).Decode(&in)
			if in["nextToken"] == nil {
				reply(200, `{"events":[`+
					logEvent("1", t0, stream, "START RequestId: a Version: $LATEST\n")+","+
					logEvent("3", t0.Add(2*time.Millisecond), stream, "END RequestId: a\n")+
					`],"nextToken":"more"}`)(w, r)
				return
			}
			reply(200, `{"events":[`+
				logEvent("2", t0.Add(time.Millisecond), stream, "hello\nworld\n")+
				`]}`)(w, r)
		},
	})
	golden(t, "logs.golden", f.run("logs", "hello", "--since", "1h", "--filter", "RequestId").ok(t).stdout)

	reqs := f.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	want := map[string]any{
		"logGroupName":  "/aws/lambda/hello",
		"startTime":     float64(fixedNow.Add(-time.Hour).UnixMilli()),
		"filterPattern": "RequestId",
	}
	if d := cmp.Diff(want, reqs[0].jsonBody(t)); d != "" {
		t.Errorf("FilterLogEvents body (-want +got):\n%s", d)
	}
	want["nextToken"] = "more"
	if d := cmp.Diff(want, reqs[1].jsonBody(t)); d != "" {
		t.Errorf("second FilterLogEvents body (-want +got):\n%s", d)
	}
}

func TestLogsDefaults(t *testing.T) {
	f := newFakeAPI(t, map[string]http.HandlerFunc{
		filterTarget: reply(200, `{"events":[]}`),
	})
	r := f.run("logs", "hello").ok(t)
	if r.stdout != "" {
		t.Errorf("stdout %q", r.stdout)
	}
	want := map[string]any{"logGroupName": "/aws/lambda/hello", "startTime": float64(fixedNow.Add(-10 * time.Minute).UnixMilli())}
	if d := cmp.Diff(want, f.only().jsonBody(t)); d != "" {
		t.Errorf("FilterLogEvents body (-want +got):\n%s", d)
	}
}

func TestLogsErrors(t *testing.T) {
	f := newFakeAPI(t, map[string]http.HandlerFunc{
		filterTarget: logsError("ResourceNotFoundException", "The specified log group does not exist."),
	})
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"logs", "hello"}, `aloft: no logs for function "hello" (log group /aws/lambda/hello does not exist)`},
		{[]string{"logs", "hello", "--since", "yesterday"},
			`aloft: --since "yesterday": expected a duration such as 10m, 2h or 3d, or an RFC 3339 time (see "aloft logs --help")`},
	} {
		r := f.run(tc.args...)
		if r.code != 1 || r.stderr != tc.want+"\n" {
			t.Errorf("%v: exit %d, stderr %q; want %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

// TestLogsFollow serves overlapping windows of events, first with no log
// group at all, and checks each event is printed once, in order, until the
// command is interrupted.
func TestLogsFollow(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t0 := fixedNow.Add(-time.Minute)
	ev := func(i int) string {
		return logEvent(fmt.Sprint(i), t0.Add(time.Duration(i)*time.Second), stream, fmt.Sprintf("line %d\n", i))
	}
	var calls atomic.Int32
	var (
		mu     sync.Mutex
		starts []float64
	)
	f := newFakeAPI(t, map[string]http.HandlerFunc{
		filterTarget: func(w http.ResponseWriter, r *http.Request) {
			var in map[string]any
			_ = json.NewDecoder(r.Body).Decode(&in)
			mu.Lock()
			starts = append(starts, in["startTime"].(float64))
			mu.Unlock()
			switch calls.Add(1) {
			case 1:
				logsError("ResourceNotFoundException", "The specified log group does not exist.")(w, r)
			case 2:
				reply(200, `{"events":[`+ev(1)+","+ev(2)+`]}`)(w, r)
			case 3:
				reply(200, `{"events":[`+ev(2)+","+ev(3)+`]}`)(w, r)
			case 4:
				reply(200, `{"events":[`+ev(3)+","+ev(4)+","+ev(10)+`]}`)(w, r)
			default:
				cancel()
				reply(200, `{"events":[`+ev(10)+`]}`)(w, r)
			}
		},
	})
	r := run(t, ctx, f.srv.URL, "", "logs", "hello", "--follow")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n") {
		got = append(got, line[strings.LastIndex(line, " line ")+1:])
	}
	if d := cmp.Diff([]string{"line 1", "line 2", "line 3", "line 4", "line 10"}, got); d != "" {
		t.Errorf("events printed (-want +got):\n%s", d)
	}
	since := float64(fixedNow.Add(-10 * time.Minute).UnixMilli())
	back := func(i int) float64 { return float64(t0.Add(time.Duration(i)*time.Second).UnixMilli()) - 5000 }
	mu.Lock()
	defer mu.Unlock()
	if d := cmp.Diff([]float64{since, since, back(2), back(3), back(10)}, starts); d != "" {
		t.Errorf("start times (-want +got):\n%s", d)
	}
}

func TestParseSince(t *testing.T) {
	for in, want := range map[string]time.Time{
		"10m":                  fixedNow.Add(-10 * time.Minute),
		"90s":                  fixedNow.Add(-90 * time.Second),
		"1h30m":                fixedNow.Add(-90 * time.Minute),
		"2d":                   fixedNow.Add(-48 * time.Hour),
		"0.5d":                 fixedNow.Add(-12 * time.Hour),
		"2024-12-31T00:00:00Z": time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC),
	} {
		got, err := parseSince(in, fixedNow)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-5m", "soon", "xd", "-1d"} {
		if _, err := parseSince(in, fixedNow); err == nil {
			t.Errorf("parseSince(%q) succeeded", in)
		}
	}
}

func TestFormatting(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := groupDigits(n); got != want {
			t.Errorf("groupDigits(%d) = %q, want %q", n, got, want)
		}
	}
	for _, tc := range []struct {
		v        float64
		max, min int
		want     string
	}{
		{0.0000031, 8, 2, "0.0000031"},
		{0, 8, 2, "0.00"},
		{1.8930072, 8, 2, "1.8930072"},
		{0.00000070834, 8, 2, "0.00000071"},
		{0.0425, 6, 1, "0.0425"},
		{12, 4, 0, "12"},
	} {
		if got := trimFloat(tc.v, tc.max, tc.min); got != tc.want {
			t.Errorf("trimFloat(%v, %d, %d) = %q, want %q", tc.v, tc.max, tc.min, got, tc.want)
		}
	}
	if got := formatLambdaTime("not a time"); got != "not a time" {
		t.Errorf("formatLambdaTime kept %q", got)
	}
}
