package lazy

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

// A failure is returned to the call that met it and not kept; the next
// call makes the value, and calls after it get that value without making
// it again.
func TestFailureIsNotKept(t *testing.T) {
	var l Value[int]
	if _, ok := l.Made(); ok {
		t.Fatal("a new Value reports a value made")
	}
	down := errors.New("no leader")
	calls := 0
	open := func() (int, error) {
		calls++
		if calls == 1 {
			return 0, down
		}
		return 7, nil
	}
	if v, err := l.Get(open); !errors.Is(err, down) || v != 0 {
		t.Fatalf("first Get: %d, %v; want 0, %v", v, err, down)
	}
	if _, ok := l.Made(); ok {
		t.Fatal("a failed open left a value")
	}
	for range 3 {
		if v, err := l.Get(open); err != nil || v != 7 {
			t.Fatalf("Get after the failure: %d, %v; want 7", v, err)
		}
	}
	if calls != 2 {
		t.Fatalf("open called %d times, want 2", calls)
	}
	if v, ok := l.Made(); !ok || v != 7 {
		t.Fatalf("Made: %d, %v; want 7, true", v, ok)
	}
}

// Calls at once make the value once.
func TestConcurrentCallsMakeOnce(t *testing.T) {
	var l Value[*int]
	var calls atomic.Int32
	var wg sync.WaitGroup
	got := make([]*int, 16)
	for i := range got {
		wg.Go(func() {
			v, err := l.Get(func() (*int, error) {
				calls.Add(1)
				return new(int), nil
			})
			if err != nil {
				t.Error(err)
			}
			got[i] = v
		})
	}
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Fatalf("make called %d times, want 1", n)
	}
	for _, v := range got {
		if v != got[0] || v == nil {
			t.Fatalf("callers got different values: %v", got)
		}
	}
}
