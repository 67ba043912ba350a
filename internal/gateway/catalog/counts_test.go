package catalog

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestCounts(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir())
	c, err := OpenCounts(ctx, st.JetStream())
	if err != nil {
		t.Fatal(err)
	}
	d1 := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	d2 := d1.AddDate(0, 0, 1)
	save := func(plan, key string, day time.Time, run string, n int64) {
		t.Helper()
		if err := c.Save(ctx, DailyCount{Plan: plan, Key: key, Day: day, Run: run, Used: n}); err != nil {
			t.Fatal(err)
		}
	}
	save("p1", "k1", d1, "runa", 1)
	save("p1", "k1", d1, "runa", 3) // replaces the run's count of the day
	save("p1", "k1", d1, "runb", 2) // another run's: adds
	save("p1", "k1", d2, "runa", 5)
	save("p1", "k2", d2, "runa", 7)
	save("p2", "k1", d1, "runa", 100) // another plan
	// Something else in the bucket is passed over.
	if _, err := c.kv.Put(ctx, "p1/k1", []byte(`{"used":9}`)); err != nil {
		t.Fatal(err)
	}

	got, err := c.Daily(ctx, "p1", "", d1, d2)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(map[string]map[time.Time]int64{"k1": {d1: 5, d2: 5}, "k2": {d2: 7}}) {
		t.Fatalf("Daily: %v", got)
	}
	got, _ = c.Daily(ctx, "p1", "k1", d2, d2)
	if fmt.Sprint(got) != fmt.Sprint(map[string]map[time.Time]int64{"k1": {d2: 5}}) {
		t.Fatalf("Daily of one key and day: %v", got)
	}

	// Watch passes on the stored counts before it returns, then new ones.
	var mu sync.Mutex
	var seen []DailyCount
	stop, err := c.Watch(ctx, func(n DailyCount) { mu.Lock(); seen = append(seen, n); mu.Unlock() })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	mu.Lock()
	initial := len(seen)
	mu.Unlock()
	if initial != 5 {
		t.Fatalf("%d counts passed before Watch returned, want 5: %v", initial, seen)
	}
	save("p1", "k1", d2, "runb", 4)
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(seen)
		last := seen[n-1]
		mu.Unlock()
		if n == 6 {
			if last != (DailyCount{Plan: "p1", Key: "k1", Day: d2, Run: "runb", Used: 4}) {
				t.Fatalf("watched %+v", last)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the new count never arrived")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
