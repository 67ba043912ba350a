package tables

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// TestStreamHistory keeps every version of an item while the table's
// stream is on, serves them as records for the retention only, and then
// deletes all but each item's latest; with the stream off (and the
// retention past) a write keeps only the latest version.
func TestStreamHistory(t *testing.T) {
	saved := streamRetention
	streamRetention = 400 * time.Millisecond
	t.Cleanup(func() { streamRetention = saved })
	st := openStore(t)
	s := service(t, st)
	ctx := context.Background()
	if _, err := s.CreateTable(ctx, Def{Name: "history", BillingMode: "PAY_PER_REQUEST", KeySchema: []KeyElement{{"id", "HASH"}},
		AttributeDefinitions: []AttributeDefinition{{"id", "S"}}, Stream: &StreamSpec{ViewType: "NEW_IMAGE"}}); err != nil {
		t.Fatal(err)
	}
	d, _, _, _ := s.Describe("history")
	put := func(id, v string) {
		t.Helper()
		if _, err := s.PutItem(ctx, "history", it(t, `{"id":{"S":"`+id+`"},"v":{"N":"`+v+`"}}`), Condition{}); err != nil {
			t.Fatal(err)
		}
	}
	versions := func(id string) uint64 {
		t.Helper()
		js, err := st.JetStream().Stream(ctx, itemStream)
		if err != nil {
			t.Fatal(err)
		}
		subject := d.subject(keyHash(str(id), nil))
		info, err := js.Info(ctx, jetstream.WithSubjectFilter(subject))
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Subjects[subject]
	}
	records := func() int {
		t.Helper()
		desc, err := s.DescribeStream(ctx, d.StreamARN())
		if err != nil {
			t.Fatal(err)
		}
		iter, err := s.Iterator(ctx, d.StreamARN(), ShardID(desc), "TRIM_HORIZON", 0)
		if err != nil {
			t.Fatal(err)
		}
		recs, _, err := s.Records(ctx, iter, 100)
		if err != nil {
			t.Fatal(err)
		}
		return len(recs)
	}
	put("a", "1")
	put("a", "2")
	put("a", "3")
	put("b", "1")
	if n := versions("a"); n != 3 {
		t.Fatalf("a has %d versions stored, want 3 while its stream is on", n)
	}
	if n := records(); n != 4 {
		t.Fatalf("%d records, want 4", n)
	}
	tbl, _ := s.get("history")
	if err := s.compactTable(ctx, tbl); err != nil {
		t.Fatal(err)
	}
	if n := versions("a"); n != 3 {
		t.Fatalf("the compactor deleted records younger than the retention: a has %d versions", n)
	}
	time.Sleep(500 * time.Millisecond)
	if n := records(); n != 0 {
		t.Fatalf("%d records older than the retention served", n)
	}
	if err := s.compactTable(ctx, tbl); err != nil {
		t.Fatal(err)
	}
	if a, b := versions("a"), versions("b"); a != 1 || b != 1 {
		t.Fatalf("after compaction a has %d versions and b %d, want 1 each", a, b)
	}
	// What the compactor kept is what the items are, here and on a node
	// that starts now.
	for _, svc := range []*Service{s, service(t, st)} {
		got, err := svc.GetItem(ctx, "history", it(t, `{"id":{"S":"a"}}`), true)
		if err != nil || got["v"].Str != "3" {
			t.Fatalf("a after compaction: %v, %v", got, err)
		}
	}
	put("a", "4")
	if n := records(); n != 1 {
		t.Fatalf("%d records after a new write, want 1", n)
	}
	// Disabled, the stream's records stay readable for the retention, so
	// writes still keep history; after it, a write keeps one version.
	if _, err := s.SetStream(ctx, "history", false, ""); err != nil {
		t.Fatal(err)
	}
	put("a", "5")
	if n := versions("a"); n != 3 {
		t.Fatalf("a has %d versions just after its stream was disabled, want 3", n)
	}
	time.Sleep(500 * time.Millisecond)
	put("a", "6")
	if n := versions("a"); n != 1 {
		t.Fatalf("a has %d versions once the disabled stream expired, want 1", n)
	}
}
