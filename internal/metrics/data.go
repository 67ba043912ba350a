package metrics

import (
	"context"
	"encoding/base64"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MetricStat is a metric query of GetMetricData: a statistic of one
// metric per period.
type MetricStat struct {
	Metric Metric
	Period int
	Stat   string
	Unit   string
}

// DataQuery is one of GetMetricData's MetricDataQueries: a MetricStat or
// an Expression.
type DataQuery struct {
	ID         string
	Label      string
	Expression string
	Stat       *MetricStat
	ReturnData *bool // nil: true
	Period     int   // an expression's period
}

// DataRequest is a GetMetricData request.
type DataRequest struct {
	Queries       []DataQuery
	Start, End    time.Time
	ScanBy        string // TimestampDescending (default) or TimestampAscending
	MaxDatapoints int    // 0: 100,800
	NextToken     string
}

// DataResult is one series of GetMetricData's answer.
type DataResult struct {
	ID, Label  string
	Timestamps []time.Time
	Values     []float64
	StatusCode string // Complete, or PartialData when a page ends within it
}

var queryID = regexp.MustCompile(`^[a-z][a-zA-Z0-9_]*$`)

// DefaultMaxDatapoints is GetMetricData's MaxDatapoints when a request
// gives none.
const DefaultMaxDatapoints = 100800

// Data answers GetMetricData.
func (s *Store) Data(ctx context.Context, r *DataRequest) ([]DataResult, string, error) {
	if len(r.Queries) == 0 {
		return nil, "", missing("MetricDataQueries")
	}
	if len(r.Queries) > 500 {
		return nil, "", invalid("The collection MetricDataQueries must not have more than 500 members.")
	}
	switch r.ScanBy {
	case "", "TimestampDescending", "TimestampAscending":
	default:
		return nil, "", invalid("The value %s for parameter ScanBy is invalid: it must be TimestampDescending or TimestampAscending.", r.ScanBy)
	}
	if r.MaxDatapoints < 0 {
		return nil, "", invalid("The parameter MaxDatapoints must be greater than 0.")
	}
	byID := map[string]*DataQuery{}
	minPeriod := 0
	for i := range r.Queries {
		q := &r.Queries[i]
		p := fmt.Sprintf("MetricDataQueries.member.%d.", i+1)
		if q.ID == "" {
			return nil, "", missing(p + "Id")
		}
		if !queryID.MatchString(q.ID) || len(q.ID) > 255 {
			return nil, "", invalid("The value %s for parameter %sId is invalid: it must start with a lowercase letter and hold only letters, digits and underscores.", q.ID, p)
		}
		if byID[q.ID] != nil {
			return nil, "", invalid("The value %s for parameter %sId is used more than once.", q.ID, p)
		}
		byID[q.ID] = q
		if strings.Contains(q.Label, "${") {
			return nil, "", invalid("The parameter %sLabel holds a dynamic label (${...}), which this service does not fill in.", p)
		}
		switch {
		case q.Stat != nil && q.Expression != "":
			return nil, "", errorf(InvalidParameterCombination, "The parameters %sMetricStat and %sExpression are mutually exclusive and you have specified both.", p, p)
		case q.Stat == nil && q.Expression == "":
			return nil, "", errorf(MissingParameter, "The parameter %sMetricStat or %sExpression is required.", p, p)
		case q.Stat != nil:
			ms := q.Stat
			if err := checkMetric(&ms.Metric, p+"MetricStat.Metric."); err != nil {
				return nil, "", err
			}
			if ms.Stat == "" {
				return nil, "", missing(p + "MetricStat.Stat")
			}
			if !validStat(ms.Stat) {
				return nil, "", invalid("The value %s for parameter %sMetricStat.Stat is invalid: this service computes SampleCount, Average, Sum, Minimum, Maximum and percentiles pNN.", ms.Stat, p)
			}
			if !ValidUnit(ms.Unit) {
				return nil, "", invalid("The value %s for parameter %sMetricStat.Unit is invalid.", ms.Unit, p)
			}
			if _, _, err := checkRange(r.Start, r.End, ms.Period, p+"MetricStat.Period"); err != nil {
				return nil, "", err
			}
			if minPeriod == 0 || ms.Period < minPeriod {
				minPeriod = ms.Period
			}
		default:
			if strings.HasPrefix(strings.ToUpper(strings.TrimSpace(q.Expression)), "SELECT") {
				return nil, "", invalid("The expression of %sExpression is a Metrics Insights query, which this service does not run; use metric math.", p)
			}
			if q.Period != 0 && q.Period%60 != 0 {
				return nil, "", invalid("The parameter %sPeriod must be a multiple of 60.", p)
			}
		}
	}
	if minPeriod == 0 {
		minPeriod = 60
	}
	if _, _, err := checkRange(r.Start, r.End, minPeriod, "Period"); err != nil {
		return nil, "", err
	}
	results := map[string]value{}
	var metricSeries []*timeSeries
	for i := range r.Queries {
		q := &r.Queries[i]
		if q.Stat == nil {
			continue
		}
		ts, err := s.statSeries(ctx, q, r.Start, r.End)
		if err != nil {
			return nil, "", err
		}
		results[q.ID] = value{one: ts}
		metricSeries = append(metricSeries, ts)
	}
	evaluating := map[string]bool{}
	var ref func(id string) (value, error)
	ref = func(id string) (value, error) {
		if v, ok := results[id]; ok {
			return v, nil
		}
		q := byID[id]
		if q == nil {
			return value{}, fmt.Errorf("no query has the Id %s", id)
		}
		if evaluating[id] {
			return value{}, fmt.Errorf("the expression of %s refers to itself", id)
		}
		evaluating[id] = true
		v, err := s.evalQuery(q, ref, metricSeries, r.Start, r.End, minPeriod)
		if err != nil {
			return value{}, err
		}
		results[id] = v
		return v, nil
	}
	var out []DataResult
	for i := range r.Queries {
		q := &r.Queries[i]
		v, err := ref(q.ID)
		if err != nil {
			return nil, "", invalid("Error in expression %s: %v", q.ID, err)
		}
		if q.ReturnData != nil && !*q.ReturnData {
			continue
		}
		period := q.Period
		if q.Stat != nil {
			period = q.Stat.Period
		}
		if period == 0 {
			period = minPeriod
		}
		for _, ts := range resultSeries(v, r.Start, r.End, period) {
			// A metric's series is labelled by its name, one of an
			// expression's array by its own; an expression's one series
			// by the expression's Id.
			label := q.Label
			if label == "" && (q.Stat != nil || v.isArr) {
				label = ts.label
			}
			if label == "" {
				label = q.ID
			}
			out = append(out, toResult(q.ID, label, ts, r.ScanBy == "TimestampAscending"))
		}
	}
	return pageResults(out, r.MaxDatapoints, r.NextToken)
}

// statSeries computes a metric query's series.
func (s *Store) statSeries(ctx context.Context, q *DataQuery, start, end time.Time) (*timeSeries, error) {
	ms := q.Stat
	from, to, _ := checkRange(start, end, ms.Period, "Period")
	var unit *uint8
	if ms.Unit != "" {
		u, _ := unitIndex(ms.Unit)
		unit = &u
	}
	byUnit, err := s.read(ctx, metricHash(ms.Metric.Namespace, ms.Metric.MetricName, ms.Metric.Dimensions), unit, from, to)
	if err != nil {
		return nil, err
	}
	pm := int64(ms.Period / 60)
	periods := map[int64]*stat{}
	for _, mins := range byUnit {
		for m, st := range mins {
			p := m / pm * pm
			if cur := periods[p]; cur != nil {
				cur.merge(st)
			} else {
				periods[p] = st.clone()
			}
		}
	}
	ts := &timeSeries{id: q.ID, label: ms.Metric.MetricName, pts: map[int64]float64{}}
	for p, st := range periods {
		if v, ok := st.value(ms.Stat); ok {
			ts.pts[p*60] = v
		}
	}
	return ts, nil
}

// evalQuery evaluates an expression query.
func (s *Store) evalQuery(q *DataQuery, ref func(string) (value, error), metrics []*timeSeries, start, end time.Time, minPeriod int) (value, error) {
	e, err := parseExpr(q.Expression)
	if err != nil {
		return value{}, err
	}
	period := q.Period
	if period == 0 {
		period = minPeriod
	}
	en := &env{ref: ref, metrics: metrics, grid: grid(start, end, period)}
	return en.eval(e)
}

// grid returns the period starts from start to end.
func grid(start, end time.Time, period int) []int64 {
	p := int64(period)
	var out []int64
	for t := start.Unix() / p * p; t < end.Unix() && len(out) <= MaxDatapoints*100; t += p {
		out = append(out, t)
	}
	return out
}

// resultSeries returns the series a query's value answers with: a
// number is that number at every period.
func resultSeries(v value, start, end time.Time, period int) []*timeSeries {
	switch {
	case v.isNum:
		ts := &timeSeries{pts: map[int64]float64{}}
		if !math.IsNaN(v.num) {
			for _, t := range grid(start, end, period) {
				ts.pts[t] = v.num
			}
		}
		return []*timeSeries{ts}
	case v.isArr:
		return v.arr
	}
	return []*timeSeries{v.one}
}

func toResult(id, label string, ts *timeSeries, ascending bool) DataResult {
	times := sortedTimes(ts.pts)
	if !ascending {
		slices.Reverse(times)
	}
	r := DataResult{ID: id, Label: label, StatusCode: "Complete", Timestamps: make([]time.Time, 0, len(times)), Values: make([]float64, 0, len(times))}
	for _, t := range times {
		v := ts.pts[t]
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue // CloudWatch leaves out what is not a number
		}
		r.Timestamps = append(r.Timestamps, time.Unix(t, 0).UTC())
		r.Values = append(r.Values, v)
	}
	return r
}

// pageResults cuts the results after max datapoints, with a token to go
// on from where the page ends: the result's index and the offset in it.
func pageResults(all []DataResult, max int, token string) ([]DataResult, string, error) {
	if max == 0 {
		max = DefaultMaxDatapoints
	}
	startQ, startOff := 0, 0
	if token != "" {
		b, err := base64.RawURLEncoding.DecodeString(token)
		q, off, ok := strings.Cut(string(b), ":")
		var err1, err2 error
		startQ, err1 = strconv.Atoi(q)
		startOff, err2 = strconv.Atoi(off)
		if err != nil || !ok || err1 != nil || err2 != nil || startQ < 0 || startQ >= len(all) || startOff < 0 || startOff > len(all[startQ].Values) {
			return nil, "", errorf(InvalidNextToken, "The service couldn't process your request because the NextToken is invalid.")
		}
	}
	var out []DataResult
	budget := max
	for i := startQ; i < len(all); i++ {
		r := all[i]
		off := 0
		if i == startQ {
			off = startOff
		}
		rest := len(r.Values) - off
		if rest <= budget {
			r.Timestamps, r.Values = r.Timestamps[off:], r.Values[off:]
			out = append(out, r)
			budget -= rest
			continue
		}
		r.Timestamps, r.Values = r.Timestamps[off:off+budget], r.Values[off:off+budget]
		r.StatusCode = "PartialData"
		out = append(out, r)
		return out, base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("%d:%d", i, off+budget))), nil
	}
	return out, "", nil
}
