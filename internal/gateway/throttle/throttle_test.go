package throttle

import (
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2025, 3, 12, 23, 59, 58, 0, time.UTC) // a Wednesday

func TestBucketBurstThenRate(t *testing.T) {
	b := NewBucket(2, 3) // 2 a second, burst 3
	for i := range 3 {
		if ok, _ := b.Take(t0); !ok {
			t.Fatalf("take %d of the burst refused", i)
		}
	}
	ok, wait := b.Take(t0)
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("empty bucket: got %v, wait %v; want refused, wait 500ms", ok, wait)
	}
	if ok, wait := b.Take(t0.Add(250 * time.Millisecond)); ok || wait != 250*time.Millisecond {
		t.Fatalf("half a token: got %v, wait %v; want refused, wait 250ms", ok, wait)
	}
	if ok, _ := b.Take(t0.Add(500 * time.Millisecond)); !ok {
		t.Fatal("a token after 500ms refused")
	}
	// A long pause fills the bucket only up to its burst.
	later := t0.Add(time.Hour)
	n := 0
	for {
		if ok, _ := b.Take(later); !ok {
			break
		}
		n++
	}
	if n != 3 {
		t.Fatalf("after an hour took %d, want the burst of 3", n)
	}
	// A clock that steps back neither refills nor breaks the bucket.
	if ok, wait := b.Take(t0); ok || wait <= 0 {
		t.Fatalf("earlier time: got %v %v", ok, wait)
	}
}

func TestBucketZero(t *testing.T) {
	b := NewBucket(0, 0)
	if ok, wait := b.Take(t0); ok || wait != Never || RetryAfter(wait) != 86400 {
		t.Fatalf("zero bucket: got %v %v", ok, wait)
	}
	b.SetLimits(1, 1)
	if ok, _ := b.Take(t0.Add(time.Second)); !ok {
		t.Fatal("after raising the limits a token should come within a second")
	}
	if r, burst := b.Limits(); r != 1 || burst != 1 {
		t.Fatalf("limits %v %v", r, burst)
	}
}

func TestBucketConcurrent(t *testing.T) {
	b := NewBucket(0.0001, 100)
	var wg sync.WaitGroup
	var mu sync.Mutex
	taken := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if ok, _ := b.Take(t0); ok {
					mu.Lock()
					taken++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if taken != 100 {
		t.Fatalf("took %d tokens, want exactly the burst of 100", taken)
	}
}

func TestQuotaDay(t *testing.T) {
	q := NewQuota(2, Day)
	for i := range 2 {
		if ok, _ := q.Take(t0); !ok {
			t.Fatalf("request %d refused", i)
		}
	}
	ok, wait := q.Take(t0)
	if ok || wait != 2*time.Second || RetryAfter(wait) != 2 {
		t.Fatalf("over quota: got %v, wait %v; want refused until midnight (2s)", ok, wait)
	}
	if used, start := q.Used(t0); used != 2 || !start.Equal(time.Date(2025, 3, 12, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("used %d since %v", used, start)
	}
	next := t0.Add(3 * time.Second) // the next day
	if ok, _ := q.Take(next); !ok {
		t.Fatal("a new day did not reset the quota")
	}
	// Others' requests in the same period count against the limit.
	q.SetOthers(1, Day.Start(next))
	if ok, _ := q.Take(next); ok {
		t.Fatal("others' count ignored")
	}
	if used, _ := q.Used(next); used != 2 {
		t.Fatalf("used %d with one here and one elsewhere, want 2", used)
	}
	// An older period's count is ignored.
	q.SetOthers(5, Day.Start(t0))
	if used, _ := q.Used(next); used != 2 {
		t.Fatalf("used %d after others' count of an old period, want 2", used)
	}
	// Its own counts by day: the new day first, then the day before.
	d := q.Days()
	if d[0] != (DayCount{Day.Start(next), 1}) || d[1] != (DayCount{Day.Start(t0), 2}) {
		t.Fatalf("days %+v", d)
	}
	// A later period's count starts that period.
	later := next.Add(24 * time.Hour)
	q.SetOthers(2, Day.Start(later))
	if ok, _ := q.Take(later); ok {
		t.Fatal("a later period's count of others ignored")
	}
}

func TestPeriods(t *testing.T) {
	cases := []struct {
		p           Period
		start, next time.Time
	}{
		{Day, time.Date(2025, 3, 12, 0, 0, 0, 0, time.UTC), time.Date(2025, 3, 13, 0, 0, 0, 0, time.UTC)},
		{Week, time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC), time.Date(2025, 3, 17, 0, 0, 0, 0, time.UTC)},
		{Month, time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, tc := range cases {
		if got := tc.p.Start(t0); !got.Equal(tc.start) {
			t.Errorf("period %d start: got %v, want %v", tc.p, got, tc.start)
		}
		if got := tc.p.Next(t0); !got.Equal(tc.next) {
			t.Errorf("period %d next: got %v, want %v", tc.p, got, tc.next)
		}
	}
	if _, ok := ParsePeriod("YEAR"); ok {
		t.Error("YEAR parsed")
	}
}
