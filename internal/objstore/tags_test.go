package objstore

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"
)

func TestObjectTags(t *testing.T) {
	d := openTest(t)
	mustBucket(t, d, "bkt")
	ctx := context.Background()
	info, err := d.PutObject(ctx, "bkt", "k", strings.NewReader("content"), PutOptions{Tags: map[string]string{"a": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, got := read(t, d, "bkt", "k"); !maps.Equal(got.Tags, map[string]string{"a": "1"}) {
		t.Fatalf("tags from the put: %v", got.Tags)
	}
	if err := d.PutObjectTags(ctx, "bkt", "k", map[string]string{"b": "2", "c": ""}); err != nil {
		t.Fatal(err)
	}
	body, got := read(t, d, "bkt", "k")
	if body != "content" || got.ETag != info.ETag || !got.LastModified.Equal(info.LastModified) ||
		!maps.Equal(got.Tags, map[string]string{"b": "2", "c": ""}) {
		t.Fatalf("after retagging: %q %+v", body, got)
	}
	// A copy keeps the source's tags unless told otherwise.
	if _, err := d.CopyObject(ctx, "bkt", "k", "bkt", "copy", nil); err != nil {
		t.Fatal(err)
	}
	if _, c := read(t, d, "bkt", "copy"); !maps.Equal(c.Tags, got.Tags) {
		t.Fatalf("copy's tags: %v", c.Tags)
	}
	if err := d.PutObjectTags(ctx, "bkt", "k", nil); err != nil {
		t.Fatal(err)
	}
	if _, got := read(t, d, "bkt", "k"); got.Tags != nil {
		t.Fatalf("tags left: %v", got.Tags)
	}
	if err := d.PutObjectTags(ctx, "bkt", "missing", nil); !errors.Is(err, ErrNoSuchKey) {
		t.Fatalf("tags of a missing key: %v", err)
	}
	if left := tmpEntries(t, d); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

func TestBucketTags(t *testing.T) {
	d := openTest(t)
	mustBucket(t, d, "bkt")
	ctx := context.Background()
	if tags, err := d.BucketTags(ctx, "bkt"); err != nil || tags != nil {
		t.Fatalf("new bucket's tags: %v, %v", tags, err)
	}
	if err := d.PutBucketTags(ctx, "bkt", map[string]string{"team": "x"}); err != nil {
		t.Fatal(err)
	}
	if tags, err := d.BucketTags(ctx, "bkt"); err != nil || !maps.Equal(tags, map[string]string{"team": "x"}) {
		t.Fatalf("tags: %v, %v", tags, err)
	}
	if err := d.PutBucketTags(ctx, "bkt", nil); err != nil {
		t.Fatal(err)
	}
	if tags, err := d.BucketTags(ctx, "bkt"); err != nil || tags != nil {
		t.Fatalf("removed tags: %v, %v", tags, err)
	}
	if _, err := d.BucketTags(ctx, "nobkt"); !errors.Is(err, ErrNoSuchBucket) {
		t.Fatalf("tags of a missing bucket: %v", err)
	}
	// The tags file does not keep a bucket from being deleted.
	if err := d.PutBucketTags(ctx, "bkt", map[string]string{"team": "x"}); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteBucket(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}
}
