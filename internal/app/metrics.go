package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/async"
	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/cloudwatchapi"
	"github.com/aloft-dev/aloft/internal/ids"
	"github.com/aloft-dev/aloft/internal/invoker"
	"github.com/aloft-dev/aloft/internal/metrics"
	"github.com/aloft-dev/aloft/internal/topics"
)

// The CloudWatch metrics service: its store (package metrics), fed by
// PutMetricData, by the AWS/Lambda feed of every invocation and by the
// embedded-metric-format lines functions print; its API
// (cloudwatchapi); and what its alarms' actions do here.

// openMetrics opens the metrics store and points the AWS/Lambda feed at
// it; startMetrics, once the queue and topics its alarms act on run,
// starts its flushing and its alarm evaluator.
func (s *Server) openMetrics(ctx context.Context, js jetstream.JetStream, log *slog.Logger) error {
	m, err := metrics.Open(ctx, js, metrics.Options{
		EvalInterval: s.cfg.AlarmInterval,
		Actions:      alarmActions{s},
		Leases:       s.leases,
		Logger:       log.With("component", "metrics"),
	})
	if err != nil {
		return fmt.Errorf("app: metrics: %w", err)
	}
	s.metrics = m
	s.SetMetricsRecorder(m)
	return nil
}

func (s *Server) startMetrics() { s.metrics.Start() }

// closeMetrics stops the evaluator and flushes what is left.
func (s *Server) closeMetrics(ctx context.Context) error {
	if s.metrics == nil {
		return nil
	}
	err := s.metrics.Close(ctx)
	s.metrics = nil
	return err
}

// cloudwatchAPI returns the CloudWatch API, made once.
func (s *Server) cloudwatchAPI() *cloudwatchapi.Server {
	if s.cw == nil {
		s.cw = cloudwatchapi.New(s.metrics, s.log.With("component", "cloudwatchapi"))
	}
	return s.cw
}

// alarmActions run alarms' actions: a function's ARN is invoked
// asynchronously through the event queue, with its retries, as
// CloudWatch hands alarms to Lambda; a topic's gets the notification.
type alarmActions struct{ s *Server }

var _ metrics.Actions = alarmActions{}

// InvokeAsync queues an event for the function functionARN names.
func (a alarmActions) InvokeAsync(ctx context.Context, functionARN string, payload []byte) error {
	name, qualifier, ok := awsproto.LambdaFunction(functionARN)
	if !ok {
		return fmt.Errorf("app: %q is not a function ARN", functionARN)
	}
	if a.s.queue == nil {
		return fmt.Errorf("app: the event queue is not running")
	}
	return a.s.queue.Enqueue(ctx, &async.Event{ID: ids.New(), Function: name, Qualifier: qualifier, Payload: payload})
}

// Publish publishes an alarm's notification to a topic.
func (a alarmActions) Publish(ctx context.Context, topicARN, subject, message string) error {
	name, err := topics.TopicName(topicARN)
	if err != nil {
		return err
	}
	if a.s.topics == nil {
		return fmt.Errorf("app: topics are not running")
	}
	_, err = a.s.topics.Publish(ctx, name, &topics.Message{Message: message, Subject: subject})
	return err
}

// withEMF wraps the invoker's log sink: every line a function prints
// that may be in the embedded metric format (a JSON object mentioning
// "_aws", told without parsing) is parsed and its metrics recorded,
// before the lines go on to next.
func (s *Server) withEMF(next invoker.LogSink) invoker.LogSink {
	return func(group, stream string, lines []invoker.Line) {
		if m := s.metrics; m != nil {
			for _, l := range lines {
				if !metrics.MaybeEMF(l.Text) {
					continue
				}
				if data, ok := metrics.ParseEMF(l.Text, time.UnixMilli(l.Time)); ok {
					m.RecordEMF(data)
				}
			}
		}
		next(group, stream, lines)
	}
}
