package metrics

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aloft-dev/aloft/internal/awsproto"
)

// The evaluator: every EvalInterval, the node that holds the
// evaluator's lease (package lease) evaluates every alarm and runs the
// actions of those whose state changed. A node that stops cleanly gives
// the lease up; one that stops renewing it loses it after the lease's TTL.

// EvalLease is the lease whose holder evaluates the alarms.
const EvalLease = "evaluator"

func (s *Store) evaluateLoop(ctx context.Context) {
	t := time.NewTicker(s.o.EvalInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ectx, cancel := context.WithTimeout(ctx, max(s.o.EvalInterval, 5*time.Second))
		s.EvaluateAlarms(ectx)
		cancel()
	}
}

// EvaluateAlarms evaluates every alarm once, now, and runs the actions
// of those whose state changes. The evaluator calls it on one node at a
// time.
func (s *Store) EvaluateAlarms(ctx context.Context) {
	s.alarmsMu.RLock()
	recs := make([]*alarmRecord, 0, len(s.alarmSet))
	for _, r := range s.alarmSet {
		recs = append(recs, r)
	}
	s.alarmsMu.RUnlock()
	for _, r := range recs {
		if err := s.evaluate(ctx, r); err != nil {
			s.o.Logger.Warn("metrics: evaluate alarm", "alarm", r.a.AlarmName, "err", err)
		}
	}
}

// point is one evaluated period.
type point struct {
	start time.Time
	value float64
	n     float64
	ok    bool
}

func (s *Store) evaluate(ctx context.Context, r *alarmRecord) error {
	a := r.a
	now := s.o.Now().UTC()
	p := int64(a.Period)
	cur := now.Unix() / p * p
	// One period more than evaluated is read: the current period has
	// only begun, and while it holds no datapoint yet the window ends at
	// the period before (a period still filling is not yet missing).
	first := cur - int64(a.EvaluationPeriods)*p
	var unit *uint8
	if a.Unit != "" {
		u, _ := unitIndex(a.Unit)
		unit = &u
	}
	byUnit, err := s.read(ctx, metricHash(a.Namespace, a.MetricName, a.Dimensions), unit, first/60, (cur+p)/60)
	if err != nil {
		return err
	}
	statName := a.Statistic
	if statName == "" {
		statName = a.ExtendedStatistic
	}
	window := func(last int64) []point {
		points := make([]point, a.EvaluationPeriods)
		for i := range points {
			start := last - int64(len(points)-1-i)*p
			agg := &stat{}
			for _, mins := range byUnit {
				for m := start / 60; m < (start+p)/60; m++ {
					agg.merge(mins[m])
				}
			}
			v, ok := agg.value(statName)
			points[i] = point{start: time.Unix(start, 0).UTC(), value: v, n: agg.N, ok: ok}
		}
		return points
	}
	points := window(cur)
	if !points[len(points)-1].ok {
		points = window(cur - p)
	}
	breaching, known := 0, 0
	for _, pt := range points {
		switch {
		case pt.ok:
			known++
			if crosses(a.ComparisonOperator, pt.value, a.Threshold) {
				breaching++
			}
		case a.TreatMissingData == "breaching":
			known++
			breaching++
		case a.TreatMissingData == "notBreaching":
			known++
		}
	}
	state := a.StateValue
	var reason string
	switch {
	case known == 0 && a.TreatMissingData == "ignore":
	case known == 0:
		state = StateInsufficientData
		reason = fmt.Sprintf("Insufficient Data: %d datapoint%s were unknown.", len(points), plural(len(points)))
	case breaching >= a.DatapointsToAlarm:
		state = StateAlarm
		reason = fmt.Sprintf("Threshold Crossed: %d out of the last %d datapoints %s was %s the threshold (%s) (minimum %d datapoint%s for OK -> ALARM transition).",
			breaching, len(points), recent(points), comparisonWords(a.ComparisonOperator), num(a.Threshold), a.DatapointsToAlarm, plural(a.DatapointsToAlarm))
	default:
		state = StateOK
		reason = fmt.Sprintf("Threshold Crossed: %d out of the last %d datapoints %s was not %s the threshold (%s) (minimum %d datapoint%s for ALARM -> OK transition).",
			len(points)-breaching, len(points), recent(points), comparisonWords(a.ComparisonOperator), num(a.Threshold), 1, "")
	}
	if state == a.StateValue {
		return nil
	}
	next := *a
	next.StateValue, next.StateReason = state, reason
	next.StateReasonData = reasonData(a, statName, points, now)
	next.StateUpdatedTimestamp, next.StateTransitionedTimestamp = now, now
	if err := s.save(ctx, &next, r.rev); err != nil {
		if isConflict(err) {
			return nil // changed meanwhile: the next round sees it
		}
		return err
	}
	if next.ActionsEnabled {
		s.act(ctx, a, &next)
	}
	return nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func num(f float64) string {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".eE") {
		s += ".0"
	}
	return s
}

// recent words the evaluated datapoints, newest first, as CloudWatch's
// reasons do: [5.0 (05/12/26 11:20:00), ...].
func recent(points []point) string {
	var parts []string
	for i := len(points) - 1; i >= 0; i-- {
		if points[i].ok {
			parts = append(parts, num(points[i].value)+" ("+points[i].start.Format("02/01/06 15:04:05")+")")
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func comparisonWords(op string) string {
	switch op {
	case "GreaterThanOrEqualToThreshold":
		return "greater than or equal to"
	case "GreaterThanThreshold":
		return "greater than"
	case "LessThanThreshold":
		return "less than"
	}
	return "less than or equal to"
}

func crosses(op string, v, threshold float64) bool {
	switch op {
	case "GreaterThanOrEqualToThreshold":
		return v >= threshold
	case "GreaterThanThreshold":
		return v > threshold
	case "LessThanThreshold":
		return v < threshold
	}
	return v <= threshold
}

// eventTime is the time format of CloudWatch's alarm events.
const eventTime = "2006-01-02T15:04:05.000-0700"

func reasonData(a *Alarm, stat string, points []point, now time.Time) string {
	type evaluated struct {
		Timestamp   string   `json:"timestamp"`
		SampleCount *float64 `json:"sampleCount,omitempty"`
		Value       *float64 `json:"value,omitempty"`
	}
	doc := struct {
		Version             string      `json:"version"`
		QueryDate           string      `json:"queryDate"`
		StartDate           string      `json:"startDate"`
		Statistic           string      `json:"statistic,omitempty"`
		ExtendedStatistic   string      `json:"extendedStatistic,omitempty"`
		Unit                string      `json:"unit,omitempty"`
		Period              int         `json:"period"`
		RecentDatapoints    []float64   `json:"recentDatapoints"`
		Threshold           float64     `json:"threshold"`
		EvaluatedDatapoints []evaluated `json:"evaluatedDatapoints"`
	}{Version: "1.0", QueryDate: now.Format(eventTime), StartDate: points[0].start.Format(eventTime), Unit: a.Unit,
		Period: a.Period, Threshold: a.Threshold, RecentDatapoints: []float64{}}
	if a.Statistic != "" {
		doc.Statistic = stat
	} else {
		doc.ExtendedStatistic = stat
	}
	for i := len(points) - 1; i >= 0; i-- {
		pt := points[i]
		e := evaluated{Timestamp: pt.start.Format(eventTime)}
		if pt.ok {
			v, n := pt.value, pt.n
			e.Value, e.SampleCount = &v, &n
			doc.RecentDatapoints = append(doc.RecentDatapoints, v)
		}
		doc.EvaluatedDatapoints = append(doc.EvaluatedDatapoints, e)
	}
	b, _ := json.Marshal(doc)
	return string(b)
}

// act runs the actions of next's state, for the change from prev.
func (s *Store) act(ctx context.Context, prev, next *Alarm) {
	if s.o.Actions == nil {
		return
	}
	var arns []string
	switch next.StateValue {
	case StateAlarm:
		arns = next.AlarmActions
	case StateOK:
		arns = next.OKActions
	default:
		arns = next.InsufficientDataActions
	}
	for _, arn := range arns {
		var err error
		if _, _, ok := awsproto.LambdaFunction(arn); ok {
			err = s.o.Actions.InvokeAsync(ctx, arn, LambdaEvent(prev, next))
		} else {
			subject, message := Notification(prev, next)
			err = s.o.Actions.Publish(ctx, arn, subject, message)
		}
		if err != nil {
			s.o.Logger.Warn("metrics: alarm action failed", "alarm", next.AlarmName, "action", arn, "err", err)
		}
	}
}

// regionOf returns the region of an alarm's ARN.
func regionOf(a *Alarm) string {
	if p := strings.Split(a.AlarmArn, ":"); len(p) > 3 && p[3] != "" {
		return p[3]
	}
	return awsproto.DefaultRegion
}

// LambdaEvent is the event a function an alarm invokes receives for the
// change from prev to next, in the shape CloudWatch sends.
func LambdaEvent(prev, next *Alarm) []byte {
	type state struct {
		Value      string `json:"value"`
		Reason     string `json:"reason"`
		ReasonData string `json:"reasonData,omitempty"`
		Timestamp  string `json:"timestamp"`
	}
	dims := map[string]string{}
	for _, d := range next.Dimensions {
		dims[d.Name] = d.Value
	}
	stat := next.Statistic
	if stat == "" {
		stat = next.ExtendedStatistic
	}
	type metric struct {
		Namespace  string            `json:"namespace"`
		Name       string            `json:"name"`
		Dimensions map[string]string `json:"dimensions"`
	}
	type metricStat struct {
		Metric metric `json:"metric"`
		Period int    `json:"period"`
		Stat   string `json:"stat"`
		Unit   string `json:"unit,omitempty"`
	}
	type query struct {
		ID         string     `json:"id"`
		MetricStat metricStat `json:"metricStat"`
		ReturnData bool       `json:"returnData"`
	}
	ev := map[string]any{
		"source":    "aws.cloudwatch",
		"alarmArn":  next.AlarmArn,
		"accountId": awsproto.AccountID,
		"time":      next.StateUpdatedTimestamp.UTC().Format(eventTime),
		"region":    regionOf(next),
		"alarmData": map[string]any{
			"alarmName":     next.AlarmName,
			"state":         state{next.StateValue, next.StateReason, next.StateReasonData, next.StateUpdatedTimestamp.UTC().Format(eventTime)},
			"previousState": state{prev.StateValue, prev.StateReason, prev.StateReasonData, prev.StateUpdatedTimestamp.UTC().Format(eventTime)},
			"configuration": map[string]any{
				"description": next.AlarmDescription,
				"metrics": []query{{
					ID:         fmt.Sprintf("%016x", metricHash(next.Namespace, next.MetricName, next.Dimensions)),
					MetricStat: metricStat{metric{next.Namespace, next.MetricName, dims}, next.Period, stat, next.Unit},
					ReturnData: true,
				}},
			},
		},
	}
	b, _ := json.Marshal(ev)
	return b
}

// regionNames are the names CloudWatch's notifications give regions.
var regionNames = map[string]string{
	"us-east-1": "US East (N. Virginia)", "us-east-2": "US East (Ohio)", "us-west-1": "US West (N. California)",
	"us-west-2": "US West (Oregon)", "eu-west-1": "EU (Ireland)", "eu-central-1": "EU (Frankfurt)",
	"eu-west-2": "EU (London)", "ap-northeast-1": "Asia Pacific (Tokyo)", "ap-southeast-1": "Asia Pacific (Singapore)",
	"ap-southeast-2": "Asia Pacific (Sydney)",
}

// Notification is the subject and message an alarm's SNS action
// publishes for the change from prev to next, in the shape CloudWatch
// publishes.
func Notification(prev, next *Alarm) (subject, message string) {
	region := regionOf(next)
	if n, ok := regionNames[region]; ok {
		region = n
	}
	type dim struct {
		Value string `json:"value"`
		Name  string `json:"name"`
	}
	dims := []dim{}
	for _, d := range next.Dimensions {
		dims = append(dims, dim{d.Value, d.Name})
	}
	trigger := map[string]any{
		"MetricName": next.MetricName, "Namespace": next.Namespace, "Unit": nil, "Dimensions": dims,
		"Period": next.Period, "EvaluationPeriods": next.EvaluationPeriods, "DatapointsToAlarm": next.DatapointsToAlarm,
		"ComparisonOperator": next.ComparisonOperator, "Threshold": next.Threshold, "TreatMissingData": next.TreatMissingData,
		"EvaluateLowSampleCountPercentile": next.EvaluateLowSampleCountPercentile,
	}
	if next.Unit != "" {
		trigger["Unit"] = next.Unit
	}
	if next.Statistic != "" {
		trigger["StatisticType"], trigger["Statistic"] = "Statistic", strings.ToUpper(next.Statistic)
	} else {
		trigger["StatisticType"], trigger["ExtendedStatistic"] = "ExtendedStatistic", next.ExtendedStatistic
	}
	nonNil := func(l []string) []string {
		if l == nil {
			return []string{}
		}
		return l
	}
	var desc any
	if next.AlarmDescription != "" {
		desc = next.AlarmDescription
	}
	msg := map[string]any{
		"AlarmName": next.AlarmName, "AlarmDescription": desc, "AWSAccountId": awsproto.AccountID,
		"AlarmConfigurationUpdatedTimestamp": next.AlarmConfigurationUpdatedTimestamp.UTC().Format(eventTime),
		"NewStateValue":                      next.StateValue, "NewStateReason": next.StateReason,
		"StateChangeTime": next.StateUpdatedTimestamp.UTC().Format(eventTime), "Region": region, "AlarmArn": next.AlarmArn,
		"OldStateValue": prev.StateValue, "OKActions": nonNil(next.OKActions), "AlarmActions": nonNil(next.AlarmActions),
		"InsufficientDataActions": nonNil(next.InsufficientDataActions), "Trigger": trigger,
	}
	b, _ := json.Marshal(msg)
	subject = fmt.Sprintf("%s: %q in %s", next.StateValue, next.AlarmName, region)
	if len(subject) > 100 {
		subject = subject[:100]
	}
	return subject, string(b)
}
