package cloudwatchapi

import (
	"context"
	"fmt"
	"time"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/metrics"
)

// The operations' shapes, named as CloudWatch's model names their
// members (and so the JSON, CBOR and query forms).

type empty struct{}

type statisticSet struct {
	SampleCount *float64 `json:"SampleCount"`
	Sum         *float64 `json:"Sum"`
	Minimum     *float64 `json:"Minimum"`
	Maximum     *float64 `json:"Maximum"`
}

type metricDatum struct {
	MetricName        string              `json:"MetricName"`
	Dimensions        []metrics.Dimension `json:"Dimensions"`
	Timestamp         *awsproto.Time      `json:"Timestamp"`
	Value             *float64            `json:"Value"`
	StatisticValues   *statisticSet       `json:"StatisticValues"`
	Values            []float64           `json:"Values"`
	Counts            []float64           `json:"Counts"`
	Unit              string              `json:"Unit"`
	StorageResolution int                 `json:"StorageResolution"`
}

type putMetricDataIn struct {
	Namespace              string        `json:"Namespace"`
	MetricData             []metricDatum `json:"MetricData"`
	EntityMetricData       []any         `json:"EntityMetricData"`
	StrictEntityValidation *bool         `json:"StrictEntityValidation"`
}

func (s *Server) putMetricData(ctx context.Context, in *putMetricDataIn) (*empty, error) {
	if len(in.EntityMetricData) > 0 {
		return nil, invalid("The parameter EntityMetricData is not supported: this service keeps metrics without entities; send MetricData.")
	}
	data := make([]metrics.Datum, len(in.MetricData))
	for i, d := range in.MetricData {
		data[i] = metrics.Datum{MetricName: d.MetricName, Dimensions: d.Dimensions, Value: d.Value, Values: d.Values,
			Counts: d.Counts, Unit: d.Unit, StorageResolution: d.StorageResolution}
		if d.Timestamp != nil {
			data[i].Timestamp = d.Timestamp.Time
		}
		if st := d.StatisticValues; st != nil {
			for _, f := range []struct {
				name string
				v    *float64
			}{{"SampleCount", st.SampleCount}, {"Sum", st.Sum}, {"Minimum", st.Minimum}, {"Maximum", st.Maximum}} {
				if f.v == nil {
					return nil, &metrics.Error{Code: metrics.MissingParameter,
						Message: fmt.Sprintf("The parameter MetricData.member.%d.StatisticValues.%s is required.", i+1, f.name)}
				}
			}
			data[i].Stats = &metrics.StatisticSet{SampleCount: *st.SampleCount, Sum: *st.Sum, Minimum: *st.Minimum, Maximum: *st.Maximum}
		}
	}
	return &empty{}, s.m.Put(in.Namespace, data)
}

type getMetricStatisticsIn struct {
	Namespace          string              `json:"Namespace"`
	MetricName         string              `json:"MetricName"`
	Dimensions         []metrics.Dimension `json:"Dimensions"`
	StartTime          *awsproto.Time      `json:"StartTime"`
	EndTime            *awsproto.Time      `json:"EndTime"`
	Period             int                 `json:"Period"`
	Statistics         []string            `json:"Statistics"`
	ExtendedStatistics []string            `json:"ExtendedStatistics"`
	Unit               string              `json:"Unit"`
}

type datapoint struct {
	Timestamp          *awsproto.Time     `json:"Timestamp,omitempty"`
	SampleCount        *float64           `json:"SampleCount,omitempty"`
	Average            *float64           `json:"Average,omitempty"`
	Sum                *float64           `json:"Sum,omitempty"`
	Minimum            *float64           `json:"Minimum,omitempty"`
	Maximum            *float64           `json:"Maximum,omitempty"`
	Unit               string             `json:"Unit,omitempty"`
	ExtendedStatistics map[string]float64 `json:"ExtendedStatistics,omitempty"`
}

type getMetricStatisticsOut struct {
	Label      string      `json:"Label"`
	Datapoints []datapoint `json:"Datapoints"`
}

func timeOf(t *awsproto.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time
}

func (s *Server) getMetricStatistics(ctx context.Context, in *getMetricStatisticsIn) (*getMetricStatisticsOut, error) {
	dps, err := s.m.Statistics(ctx, &metrics.StatsQuery{
		Metric: metrics.Metric{Namespace: in.Namespace, MetricName: in.MetricName, Dimensions: in.Dimensions},
		Start:  timeOf(in.StartTime), End: timeOf(in.EndTime), Period: in.Period,
		Statistics: in.Statistics, ExtendedStatistics: in.ExtendedStatistics, Unit: in.Unit,
	})
	if err != nil {
		return nil, err
	}
	out := &getMetricStatisticsOut{Label: in.MetricName, Datapoints: make([]datapoint, 0, len(dps))}
	for _, dp := range dps {
		w := datapoint{Timestamp: &awsproto.Time{Time: dp.Timestamp}, Unit: dp.Unit}
		for name, v := range dp.Values {
			v := v
			switch name {
			case "SampleCount":
				w.SampleCount = &v
			case "Average":
				w.Average = &v
			case "Sum":
				w.Sum = &v
			case "Minimum":
				w.Minimum = &v
			case "Maximum":
				w.Maximum = &v
			default:
				if w.ExtendedStatistics == nil {
					w.ExtendedStatistics = map[string]float64{}
				}
				w.ExtendedStatistics[name] = v
			}
		}
		out.Datapoints = append(out.Datapoints, w)
	}
	return out, nil
}

type metricShape struct {
	Namespace  string              `json:"Namespace,omitempty"`
	MetricName string              `json:"MetricName,omitempty"`
	Dimensions []metrics.Dimension `json:"Dimensions"`
}

type metricStat struct {
	Metric *metricShape `json:"Metric"`
	Period int          `json:"Period"`
	Stat   string       `json:"Stat"`
	Unit   string       `json:"Unit"`
}

type metricDataQuery struct {
	ID         string      `json:"Id"`
	MetricStat *metricStat `json:"MetricStat"`
	Expression string      `json:"Expression"`
	Label      string      `json:"Label"`
	ReturnData *bool       `json:"ReturnData"`
	Period     int         `json:"Period"`
	AccountID  string      `json:"AccountId"`
}

type labelOptions struct {
	Timezone string `json:"Timezone"`
}

type getMetricDataIn struct {
	MetricDataQueries []metricDataQuery `json:"MetricDataQueries"`
	StartTime         *awsproto.Time    `json:"StartTime"`
	EndTime           *awsproto.Time    `json:"EndTime"`
	NextToken         string            `json:"NextToken"`
	ScanBy            string            `json:"ScanBy"`
	MaxDatapoints     int               `json:"MaxDatapoints"`
	LabelOptions      *labelOptions     `json:"LabelOptions"`
}

type messageData struct {
	Code  string `json:"Code"`
	Value string `json:"Value"`
}

type metricDataResult struct {
	ID         string          `json:"Id"`
	Label      string          `json:"Label"`
	Timestamps []awsproto.Time `json:"Timestamps"`
	Values     []float64       `json:"Values"`
	StatusCode string          `json:"StatusCode"`
	Messages   []messageData   `json:"Messages"`
}

type getMetricDataOut struct {
	MetricDataResults []metricDataResult `json:"MetricDataResults"`
	NextToken         string             `json:"NextToken,omitempty"`
	Messages          []messageData      `json:"Messages"`
}

func (s *Server) getMetricData(ctx context.Context, in *getMetricDataIn) (*getMetricDataOut, error) {
	if in.LabelOptions != nil {
		return nil, invalid("The parameter LabelOptions is not supported: this service has no dynamic labels for it to apply to.")
	}
	req := &metrics.DataRequest{Start: timeOf(in.StartTime), End: timeOf(in.EndTime), ScanBy: in.ScanBy,
		MaxDatapoints: in.MaxDatapoints, NextToken: in.NextToken}
	for i, q := range in.MetricDataQueries {
		if q.AccountID != "" && q.AccountID != awsproto.AccountID {
			return nil, invalid(fmt.Sprintf("The value %s for parameter MetricDataQueries.member.%d.AccountId is invalid: this service has the one account %s.", q.AccountID, i+1, awsproto.AccountID))
		}
		dq := metrics.DataQuery{ID: q.ID, Label: q.Label, Expression: q.Expression, ReturnData: q.ReturnData, Period: q.Period}
		if ms := q.MetricStat; ms != nil {
			if ms.Metric == nil {
				return nil, &metrics.Error{Code: metrics.MissingParameter, Message: fmt.Sprintf("The parameter MetricDataQueries.member.%d.MetricStat.Metric is required.", i+1)}
			}
			dq.Stat = &metrics.MetricStat{Metric: metrics.Metric{Namespace: ms.Metric.Namespace, MetricName: ms.Metric.MetricName,
				Dimensions: ms.Metric.Dimensions}, Period: ms.Period, Stat: ms.Stat, Unit: ms.Unit}
		}
		req.Queries = append(req.Queries, dq)
	}
	results, next, err := s.m.Data(ctx, req)
	if err != nil {
		return nil, err
	}
	out := &getMetricDataOut{NextToken: next, MetricDataResults: make([]metricDataResult, 0, len(results)), Messages: []messageData{}}
	for _, r := range results {
		w := metricDataResult{ID: r.ID, Label: r.Label, Values: r.Values, StatusCode: r.StatusCode,
			Timestamps: make([]awsproto.Time, len(r.Timestamps)), Messages: []messageData{}}
		for i, t := range r.Timestamps {
			w.Timestamps[i] = awsproto.Time{Time: t}
		}
		if w.Values == nil {
			w.Values = []float64{}
		}
		out.MetricDataResults = append(out.MetricDataResults, w)
	}
	return out, nil
}

type dimensionFilter struct {
	Name  string  `json:"Name"`
	Value *string `json:"Value"`
}

type listMetricsIn struct {
	Namespace             string            `json:"Namespace"`
	MetricName            string            `json:"MetricName"`
	Dimensions            []dimensionFilter `json:"Dimensions"`
	NextToken             string            `json:"NextToken"`
	RecentlyActive        string            `json:"RecentlyActive"`
	IncludeLinkedAccounts *bool             `json:"IncludeLinkedAccounts"`
	OwningAccount         string            `json:"OwningAccount"`
}

type listMetricsOut struct {
	Metrics   []metricShape `json:"Metrics"`
	NextToken string        `json:"NextToken,omitempty"`
}

func (s *Server) listMetrics(ctx context.Context, in *listMetricsIn) (*listMetricsOut, error) {
	if in.IncludeLinkedAccounts != nil && *in.IncludeLinkedAccounts {
		return nil, invalid("The parameter IncludeLinkedAccounts is not supported: this service has no linked accounts.")
	}
	if in.OwningAccount != "" && in.OwningAccount != awsproto.AccountID {
		return nil, invalid("The value " + in.OwningAccount + " for parameter OwningAccount is invalid: this service has the one account " + awsproto.AccountID + ".")
	}
	q := &metrics.ListQuery{Namespace: in.Namespace, MetricName: in.MetricName, RecentlyActive: in.RecentlyActive, NextToken: in.NextToken}
	for _, f := range in.Dimensions {
		q.Dimensions = append(q.Dimensions, metrics.DimensionFilter{Name: f.Name, Value: f.Value})
	}
	ms, next, err := s.m.List(q)
	if err != nil {
		return nil, err
	}
	out := &listMetricsOut{NextToken: next, Metrics: make([]metricShape, len(ms))}
	for i, m := range ms {
		out.Metrics[i] = metricShape{Namespace: m.Namespace, MetricName: m.MetricName, Dimensions: m.Dimensions}
		if out.Metrics[i].Dimensions == nil {
			out.Metrics[i].Dimensions = []metrics.Dimension{}
		}
	}
	return out, nil
}

type putMetricAlarmIn struct {
	AlarmName                        string              `json:"AlarmName"`
	AlarmDescription                 string              `json:"AlarmDescription"`
	ActionsEnabled                   *bool               `json:"ActionsEnabled"`
	OKActions                        []string            `json:"OKActions"`
	AlarmActions                     []string            `json:"AlarmActions"`
	InsufficientDataActions          []string            `json:"InsufficientDataActions"`
	MetricName                       string              `json:"MetricName"`
	Namespace                        string              `json:"Namespace"`
	Statistic                        string              `json:"Statistic"`
	ExtendedStatistic                string              `json:"ExtendedStatistic"`
	Dimensions                       []metrics.Dimension `json:"Dimensions"`
	Period                           int                 `json:"Period"`
	Unit                             string              `json:"Unit"`
	EvaluationPeriods                int                 `json:"EvaluationPeriods"`
	DatapointsToAlarm                int                 `json:"DatapointsToAlarm"`
	Threshold                        *float64            `json:"Threshold"`
	ComparisonOperator               string              `json:"ComparisonOperator"`
	TreatMissingData                 string              `json:"TreatMissingData"`
	EvaluateLowSampleCountPercentile string              `json:"EvaluateLowSampleCountPercentile"`
	Metrics                          []any               `json:"Metrics"`
	Tags                             []any               `json:"Tags"`
	ThresholdMetricID                string              `json:"ThresholdMetricId"`
	EvaluationCriteria               any                 `json:"EvaluationCriteria"`
	EvaluationInterval               int                 `json:"EvaluationInterval"`
}

func (s *Server) putMetricAlarm(ctx context.Context, in *putMetricAlarmIn) (*empty, error) {
	switch {
	case len(in.Metrics) > 0:
		return nil, invalid("The parameter Metrics is not supported: this service has alarms on one metric (Namespace, MetricName, Dimensions and Statistic), not on metric math.")
	case in.ThresholdMetricID != "":
		return nil, invalid("The parameter ThresholdMetricId is not supported: this service has no anomaly detection bands.")
	case len(in.Tags) > 0:
		return nil, invalid("The parameter Tags is not supported: this service keeps no tags on alarms.")
	case in.EvaluationCriteria != nil || in.EvaluationInterval != 0:
		return nil, invalid("The parameters EvaluationCriteria and EvaluationInterval are not supported: this service evaluates metric alarms on their Period.")
	case in.Threshold == nil:
		return nil, &metrics.Error{Code: metrics.MissingParameter, Message: "The parameter Threshold is required."}
	}
	a := &metrics.Alarm{AlarmName: in.AlarmName, AlarmDescription: in.AlarmDescription, ActionsEnabled: in.ActionsEnabled == nil || *in.ActionsEnabled,
		OKActions: in.OKActions, AlarmActions: in.AlarmActions, InsufficientDataActions: in.InsufficientDataActions,
		Namespace: in.Namespace, MetricName: in.MetricName, Dimensions: in.Dimensions, Statistic: in.Statistic, ExtendedStatistic: in.ExtendedStatistic,
		Period: in.Period, Unit: in.Unit, EvaluationPeriods: in.EvaluationPeriods, DatapointsToAlarm: in.DatapointsToAlarm, Threshold: *in.Threshold,
		ComparisonOperator: in.ComparisonOperator, TreatMissingData: in.TreatMissingData, EvaluateLowSampleCountPercentile: in.EvaluateLowSampleCountPercentile}
	return &empty{}, s.m.PutAlarm(ctx, a, region(ctx))
}

type describeAlarmsIn struct {
	AlarmNames          []string `json:"AlarmNames"`
	AlarmNamePrefix     string   `json:"AlarmNamePrefix"`
	AlarmTypes          []string `json:"AlarmTypes"`
	ChildrenOfAlarmName string   `json:"ChildrenOfAlarmName"`
	ParentsOfAlarmName  string   `json:"ParentsOfAlarmName"`
	StateValue          string   `json:"StateValue"`
	ActionPrefix        string   `json:"ActionPrefix"`
	MaxRecords          int      `json:"MaxRecords"`
	NextToken           string   `json:"NextToken"`
}

type metricAlarm struct {
	AlarmName                          string              `json:"AlarmName"`
	AlarmArn                           string              `json:"AlarmArn"`
	AlarmDescription                   string              `json:"AlarmDescription,omitempty"`
	AlarmConfigurationUpdatedTimestamp *awsproto.Time      `json:"AlarmConfigurationUpdatedTimestamp"`
	ActionsEnabled                     bool                `json:"ActionsEnabled"`
	OKActions                          []string            `json:"OKActions"`
	AlarmActions                       []string            `json:"AlarmActions"`
	InsufficientDataActions            []string            `json:"InsufficientDataActions"`
	StateValue                         string              `json:"StateValue"`
	StateReason                        string              `json:"StateReason"`
	StateReasonData                    string              `json:"StateReasonData,omitempty"`
	StateUpdatedTimestamp              *awsproto.Time      `json:"StateUpdatedTimestamp"`
	MetricName                         string              `json:"MetricName"`
	Namespace                          string              `json:"Namespace"`
	Statistic                          string              `json:"Statistic,omitempty"`
	ExtendedStatistic                  string              `json:"ExtendedStatistic,omitempty"`
	Dimensions                         []metrics.Dimension `json:"Dimensions"`
	Period                             int                 `json:"Period"`
	Unit                               string              `json:"Unit,omitempty"`
	EvaluationPeriods                  int                 `json:"EvaluationPeriods"`
	DatapointsToAlarm                  int                 `json:"DatapointsToAlarm"`
	Threshold                          float64             `json:"Threshold"`
	ComparisonOperator                 string              `json:"ComparisonOperator"`
	TreatMissingData                   string              `json:"TreatMissingData"`
	EvaluateLowSampleCountPercentile   string              `json:"EvaluateLowSampleCountPercentile,omitempty"`
	StateTransitionedTimestamp         *awsproto.Time      `json:"StateTransitionedTimestamp"`
}

// compositeAlarm is a composite alarm, of which this service has none.
type compositeAlarm struct {
	AlarmName string `json:"AlarmName"`
}

type describeAlarmsOut struct {
	MetricAlarms    []metricAlarm    `json:"MetricAlarms"`
	CompositeAlarms []compositeAlarm `json:"CompositeAlarms"`
	NextToken       string           `json:"NextToken,omitempty"`
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

func (s *Server) describeAlarms(ctx context.Context, in *describeAlarmsIn) (*describeAlarmsOut, error) {
	if in.ChildrenOfAlarmName != "" || in.ParentsOfAlarmName != "" {
		return nil, invalid("The parameters ChildrenOfAlarmName and ParentsOfAlarmName are not supported: this service has no composite alarms.")
	}
	metricAlarms := len(in.AlarmTypes) == 0
	for _, t := range in.AlarmTypes {
		switch t {
		case "MetricAlarm":
			metricAlarms = true
		case "CompositeAlarm":
		default:
			return nil, invalid("The value " + t + " for parameter AlarmTypes is invalid: it must be MetricAlarm or CompositeAlarm.")
		}
	}
	out := &describeAlarmsOut{MetricAlarms: []metricAlarm{}, CompositeAlarms: []compositeAlarm{}}
	as, next, err := s.m.DescribeAlarms(&metrics.AlarmQuery{AlarmNames: in.AlarmNames, AlarmNamePrefix: in.AlarmNamePrefix,
		StateValue: in.StateValue, ActionPrefix: in.ActionPrefix, MaxRecords: in.MaxRecords, NextToken: in.NextToken})
	if err != nil || !metricAlarms {
		return out, err
	}
	out.NextToken = next
	for _, a := range as {
		dims := a.Dimensions
		if dims == nil {
			dims = []metrics.Dimension{}
		}
		out.MetricAlarms = append(out.MetricAlarms, metricAlarm{AlarmName: a.AlarmName, AlarmArn: a.AlarmArn, AlarmDescription: a.AlarmDescription,
			AlarmConfigurationUpdatedTimestamp: &awsproto.Time{Time: a.AlarmConfigurationUpdatedTimestamp}, ActionsEnabled: a.ActionsEnabled,
			OKActions: nonNil(a.OKActions), AlarmActions: nonNil(a.AlarmActions), InsufficientDataActions: nonNil(a.InsufficientDataActions),
			StateValue: a.StateValue, StateReason: a.StateReason, StateReasonData: a.StateReasonData,
			StateUpdatedTimestamp: &awsproto.Time{Time: a.StateUpdatedTimestamp}, MetricName: a.MetricName, Namespace: a.Namespace,
			Statistic: a.Statistic, ExtendedStatistic: a.ExtendedStatistic, Dimensions: dims, Period: a.Period, Unit: a.Unit,
			EvaluationPeriods: a.EvaluationPeriods, DatapointsToAlarm: a.DatapointsToAlarm, Threshold: a.Threshold,
			ComparisonOperator: a.ComparisonOperator, TreatMissingData: a.TreatMissingData,
			EvaluateLowSampleCountPercentile: a.EvaluateLowSampleCountPercentile,
			StateTransitionedTimestamp:       &awsproto.Time{Time: a.StateTransitionedTimestamp}})
	}
	return out, nil
}

type deleteAlarmsIn struct {
	AlarmNames []string `json:"AlarmNames"`
}

func (s *Server) deleteAlarms(ctx context.Context, in *deleteAlarmsIn) (*empty, error) {
	return &empty{}, s.m.DeleteAlarms(ctx, in.AlarmNames)
}
