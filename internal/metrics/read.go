package metrics

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Metric names one metric.
type Metric struct {
	Namespace  string
	MetricName string
	Dimensions []Dimension
}

// minutes are the merged stats of one metric in one unit, by unix
// minute.
type minutes map[int64]*stat

// read returns the minutes of the metric with hash h from minute from up
// to (not including) minute to, by unit, merged across every node: the
// backbone's keys, and this node's memory in place of its own keys
// (memory holds what they hold and what is not flushed yet). unit, when
// not nil, keeps that unit alone.
func (s *Store) read(ctx context.Context, h uint64, unit *uint8, from, to int64) (map[uint8]minutes, error) {
	out := map[uint8]minutes{}
	put := func(u uint8, m int64, st *stat) {
		if m < from || m >= to || st == nil || st.N == 0 {
			return
		}
		mm := out[u]
		if mm == nil {
			mm = minutes{}
			out[u] = mm
		}
		if cur := mm[m]; cur != nil {
			cur.merge(st)
		} else {
			mm[m] = st.clone()
		}
	}
	// This node's hours in memory, and which of its keys they replace.
	inMemory := map[string]bool{}
	sh := &s.shards[h%nShards]
	sh.mu.Lock()
	for u := range uint8(len(units)) {
		if unit != nil && u != *unit {
			continue
		}
		for se := sh.series[seriesKey(h, u)]; se != nil; se = se.next {
			if se.hash != h || se.unit != u {
				continue
			}
			for _, ha := range se.hours {
				if (ha.hour+1)*60 <= from || ha.hour*60 >= to {
					continue
				}
				if !ha.fresh {
					inMemory[dataKey(se.hash, se.unit, ha.hour, s.node)] = true
				}
				for i, st := range ha.min {
					put(se.unit, ha.hour*60+int64(i), st)
				}
			}
		}
	}
	sh.mu.Unlock()

	filter := fmt.Sprintf("%016x.>", h)
	if unit != nil {
		filter = fmt.Sprintf("%016x.%d.>", h, *unit)
	}
	w, err := s.data.Watch(ctx, filter, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("metrics: read: %w", err)
	}
	defer w.Stop()
	for {
		var e jetstream.KeyValueEntry
		select {
		case e = <-w.Updates():
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if e == nil {
			break
		}
		if inMemory[e.Key()] {
			continue
		}
		parts := strings.Split(e.Key(), ".")
		if len(parts) != 4 {
			continue
		}
		u, err1 := strconv.ParseUint(parts[1], 10, 8)
		hour, err2 := strconv.ParseInt(parts[2], 10, 64)
		if err1 != nil || err2 != nil || (hour+1)*60 <= from || hour*60 >= to {
			continue
		}
		doc, err := decodeHour(e.Value())
		if err != nil {
			continue
		}
		for m, st := range doc.Min {
			put(uint8(u), hour*60+int64(m), st)
		}
	}
	return out, nil
}

// StatsQuery is a GetMetricStatistics request.
type StatsQuery struct {
	Metric
	Start, End         time.Time
	Period             int // seconds
	Statistics         []string
	ExtendedStatistics []string
	Unit               string
}

// Datapoint is one period's statistics.
type Datapoint struct {
	Timestamp time.Time
	Unit      string
	// Values are the statistics asked for that the period has, by name
	// (SampleCount, ..., p99).
	Values map[string]float64
}

// MaxDatapoints is the most datapoints one GetMetricStatistics may ask
// for.
const MaxDatapoints = 1440

// checkRange checks a time range and period and returns them in unix
// minutes: the period's start at or before start, and the end.
func checkRange(start, end time.Time, period int, param string) (from, to int64, err error) {
	if start.IsZero() {
		return 0, 0, missing("StartTime")
	}
	if end.IsZero() {
		return 0, 0, missing("EndTime")
	}
	if !end.After(start) {
		return 0, 0, invalid("The parameter StartTime must be less than the parameter EndTime.")
	}
	if period <= 0 {
		return 0, 0, missing(param)
	}
	if period%60 != 0 {
		return 0, 0, invalid("The parameter %s must be a multiple of 60.", param)
	}
	p := int64(period)
	first := start.Unix() / p * p
	return first / 60, (end.Unix() + 59) / 60, nil
}

// Statistics answers GetMetricStatistics: for each period from Start to
// End (aligned to multiples of the period since the epoch) that has
// data, the statistics asked for; one datapoint per unit when the query
// names none and the metric has several.
func (s *Store) Statistics(ctx context.Context, q *StatsQuery) ([]Datapoint, error) {
	if err := checkMetric(&q.Metric, ""); err != nil {
		return nil, err
	}
	if len(q.Statistics) == 0 && len(q.ExtendedStatistics) == 0 {
		return nil, missing("Statistics")
	}
	if len(q.Statistics) > 0 && len(q.ExtendedStatistics) > 0 {
		return nil, errorf(InvalidParameterCombination, "Must specify either Statistics or ExtendedStatistics, but not both.")
	}
	if len(q.Statistics)+len(q.ExtendedStatistics) > 10 {
		return nil, invalid("The collection Statistics and ExtendedStatistics must not have more than 10 members.")
	}
	for _, st := range q.Statistics {
		if _, ok := percentileOf(st); ok || !validStat(st) {
			return nil, invalid("The parameter Statistics contains %q, which is not one of SampleCount, Average, Sum, Minimum, Maximum.", st)
		}
	}
	for _, st := range q.ExtendedStatistics {
		if _, ok := percentileOf(st); !ok {
			return nil, invalid("The parameter ExtendedStatistics contains %q, which is not a percentile pNN or pNN.NN.", st)
		}
	}
	from, to, err := checkRange(q.Start, q.End, q.Period, "Period")
	if err != nil {
		return nil, err
	}
	if n := (q.End.Unix() - q.Start.Unix() + int64(q.Period) - 1) / int64(q.Period); n > MaxDatapoints {
		return nil, errorf(InvalidParameterCombination, "You have requested up to %s datapoints, which exceeds the limit of 1,440. You may reduce the datapoints requested by increasing Period, or decreasing the time range.", thousands(n))
	}
	var unit *uint8
	if q.Unit != "" {
		u, ok := unitIndex(q.Unit)
		if !ok {
			return nil, invalid("The parameter Unit must be one of CloudWatch's units; %q is not.", q.Unit)
		}
		unit = &u
	}
	byUnit, err := s.read(ctx, metricHash(q.Namespace, q.MetricName, q.Dimensions), unit, from, to)
	if err != nil {
		return nil, err
	}
	var out []Datapoint
	pm := int64(q.Period / 60)
	for u, mins := range byUnit {
		periods := map[int64]*stat{}
		for m, st := range mins {
			p := m / pm * pm
			if cur := periods[p]; cur != nil {
				cur.merge(st)
			} else {
				periods[p] = st.clone()
			}
		}
		for p, st := range periods {
			dp := Datapoint{Timestamp: time.Unix(p*60, 0).UTC(), Unit: units[u], Values: map[string]float64{}}
			for _, name := range append(q.Statistics, q.ExtendedStatistics...) {
				if v, ok := st.value(name); ok {
					dp.Values[name] = v
				}
			}
			out = append(out, dp)
		}
	}
	sortDatapoints(out)
	return out, nil
}

func sortDatapoints(dps []Datapoint) {
	for i := 1; i < len(dps); i++ {
		for j := i; j > 0 && (dps[j].Timestamp.Before(dps[j-1].Timestamp) ||
			dps[j].Timestamp.Equal(dps[j-1].Timestamp) && dps[j].Unit < dps[j-1].Unit); j-- {
			dps[j], dps[j-1] = dps[j-1], dps[j]
		}
	}
}

// thousands writes n with commas, as CloudWatch's messages do.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// checkMetric checks a metric's names; prefix is the parameter path of
// the metric in messages ("" at the top).
func checkMetric(m *Metric, prefix string) error {
	if m.Namespace == "" {
		return missing(prefix + "Namespace")
	}
	if m.MetricName == "" {
		return missing(prefix + "MetricName")
	}
	if len(m.Namespace) > 255 {
		return invalid("The parameter %sNamespace must be at most 255 characters long.", prefix)
	}
	if len(m.MetricName) > 255 {
		return invalid("The parameter %sMetricName must be at most 255 characters long.", prefix)
	}
	return checkDims(m.Dimensions, prefix+"Dimensions")
}

// checkDims checks a metric's dimensions.
func checkDims(dims []Dimension, param string) error {
	if len(dims) > 30 {
		return invalid("The collection %s must not have more than 30 members.", param)
	}
	for i, d := range dims {
		if d.Name == "" {
			return missing(fmt.Sprintf("%s.member.%d.Name", param, i+1))
		}
		if d.Value == "" {
			return missing(fmt.Sprintf("%s.member.%d.Value", param, i+1))
		}
		if len(d.Name) > 255 || len(d.Value) > 1024 {
			return invalid("The dimension %s.member.%d is too long: names take at most 255 characters and values 1024.", param, i+1)
		}
		for _, e := range dims[:i] {
			if e.Name == d.Name {
				return invalid("The dimension name %s is given more than once in %s.", d.Name, param)
			}
		}
	}
	return nil
}
