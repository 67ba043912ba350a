package metrics

import (
	"encoding/json"
	"math"
	"slices"
)

// stat is the statistic set of the datapoints of one metric in one unit
// over some time (a minute as stored, a period as asked), with their
// distribution for percentiles.
//
// The distribution keeps the values exactly while there are few
// (maxExact distinct entries) and then in logarithmic buckets: a value's
// bucket is its float64 exponent and the top 7 bits of its mantissa, so
// every bucket spans 1/128 of an octave and its midpoint is within
// 0.4% of any value in it. Statistic sets whose values were not all
// equal leave the distribution incomplete (partial), and then the
// metric has no percentiles for that time, as in CloudWatch.
type stat struct {
	N       float64 `json:"n"` // SampleCount
	Sum     float64 `json:"s"`
	Min     float64 `json:"lo"`
	Max     float64 `json:"hi"`
	Exact   []entry `json:"x,omitempty"`
	Buckets []entry `json:"b,omitempty"` // sorted by bucket; V is the bucket number
	Partial bool    `json:"p,omitempty"`
}

// entry is a value (or, in Buckets, a bucket number) and how many
// samples had it.
type entry struct {
	V float64
	N float64
}

// MarshalJSON writes e as [V, N].
func (e entry) MarshalJSON() ([]byte, error) {
	return json.Marshal([2]float64{e.V, e.N})
}

// UnmarshalJSON reads [V, N].
func (e *entry) UnmarshalJSON(b []byte) error {
	var a [2]float64
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	e.V, e.N = a[0], a[1]
	return nil
}

// maxExact is how many distinct values a stat keeps exactly.
const maxExact = 32

// bucketOf returns the bucket of v: 0 for 0, positive above it,
// negative below.
func bucketOf(v float64) float64 {
	if v == 0 {
		return 0
	}
	b := float64(math.Float64bits(math.Abs(v))>>45) + 1
	if v < 0 {
		return -b
	}
	return b
}

// bucketValue returns the midpoint of bucket b.
func bucketValue(b float64) float64 {
	if b == 0 {
		return 0
	}
	k := uint64(math.Abs(b)) - 1
	lo, hi := math.Float64frombits(k<<45), math.Float64frombits((k+1)<<45)
	m := lo + (hi-lo)/2
	if b < 0 {
		return -m
	}
	return m
}

// add adds n samples of value v.
func (s *stat) add(v, n float64) {
	if s.N == 0 {
		s.Min, s.Max = v, v
	} else {
		s.Min, s.Max = min(s.Min, v), max(s.Max, v)
	}
	s.N += n
	s.Sum += v * n
	s.addDist(v, n)
}

func (s *stat) addDist(v, n float64) {
	if s.Buckets == nil {
		for i := range s.Exact {
			if s.Exact[i].V == v {
				s.Exact[i].N += n
				return
			}
		}
		if len(s.Exact) < maxExact {
			s.Exact = append(s.Exact, entry{v, n})
			return
		}
		s.Buckets = make([]entry, 0, 2*maxExact)
		for _, e := range s.Exact {
			s.addBucket(bucketOf(e.V), e.N)
		}
		s.Exact = s.Exact[:0]
	}
	s.addBucket(bucketOf(v), n)
}

func (s *stat) addBucket(b, n float64) {
	i, found := slices.BinarySearchFunc(s.Buckets, b, func(e entry, b float64) int {
		switch {
		case e.V < b:
			return -1
		case e.V > b:
			return 1
		}
		return 0
	})
	if found {
		s.Buckets[i].N += n
		return
	}
	s.Buckets = slices.Insert(s.Buckets, i, entry{b, n})
}

// addSet adds a statistic set: its values are in the distribution only
// when they were all equal.
func (s *stat) addSet(count, sum, lo, hi float64) {
	if s.N == 0 {
		s.Min, s.Max = lo, hi
	} else {
		s.Min, s.Max = min(s.Min, lo), max(s.Max, hi)
	}
	s.N += count
	s.Sum += sum
	if lo == hi && sum == lo*count {
		s.addDist(lo, count)
	} else {
		s.Partial = true
	}
}

// merge adds o to s.
func (s *stat) merge(o *stat) {
	if o == nil || o.N == 0 {
		return
	}
	if s.N == 0 {
		s.Min, s.Max = o.Min, o.Max
	} else {
		s.Min, s.Max = min(s.Min, o.Min), max(s.Max, o.Max)
	}
	s.N += o.N
	s.Sum += o.Sum
	s.Partial = s.Partial || o.Partial
	for _, e := range o.Exact {
		s.addDist(e.V, e.N)
	}
	if len(o.Buckets) > 0 {
		if s.Buckets == nil {
			s.Buckets = make([]entry, 0, len(o.Buckets)+len(s.Exact))
			for _, e := range s.Exact {
				s.addBucket(bucketOf(e.V), e.N)
			}
			s.Exact = s.Exact[:0]
		}
		for _, e := range o.Buckets {
			s.addBucket(e.V, e.N)
		}
	}
}

// clone returns a deep copy of s.
func (s *stat) clone() *stat {
	c := *s
	c.Exact = slices.Clone(s.Exact)
	c.Buckets = slices.Clone(s.Buckets)
	return &c
}

// percentile returns the p-th percentile (0 < p <= 100) of the samples:
// the smallest value with at least p% of the samples at or below it;
// ok is false when the distribution does not hold every sample.
func (s *stat) percentile(p float64) (float64, bool) {
	if s.N == 0 || s.Partial {
		return 0, false
	}
	var es []entry
	if s.Buckets == nil {
		es = slices.Clone(s.Exact)
	} else {
		es = make([]entry, len(s.Buckets))
		for i, b := range s.Buckets {
			es[i] = entry{bucketValue(b.V), b.N}
		}
	}
	slices.SortFunc(es, func(a, b entry) int {
		switch {
		case a.V < b.V:
			return -1
		case a.V > b.V:
			return 1
		}
		return 0
	})
	rank := math.Ceil(p / 100 * s.N)
	if rank < 1 {
		rank = 1
	}
	var seen float64
	for _, e := range es {
		seen += e.N
		if seen >= rank {
			return min(max(e.V, s.Min), s.Max), true
		}
	}
	return s.Max, true
}

// value returns statistic name of s (SampleCount, Average, Sum,
// Minimum, Maximum or pNN[.NN]); ok is false when s has no such value.
func (s *stat) value(name string) (float64, bool) {
	if s == nil || s.N == 0 {
		return 0, false
	}
	switch name {
	case "SampleCount":
		return s.N, true
	case "Sum":
		return s.Sum, true
	case "Average":
		return s.Sum / s.N, true
	case "Minimum":
		return s.Min, true
	case "Maximum":
		return s.Max, true
	}
	if p, ok := percentileOf(name); ok {
		return s.percentile(p)
	}
	return 0, false
}
