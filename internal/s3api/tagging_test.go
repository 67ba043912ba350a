package s3api

import (
	"strings"
	"testing"
)

func TestTagLimits(t *testing.T) {
	tests := []struct {
		header string
		code   string // "" when taken
	}{
		{"a=1&b=2", ""},
		{"a=", ""},
		{"a=1&a=2", "InvalidTag"},
		{"=1", "InvalidTag"},
		{"aws:x=1", "InvalidTag"},
		{strings.Repeat("k", 128) + "=v", ""},
		{strings.Repeat("k", 129) + "=v", "InvalidTag"},
		{"k=" + strings.Repeat("v", 256), ""},
		{"k=" + strings.Repeat("v", 257), "InvalidTag"},
		{"a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&i=9&j=10", ""},
		{"a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&i=9&j=10&k=11", "InvalidTag"},
		{"a=%zz", "InvalidArgument"},
	}
	for _, tt := range tests {
		tags, err := parseTagHeader(tt.header)
		got := ""
		if err != nil {
			got = err.(*Error).Code
		}
		if got != tt.code {
			t.Errorf("%.40q: got %q (%v), want %q", tt.header, got, err, tt.code)
		}
		if err == nil && len(tags) != strings.Count(tt.header, "=") {
			t.Errorf("%.40q: %d tags", tt.header, len(tags))
		}
	}
	bucket := map[string]string{}
	for i := range maxBucketTags {
		if err := addTag(bucket, strings.Repeat("k", i+1), "v", maxBucketTags); err != nil {
			t.Fatalf("bucket tag %d: %v", i, err)
		}
	}
	if err := addTag(bucket, "one-more", "v", maxBucketTags); err == nil {
		t.Fatal("a 51st bucket tag was taken")
	}
}

func TestActionsHaveSubresources(t *testing.T) {
	for _, a := range []string{"s3:GetObjectTagging", "s3:PutBucketTagging", "s3:GetBucketAcl", "s3:GetBucketVersioning"} {
		found := false
		for _, b := range Actions {
			found = found || a == b
		}
		if !found {
			t.Errorf("%s is not among Actions", a)
		}
	}
}
