package invoker

import (
	"sync"
	"time"
)

// turns bounds how many instance starts run at once. Starting everything a
// burst asks for at once would share the CPUs among all of the starts, so
// that none would be ready before nearly all were; with turns the first
// instances come up early, and requests they serve withdraw starts still
// waiting. Waiting starts get their turns one key (a function's pool) after
// another, so a burst of one function does not hold up another's start.
//
// A start keeps its turn until it ends or for hold, whichever is sooner: one
// that waits on something other than the CPUs (a slow initialisation, say)
// lets the next begin.
type turns struct {
	limit int
	hold  time.Duration

	mu      sync.Mutex
	running int               // guarded by mu: turns taken and not yet ended
	queues  map[any][]*ticket // guarded by mu: waiting starts by key, oldest first
	order   []any             // guarded by mu: keys with waiting starts, next to serve first
}

// ticket is one start waiting for its turn.
type ticket struct {
	ready     chan struct{} // closed when the turn is given
	given     bool          // guarded by turns.mu
	withdrawn bool          // guarded by turns.mu
}

func newTurns(limit int, hold time.Duration) *turns {
	return &turns{limit: limit, hold: hold, queues: map[any][]*ticket{}}
}

// wait returns when a start under key may begin, with the function that
// ends its turn. It reports false, with nothing to end, when left or stop
// is closed first (the start is not needed, or the invoker is closing); a
// nil channel never closes.
func (t *turns) wait(key any, left, stop <-chan struct{}) (end func(), ok bool) {
	t.mu.Lock()
	if t.running < t.limit && len(t.order) == 0 {
		t.running++
		t.mu.Unlock()
		return t.ender(), true
	}
	tk := &ticket{ready: make(chan struct{})}
	q, queued := t.queues[key]
	t.queues[key] = append(q, tk)
	if !queued {
		t.order = append(t.order, key)
	}
	t.mu.Unlock()
	select {
	case <-tk.ready:
		return t.ender(), true
	case <-left:
	case <-stop:
	}
	t.mu.Lock()
	given := tk.given
	tk.withdrawn = true
	t.mu.Unlock()
	if given { // given meanwhile: pass it on
		t.release()
	}
	return nil, false
}

// ender returns the end of a turn just taken: called, or hold later,
// whichever is first, it lets the next start begin.
func (t *turns) ender() func() {
	var once sync.Once
	free := func() { once.Do(t.release) }
	timer := time.AfterFunc(t.hold, free)
	return func() {
		timer.Stop()
		free()
	}
}

// release ends a turn and gives it to the next waiting start, if any.
func (t *turns) release() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.running--
	for t.running < t.limit {
		tk := t.next()
		if tk == nil {
			return
		}
		tk.given = true
		t.running++
		close(tk.ready)
	}
}

// next pops the oldest live ticket of the key whose turn it is, moving
// that key to the back of the order; it returns nil when no start waits.
func (t *turns) next() *ticket {
	for len(t.order) > 0 {
		key := t.order[0]
		t.order[0] = nil
		t.order = t.order[1:]
		q := t.queues[key]
		for len(q) > 0 && q[0].withdrawn {
			q[0] = nil
			q = q[1:]
		}
		if len(q) == 0 {
			delete(t.queues, key)
			continue
		}
		tk := q[0]
		q[0] = nil
		if q = q[1:]; len(q) == 0 {
			delete(t.queues, key)
		} else {
			t.queues[key] = q
			t.order = append(t.order, key)
		}
		return tk
	}
	return nil
}
