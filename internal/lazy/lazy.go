// Package lazy makes a value on its first use, for what a service opens
// on the backbone only when a request first needs it (a bucket, a
// stream). Unlike sync.OnceValues, it keeps a failure only for the call
// that met it: the next use tries again, so a cluster electing a leader,
// or a caller that gave up, at the moment of the first use does not leave
// the service failing every later request until it restarts.
package lazy

import "sync"

// Value is a value made on first use. The zero Value is ready to use.
type Value[T any] struct {
	mu   sync.Mutex
	v    T
	made bool
}

// Get returns the value, calling open to make it if no call has yet
// succeeded. Calls at once wait for the one making it; open's error is
// returned to its caller and not kept.
func (l *Value[T]) Get(open func() (T, error)) (T, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.made {
		return l.v, nil
	}
	v, err := open()
	if err != nil {
		var zero T
		return zero, err
	}
	l.v, l.made = v, true
	return v, nil
}

// Made returns the value and true once it has been made, without making
// it; a make under way is waited for.
func (l *Value[T]) Made() (T, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.v, l.made
}
