package objstore

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// keyLocks hands out one mutex per string, kept only while in use.
type keyLocks struct {
	mu sync.Mutex          // guards m
	m  map[string]*keyLock // in-use locks by name
}

type keyLock struct {
	mu    sync.Mutex
	users int // holders and waiters; guarded by keyLocks.mu
}

// lock locks name and returns the unlock function.
func (l *keyLocks) lock(name string) func() {
	l.mu.Lock()
	if l.m == nil {
		l.m = make(map[string]*keyLock)
	}
	k := l.m[name]
	if k == nil {
		k = &keyLock{}
		l.m[name] = k
	}
	k.users++
	l.mu.Unlock()
	k.mu.Lock()
	return func() {
		k.mu.Unlock()
		l.mu.Lock()
		if k.users--; k.users == 0 {
			delete(l.m, name)
		}
		l.mu.Unlock()
	}
}

// sequencer issues increasing numbers seeded from the nanosecond clock.
type sequencer struct {
	last atomic.Uint64
}

// next returns a number larger than every one returned before, and at
// least the current Unix time in nanoseconds, as 16 upper-case hex digits.
func (s *sequencer) next() string {
	for {
		old := s.last.Load()
		n := uint64(time.Now().UnixNano())
		if n <= old {
			n = old + 1
		}
		if s.last.CompareAndSwap(old, n) {
			return fmt.Sprintf("%016X", n)
		}
	}
}
