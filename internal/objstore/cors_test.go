package objstore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestCORSStore(t *testing.T) {
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := d.CORS(ctx, "nope", nil); !errors.Is(err, ErrNoSuchBucket) {
		t.Fatalf("CORS of a missing bucket: %v, want ErrNoSuchBucket", err)
	}
	if err := d.PutCORS(ctx, "nope", &CORSConfig{}); !errors.Is(err, ErrNoSuchBucket) {
		t.Fatalf("PutCORS on a missing bucket: %v, want ErrNoSuchBucket", err)
	}
	if err := d.CreateBucket(ctx, "bkt", ""); err != nil {
		t.Fatal(err)
	}
	if cfg, err := d.CORS(ctx, "bkt", nil); err != nil || cfg != nil {
		t.Fatalf("CORS of an unconfigured bucket: %+v, %v", cfg, err)
	}
	age := 30
	want := &CORSConfig{Rules: []CORSRule{{ID: "r", AllowedMethods: []string{"GET"}, AllowedOrigins: []string{"*"}, MaxAgeSeconds: &age}}}
	if err := d.PutCORS(ctx, "bkt", want); err != nil {
		t.Fatal(err)
	}
	got, err := d.CORS(ctx, "bkt", nil)
	if err != nil || got == nil || len(got.Rules) != 1 || got.Rules[0].ID != "r" || *got.Rules[0].MaxAgeSeconds != 30 {
		t.Fatalf("CORS: %+v, %v", got, err)
	}
	// Unchanged: the same value comes back, unread.
	again, err := d.CORS(ctx, "bkt", got)
	if err != nil || again != got {
		t.Fatalf("unchanged configuration: got a new value %p (was %p), %v", again, got, err)
	}
	// Replaced (as another node sharing the directory would): read anew.
	want.Rules[0].ID = "s"
	if err := d.PutCORS(ctx, "bkt", want); err != nil {
		t.Fatal(err)
	}
	again, err = d.CORS(ctx, "bkt", got)
	if err != nil || again == got || again.Rules[0].ID != "s" {
		t.Fatalf("replaced configuration: %+v, %v", again, err)
	}
	// Removed behind the cache's back.
	if err := os.Remove(filepath.Join(d.bucketDir("bkt"), "cors.json")); err != nil {
		t.Fatal(err)
	}
	if cfg, err := d.CORS(ctx, "bkt", again); err != nil || cfg != nil {
		t.Fatalf("removed configuration: %+v, %v", cfg, err)
	}
	if err := d.PutCORS(ctx, "bkt", nil); err != nil {
		t.Fatalf("removing an absent configuration: %v", err)
	}
}
