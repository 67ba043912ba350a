package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/scheduler/types"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// TestSchedules manages schedules with the EventBridge Scheduler SDK
// client and the CLI, and sees a one-time schedule invoke its function.
func TestSchedules(t *testing.T) {
	srv := alofttest.Start(t)
	py := runtimeCases()[1]
	py.handler = "app.sink"
	create(t, srv.Lambda(), "sched-sink", py, alofttest.ZipDir(t, "testdata/pyasync"))
	sc := scheduler.NewFromConfig(srv.Config(), func(o *scheduler.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	target := "arn:aws:lambda:us-east-1:000000000000:function:sched-sink"
	ctx := ctxT(t)

	when := time.Now().UTC().Add(3 * time.Second).Format("2006-01-02T15:04:05")
	out, err := sc.CreateSchedule(ctx, &scheduler.CreateScheduleInput{
		Name:               aws.String("soon"),
		ScheduleExpression: aws.String("at(" + when + ")"),
		FlexibleTimeWindow: &types.FlexibleTimeWindow{Mode: types.FlexibleTimeWindowModeOff},
		Target: &types.Target{Arn: aws.String(target), RoleArn: aws.String("arn:aws:iam::000000000000:role/s"),
			Input: aws.String(`{"from":"<aws.scheduler.schedule-arn>"}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.ScheduleArn)
	if arn != "arn:aws:scheduler:us-east-1:000000000000:schedule/default/soon" {
		t.Fatalf("schedule ARN %q", arn)
	}
	got, err := sc.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String("soon")})
	if err != nil || got.State != types.ScheduleStateEnabled || aws.ToString(got.GroupName) != "default" ||
		aws.ToString(got.Target.Arn) != target || got.CreationDate == nil {
		t.Fatalf("get got %+v, %v", got, err)
	}

	// A recurring schedule in a time zone, updated, listed and deleted.
	_, err = sc.CreateSchedule(ctx, &scheduler.CreateScheduleInput{
		Name: aws.String("weekdays"), ScheduleExpression: aws.String("cron(0/10 * ? * MON-FRI *)"),
		ScheduleExpressionTimezone: aws.String("Europe/Berlin"),
		FlexibleTimeWindow:         &types.FlexibleTimeWindow{Mode: types.FlexibleTimeWindowModeFlexible, MaximumWindowInMinutes: aws.Int32(5)},
		Target:                     &types.Target{Arn: aws.String(target), RoleArn: aws.String("r")},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = sc.UpdateSchedule(ctx, &scheduler.UpdateScheduleInput{
		Name: aws.String("weekdays"), ScheduleExpression: aws.String("rate(1 hour)"), State: types.ScheduleStateDisabled,
		FlexibleTimeWindow: &types.FlexibleTimeWindow{Mode: types.FlexibleTimeWindowModeOff},
		Target:             &types.Target{Arn: aws.String(target), RoleArn: aws.String("r")},
	})
	if err != nil {
		t.Fatal(err)
	}
	list, err := sc.ListSchedules(ctx, &scheduler.ListSchedulesInput{State: types.ScheduleStateDisabled})
	if err != nil || len(list.Schedules) != 1 || aws.ToString(list.Schedules[0].Name) != "weekdays" {
		t.Fatalf("list of disabled schedules got %+v, %v", list, err)
	}

	// Bad input gets the Scheduler's errors.
	_, err = sc.CreateSchedule(ctx, &scheduler.CreateScheduleInput{Name: aws.String("bad"), ScheduleExpression: aws.String("cron(0 10 * * 2 *)"),
		FlexibleTimeWindow: &types.FlexibleTimeWindow{Mode: types.FlexibleTimeWindowModeOff}, Target: &types.Target{Arn: aws.String(target), RoleArn: aws.String("r")}})
	var ve *types.ValidationException
	if !errors.As(err, &ve) {
		t.Fatalf("cron with both day fields got %v, want ValidationException", err)
	}
	_, err = sc.CreateSchedule(ctx, &scheduler.CreateScheduleInput{Name: aws.String("soon"), ScheduleExpression: aws.String("rate(1 day)"),
		FlexibleTimeWindow: &types.FlexibleTimeWindow{Mode: types.FlexibleTimeWindowModeOff}, Target: &types.Target{Arn: aws.String(target), RoleArn: aws.String("r")}})
	var ce *types.ConflictException
	if !errors.As(err, &ce) {
		t.Fatalf("duplicate got %v, want ConflictException", err)
	}
	_, err = sc.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String("nope")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("missing schedule got %v, want ResourceNotFoundException", err)
	}

	// The one-time schedule fires: its Input reaches the function.
	deadline := time.Now().Add(30 * time.Second)
	for {
		ev, err := srv.Logs().FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{
			LogGroupName: aws.String("/aws/lambda/sched-sink"), FilterPattern: aws.String("RECORD")})
		if err == nil && len(ev.Events) > 0 {
			if msg := aws.ToString(ev.Events[0].Message); !strings.Contains(msg, `"from": "`+arn+`"`) {
				t.Fatalf("the function got %q", msg)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the one-time schedule did not invoke its function")
		}
		time.Sleep(200 * time.Millisecond)
	}

	// The CLI.
	cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if stdout, stderr, code := srv.Run(cctx, nil, "schedule", "create", "cli-ping", "--expression", "rate(5 minutes)", "--function", "sched-sink"); code != 0 || !strings.Contains(stdout, "schedule/default/cli-ping") {
		t.Fatalf("schedule create: exit %d, %q %q", code, stdout, stderr)
	}
	if stdout, _, code := srv.Run(cctx, nil, "schedule", "list"); code != 0 || !strings.Contains(stdout, "cli-ping") || !strings.Contains(stdout, "weekdays") {
		t.Fatalf("schedule list: exit %d\n%s", code, stdout)
	}
	if _, stderr, code := srv.Run(cctx, nil, "schedule", "create", "x", "--expression", "rate(5 minute)", "--function", "sched-sink"); code != 1 || !strings.Contains(stderr, "ValidationException") {
		t.Fatalf("bad expression: exit %d, %q", code, stderr)
	}
	for _, name := range []string{"cli-ping", "weekdays", "soon"} {
		if _, stderr, code := srv.Run(cctx, nil, "schedule", "delete", name); code != 0 {
			t.Fatalf("schedule delete %s: exit %d, %q", name, code, stderr)
		}
	}
	if _, err := sc.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String("soon")}); !errors.As(err, &nf) {
		t.Fatalf("get after delete got %v", err)
	}
}
