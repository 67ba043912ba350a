package objstore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestWebsiteStore(t *testing.T) {
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := d.Website(ctx, "nope", nil); !errors.Is(err, ErrNoSuchBucket) {
		t.Fatalf("Website of a missing bucket: %v, want ErrNoSuchBucket", err)
	}
	if err := d.PutWebsite(ctx, "nope", &WebsiteConfig{IndexSuffix: "index.html"}); !errors.Is(err, ErrNoSuchBucket) {
		t.Fatalf("PutWebsite on a missing bucket: %v, want ErrNoSuchBucket", err)
	}
	if err := d.CreateBucket(ctx, "site", ""); err != nil {
		t.Fatal(err)
	}
	if cfg, err := d.Website(ctx, "site", nil); err != nil || cfg != nil {
		t.Fatalf("Website of an unconfigured bucket: %+v, %v", cfg, err)
	}
	docs, empty := "docs/", ""
	want := &WebsiteConfig{IndexSuffix: "index.html", ErrorKey: "404.html", Rules: []WebsiteRule{
		{Condition: &WebsiteCondition{KeyPrefixEquals: &docs}, Redirect: WebsiteRedirect{ReplaceKeyPrefixWith: &empty, HTTPRedirectCode: 302}},
		{Condition: &WebsiteCondition{HTTPErrorCode: 404}, Redirect: WebsiteRedirect{HostName: "example.com", Protocol: "https"}},
	}}
	if err := d.PutWebsite(ctx, "site", want); err != nil {
		t.Fatal(err)
	}
	got, err := d.Website(ctx, "site", nil)
	if err != nil || got == nil || got.IndexSuffix != "index.html" || got.ErrorKey != "404.html" || len(got.Rules) != 2 {
		t.Fatalf("Website: %+v, %v", got, err)
	}
	r0, r1 := got.Rules[0], got.Rules[1]
	if *r0.Condition.KeyPrefixEquals != "docs/" || r0.Redirect.ReplaceKeyPrefixWith == nil || *r0.Redirect.ReplaceKeyPrefixWith != "" ||
		r0.Redirect.ReplaceKeyWith != nil || r0.Redirect.HTTPRedirectCode != 302 {
		t.Fatalf("rule 0 read back as %+v / %+v", r0.Condition, r0.Redirect)
	}
	if r1.Condition.KeyPrefixEquals != nil || r1.Condition.HTTPErrorCode != 404 || r1.Redirect.HostName != "example.com" || r1.Redirect.Protocol != "https" {
		t.Fatalf("rule 1 read back as %+v / %+v", r1.Condition, r1.Redirect)
	}
	// Unchanged: the same value, unread.
	if again, err := d.Website(ctx, "site", got); err != nil || again != got {
		t.Fatalf("unchanged configuration: got a new value %p (was %p), %v", again, got, err)
	}
	// Replaced: read anew.
	if err := d.PutWebsite(ctx, "site", &WebsiteConfig{RedirectAll: &WebsiteRedirect{HostName: "example.org"}}); err != nil {
		t.Fatal(err)
	}
	again, err := d.Website(ctx, "site", got)
	if err != nil || again == got || again.RedirectAll == nil || again.RedirectAll.HostName != "example.org" || again.IndexSuffix != "" {
		t.Fatalf("replaced configuration: %+v, %v", again, err)
	}
	// Removed behind the cache's back, then through the store.
	if err := os.Remove(filepath.Join(d.bucketDir("site"), "website.json")); err != nil {
		t.Fatal(err)
	}
	if cfg, err := d.Website(ctx, "site", again); err != nil || cfg != nil {
		t.Fatalf("removed configuration: %+v, %v", cfg, err)
	}
	if err := d.PutWebsite(ctx, "site", nil); err != nil {
		t.Fatalf("removing an absent configuration: %v", err)
	}
	// A damaged file is ErrCorrupt, not an empty configuration.
	if err := os.WriteFile(filepath.Join(d.bucketDir("site"), "website.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Website(ctx, "site", nil); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("damaged configuration: %v, want ErrCorrupt", err)
	}
}
