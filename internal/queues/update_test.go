package queues

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestConcurrentChanges: forty changes of one queue's record at once (as
// a client's retries pile up after an election) all succeed, each over
// the others: none is lost and none gives up.
func TestConcurrentChanges(t *testing.T) {
	s := open(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := s.Create(ctx, "busy", "us-east-1", nil, nil); err != nil {
		t.Fatal(err)
	}
	const n = 40
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = s.Tag(ctx, "busy", map[string]string{fmt.Sprintf("k%02d", i): "v"})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("change %d: %v", i, err)
		}
	}
	r, qerr := s.get("busy")
	if qerr != nil {
		t.Fatal(qerr)
	}
	if len(r.Tags) != n {
		t.Fatalf("%d tags after %d changes: %v", len(r.Tags), n, r.Tags)
	}
}
