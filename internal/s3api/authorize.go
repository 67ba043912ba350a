package s3api

import (
	"net/http"

	"github.com/aloft-dev/aloft/internal/sigv4"
)

// resource is the ARN a request acts on: the object's, the bucket's, or
// "*" for the list of buckets.
func resource(rq *request) string {
	switch {
	case rq.bucket == "":
		return "*"
	case !rq.hasKey:
		return "arn:aws:s3:::" + rq.bucket
	}
	return "arn:aws:s3:::" + rq.bucket + "/" + rq.key
}

// authorize asks Deps.Authorize whether the request's signer may perform
// action on res, with bucket's policy; nil when there is nothing to ask.
// While the bucket's policy is public and its RestrictPublicBuckets is
// set, an anonymous request is refused without asking.
func (h *Handler) authorize(r *http.Request, signer *sigv4.Identity, action, res string, keys map[string][]string, bucket string) error {
	if h.d.Authorize == nil {
		return nil
	}
	a, err := h.access(r, bucket)
	if err != nil {
		return err
	}
	if a.restricts(signer) {
		return s3err("AccessDenied", "")
	}
	if e := h.d.Authorize(r, signer, action, res, keys, a.policy); e != nil {
		return &Error{Code: e.Code, Message: e.Message, Status: e.Status}
	}
	return nil
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
	"s3:AbortMultipartUpload", "s3:PutObject", "s3:GetObjectAttributes"}
