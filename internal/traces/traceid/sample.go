package traceid

import (
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// DefaultRate is the share of requests, beyond the first of each second,
// that X-Ray's default rule samples.
const DefaultRate = 0.05

// Sampler decides which requests are traced, as X-Ray's default rule: the
// first request of each second (the reservoir), and Rate of the rest, on
// this node. A request whose header already decided keeps that decision.
// It is safe for concurrent use and costs an atomic load, at most one
// compare-and-swap and one random number per request. A nil Sampler
// samples nothing it decides itself.
type Sampler struct {
	Rate float64 // 0 takes DefaultRate; negative samples only the reservoir
	last atomic.Int64
}

// Sample decides for one undecided request at now.
func (s *Sampler) Sample(now time.Time) bool {
	if s == nil {
		return false
	}
	sec := now.Unix()
	if last := s.last.Load(); last < sec && s.last.CompareAndSwap(last, sec) {
		return true
	}
	rate := s.Rate
	if rate == 0 {
		rate = DefaultRate
	}
	return rate > 0 && rand.Float64() < rate
}

// Start returns the trace header of a request that arrived at now with
// X-Amzn-Trace-Id xray and traceparent w3c (either or both may be empty;
// the X-Ray header wins): the ids it carried, or a new root, and its
// decision, or the sampler's.
func (s *Sampler) Start(xray, w3c string, now time.Time) Header {
	h, ok := Parse(xray)
	if !ok {
		h, ok = ParseTraceparent(w3c)
	}
	if !ok {
		h = Header{Root: NewRoot(now)}
	}
	if h.Sampled == Undecided {
		h.Sampled = NotSampled
		if s.Sample(now) {
			h.Sampled = Sampled
		}
	}
	return h
}
