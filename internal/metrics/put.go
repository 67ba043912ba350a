package metrics

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Datum is one entry of PutMetricData: a value, values with counts, or
// a statistic set, of one metric.
type Datum struct {
	MetricName string
	Dimensions []Dimension
	Timestamp  time.Time // zero: now
	Value      *float64
	Values     []float64
	Counts     []float64
	Stats      *StatisticSet
	Unit       string
	// StorageResolution is 60 or 1 (0: 60); either is stored at one
	// minute.
	StorageResolution int
}

// StatisticSet is a datum's pre-aggregated statistics.
type StatisticSet struct {
	SampleCount, Sum, Minimum, Maximum float64
}

// The limits of PutMetricData.
const (
	MaxDataPerPut  = 1000
	MaxValues      = 150
	maxFuture      = 2 * time.Hour
	maxPast        = 14 * 24 * time.Hour
	smallestValue  = 8.515920e-109
	largestValue   = 1.174271e+108
	reservedPrefix = "AWS/"
)

// Put adds PutMetricData's data to namespace, after checking all of it:
// a refused datum refuses the whole request, as CloudWatch does.
func (s *Store) Put(namespace string, data []Datum) error {
	if namespace == "" {
		return missing("Namespace")
	}
	if len(namespace) > 255 || strings.HasPrefix(namespace, ":") {
		return invalid("The value %s for parameter Namespace is invalid.", namespace)
	}
	if strings.HasPrefix(namespace, reservedPrefix) {
		return invalid("The value %s for parameter Namespace is invalid: namespaces starting with AWS/ are reserved for AWS's own metrics.", namespace)
	}
	if len(data) == 0 {
		return missing("MetricData")
	}
	if len(data) > MaxDataPerPut {
		return invalid("The collection MetricData must not have more than %d members.", MaxDataPerPut)
	}
	now := s.o.Now()
	for i := range data {
		if err := checkDatum(&data[i], fmt.Sprintf("MetricData.member.%d.", i+1), now); err != nil {
			return err
		}
	}
	for i := range data {
		if !s.add(namespace, &data[i], now) {
			return errorf(LimitExceeded, "The number of distinct metrics (%d) is at its limit; no new metric can be stored until older ones expire.", s.o.MaxMetrics)
		}
	}
	return nil
}

// checkDatum checks one datum; p is its parameter path.
func checkDatum(d *Datum, p string, now time.Time) error {
	if d.MetricName == "" {
		return missing(p + "MetricName")
	}
	if len(d.MetricName) > 255 {
		return invalid("The parameter %sMetricName must be at most 255 characters long.", p)
	}
	if err := checkDims(d.Dimensions, p+"Dimensions"); err != nil {
		return err
	}
	if !ValidUnit(d.Unit) {
		return invalid("The value %s for parameter %sUnit is invalid.", d.Unit, p)
	}
	switch d.StorageResolution {
	case 0, 1, 60:
	default:
		return invalid("The value %d for parameter %sStorageResolution is invalid: it must be 1 or 60.", d.StorageResolution, p)
	}
	if !d.Timestamp.IsZero() {
		if d.Timestamp.Before(now.Add(-maxPast)) {
			return invalid("The parameter %sTimestamp must specify a time no more than two weeks in the past.", p)
		}
		if d.Timestamp.After(now.Add(maxFuture)) {
			return invalid("The parameter %sTimestamp must specify a time no more than two hours in the future.", p)
		}
	}
	given := 0
	for _, b := range []bool{d.Value != nil, d.Values != nil, d.Stats != nil} {
		if b {
			given++
		}
	}
	switch {
	case given == 0 && d.Counts == nil:
		return errorf(MissingParameter, "The parameter %sValue, %sValues or %sStatisticValues is required.", p, p, p)
	case given > 1:
		return errorf(InvalidParameterCombination, "The parameters %sValue, %sValues and %sStatisticValues are mutually exclusive and you have specified more than one.", p, p, p)
	case d.Counts != nil && d.Values == nil:
		return errorf(InvalidParameterCombination, "The parameter %sCounts is given without %sValues.", p, p)
	}
	if d.Value != nil {
		if err := checkValue(*d.Value, p+"Value"); err != nil {
			return err
		}
	}
	if len(d.Values) > MaxValues {
		return invalid("The collection %sValues must not have more than %d members.", p, MaxValues)
	}
	if d.Counts != nil && len(d.Counts) != len(d.Values) {
		return invalid("The parameters %sValues and %sCounts must be of the same size.", p, p)
	}
	for i, v := range d.Values {
		if err := checkValue(v, fmt.Sprintf("%sValues.member.%d", p, i+1)); err != nil {
			return err
		}
	}
	for i, c := range d.Counts {
		if math.IsNaN(c) || c < 0 || math.IsInf(c, 0) {
			return invalid("The value %v for parameter %sCounts.member.%d is invalid.", c, p, i+1)
		}
	}
	if st := d.Stats; st != nil {
		for _, f := range []struct {
			name string
			v    float64
		}{{"SampleCount", st.SampleCount}, {"Sum", st.Sum}, {"Minimum", st.Minimum}, {"Maximum", st.Maximum}} {
			if err := checkValue(f.v, p+"StatisticValues."+f.name); err != nil {
				return err
			}
		}
		if st.SampleCount <= 0 {
			return invalid("The parameter %sStatisticValues.SampleCount must be greater than 0.", p)
		}
		if st.Minimum > st.Maximum {
			return invalid("The parameter %sStatisticValues.Minimum must not be greater than %sStatisticValues.Maximum.", p, p)
		}
	}
	return nil
}

// checkValue refuses what CloudWatch refuses: not a number, infinities,
// and magnitudes beyond its range (other than 0).
func checkValue(v float64, param string) error {
	a := math.Abs(v)
	if math.IsNaN(v) || math.IsInf(v, 0) || a > largestValue || (a != 0 && a < smallestValue) {
		return invalid("The value %v for parameter %s is invalid.", v, param)
	}
	return nil
}

// add stores a checked datum; false when its metric is new and over the
// limit.
func (s *Store) add(namespace string, d *Datum, now time.Time) bool {
	at := d.Timestamp
	if at.IsZero() {
		at = now
	}
	u, _ := unitIndex(d.Unit)
	return s.record(namespace, d.MetricName, d.Dimensions, u, at, func(st *stat) {
		switch {
		case d.Value != nil:
			st.add(*d.Value, 1)
		case d.Stats != nil:
			st.addSet(d.Stats.SampleCount, d.Stats.Sum, d.Stats.Minimum, d.Stats.Maximum)
		default:
			for i, v := range d.Values {
				n := 1.0
				if d.Counts != nil {
					n = d.Counts[i]
				}
				if n > 0 {
					st.add(v, n)
				}
			}
		}
	})
}
