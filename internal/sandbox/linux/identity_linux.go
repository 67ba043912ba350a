package linux

import (
	"fmt"
	"sync"
)

// identities hands out the user and group ids functions run as. With a
// fixed identity every instance shares it; otherwise each instance gets
// one of its own from a range, given back once the instance's last
// process is gone, so that no two live instances ever share one: one
// function's processes cannot signal, trace or read the files of
// another's, and per-user kernel limits count each instance alone.
type identities struct {
	fixed int  // the shared identity, or 0
	root  bool // every function keeps init's identity, root of a user namespace

	mu    sync.Mutex
	first int
	n     int   // size of the range
	next  int   // offsets below next have been handed out at least once
	free  []int // identities given back, handed out again only once the range is used up
}

func newIdentities(fixed, first, n int) (*identities, error) {
	if fixed < 0 || first <= 0 || n <= 0 || first+n-1 > 1<<31-2 {
		return nil, fmt.Errorf("invalid identity range: %d ids from %d, or fixed %d", n, first, fixed)
	}
	if fixed != 0 {
		first, n = fixed, 1
	}
	return &identities{fixed: fixed, first: first, n: n}, nil
}

// take returns an identity for a new instance.
func (ids *identities) take() (int, error) {
	if ids.root {
		return 0, nil
	}
	if ids.fixed != 0 {
		return ids.fixed, nil
	}
	ids.mu.Lock()
	defer ids.mu.Unlock()
	var id int
	switch {
	case ids.next < ids.n:
		id = ids.first + ids.next
		ids.next++
	case len(ids.free) > 0:
		id = ids.free[0]
		ids.free = ids.free[1:]
	default:
		return 0, fmt.Errorf("all %d identities from %d are in use", ids.n, ids.first)
	}
	return id, nil
}

// give returns the identity of an instance whose processes are all gone.
func (ids *identities) give(id int) {
	if ids.root || ids.fixed != 0 || id == 0 {
		return
	}
	ids.mu.Lock()
	ids.free = append(ids.free, id)
	ids.mu.Unlock()
}
