package objstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestLifecycleDue(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		modified string
		days     int
		want     string
	}{
		// S3's own example: created 10:30 on the 15th, 3 days: midnight
		// starting the 19th.
		{"2014-01-15T10:30:00Z", 3, "2014-01-19T00:00:00Z"},
		{"2014-01-15T00:00:00Z", 1, "2014-01-16T00:00:00Z"},
		{"2014-01-15T23:59:59Z", 1, "2014-01-17T00:00:00Z"},
		{"2024-02-28T12:00:00Z", 1, "2024-03-01T00:00:00Z"}, // leap day
		{"2014-12-31T01:00:00Z", 1, "2015-01-02T00:00:00Z"},
		// An offset is counted in UTC.
		{"2014-01-15T23:30:00-02:00", 1, "2014-01-18T00:00:00Z"},
	}
	for _, tt := range tests {
		if got := LifecycleDue(at(tt.modified), tt.days); !got.Equal(at(tt.want)) {
			t.Errorf("LifecycleDue(%s, %d) = %s, want %s", tt.modified, tt.days, got, tt.want)
		}
	}
}

func TestLifecycleFilterSelects(t *testing.T) {
	tags := map[string]string{"env": "dev", "team": "a"}
	tests := []struct {
		name string
		f    LifecycleFilter
		key  string
		size int64
		tags map[string]string
		want bool
	}{
		{"empty selects all", LifecycleFilter{}, "x", 1, nil, true},
		{"prefix", LifecycleFilter{Prefix: "logs/"}, "logs/a", 1, nil, true},
		{"other prefix", LifecycleFilter{Prefix: "logs/"}, "log", 1, nil, false},
		{"tag", LifecycleFilter{Tags: []LifecycleTag{{"env", "dev"}}}, "x", 1, tags, true},
		{"tag value differs", LifecycleFilter{Tags: []LifecycleTag{{"env", "prod"}}}, "x", 1, tags, false},
		{"tag missing", LifecycleFilter{Tags: []LifecycleTag{{"env", "dev"}}}, "x", 1, nil, false},
		{"all tags", LifecycleFilter{Tags: []LifecycleTag{{"env", "dev"}, {"team", "b"}}}, "x", 1, tags, false},
		{"greater than is strict", LifecycleFilter{SizeGreaterThan: 10}, "x", 10, nil, false},
		{"greater", LifecycleFilter{SizeGreaterThan: 10}, "x", 11, nil, true},
		{"less than is strict", LifecycleFilter{SizeLessThan: 10}, "x", 10, nil, false},
		{"less", LifecycleFilter{SizeLessThan: 10}, "x", 9, nil, true},
		{"and", LifecycleFilter{Prefix: "a", Tags: []LifecycleTag{{"team", "a"}}, SizeGreaterThan: 1, SizeLessThan: 5}, "ab", 3, tags, true},
		{"and, size out", LifecycleFilter{Prefix: "a", Tags: []LifecycleTag{{"team", "a"}}, SizeGreaterThan: 1, SizeLessThan: 5}, "ab", 5, tags, false},
	}
	for _, tt := range tests {
		if got := tt.f.Selects(tt.key, tt.size, tt.tags); got != tt.want {
			t.Errorf("%s: Selects = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestRunLifecycle(t *testing.T) {
	d := openTest(t)
	mustBucket(t, d, "bkt")
	mustBucket(t, d, "none") // no rules: nothing in it is touched
	ctx := context.Background()
	put := func(bucket, key, body string, tags map[string]string) ObjectInfo {
		t.Helper()
		info, err := d.PutObject(ctx, bucket, key, strings.NewReader(body), PutOptions{Tags: tags})
		if err != nil {
			t.Fatal(err)
		}
		return info
	}
	first := put("bkt", "logs/a", "x", nil)
	put("bkt", "logs/b", "xx", nil)
	put("bkt", "keep/a", "x", nil)
	put("bkt", "tmp/a", "x", map[string]string{"kind": "scratch"})
	put("bkt", "tmp/b", "x", map[string]string{"kind": "other"})
	put("bkt", "big/a", strings.Repeat("x", 100), nil)
	put("bkt", "big/b", "x", nil)
	put("none", "logs/a", "x", nil)
	up, err := d.CreateUpload(ctx, "bkt", "uploads/u", PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	other, err := d.CreateUpload(ctx, "bkt", "keep/u", PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &LifecycleConfig{Rules: []LifecycleRule{
		{ID: "logs", Enabled: true, Filter: LifecycleFilter{Prefix: "logs/"}, Expiration: &LifecycleExpiration{Days: 2}},
		{ID: "scratch", Enabled: true, Filter: LifecycleFilter{Form: "and", Prefix: "tmp/", Tags: []LifecycleTag{{"kind", "scratch"}}},
			Expiration: &LifecycleExpiration{Days: 1}},
		{ID: "big", Enabled: true, Filter: LifecycleFilter{Prefix: "big/", SizeGreaterThan: 50}, Expiration: &LifecycleExpiration{Days: 1}},
		{ID: "off", Enabled: false, Filter: LifecycleFilter{Prefix: "keep/"}, Expiration: &LifecycleExpiration{Days: 1}},
		{ID: "uploads", Enabled: true, Filter: LifecycleFilter{Prefix: "uploads/"}, AbortDays: 1},
	}}
	if err := d.PutLifecycle(ctx, "bkt", cfg); err != nil {
		t.Fatal(err)
	}
	if got, err := d.Lifecycle(ctx, "bkt"); err != nil || len(got.Rules) != 5 || got.Rules[1].Filter.Tags[0].Value != "scratch" {
		t.Fatalf("stored configuration: %+v, %v", got, err)
	}
	var expired []string
	note := func(_ context.Context, b BucketInfo, info ObjectInfo, del Deleted) {
		if b.Name != "bkt" || !del.Existed || del.Sequencer == "" {
			t.Errorf("expired %s/%s: %+v", b.Name, info.Key, del)
		}
		expired = append(expired, info.Key)
	}
	// Before any rule is due, nothing goes.
	res, err := RunLifecycle(ctx, d, first.LastModified.Add(time.Hour), note)
	if err != nil || res != (LifecycleResult{}) || len(expired) != 0 {
		t.Fatalf("an hour on: %+v %v %v", res, err, expired)
	}
	// A day rounded up to midnight: the one-day rules, not the two-day one.
	res, err = RunLifecycle(ctx, d, LifecycleDue(first.LastModified, 1), note)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(expired)
	if want := []string{"big/a", "tmp/a"}; !slices.Equal(expired, want) || res.Expired != 2 || res.Aborted != 1 {
		t.Fatalf("a day on: expired %v (%+v), want %v and one upload aborted", expired, res, want)
	}
	if _, err := d.ListParts(ctx, "bkt", "uploads/u", up, 0, 1000); !errors.Is(err, ErrNoSuchUpload) {
		t.Fatalf("the old upload: %v", err)
	}
	if _, err := d.ListParts(ctx, "bkt", "keep/u", other, 0, 1000); err != nil {
		t.Fatalf("an upload no rule selects: %v", err)
	}
	expired = nil
	if _, err := RunLifecycle(ctx, d, LifecycleDue(first.LastModified, 2), note); err != nil {
		t.Fatal(err)
	}
	slices.Sort(expired)
	if want := []string{"logs/a", "logs/b"}; !slices.Equal(expired, want) {
		t.Fatalf("two days on: expired %v, want %v", expired, want)
	}
	for _, k := range []string{"keep/a", "tmp/b", "big/b"} {
		if _, err := d.HeadObject(ctx, "bkt", k); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
	if _, err := d.HeadObject(ctx, "none", "logs/a"); err != nil {
		t.Errorf("bucket without rules: %v", err)
	}
	// Removing the configuration stops the rules.
	if err := d.PutLifecycle(ctx, "bkt", nil); err != nil {
		t.Fatal(err)
	}
	if got, err := d.Lifecycle(ctx, "bkt"); got != nil || err != nil {
		t.Fatalf("after removal: %+v %v", got, err)
	}
}

func TestLifecycleDateRule(t *testing.T) {
	d := openTest(t)
	mustBucket(t, d, "bkt")
	ctx := context.Background()
	if _, err := d.PutObject(ctx, "bkt", "a", strings.NewReader("x"), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	date := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := d.PutLifecycle(ctx, "bkt", &LifecycleConfig{Rules: []LifecycleRule{
		{ID: "d", Enabled: true, Expiration: &LifecycleExpiration{Date: date}}}}); err != nil {
		t.Fatal(err)
	}
	if res, err := RunLifecycle(ctx, d, date.Add(-time.Second), nil); err != nil || res.Expired != 0 {
		t.Fatalf("before the date: %+v %v", res, err)
	}
	if res, err := RunLifecycle(ctx, d, date, nil); err != nil || res.Expired != 1 {
		t.Fatalf("at the date: %+v %v", res, err)
	}
}

// A lifecycle expiration never removes an object written after it was
// judged.
func TestExpireObjectKeepsNewerObject(t *testing.T) {
	d := openTest(t)
	mustBucket(t, d, "bkt")
	ctx := context.Background()
	old, err := d.PutObject(ctx, "bkt", "k", strings.NewReader("old"), PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.PutObject(ctx, "bkt", "k", strings.NewReader("new content"), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if del, err := d.ExpireObject(ctx, "bkt", "k", old); err != nil || del.Existed {
		t.Fatalf("expiring a replaced object: %+v %v", del, err)
	}
	if body, _ := read(t, d, "bkt", "k"); body != "new content" {
		t.Fatalf("the newer object: %q", body)
	}
	cur, err := d.HeadObject(ctx, "bkt", "k")
	if err != nil {
		t.Fatal(err)
	}
	if del, err := d.ExpireObject(ctx, "bkt", "k", cur); err != nil || !del.Existed {
		t.Fatalf("expiring the current object: %+v %v", del, err)
	}
	if _, err := d.HeadObject(ctx, "bkt", "k"); !errors.Is(err, ErrNoSuchKey) {
		t.Fatalf("after expiry: %v", err)
	}
	if del, err := d.ExpireObject(ctx, "bkt", "k", cur); err != nil || del.Existed {
		t.Fatalf("expiring it again: %+v %v", del, err)
	}
}

// The job applies the rules only in rounds this node holds the lease of,
// and gives the lease up when stopped.
func TestStartLifecycleHoldsLease(t *testing.T) {
	d := openTest(t)
	mustBucket(t, d, "bkt")
	ctx := context.Background()
	if _, err := d.PutObject(ctx, "bkt", "a", strings.NewReader("x"), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := d.PutLifecycle(ctx, "bkt", &LifecycleConfig{Rules: []LifecycleRule{{ID: "d", Enabled: true,
		Expiration: &LifecycleExpiration{Date: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}}}}); err != nil {
		t.Fatal(err)
	}
	var holds atomic.Int32 // the first three rounds are another node's
	var released atomic.Bool
	expired := make(chan string, 1)
	s := StartLifecycle(d, d.now, LifecycleOptions{
		Interval: 10 * time.Millisecond,
		Hold:     func(context.Context) bool { return holds.Add(1) > 3 },
		Release:  func(context.Context) { released.Store(true) },
		Expired: func(_ context.Context, _ BucketInfo, info ObjectInfo, _ Deleted) {
			if n := holds.Load(); n <= 3 {
				t.Errorf("expired in round %d, whose lease another node held", n)
			}
			expired <- info.Key
		},
	})
	select {
	case k := <-expired:
		if k != "a" {
			t.Fatalf("expired %q", k)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no expiration")
	}
	s.Stop()
	if !released.Load() {
		t.Fatal("lease not released")
	}
	if _, err := d.HeadObject(ctx, "bkt", "a"); !errors.Is(err, ErrNoSuchKey) {
		t.Fatalf("after the job: %v", err)
	}
}

// BenchmarkRunLifecycle is one round over a bucket of 1,000 objects, one
// rule selecting them by prefix, none of them due.
func BenchmarkRunLifecycle(b *testing.B) {
	d, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := d.CreateBucket(ctx, "bkt", ""); err != nil {
		b.Fatal(err)
	}
	for i := range 1000 {
		if _, err := d.PutObject(ctx, "bkt", fmt.Sprintf("logs/%04d", i), strings.NewReader("x"), PutOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	if err := d.PutLifecycle(ctx, "bkt", &LifecycleConfig{Rules: []LifecycleRule{{ID: "logs", Enabled: true,
		Filter: LifecycleFilter{Prefix: "logs/"}, Expiration: &LifecycleExpiration{Days: 30}}}}); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	for b.Loop() {
		if res, err := RunLifecycle(ctx, d, now, nil); err != nil || res.Expired != 0 {
			b.Fatal(res, err)
		}
	}
}
