package logs

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestFollowSeesOtherWriters: two Stores on one backbone, as two nodes of
// a cluster: with Follow, each lists the groups and streams the other
// wrote and returns their events, also those written after it opened,
// each once; without Follow, a Store sees only what was there when it
// opened and what it wrote itself.
func TestFollowSeesOtherWriters(t *testing.T) {
	e := openEnv(t, t.TempDir(), Options{Follow: true})
	ctx := context.Background()
	a := e.s
	b, err := Open(ctx, e.bb.JetStream(), Options{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(ctx)
	blind, err := Open(ctx, e.bb.JetStream(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer blind.Close(ctx)

	base := time.Now().UnixMilli()
	for i := range 5 {
		a.Append(groupA, streamX, []Event{{Timestamp: base + int64(i), Message: fmt.Sprintf("from a %d", i)}})
		b.Append(groupB, streamY, []Event{{Timestamp: base + int64(i), Message: fmt.Sprintf("from b %d", i)}})
	}
	for _, s := range []*Store{a, b} {
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	events := func(s *Store, group string) int {
		evs, _, err := s.FilterLogEvents(ctx, group, nil, "", 0, 0, "", 100, "")
		if err != nil {
			return -1
		}
		return len(evs)
	}
	for deadline := time.Now().Add(5 * time.Second); events(a, groupB) != 5 || events(b, groupA) != 5; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("a sees %d of b's events, b sees %d of a's, want 5 each", events(a, groupB), events(b, groupA))
		}
	}
	if n := events(a, groupA); n != 5 {
		t.Fatalf("a sees %d of its own events, want 5", n)
	}
	streams, _, err := b.DescribeLogStreams(ctx, groupA, "", false, false, 50, "")
	if err != nil || len(streams) != 1 || streams[0].Name != streamX {
		t.Fatalf("b lists a's streams as %+v (%v)", streams, err)
	}
	if n := events(blind, groupA); n > 0 {
		t.Fatalf("a store that does not follow sees %d events written after it opened", n)
	}
}
