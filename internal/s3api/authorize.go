package s3api

import (
	"net/http"
	"net/url"
	"strings"
)

// operation is S3's table from requests to IAM actions and resources:
// the action a request asks for and the bucket's or object's ARN.
func operation(r *http.Request, rq *request) (action, resource string) {
	q := rq.query
	has := func(k string) bool { _, ok := q[k]; return ok }
	m := r.Method
	switch {
	case rq.bucket == "":
		return "s3:ListAllMyBuckets", "*"
	case !rq.hasKey:
		res := "arn:aws:s3:::" + rq.bucket
		switch {
		case has("notification") && m == http.MethodPut:
			return "s3:PutBucketNotification", res
		case has("notification"):
			return "s3:GetBucketNotification", res
		case has("location"):
			return "s3:GetBucketLocation", res
		case has("policy") && m == http.MethodPut:
			return "s3:PutBucketPolicy", res
		case has("policy") && m == http.MethodDelete:
			return "s3:DeleteBucketPolicy", res
		case has("policy"):
			return "s3:GetBucketPolicy", res
		case has("uploads"):
			return "s3:ListBucketMultipartUploads", res
		case has("delete") && m == http.MethodPost:
			// Each key of the batch is an s3:DeleteObject; the batch as a
			// whole asks for it on every object of the bucket.
			return "s3:DeleteObject", res + "/*"
		case m == http.MethodPut:
			return "s3:CreateBucket", res
		case m == http.MethodDelete:
			return "s3:DeleteBucket", res
		}
		return "s3:ListBucket", res
	}
	res := "arn:aws:s3:::" + rq.bucket + "/" + rq.key
	switch m {
	case http.MethodGet, http.MethodHead:
		if has("uploadId") {
			return "s3:ListMultipartUploadParts", res
		}
		return "s3:GetObject", res
	case http.MethodDelete:
		if has("uploadId") {
			return "s3:AbortMultipartUpload", res
		}
		return "s3:DeleteObject", res
	}
	return "s3:PutObject", res
}

// copySource is the ARN of the object a copy reads (x-amz-copy-source),
// or "" for a request that copies nothing.
func copySource(r *http.Request) string {
	src := r.Header.Get("X-Amz-Copy-Source")
	if src == "" {
		return ""
	}
	if s, err := url.PathUnescape(src); err == nil {
		src = s
	}
	src, _, _ = strings.Cut(strings.TrimPrefix(src, "/"), "?")
	return "arn:aws:s3:::" + src
}

// conditionKeys are S3's condition keys of a listing: s3:prefix,
// s3:delimiter and s3:max-keys, when the request gives them.
func conditionKeys(rq *request) map[string][]string {
	if rq.hasKey || rq.bucket == "" || len(rq.query) == 0 {
		return nil
	}
	var keys map[string][]string
	for _, k := range []string{"prefix", "delimiter", "max-keys"} {
		if v, ok := rq.query[k]; ok {
			if keys == nil {
				keys = map[string][]string{}
			}
			keys["s3:"+k] = v
		}
	}
	return keys
}

// Actions are the IAM actions of S3's operations here (operation).
var Actions = []string{"s3:ListAllMyBuckets", "s3:PutBucketNotification", "s3:GetBucketNotification", "s3:GetBucketLocation",
	"s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:GetBucketPolicy", "s3:ListBucketMultipartUploads", "s3:DeleteObject",
	"s3:CreateBucket", "s3:DeleteBucket", "s3:ListBucket", "s3:ListMultipartUploadParts", "s3:GetObject",
	"s3:AbortMultipartUpload", "s3:PutObject"}
