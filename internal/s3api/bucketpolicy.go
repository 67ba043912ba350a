package s3api

import (
	"bytes"
	"errors"
	"net/http"
	"strings"

	"github.com/aloft-dev/aloft/internal/policy"
)

// maxBucketPolicy is the largest bucket policy S3 takes.
const maxBucketPolicy = 20 << 10

// anonymous reports whether r carries no signature at all, in its
// headers or its query: an anonymous request, which only a bucket policy
// naming everyone ("Principal": "*") may allow.
func anonymous(r *http.Request) bool {
	if r.Header.Get("Authorization") != "" {
		return false
	}
	q := r.URL.RawQuery
	return !strings.Contains(q, "X-Amz-Credential") && !strings.Contains(q, "X-Amz-Signature") &&
		!strings.Contains(q, "Signature=") && !strings.Contains(q, "AWSAccessKeyId")
}

// bucketPolicy returns a bucket's parsed policy as it decides a request
// that carries no signature (the website endpoint's): nil when the
// bucket has none (or does not exist: the operation says so itself),
// and a policy that allows nothing while RestrictPublicBuckets restricts
// a public one. It is cached with the bucket's public access block
// (access, publicaccess.go).
func (h *Handler) bucketPolicy(r *http.Request, bucket string) (*policy.Policy, error) {
	a, err := h.access(r, bucket)
	if err != nil {
		return nil, err
	}
	if a.restricts(nil) {
		return restrictedPolicy, nil
	}
	return a.policy, nil
}

func (h *Handler) putPolicy(w http.ResponseWriter, r *http.Request, rq *request) error {
	body, err := h.readSmall(r, rq, maxBucketPolicy)
	var e *Error
	if errors.As(err, &e) && e.Code == "MaxMessageLengthExceeded" {
		return s3err("PolicyTooLarge", "")
	}
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 || bytes.TrimSpace(body)[0] != '{' {
		return s3err("MalformedPolicy", "Policies must be valid JSON and the first byte must be '{'")
	}
	p, err := policy.ParseResource(body)
	if err != nil {
		return s3err("MalformedPolicy", strings.TrimPrefix(err.Error(), "iam: "))
	}
	if err := h.refusePublicPolicy(r, rq.bucket, p); err != nil { // BlockPublicPolicy
		return err
	}
	if err := h.d.Store.PutPolicy(r.Context(), rq.bucket, body); err != nil {
		return err
	}
	h.forgetAccess(rq.bucket)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) getPolicy(w http.ResponseWriter, r *http.Request, rq *request) error {
	doc, err := h.d.Store.Policy(r.Context(), rq.bucket)
	if err != nil {
		return err
	}
	if doc == nil {
		e := s3err("NoSuchBucketPolicy", "")
		e.Bucket = rq.bucket
		return e
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(doc)
	return nil
}

func (h *Handler) deletePolicy(w http.ResponseWriter, r *http.Request, rq *request) error {
	if err := h.d.Store.PutPolicy(r.Context(), rq.bucket, nil); err != nil {
		return err
	}
	h.forgetAccess(rq.bucket)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
