package tables

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestTimeToLive deletes expired items in the background on two nodes,
// once each, recorded in the stream as the service's deletions, and
// leaves alone items not yet expired, too long expired, or without a
// numeric expiry.
func TestTimeToLive(t *testing.T) {
	SweepEvery = 20 * time.Millisecond
	defer func() { SweepEvery = time.Second }()
	st := openStore(t)
	a, b := service(t, st), service(t, st)
	ctx := context.Background()
	if _, err := a.CreateTable(ctx, Def{Name: "sessions", BillingMode: "PAY_PER_REQUEST", KeySchema: []KeyElement{{"id", "HASH"}},
		AttributeDefinitions: []AttributeDefinition{{"id", "S"}}, Stream: &StreamSpec{ViewType: "OLD_IMAGE"}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	for id, exp := range map[string]string{
		"past":    fmt.Sprintf(`{"N":"%d"}`, now-10),
		"past2":   fmt.Sprintf(`{"N":"%d.5"}`, now-100),
		"future":  fmt.Sprintf(`{"N":"%d"}`, now+3600),
		"ancient": fmt.Sprintf(`{"N":"%d"}`, now-6*365*24*3600),
		"text":    fmt.Sprintf(`{"S":"%d"}`, now-10),
	} {
		if _, err := a.PutItem(ctx, "sessions", it(t, `{"id":{"S":"`+id+`"},"exp":`+exp+`}`), Condition{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.SetTTL(ctx, "sessions", true, "exp"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.SetTTL(ctx, "sessions", true, "exp"); errType(err) != "ValidationException" {
		t.Fatalf("enabled twice: %v", err)
	}
	waitFor(t, func() bool {
		_, count, _, _ := a.Describe("sessions")
		return count == 3
	})
	for _, id := range []string{"future", "ancient", "text"} {
		if got, _ := b.GetItem(ctx, "sessions", it(t, `{"id":{"S":"`+id+`"}}`), true); got == nil {
			t.Errorf("%s was deleted", id)
		}
	}
	arn := a.Streams("sessions")[0].ARN
	iter, err := a.Iterator(ctx, arn, ShardID(&Stream{Label: a.Streams("sessions")[0].Label}), "TRIM_HORIZON", 0)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // both nodes have swept several times
	recs, _, err := a.Records(ctx, iter, 100)
	if err != nil {
		t.Fatal(err)
	}
	removed := map[string]int{}
	for _, r := range recs {
		if r.Name == "REMOVE" {
			if !r.Service || r.Old == nil {
				t.Errorf("a deletion by the time to live: %+v", r)
			}
			removed[r.Keys["id"].Str]++
			if ev := r.Event(""); ev["userIdentity"] == nil {
				t.Errorf("the event has no userIdentity: %v", ev)
			}
		}
	}
	if len(removed) != 2 || removed["past"] != 1 || removed["past2"] != 1 {
		t.Fatalf("deletions recorded: %v", removed)
	}
	if _, err := a.SetTTL(ctx, "sessions", false, "other"); errType(err) != "ValidationException" {
		t.Fatalf("disabled on another attribute: %v", err)
	}
	if _, err := a.SetTTL(ctx, "sessions", false, "exp"); err != nil {
		t.Fatal(err)
	}
}
