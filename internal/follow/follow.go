// Package follow keeps an in-memory copy of a JetStream key-value bucket
// current on every node: it replays every key, then passes on each
// change made on this node or another. The function registry, the
// gateway's catalog, the identities, the queues, topics and event source
// mappings follow their buckets with it; Revisions lets a writer read its
// own write, and Secret keeps a bucket's shared secret.
package follow

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

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

// Revisions tells a writer when the copy kept by a Follower has applied
// the revision of its own write, so that it reads what it wrote. The
// zero value is ready to use.
type Revisions struct {
	mu   sync.Mutex
	cond *sync.Cond
	rev  uint64
}

// Applied records that the copy holds every change up to rev; call it
// from apply.
func (r *Revisions) Applied(rev uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.init()
	if rev > r.rev {
		r.rev = rev
		r.cond.Broadcast()
	}
}

// Wait returns once the copy has applied rev, or after five seconds
// (the watch delivers within milliseconds).
func (r *Revisions) Wait(rev uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.init()
	deadline := time.Now().Add(5 * time.Second)
	for r.rev < rev && time.Now().Before(deadline) {
		t := time.AfterFunc(10*time.Millisecond, r.cond.Broadcast)
		r.cond.Wait()
		t.Stop()
	}
}

func (r *Revisions) init() {
	if r.cond == nil {
		r.cond = sync.NewCond(&r.mu)
	}
}

// Secret returns the random 32-byte secret kept in kv under key, making
// it on the first start of the first node: what every node needs alike
// to seal and check tokens and handles.
func Secret(ctx context.Context, kv jetstream.KeyValue, key string) ([]byte, error) {
	b := make([]byte, 32)
	rand.Read(b) // crypto/rand.Read never fails
	if _, err := kv.Create(ctx, key, []byte(base64.StdEncoding.EncodeToString(b))); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return nil, fmt.Errorf("follow: create the secret %s: %w", key, err)
	}
	e, err := kv.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("follow: read the secret %s: %w", key, err)
	}
	out, err := base64.StdEncoding.DecodeString(string(e.Value()))
	if err != nil || len(out) < 32 {
		return nil, fmt.Errorf("follow: the secret %s in bucket %s is damaged", key, kv.Bucket())
	}
	return out, nil
}
