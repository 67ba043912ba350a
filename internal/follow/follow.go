// Package follow keeps an in-memory copy of a JetStream key-value bucket
// current on every node: it replays every key, then passes on each
// change made on this node or another. The function registry, the
// gateway's catalog and the identities follow their buckets with it.
package follow

import (
	"context"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// Follower follows one bucket until Stop.
type Follower struct {
	stop context.CancelFunc
	wg   sync.WaitGroup
}

// KV calls apply with every current entry of kv and then ready (nil
// for none) once, before it returns; afterwards, in a goroutine of its
// own, it calls apply for each change, until Stop. A package that
// publishes a compiled view does so in ready and, once ready has run,
// within apply, under the same lock as the change, so that a writer
// waiting for its revision finds the view that has it.
func KV(ctx context.Context, kv jetstream.KeyValue, apply func(jetstream.KeyValueEntry), ready func()) (*Follower, error) {
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("follow: watch %s: %w", kv.Bucket(), err)
	}
	// The watch first replays every current key; a nil entry marks the
	// end of that.
	for e := range w.Updates() {
		if e == nil {
			break
		}
		apply(e)
	}
	if ready != nil {
		ready()
	}
	wctx, cancel := context.WithCancel(context.Background())
	f := &Follower{stop: cancel}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		defer w.Stop()
		for {
			select {
			case <-wctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e != nil {
					apply(e)
				}
			}
		}
	}()
	return f, nil
}

// Stop ends the following and waits for the goroutine; it may be called
// more than once.
func (f *Follower) Stop() {
	if f == nil {
		return
	}
	f.stop()
	f.wg.Wait()
}

// Deleted reports whether e records a deletion (or a purge).
func Deleted(e jetstream.KeyValueEntry) bool {
	op := e.Operation()
	return op == jetstream.KeyValueDelete || op == jetstream.KeyValuePurge
}
