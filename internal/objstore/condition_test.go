package objstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestConditionalPutRace(t *testing.T) {
	d := openTest(t)
	mustBucket(t, d, "bkt")
	ctx := WithWriteCondition(context.Background(), WriteCondition{IfNoneMatch: true})
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = d.PutObject(ctx, "bkt", "k", strings.NewReader(fmt.Sprint("writer ", i)), PutOptions{})
		}()
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Fatalf("writers %d and %d both won", won, i)
		case err == nil:
			won = i
		case !errors.Is(err, ErrPreconditionFailed):
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	if won < 0 {
		t.Fatal("no writer won")
	}
	if got, _ := read(t, d, "bkt", "k"); got != fmt.Sprint("writer ", won) {
		t.Fatalf("object holds %q, the winner was %d", got, won)
	}
}

func TestConditionalIfMatch(t *testing.T) {
	d := openTest(t)
	mustBucket(t, d, "bkt")
	cond := func(c WriteCondition) context.Context { return WithWriteCondition(context.Background(), c) }
	if _, err := d.PutObject(cond(WriteCondition{IfMatch: `"abc"`}), "bkt", "k", strings.NewReader("x"), PutOptions{}); !errors.Is(err, ErrNoSuchKey) {
		t.Fatalf("If-Match on a missing key: %v, want ErrNoSuchKey", err)
	}
	first := put(t, d, "bkt", "k", "one")
	if _, err := d.PutObject(cond(WriteCondition{IfMatch: `"0123"`}), "bkt", "k", strings.NewReader("two"), PutOptions{}); !errors.Is(err, ErrPreconditionFailed) {
		t.Fatalf("If-Match with another ETag: %v", err)
	}
	if _, err := d.PutObject(cond(WriteCondition{IfMatch: `"` + first.ETag + `"`}), "bkt", "k", strings.NewReader("two"), PutOptions{}); err != nil {
		t.Fatalf("If-Match with the current ETag: %v", err)
	}
	if got, _ := read(t, d, "bkt", "k"); got != "two" {
		t.Fatalf("object holds %q", got)
	}
	// A copy's condition is on its destination.
	put(t, d, "bkt", "src", "source")
	if _, err := d.CopyObject(cond(WriteCondition{IfNoneMatch: true}), "bkt", "src", "bkt", "k", nil); !errors.Is(err, ErrPreconditionFailed) {
		t.Fatalf("conditional copy over an object: %v", err)
	}
	if _, err := d.CopyObject(cond(WriteCondition{IfNoneMatch: true}), "bkt", "src", "bkt", "new", nil); err != nil {
		t.Fatalf("conditional copy to a new key: %v", err)
	}
	if got, _ := read(t, d, "bkt", "k"); got != "two" {
		t.Fatalf("a refused copy changed the object: %q", got)
	}
}
