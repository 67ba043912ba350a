package metrics

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/awsproto"
)

// Actions run what alarms do when their state changes; the server
// implements them with its asynchronous invocations and its topics.
type Actions interface {
	// InvokeAsync invokes a function asynchronously with payload.
	InvokeAsync(ctx context.Context, functionARN string, payload []byte) error
	// Publish publishes a message to an SNS topic.
	Publish(ctx context.Context, topicARN, subject, message string) error
}

// Alarm states.
const (
	StateOK               = "OK"
	StateAlarm            = "ALARM"
	StateInsufficientData = "INSUFFICIENT_DATA"
)

// Alarm is a metric alarm: one statistic of one metric compared with a
// threshold over the last EvaluationPeriods periods.
type Alarm struct {
	AlarmName                        string
	AlarmArn                         string
	AlarmDescription                 string
	ActionsEnabled                   bool
	OKActions                        []string
	AlarmActions                     []string
	InsufficientDataActions          []string
	Namespace                        string
	MetricName                       string
	Dimensions                       []Dimension
	Statistic                        string
	ExtendedStatistic                string
	Period                           int
	EvaluationPeriods                int
	DatapointsToAlarm                int
	Threshold                        float64
	ComparisonOperator               string
	TreatMissingData                 string
	EvaluateLowSampleCountPercentile string
	Unit                             string

	StateValue                         string
	StateReason                        string
	StateReasonData                    string
	StateUpdatedTimestamp              time.Time
	StateTransitionedTimestamp         time.Time
	AlarmConfigurationUpdatedTimestamp time.Time
}

// alarmRecord is an alarm as followed, with its revision.
type alarmRecord struct {
	a   *Alarm
	rev uint64
}

// MaxAlarms is how many alarms a deployment holds.
const MaxAlarms = 5000

func alarmKey(name string) string { return base64.RawURLEncoding.EncodeToString([]byte(name)) }

func (s *Store) applyAlarm(e jetstream.KeyValueEntry) {
	b, err := base64.RawURLEncoding.DecodeString(e.Key())
	if err != nil {
		return
	}
	name := string(b)
	s.alarmsMu.Lock()
	defer s.alarmsMu.Unlock()
	if cur := s.alarmSet[name]; cur != nil && cur.rev >= e.Revision() {
		return
	}
	if e.Operation() != jetstream.KeyValuePut {
		delete(s.alarmSet, name)
		return
	}
	var a Alarm
	if json.Unmarshal(e.Value(), &a) == nil {
		s.alarmSet[name] = &alarmRecord{a: &a, rev: e.Revision()}
	}
}

func (s *Store) alarm(name string) *alarmRecord {
	s.alarmsMu.RLock()
	defer s.alarmsMu.RUnlock()
	return s.alarmSet[name]
}

// save writes alarm a, at revision rev of its key (0: it must not
// exist), and applies the write here at once.
func (s *Store) save(ctx context.Context, a *Alarm, rev uint64) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	key := alarmKey(a.AlarmName)
	if rev == 0 {
		rev, err = s.alarms.Create(ctx, key, b)
	} else {
		rev, err = s.alarms.Update(ctx, key, b, rev)
	}
	if err != nil {
		return err
	}
	s.alarmsMu.Lock()
	if cur := s.alarmSet[a.AlarmName]; cur == nil || cur.rev < rev {
		s.alarmSet[a.AlarmName] = &alarmRecord{a: a, rev: rev}
	}
	s.alarmsMu.Unlock()
	return nil
}

var comparisons = []string{"GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold"}

// checkActions checks a list of action ARNs.
func checkActions(arns []string, param string) error {
	if len(arns) > 5 {
		return invalid("The collection %s must not have more than 5 members.", param)
	}
	for _, a := range arns {
		if _, _, ok := awsproto.LambdaFunction(a); ok {
			continue
		}
		if p := strings.Split(a, ":"); len(p) == 6 && p[0] == "arn" && p[2] == "sns" && p[5] != "" {
			continue
		}
		return invalid("The action %s in %s is not supported: this service runs Lambda function (arn:aws:lambda:REGION:ACCOUNT:function:NAME) and SNS topic actions.", a, param)
	}
	return nil
}

// PutAlarm answers PutMetricAlarm: it creates alarm a, or replaces the
// configuration of the alarm of that name, keeping its state. region is
// the region of its ARN.
func (s *Store) PutAlarm(ctx context.Context, a *Alarm, region string) error {
	switch {
	case a.AlarmName == "":
		return missing("AlarmName")
	case len(a.AlarmName) > 255:
		return invalid("The parameter AlarmName must be at most 255 characters long.")
	case len(a.AlarmDescription) > 1024:
		return invalid("The parameter AlarmDescription must be at most 1024 characters long.")
	case a.Namespace == "":
		return missing("Namespace")
	case a.MetricName == "":
		return missing("MetricName")
	case a.Statistic != "" && a.ExtendedStatistic != "":
		return errorf(InvalidParameterCombination, "The parameters Statistic and ExtendedStatistic are mutually exclusive and you have specified both.")
	case a.Statistic == "" && a.ExtendedStatistic == "":
		return errorf(MissingParameter, "The parameter Statistic or ExtendedStatistic is required.")
	case a.Statistic != "" && !slices.Contains(Statistics, a.Statistic):
		return invalid("The value %s for parameter Statistic is invalid.", a.Statistic)
	case a.Period <= 0:
		return missing("Period")
	case a.Period%60 != 0:
		return invalid("The parameter Period must be a multiple of 60: metrics are stored at one-minute resolution.")
	case a.EvaluationPeriods <= 0:
		return missing("EvaluationPeriods")
	case a.Period*a.EvaluationPeriods > 7*86400:
		return invalid("The product of Period and EvaluationPeriods must not exceed 7 days (604800 seconds).")
	case a.DatapointsToAlarm < 0 || a.DatapointsToAlarm > a.EvaluationPeriods:
		return invalid("The parameter DatapointsToAlarm must be from 1 to EvaluationPeriods (%d).", a.EvaluationPeriods)
	case a.ComparisonOperator == "":
		return missing("ComparisonOperator")
	case !ValidUnit(a.Unit):
		return invalid("The value %s for parameter Unit is invalid.", a.Unit)
	}
	if a.ExtendedStatistic != "" {
		if _, ok := percentileOf(a.ExtendedStatistic); !ok {
			return invalid("The value %s for parameter ExtendedStatistic is invalid: it must be a percentile pNN or pNN.NN.", a.ExtendedStatistic)
		}
	}
	if !slices.Contains(comparisons, a.ComparisonOperator) {
		if strings.Contains(a.ComparisonOperator, "Band") || strings.Contains(a.ComparisonOperator, "LowerOrGreaterThanUpper") {
			return invalid("The ComparisonOperator %s compares with an anomaly detection band, which this service does not have.", a.ComparisonOperator)
		}
		return invalid("The value %s for parameter ComparisonOperator is invalid.", a.ComparisonOperator)
	}
	switch a.TreatMissingData {
	case "":
		a.TreatMissingData = "missing"
	case "missing", "breaching", "notBreaching", "ignore":
	default:
		return invalid("The value %s for parameter TreatMissingData is invalid: it must be breaching, notBreaching, ignore or missing.", a.TreatMissingData)
	}
	switch a.EvaluateLowSampleCountPercentile {
	case "", "evaluate", "ignore":
	default:
		return invalid("The value %s for parameter EvaluateLowSampleCountPercentile is invalid: it must be evaluate or ignore.", a.EvaluateLowSampleCountPercentile)
	}
	if err := checkDims(a.Dimensions, "Dimensions"); err != nil {
		return err
	}
	for _, l := range []struct {
		arns  []string
		param string
	}{{a.AlarmActions, "AlarmActions"}, {a.OKActions, "OKActions"}, {a.InsufficientDataActions, "InsufficientDataActions"}} {
		if err := checkActions(l.arns, l.param); err != nil {
			return err
		}
	}
	if a.DatapointsToAlarm == 0 {
		a.DatapointsToAlarm = a.EvaluationPeriods
	}
	now := s.o.Now().UTC()
	a.AlarmArn = fmt.Sprintf("arn:aws:cloudwatch:%s:%s:alarm:%s", region, awsproto.AccountID, a.AlarmName)
	a.AlarmConfigurationUpdatedTimestamp = now
	for attempt := 0; ; attempt++ {
		cur := s.alarm(a.AlarmName)
		var rev uint64
		if cur == nil {
			s.alarmsMu.RLock()
			n := len(s.alarmSet)
			s.alarmsMu.RUnlock()
			if n >= MaxAlarms {
				return errorf(LimitExceeded, "The maximum number of alarms (%d) has been reached.", MaxAlarms)
			}
			a.StateValue, a.StateReason, a.StateReasonData = StateInsufficientData, "Unchecked: Initial alarm creation", ""
			a.StateUpdatedTimestamp, a.StateTransitionedTimestamp = now, now
		} else {
			rev = cur.rev
			a.StateValue, a.StateReason, a.StateReasonData = cur.a.StateValue, cur.a.StateReason, cur.a.StateReasonData
			a.StateUpdatedTimestamp, a.StateTransitionedTimestamp = cur.a.StateUpdatedTimestamp, cur.a.StateTransitionedTimestamp
		}
		err := s.save(ctx, a, rev)
		if err == nil {
			return nil
		}
		if attempt == 3 || !isConflict(err) {
			return fmt.Errorf("metrics: save alarm %s: %w", a.AlarmName, err)
		}
		s.reloadAlarm(ctx, a.AlarmName)
	}
}

func isConflict(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, jetstream.ErrKeyExists) || (errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence)
}

// reloadAlarm reads an alarm's current revision from the backbone.
func (s *Store) reloadAlarm(ctx context.Context, name string) {
	e, err := s.alarms.Get(ctx, alarmKey(name))
	if err == nil {
		s.applyAlarm(e)
	}
}

// AlarmQuery is a DescribeAlarms request.
type AlarmQuery struct {
	AlarmNames      []string
	AlarmNamePrefix string
	StateValue      string
	ActionPrefix    string
	MaxRecords      int // 0: 50
	NextToken       string
}

// DescribeAlarms returns the alarms that match, in order of name, a
// page at a time.
func (s *Store) DescribeAlarms(q *AlarmQuery) ([]Alarm, string, error) {
	if len(q.AlarmNames) > 0 && q.AlarmNamePrefix != "" {
		return nil, "", errorf(InvalidParameterCombination, "The parameters AlarmNames and AlarmNamePrefix are mutually exclusive and you have specified both.")
	}
	if len(q.AlarmNames) > 100 {
		return nil, "", invalid("The collection AlarmNames must not have more than 100 members.")
	}
	switch q.StateValue {
	case "", StateOK, StateAlarm, StateInsufficientData:
	default:
		return nil, "", invalid("The value %s for parameter StateValue is invalid.", q.StateValue)
	}
	if q.MaxRecords < 0 || q.MaxRecords > 100 {
		return nil, "", invalid("The parameter MaxRecords must be from 1 to 100.")
	}
	limit := cmp.Or(q.MaxRecords, 50)
	var all []Alarm
	s.alarmsMu.RLock()
	for name, r := range s.alarmSet {
		if len(q.AlarmNames) > 0 && !slices.Contains(q.AlarmNames, name) || !strings.HasPrefix(name, q.AlarmNamePrefix) ||
			q.StateValue != "" && r.a.StateValue != q.StateValue {
			continue
		}
		if q.ActionPrefix != "" && !slices.ContainsFunc(slices.Concat(r.a.AlarmActions, r.a.OKActions, r.a.InsufficientDataActions),
			func(a string) bool { return strings.HasPrefix(a, q.ActionPrefix) }) {
			continue
		}
		all = append(all, *r.a)
	}
	s.alarmsMu.RUnlock()
	slices.SortFunc(all, func(a, b Alarm) int { return strings.Compare(a.AlarmName, b.AlarmName) })
	page, next, ok := awsproto.Page(all, func(a Alarm) string { return a.AlarmName }, q.NextToken, limit)
	if !ok {
		return nil, "", errorf(InvalidNextToken, "The service couldn't process your request because the NextToken is invalid.")
	}
	return page, next, nil
}

// DeleteAlarms deletes the named alarms: all of them, or, when one does
// not exist, none.
func (s *Store) DeleteAlarms(ctx context.Context, names []string) error {
	if len(names) == 0 {
		return missing("AlarmNames")
	}
	if len(names) > 100 {
		return invalid("The collection AlarmNames must not have more than 100 members.")
	}
	for _, n := range names {
		if s.alarm(n) == nil {
			return errorf(ResourceNotFound, "The alarm %s does not exist.", n)
		}
	}
	for _, n := range names {
		if err := s.alarms.Delete(ctx, alarmKey(n)); err != nil {
			return fmt.Errorf("metrics: delete alarm %s: %w", n, err)
		}
		s.alarmsMu.Lock()
		delete(s.alarmSet, n)
		s.alarmsMu.Unlock()
	}
	return nil
}
