package metrics

import (
	"encoding/json"
	"strings"
	"time"
)

// The embedded metric format (EMF): a log line that is a JSON object
// with an _aws member, as AWS Lambda Powertools and the EMF libraries
// print, declares metrics whose values are the object's own members:
//
//	{"_aws": {"Timestamp": 1700000000000, "CloudWatchMetrics": [{
//	    "Namespace": "shop", "Dimensions": [["Service"]],
//	    "Metrics": [{"Name": "Orders", "Unit": "Count"}]}]},
//	 "Service": "cart", "Orders": 3}
//
// Each dimension set gives each metric one datum with those dimensions
// (their values are the members of those names); a value is a number or
// an array of up to 100.

// EMFDatum is a datum an EMF line declares, with its namespace.
type EMFDatum struct {
	Namespace string
	Datum
}

// MaybeEMF reports cheaply whether line may be an EMF line: a JSON
// object that mentions "_aws". Log pipelines call it on every line and
// ParseEMF on those it accepts.
func MaybeEMF(line string) bool {
	return len(line) > 8 && line[0] == '{' && strings.Contains(line, `"_aws"`)
}

type emfDoc struct {
	AWS *struct {
		Timestamp         *float64 `json:"Timestamp"`
		CloudWatchMetrics []struct {
			Namespace  string     `json:"Namespace"`
			Dimensions [][]string `json:"Dimensions"`
			Metrics    []struct {
				Name              string `json:"Name"`
				Unit              string `json:"Unit"`
				StorageResolution int    `json:"StorageResolution"`
			} `json:"Metrics"`
		} `json:"CloudWatchMetrics"`
	} `json:"_aws"`
}

// maxEMFValues is how many values one EMF metric member may hold.
const maxEMFValues = 100

// ParseEMF reads an EMF line: the data it declares, timestamped by its
// _aws.Timestamp (milliseconds since the epoch) or else at. ok is false
// for a line that is not EMF, or whose declarations do not hold (a
// missing dimension or value, an unknown unit), which CloudWatch skips
// as a whole.
func ParseEMF(line string, at time.Time) (out []EMFDatum, ok bool) {
	if !MaybeEMF(line) {
		return nil, false
	}
	var doc emfDoc
	if err := json.Unmarshal([]byte(line), &doc); err != nil || doc.AWS == nil || len(doc.AWS.CloudWatchMetrics) == 0 {
		return nil, false
	}
	var root map[string]json.RawMessage
	if err := json.Unmarshal([]byte(line), &root); err != nil {
		return nil, false
	}
	if ts := doc.AWS.Timestamp; ts != nil {
		at = time.UnixMilli(int64(*ts))
	}
	for _, d := range doc.AWS.CloudWatchMetrics {
		if d.Namespace == "" || len(d.Namespace) > 255 || len(d.Metrics) > 100 {
			return nil, false
		}
		sets := d.Dimensions
		if len(sets) == 0 {
			sets = [][]string{nil}
		}
		for _, m := range d.Metrics {
			if m.Name == "" || !ValidUnit(m.Unit) {
				return nil, false
			}
			values, ok := emfValues(root[m.Name])
			if !ok {
				return nil, false
			}
			for _, set := range sets {
				if len(set) > 30 {
					return nil, false
				}
				dims := make([]Dimension, 0, len(set))
				for _, name := range set {
					var v string
					if json.Unmarshal(root[name], &v) != nil || v == "" {
						return nil, false
					}
					dims = append(dims, Dimension{Name: name, Value: v})
				}
				out = append(out, EMFDatum{Namespace: d.Namespace, Datum: Datum{MetricName: m.Name, Dimensions: dims,
					Timestamp: at, Values: values, Unit: m.Unit, StorageResolution: m.StorageResolution}})
			}
		}
	}
	return out, len(out) > 0
}

// emfValues reads a metric member: a number, or an array of numbers.
func emfValues(raw json.RawMessage) ([]float64, bool) {
	if len(raw) == 0 {
		return nil, false
	}
	var one float64
	if json.Unmarshal(raw, &one) == nil {
		return []float64{one}, true
	}
	var many []float64
	if json.Unmarshal(raw, &many) != nil || len(many) == 0 || len(many) > maxEMFValues {
		return nil, false
	}
	return many, true
}

// RecordEMF adds the data of EMF lines, as the log pipeline found them:
// a datum that CloudWatch would refuse (a value out of range, a time
// too old, a namespace under AWS/) is dropped and counted (Dropped),
// the others kept.
func (s *Store) RecordEMF(data []EMFDatum) {
	now := s.o.Now()
	for i := range data {
		d := &data[i]
		if d.Namespace == "" || strings.HasPrefix(d.Namespace, reservedPrefix) || checkDatum(&d.Datum, "", now) != nil || !s.add(d.Namespace, &d.Datum, now) {
			s.dropped.Add(1)
		}
	}
}
