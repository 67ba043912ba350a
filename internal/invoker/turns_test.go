package invoker

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// waitAsync starts t.wait in a goroutine and returns where its outcome
// arrives.
func waitAsync(t *turns, key any, left, stop <-chan struct{}) <-chan func() {
	got := make(chan func(), 1)
	go func() {
		end, ok := t.wait(key, left, stop)
		if !ok {
			end = nil
		}
		got <- end
	}()
	return got
}

// queued waits until n starts wait for a turn.
func queued(tb testing.TB, t *turns, n int) {
	tb.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		t.mu.Lock()
		k := 0
		for _, q := range t.queues {
			for _, tk := range q {
				if !tk.withdrawn {
					k++
				}
			}
		}
		t.mu.Unlock()
		if k == n {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d starts wait, want %d", k, n)
		}
	}
}

func TestTurnsLimit(t *testing.T) {
	tr := newTurns(2, time.Hour)
	end1, ok1 := tr.wait("a", nil, nil)
	end2, ok2 := tr.wait("a", nil, nil)
	if !ok1 || !ok2 {
		t.Fatal("the first two starts should begin at once")
	}
	third := waitAsync(tr, "a", nil, nil)
	queued(t, tr, 1)
	select {
	case <-third:
		t.Fatal("a third start began while two ran")
	case <-time.After(20 * time.Millisecond):
	}
	end1()
	end1() // ending twice gives back one turn
	end3 := <-third
	if end3 == nil {
		t.Fatal("the third start got no turn")
	}
	fourth := waitAsync(tr, "a", nil, nil)
	queued(t, tr, 1)
	end2()
	end3()
	if end4 := <-fourth; end4 == nil {
		t.Fatal("the fourth start got no turn")
	} else {
		end4()
	}
	if tr.running != 0 {
		t.Fatalf("%d turns still taken", tr.running)
	}
}

// Waiting starts take turns key by key: a burst of one function does not
// hold up another's start.
func TestTurnsRoundRobin(t *testing.T) {
	tr := newTurns(1, time.Hour)
	end, _ := tr.wait("first", nil, nil)
	var order []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	enqueue := func(key, name string) {
		wg.Add(1)
		got := waitAsync(tr, key, nil, nil)
		go func() {
			defer wg.Done()
			e := <-got
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
			e()
		}()
	}
	for i, name := range []string{"a1", "a2", "a3"} {
		enqueue("a", name)
		queued(t, tr, i+1)
	}
	enqueue("b", "b1")
	queued(t, tr, 4)
	end()
	wg.Wait()
	want := []string{"a1", "b1", "a2", "a3"}
	if len(order) != len(want) {
		t.Fatalf("order %v, want %v", order, want)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("order %v, want %v", order, want)
		}
	}
}

// A start whose request left before its turn came starts nothing, and its
// place goes to the next.
func TestTurnsWithdrawn(t *testing.T) {
	tr := newTurns(1, time.Hour)
	end, _ := tr.wait("a", nil, nil)
	left := make(chan struct{})
	gone := waitAsync(tr, "a", left, nil)
	queued(t, tr, 1)
	next := waitAsync(tr, "b", nil, nil)
	queued(t, tr, 2)
	close(left)
	if e := <-gone; e != nil {
		t.Fatal("a withdrawn start got a turn")
	}
	end()
	e := <-next
	if e == nil {
		t.Fatal("the start after a withdrawn one got no turn")
	}
	e()
	stop := make(chan struct{})
	end, _ = tr.wait("a", nil, nil)
	stopped := waitAsync(tr, "a", nil, stop)
	queued(t, tr, 1)
	close(stop)
	if e := <-stopped; e != nil {
		t.Fatal("a start got a turn after stop")
	}
	end()
	if tr.running != 0 {
		t.Fatalf("%d turns still taken", tr.running)
	}
}

// A start that keeps its turn past hold lets the next begin.
func TestTurnsHold(t *testing.T) {
	tr := newTurns(1, 10*time.Millisecond)
	slow, _ := tr.wait("a", nil, nil)
	next := waitAsync(tr, "a", nil, nil)
	select {
	case e := <-next:
		e()
	case <-time.After(5 * time.Second):
		t.Fatal("a start holding its turn past hold kept the next waiting")
	}
	slow() // ends nothing more: its turn was given back at hold
	if tr.running != 0 {
		t.Fatalf("%d turns still taken", tr.running)
	}
}

// Under many concurrent starts, some withdrawn at any moment, every turn
// taken is given back and no more than the limit run at once.
func TestTurnsConcurrent(t *testing.T) {
	const limit = 3
	tr := newTurns(limit, time.Hour)
	var mu sync.Mutex
	running, most := 0, 0
	var wg sync.WaitGroup
	for i := range 400 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			left := make(chan struct{})
			if i%3 == 0 {
				time.AfterFunc(time.Duration(rand.IntN(2000))*time.Microsecond, func() { close(left) })
			}
			end, ok := tr.wait(i%5, left, nil)
			if !ok {
				return
			}
			mu.Lock()
			running++
			most = max(most, running)
			mu.Unlock()
			time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond)
			mu.Lock()
			running--
			mu.Unlock()
			end()
		}()
	}
	wg.Wait()
	if most > limit {
		t.Fatalf("%d starts ran at once, limit %d", most, limit)
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.running != 0 {
		t.Fatalf("%d turns still taken", tr.running)
	}
}
