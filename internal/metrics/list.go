package metrics

import (
	"slices"
	"strconv"
	"strings"

	"github.com/aloft-dev/aloft/internal/awsproto"
)

// DimensionFilter keeps the metrics with a dimension of this name, and
// this value when Value is set.
type DimensionFilter struct {
	Name  string
	Value *string
}

// ListQuery is a ListMetrics request.
type ListQuery struct {
	Namespace, MetricName string
	Dimensions            []DimensionFilter
	RecentlyActive        string // "" or PT3H
	NextToken             string
}

// ListPage is how many metrics one ListMetrics answer holds.
const ListPage = 500

// List answers ListMetrics: the metrics that match, in order of
// namespace, name and dimensions, a page at a time.
func (s *Store) List(q *ListQuery) ([]Metric, string, error) {
	if q.RecentlyActive != "" && q.RecentlyActive != "PT3H" {
		return nil, "", invalid("The value %s for parameter RecentlyActive is invalid: it must be PT3H.", q.RecentlyActive)
	}
	if len(q.Dimensions) > 10 {
		return nil, "", invalid("The collection Dimensions must not have more than 10 members.")
	}
	for i, f := range q.Dimensions {
		if f.Name == "" {
			return nil, "", missing("Dimensions.member." + strconv.Itoa(i+1) + ".Name")
		}
	}
	// Metrics with no data for the retention are gone, as their
	// datapoints are (a node that saw them keeps them in memory).
	since := s.o.Now().Add(-Retention).Unix()
	if q.RecentlyActive != "" {
		since = s.o.Now().Unix() - 3*3600
	}
	type keyed struct {
		key string
		m   Metric
	}
	var all []keyed
	s.namesMu.RLock()
	for _, m := range s.known {
		if (q.Namespace != "" && m.Namespace != q.Namespace) || (q.MetricName != "" && m.MetricName != q.MetricName) || m.Last < since {
			continue
		}
		if !matchFilters(m.Dimensions, q.Dimensions) {
			continue
		}
		var b strings.Builder
		b.WriteString(m.Namespace + "\x00" + m.MetricName)
		for _, d := range m.Dimensions {
			b.WriteString("\x00" + d.Name + "\x01" + d.Value)
		}
		all = append(all, keyed{b.String(), Metric{Namespace: m.Namespace, MetricName: m.MetricName, Dimensions: slices.Clone(m.Dimensions)}})
	}
	s.namesMu.RUnlock()
	slices.SortFunc(all, func(a, b keyed) int { return strings.Compare(a.key, b.key) })
	page, next, ok := awsproto.Page(all, func(k keyed) string { return k.key }, q.NextToken, ListPage)
	if !ok {
		return nil, "", errorf(InvalidNextToken, "The service couldn't process your request because the NextToken is invalid.")
	}
	out := make([]Metric, len(page))
	for i, k := range page {
		out[i] = k.m
	}
	return out, next, nil
}

func matchFilters(dims []Dimension, filters []DimensionFilter) bool {
	for _, f := range filters {
		found := false
		for _, d := range dims {
			if d.Name == f.Name && (f.Value == nil || *f.Value == d.Value) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
