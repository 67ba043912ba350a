package metrics

import (
	"strconv"
	"strings"
)

// Statistics are the statistics GetMetricStatistics's Statistics take.
var Statistics = []string{"SampleCount", "Average", "Sum", "Minimum", "Maximum"}

// percentileOf reads an extended statistic pNN or pNN.NN (0 to 100,
// at most two decimals).
func percentileOf(s string) (float64, bool) {
	num, ok := strings.CutPrefix(s, "p")
	if !ok || num == "" || len(num) > 6 {
		return 0, false
	}
	whole, frac, hasFrac := strings.Cut(num, ".")
	if whole == "" || len(whole) > 3 || (hasFrac && (frac == "" || len(frac) > 2)) {
		return 0, false
	}
	for _, c := range whole + frac {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	p, err := strconv.ParseFloat(num, 64)
	if err != nil || p <= 0 || p > 100 {
		return 0, false
	}
	return p, true
}

// validStat reports whether name is a statistic or percentile this
// service computes.
func validStat(name string) bool {
	for _, s := range Statistics {
		if s == name {
			return true
		}
	}
	_, ok := percentileOf(name)
	return ok
}
