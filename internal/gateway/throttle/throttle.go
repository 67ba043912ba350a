// Package throttle holds the gateway's rate limits: token buckets (a
// steady rate with a burst, as API Gateway's route and usage plan
// throttles) and quotas (a number of requests per UTC day, week or month).
// Every method takes the current time, so tests drive them with a fake
// clock. Both are safe for concurrent use; each holds one short lock.
package throttle

import (
	"math"
	"sync"
	"time"
)

// Never is the wait reported when no token will ever come (a rate of 0).
const Never = time.Duration(math.MaxInt64)

// Bucket is a token bucket: it holds at most burst tokens, gains rate
// tokens a second, and each request takes one. A new bucket is full.
type Bucket struct {
	mu     sync.Mutex // guards the fields below
	rate   float64    // tokens per second
	burst  float64
	tokens float64
	last   time.Time // when tokens was last brought up to date
}

// NewBucket returns a full bucket.
func NewBucket(rate float64, burst int) *Bucket {
	return &Bucket{rate: max(rate, 0), burst: float64(max(burst, 0)), tokens: float64(max(burst, 0))}
}

// Limits returns the bucket's rate and burst.
func (b *Bucket) Limits() (rate float64, burst int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rate, int(b.burst)
}

// SetLimits changes the rate and burst, keeping the tokens held (at most
// the new burst).
func (b *Bucket) SetLimits(rate float64, burst int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.rate, b.burst = max(rate, 0), float64(max(burst, 0))
	b.tokens = min(b.tokens, b.burst)
}

// Take takes a token at now. When there is none it takes nothing and
// returns how long until one will be there (Never if none will).
func (b *Bucket) Take(now time.Time) (ok bool, wait time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.last.IsZero() && now.After(b.last) {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	if b.last.IsZero() || now.After(b.last) {
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	if b.rate <= 0 || b.burst < 1 {
		return false, Never
	}
	return false, time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
}

// Period is the span a quota counts over.
type Period uint8

// Periods, as usage plans name them.
const (
	Day Period = iota
	Week
	Month
)

// ParsePeriod reads DAY, WEEK or MONTH.
func ParsePeriod(s string) (Period, bool) {
	switch s {
	case "DAY":
		return Day, true
	case "WEEK":
		return Week, true
	case "MONTH":
		return Month, true
	}
	return 0, false
}

// Start returns the start of the period (UTC) that holds t; weeks start on
// Monday.
func (p Period) Start(t time.Time) time.Time {
	t = t.UTC()
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	switch p {
	case Week:
		return day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
	case Month:
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	return day
}

// Next returns the start of the period after the one that holds t.
func (p Period) Next(t time.Time) time.Time {
	s := p.Start(t)
	switch p {
	case Week:
		return s.AddDate(0, 0, 7)
	case Month:
		return s.AddDate(0, 1, 0)
	}
	return s.AddDate(0, 0, 1)
}

// Quota counts requests within a period and refuses those beyond its
// limit. It counts the requests it admits itself, by period and by day,
// and adds what others counted in the period (other servers sharing the
// quota, or earlier runs of this one), as told by SetOthers.
type Quota struct {
	mu     sync.Mutex // guards the fields below
	limit  int64
	period Period
	start  time.Time // of the period being counted
	used   int64     // admitted here in the period
	others int64     // counted elsewhere in the period
	days   [2]DayCount
}

// DayCount is how many requests a quota admitted itself on one UTC day.
type DayCount struct {
	Day  time.Time // midnight UTC
	Used int64
}

// NewQuota returns a quota of limit requests a period.
func NewQuota(limit int64, p Period) *Quota { return &Quota{limit: limit, period: p} }

// SetLimit changes the limit and period; the count carries over when the
// period stays the same.
func (q *Quota) SetLimit(limit int64, p Period) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if p != q.period {
		q.start, q.used, q.others = time.Time{}, 0, 0
	}
	q.limit, q.period = limit, p
}

// Limit returns the limit and period.
func (q *Quota) Limit() (int64, Period) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.limit, q.period
}

func (q *Quota) roll(now time.Time) {
	if s := q.period.Start(now); !s.Equal(q.start) && s.After(q.start) {
		q.start, q.used, q.others = s, 0, 0
	}
}

// Take counts a request at now. Beyond the limit it counts nothing and
// returns how long until the next period starts.
func (q *Quota) Take(now time.Time) (ok bool, wait time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.roll(now)
	if q.used+q.others >= q.limit {
		return false, q.period.Next(now).Sub(now)
	}
	q.used++
	if d := Day.Start(now); !d.Equal(q.days[0].Day) {
		q.days[1], q.days[0] = q.days[0], DayCount{Day: d}
	}
	q.days[0].Used++
	return true, 0
}

// Used returns the requests counted in the period that holds now, here
// and elsewhere, and that period's start.
func (q *Quota) Used(now time.Time) (used int64, start time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.roll(now)
	return q.used + q.others, q.start
}

// Days returns what the quota admitted itself on the last two days it
// admitted anything, the latest first; a day it has not seen is zero.
func (q *Quota) Days() [2]DayCount {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.days
}

// SetOthers sets how many requests others counted in the period that
// starts at start. A count for an earlier period than the quota's is
// ignored; one for a later period starts that period.
func (q *Quota) SetOthers(n int64, start time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case start.After(q.start):
		q.start, q.used, q.others = start, 0, n
	case start.Equal(q.start):
		q.others = n
	}
}

// RetryAfter renders a wait as whole seconds for a Retry-After header: at
// least 1, rounded up, and a day for Never.
func RetryAfter(wait time.Duration) int64 {
	if wait == Never {
		return 86400
	}
	return max(1, int64(math.Ceil(wait.Seconds())))
}
