package s3api

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestHeaderTable(t *testing.T) {
	tests := []struct {
		name, method, target string // target: "/bucket/key?query" or "/bucket?query"
		header, value        string
		code                 string // "" when taken
	}{
		{"sse-s3", "PUT", "/b/k", "x-amz-server-side-encryption", "AES256", ""},
		{"sse-s3 on a read", "GET", "/b/k", "x-amz-server-side-encryption", "AES256", "InvalidArgument"},
		{"sse-kms", "PUT", "/b/k", "x-amz-server-side-encryption", "aws:kms", "NotImplemented"},
		{"sse unknown", "PUT", "/b/k", "x-amz-server-side-encryption", "AES128", "InvalidArgument"},
		{"sse-s3 create upload", "POST", "/b/k?uploads", "x-amz-server-side-encryption", "AES256", ""},
		{"sse-s3 on a part", "PUT", "/b/k?partNumber=1&uploadId=x", "x-amz-server-side-encryption", "AES256", "InvalidArgument"},
		{"sse-s3 on a completion", "POST", "/b/k?uploadId=x", "x-amz-server-side-encryption", "AES256", "InvalidArgument"},
		{"sse-s3 on tagging", "PUT", "/b/k?tagging", "x-amz-server-side-encryption", "AES256", "InvalidArgument"},
		{"sse-kms key", "PUT", "/b/k", "x-amz-server-side-encryption-aws-kms-key-id", "k", "NotImplemented"},
		{"sse-c over http", "PUT", "/b/k", "x-amz-server-side-encryption-customer-algorithm", "AES256", "InvalidRequest"},
		{"sse-c copy source", "PUT", "/b/k", "x-amz-copy-source-server-side-encryption-customer-key", "x", "InvalidRequest"},
		{"acl private", "PUT", "/b/k", "x-amz-acl", "private", ""},
		{"acl owner full control", "PUT", "/b/k", "x-amz-acl", "bucket-owner-full-control", ""},
		{"acl public", "PUT", "/b/k", "x-amz-acl", "public-read", "AccessControlListNotSupported"},
		{"grant", "PUT", "/b", "x-amz-grant-read", "id=x", "AccessControlListNotSupported"},
		{"storage standard", "PUT", "/b/k", "x-amz-storage-class", "STANDARD", ""},
		{"storage glacier", "PUT", "/b/k", "x-amz-storage-class", "GLACIER", "NotImplemented"},
		{"storage unknown", "PUT", "/b/k", "x-amz-storage-class", "COLD", "InvalidStorageClass"},
		{"owner right", "GET", "/b/k", "x-amz-expected-bucket-owner", "000000000000", ""},
		{"owner wrong", "GET", "/b/k", "x-amz-expected-bucket-owner", "111111111111", "AccessDenied"},
		{"source owner wrong", "PUT", "/b/k", "x-amz-source-expected-bucket-owner", "1", "AccessDenied"},
		{"tagging", "PUT", "/b/k", "x-amz-tagging", "a=b", ""},
		{"tagging directive copy", "PUT", "/b/k", "x-amz-tagging-directive", "COPY", ""},
		{"tagging directive replace", "PUT", "/b/k", "x-amz-tagging-directive", "REPLACE", ""},
		{"tagging directive unknown", "PUT", "/b/k", "x-amz-tagging-directive", "MERGE", "InvalidArgument"},
		{"object lock on a read", "GET", "/b/k", "x-amz-object-lock-mode", "GOVERNANCE", "InvalidRequest"},
		{"bucket object lock", "PUT", "/b", "x-amz-bucket-object-lock-enabled", "maybe", "InvalidArgument"},
		{"website redirect", "PUT", "/b/k", "x-amz-website-redirect-location", "/x", "NotImplemented"},
		{"request payer", "GET", "/b/k", "x-amz-request-payer", "requester", ""},
		{"ownership enforced", "PUT", "/b", "x-amz-object-ownership", "BucketOwnerEnforced", ""},
		{"ownership writer", "PUT", "/b", "x-amz-object-ownership", "ObjectWriter", "NotImplemented"},
		{"metadata", "PUT", "/b/k", "x-amz-meta-colour", "blue", ""},
		{"checksum", "PUT", "/b/k", "x-amz-checksum-crc32", "AAAAAA==", ""},
		{"unknown header", "PUT", "/b/k", "x-amz-something-new", "1", ""},
		{"if-none-match put", "PUT", "/b/k", "If-None-Match", "*", ""},
		{"if-none-match etag put", "PUT", "/b/k", "If-None-Match", `"abc"`, "NotImplemented"},
		{"if-match put", "PUT", "/b/k", "If-Match", `"abc"`, ""},
		{"if-none-match get", "GET", "/b/k", "If-None-Match", `"abc"`, ""},
		{"if-match delete", "DELETE", "/b/k", "If-Match", `"abc"`, ""},
		{"if-match delete of a version", "DELETE", "/b/k?versionId=null", "If-Match", `"abc"`, "NotImplemented"},
		{"if-match delete of tags", "DELETE", "/b/k?tagging", "If-Match", `"abc"`, "NotImplemented"},
		{"if-match abort", "DELETE", "/b/k?uploadId=u", "If-Match", `"abc"`, "NotImplemented"},
		{"if-none-match delete", "DELETE", "/b/k", "If-None-Match", "*", "NotImplemented"},
		{"if-match part", "PUT", "/b/k?uploadId=u&partNumber=1", "If-Match", `"abc"`, "NotImplemented"},
		{"if-match bucket", "PUT", "/b", "If-Match", `"abc"`, "NotImplemented"},
		{"version null", "GET", "/b/k?versionId=null", "", "", ""},
		{"version other", "GET", "/b/k?versionId=3HL4kqtJlcpXroDTDmJ", "", "", "InvalidArgument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, rq := testRequest(t, tt.method, tt.target)
			if tt.header != "" {
				r.Header.Set(tt.header, tt.value)
			}
			err := checkHeaders(r, rq)
			got := ""
			if err != nil {
				got = err.(*Error).Code
			}
			if got != tt.code {
				t.Fatalf("%s: %s: got %q (%v), want %q", tt.header, tt.value, got, err, tt.code)
			}
			if got == "NotImplemented" && tt.header != "" && err.(*Error).Header != strings.ToLower(tt.header) {
				t.Fatalf("NotImplemented names header %q", err.(*Error).Header)
			}
		})
	}
}

// testRequest builds a request and what address would learn of it.
func testRequest(t *testing.T, method, target string) (*http.Request, *request) {
	t.Helper()
	r, err := http.NewRequest(method, "http://localhost"+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	rq := &request{}
	if err := (&Handler{d: Deps{Domains: []string{"localhost"}}}).address(r, rq); err != nil {
		t.Fatal(err)
	}
	if rq.query, err = url.ParseQuery(r.URL.RawQuery); err != nil {
		t.Fatal(err)
	}
	return r, rq
}

func TestSubresourceTable(t *testing.T) {
	for name := range headerRules {
		if name != strings.ToLower(name) {
			t.Errorf("header rule %q is not lower case", name)
		}
	}
	known := map[string]bool{}
	for _, s := range subresources {
		if known[s] {
			t.Errorf("sub-resource %q listed twice", s)
		}
		known[s] = true
	}
	for k, op := range subOps {
		if !known[k.name] {
			t.Errorf("served sub-resource %q is not listed", k.name)
		}
		if !strings.HasPrefix(op.action, "s3:") || op.serve == nil {
			t.Errorf("%v: incomplete operation %+v", k, op)
		}
	}
	tests := []struct {
		method, target, action string // "" action: refused
	}{
		{"GET", "/b?versioning", "s3:GetBucketVersioning"},
		{"PUT", "/b?versioning", "s3:PutBucketVersioning"},
		{"GET", "/b?versions", "s3:ListBucketVersions"},
		{"DELETE", "/b?versioning", ""},
		{"GET", "/b?acl", "s3:GetBucketAcl"},
		{"GET", "/b/k?acl", "s3:GetObjectAcl"},
		{"GET", "/b?encryption", "s3:GetEncryptionConfiguration"},
		{"PUT", "/b?encryption", "s3:PutEncryptionConfiguration"},
		{"DELETE", "/b?encryption", "s3:PutEncryptionConfiguration"},
		{"GET", "/b?cors", "s3:GetBucketCORS"},
		{"PUT", "/b?lifecycle", "s3:PutLifecycleConfiguration"},
		{"DELETE", "/b?lifecycle", "s3:PutLifecycleConfiguration"},
		{"GET", "/b?lifecycle", "s3:GetLifecycleConfiguration"},
		{"GET", "/b/k?tagging", "s3:GetObjectTagging"},
		{"PUT", "/b/k?tagging", "s3:PutObjectTagging"},
		{"PUT", "/b?tagging", "s3:PutBucketTagging"},
		{"GET", "/b?inventory", ""},
		{"POST", "/b/k?restore", ""},
		{"POST", "/b/k?select&select-type=2", ""},
		{"GET", "/b/k?torrent", ""},
		{"PUT", "/b?location", ""},
	}
	h := &Handler{}
	for _, tt := range tests {
		r, rq := testRequest(t, tt.method, tt.target)
		name, ok := subresourceOf(rq.query)
		if !ok {
			t.Fatalf("%s %s: no sub-resource found", tt.method, tt.target)
		}
		action, run := h.subresource(nil, r, rq, name)
		if action != tt.action {
			t.Errorf("%s %s: action %q, want %q", tt.method, tt.target, action, tt.action)
		}
		if tt.action == "" {
			if err, ok := run().(*Error); !ok || err.Code != "NotImplemented" || err.Status != 501 {
				t.Errorf("%s %s: %v, want NotImplemented", tt.method, tt.target, err)
			}
		}
	}
}

// TestCheckHeadersAllocs: the tables cost a request no allocation.
func TestCheckHeadersAllocs(t *testing.T) {
	r, rq := testRequest(t, "PUT", "/b/k")
	for k, v := range map[string]string{"X-Amz-Date": "20240524T120000Z", "X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD",
		"X-Amz-Checksum-Crc32": "AAAAAA==", "X-Amz-Meta-Colour": "blue", "Content-Type": "text/plain",
		"Amz-Sdk-Invocation-Id": "x", "User-Agent": "sdk", "X-Amz-Storage-Class": "STANDARD", "If-None-Match": "*"} {
		r.Header.Set(k, v)
	}
	if n := testing.AllocsPerRun(100, func() {
		if err := checkHeaders(r, rq); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("%v allocations a request", n)
	}
}
