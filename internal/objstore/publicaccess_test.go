package objstore

import (
	"context"
	"errors"
	"os"
	"testing"
)

func TestPublicAccessStore(t *testing.T) {
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := d.PublicAccessBlock(ctx, "nope"); !errors.Is(err, ErrNoSuchBucket) {
		t.Fatalf("PublicAccessBlock of a missing bucket: %v, want ErrNoSuchBucket", err)
	}
	if err := d.PutPublicAccessBlock(ctx, "nope", &PublicAccessBlock{}); !errors.Is(err, ErrNoSuchBucket) {
		t.Fatalf("PutPublicAccessBlock on a missing bucket: %v, want ErrNoSuchBucket", err)
	}
	if _, err := d.PublicAccessBlock(ctx, "../x"); !errors.Is(err, ErrNoSuchBucket) {
		t.Fatalf("PublicAccessBlock of an invalid name: %v, want ErrNoSuchBucket", err)
	}
	if err := d.CreateBucket(ctx, "bkt", ""); err != nil {
		t.Fatal(err)
	}
	if cfg, err := d.PublicAccessBlock(ctx, "bkt"); err != nil || cfg != nil {
		t.Fatalf("PublicAccessBlock of an unconfigured bucket: %+v, %v", cfg, err)
	}
	for _, want := range []PublicAccessBlock{
		{BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true},
		{BlockPublicPolicy: true},
		{RestrictPublicBuckets: true},
		{},
	} {
		if err := d.PutPublicAccessBlock(ctx, "bkt", &want); err != nil {
			t.Fatal(err)
		}
		got, err := d.PublicAccessBlock(ctx, "bkt")
		if err != nil || got == nil || *got != want {
			t.Fatalf("PublicAccessBlock = %+v, %v; want %+v", got, err, want)
		}
	}
	if _, err := os.Stat(d.bucketDir("bkt") + "/public-access-block.json"); err != nil {
		t.Fatalf("the configuration's file: %v", err)
	}
	if err := d.PutPublicAccessBlock(ctx, "bkt", nil); err != nil {
		t.Fatal(err)
	}
	if cfg, err := d.PublicAccessBlock(ctx, "bkt"); err != nil || cfg != nil {
		t.Fatalf("removed configuration: %+v, %v", cfg, err)
	}
	if err := d.PutPublicAccessBlock(ctx, "bkt", nil); err != nil {
		t.Fatalf("removing an absent configuration: %v", err)
	}

	// A damaged file is an error, never a configuration of all false.
	if err := os.WriteFile(d.bucketPublicAccessPath("bkt"), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := d.PublicAccessBlock(ctx, "bkt"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("damaged configuration: %v, want ErrCorrupt", err)
	}

	// The configuration goes with its bucket.
	if err := d.PutPublicAccessBlock(ctx, "bkt", &PublicAccessBlock{BlockPublicPolicy: true}); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteBucket(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateBucket(ctx, "bkt", ""); err != nil {
		t.Fatal(err)
	}
	if cfg, err := d.PublicAccessBlock(ctx, "bkt"); err != nil || cfg != nil {
		t.Fatalf("a new bucket of the same name: %+v, %v", cfg, err)
	}
}
