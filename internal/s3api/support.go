package s3api

import (
	"encoding/xml"
	"net/http"
	"slices"
	"strings"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/objstore"
)

// This file holds the two tables that decide what the handler takes: the
// request headers S3 gives meaning to, and the sub-resources of the query.
// A request naming something S3 has and this handler does not do is
// refused, with S3's NotImplemented or the error S3 itself gives in the
// same case (a bucket without Object Lock, a bucket whose ACLs are
// disabled), never served as if the header or sub-resource were absent.
// Supporting one later is one line of a table.

// headerRule decides on one request header with value v: nil takes it.
type headerRule func(r *http.Request, rq *request, v string) error

// Rules used by the header tables.
var (
	// take is a header the handler honours (or one that only describes the
	// request: its signature, its body's framing).
	take headerRule = func(*http.Request, *request, string) error { return nil }
	// refuse is a header whose function is not implemented.
	refuse headerRule = func(_ *http.Request, _ *request, _ string) error { return s3err("NotImplemented", "") }
)

// headerRules are the request headers S3 defines, by lower-case name.
// Headers named by neither table S3 does not define, and ignores as S3
// does.
var headerRules = map[string]headerRule{
	// The signature and the body's framing: sigv4 checks them.
	"x-amz-date": take, "x-amz-content-sha256": take, "x-amz-security-token": take,
	"x-amz-decoded-content-length": take, "x-amz-trailer": take, "x-amz-sdk-checksum-algorithm": take,
	"x-amz-user-agent": take, "x-amz-checksum-mode": take, "x-amz-checksum-algorithm": take,
	"x-amz-checksum-type": take,
	// Copies and multipart uploads.
	"x-amz-copy-source": take, "x-amz-metadata-directive": take, "x-amz-copy-source-range": take,
	"x-amz-object-attributes": take, "x-amz-max-parts": take, "x-amz-part-number-marker": take,
	// Ownership: one account owns everything, so only its own id passes.
	"x-amz-expected-bucket-owner":        expectedOwner,
	"x-amz-source-expected-bucket-owner": expectedOwner,
	// Buckets have ObjectOwnership BucketOwnerEnforced: ACLs are off.
	"x-amz-acl":              cannedACL,
	"x-amz-object-ownership": objectOwnership,
	// Every object is STANDARD.
	"x-amz-storage-class": storageClass,
	// Server-side encryption: SSE-S3 and SSE-C (sse.go), not SSE-KMS.
	"x-amz-server-side-encryption":                                sseHeader, // sse.go
	"x-amz-server-side-encryption-aws-kms-key-id":                 refuse,
	"x-amz-server-side-encryption-context":                        refuse,
	"x-amz-server-side-encryption-bucket-key-enabled":             refuse,
	"x-amz-bucket-object-lock-enabled":                            bucketLockEnabled,
	"x-amz-bypass-governance-retention":                           bypassHeader,
	"x-amz-tagging":                                               take, // checked as the operation reads it
	"x-amz-tagging-directive":                                     tagDirective,
	"x-amz-transition-default-minimum-object-size":                take, // checked by PutBucketLifecycleConfiguration
	"x-amz-website-redirect-location":                             refuse,
	"x-amz-mfa":                                                   refuse,
	"x-amz-write-offset-bytes":                                    refuse,
	"x-amz-request-payer":                                         requestPayer,
	"x-amz-confirm-remove-self-bucket-access":                     refuse,
	"x-amz-if-match-last-modified-time":                           refuse,
	"x-amz-if-match-size":                                         refuse,
	"x-amz-if-match-initiated-time":                               refuse,
	"x-amz-copy-source-if-match":                                  take,
	"x-amz-copy-source-if-none-match":                             take,
	"x-amz-copy-source-if-modified-since":                         take,
	"x-amz-copy-source-if-unmodified-since":                       take,
	"x-amz-restore-request-days":                                  refuse,
	"x-amz-optional-object-attributes":                            refuse,
	"x-amz-server-side-encryption-customer-algorithm":             customerKey,
	"x-amz-server-side-encryption-customer-key":                   customerKey,
	"x-amz-server-side-encryption-customer-key-md5":               customerKey,
	"x-amz-copy-source-server-side-encryption-customer-algorithm": customerKey,
	"x-amz-copy-source-server-side-encryption-customer-key":       customerKey,
	"x-amz-copy-source-server-side-encryption-customer-key-md5":   customerKey,
	// Standard headers with S3 meaning besides the stored ones.
	"if-match":      writeCondition,
	"if-none-match": writeCondition,
}

// headerPrefixRules cover families of headers, by canonical prefix.
var headerPrefixRules = []struct {
	prefix string
	rule   headerRule
}{
	{"X-Amz-Meta-", take},
	{"X-Amz-Checksum-", take}, // sigv4 verifies them; unknown algorithms are refused there
	{"X-Amz-Grant-", grant},
	{"X-Amz-Object-Lock-", objectLockHeader},
}

// canonicalRules is headerRules keyed as net/http keys a request's
// headers, so that checking them allocates nothing.
var canonicalRules = func() map[string]headerRule {
	m := make(map[string]headerRule, len(headerRules))
	for k, v := range headerRules {
		m[http.CanonicalHeaderKey(k)] = v
	}
	return m
}()

// checkHeaders applies the header tables, and the versionId rule, to r.
func checkHeaders(r *http.Request, rq *request) error {
	for name, vals := range r.Header {
		if !strings.HasPrefix(name, "X-Amz-") && !strings.HasPrefix(name, "If-") {
			continue
		}
		rule := canonicalRules[name]
		if rule == nil {
			for _, p := range headerPrefixRules {
				if strings.HasPrefix(name, p.prefix) {
					rule = p.rule
					break
				}
			}
		}
		if rule == nil {
			continue
		}
		v := ""
		if len(vals) > 0 {
			v = vals[0]
		}
		if err := rule(r, rq, v); err != nil {
			if e, ok := err.(*Error); ok && e.Code == "NotImplemented" {
				e.Header = strings.ToLower(name)
			}
			return err
		}
	}
	return checkVersionID(rq)
}

// checkVersionID refuses a versionId that cannot name a version: not
// "null" and not in the shape of the ids the store makes.
func checkVersionID(rq *request) error {
	if v, ok := rq.query["versionId"]; ok && rq.hasKey && (len(v) != 1 || !objstore.ValidVersionID(v[0])) {
		return s3err("InvalidArgument", "Invalid version id specified")
	}
	return nil
}

func expectedOwner(_ *http.Request, _ *request, v string) error {
	if v != awsproto.AccountID {
		return s3err("AccessDenied", "")
	}
	return nil
}

// aclNotSupported is S3's answer to an ACL on a bucket whose
// ObjectOwnership is BucketOwnerEnforced.
func aclNotSupported() error {
	return s3err("AccessControlListNotSupported", "")
}

func cannedACL(_ *http.Request, _ *request, v string) error {
	switch v {
	case "private", "bucket-owner-full-control":
		return nil
	}
	return aclNotSupported()
}

func grant(*http.Request, *request, string) error { return aclNotSupported() }

func objectOwnership(_ *http.Request, _ *request, v string) error {
	if v == "BucketOwnerEnforced" {
		return nil
	}
	return s3err("NotImplemented", "Only ObjectOwnership BucketOwnerEnforced is implemented: ACLs are disabled.")
}

// storageClasses are S3's storage classes; only STANDARD is implemented.
var storageClasses = map[string]bool{"STANDARD": true, "REDUCED_REDUNDANCY": false, "STANDARD_IA": false,
	"ONEZONE_IA": false, "INTELLIGENT_TIERING": false, "GLACIER": false, "DEEP_ARCHIVE": false,
	"OUTPOSTS": false, "GLACIER_IR": false, "SNOW": false, "EXPRESS_ONEZONE": false}

func storageClass(_ *http.Request, _ *request, v string) error {
	ok, known := storageClasses[v]
	switch {
	case !known:
		return s3err("InvalidStorageClass", "")
	case !ok:
		return s3err("NotImplemented", "Only the STANDARD storage class is implemented.")
	}
	return nil
}

func tagDirective(_ *http.Request, _ *request, v string) error {
	if v == "COPY" || v == "REPLACE" {
		return nil
	}
	return s3err("InvalidArgument", "Unknown tagging directive.")
}

// requestPayer takes "requester": no bucket is Requester Pays, so the
// requester's agreement to pay changes nothing.
func requestPayer(_ *http.Request, _ *request, v string) error {
	if v == "requester" {
		return nil
	}
	return s3err("InvalidArgument", "x-amz-request-payer must be 'requester'")
}

// writeCondition takes If-Match and If-None-Match on the operations that
// honour them: reads of an object, writes of one (PutObject, CopyObject
// and CompleteMultipartUpload), where If-None-Match may only be "*", and
// If-Match on DeleteObject of the current version.
func writeCondition(r *http.Request, rq *request, _ string) error {
	if !rq.hasKey {
		return s3err("NotImplemented", "Conditional requests on buckets are not implemented.")
	}
	_, upload := rq.query["uploadId"]
	_, uploads := rq.query["uploads"]
	write := false
	switch {
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		return nil
	case r.Method == http.MethodDelete && !upload && !rq.query.Has("versionId") && !rq.query.Has("tagging"):
		if r.Header.Get("If-None-Match") != "" {
			return s3err("NotImplemented", "DeleteObject takes If-Match, not If-None-Match.")
		}
		return nil
	case r.Method == http.MethodPut && !upload:
		write = true
	case r.Method == http.MethodPost && upload && !uploads:
		write = completeConditions
	}
	if !write {
		return s3err("NotImplemented", "Conditional headers are not implemented for this operation.")
	}
	if v := r.Header.Get("If-None-Match"); v != "" && !objstore.ValidIfNoneMatch(v) {
		return s3err("NotImplemented", "If-None-Match on a write takes only '*'.")
	}
	return nil
}

// completeConditions reports whether CompleteMultipartUpload honours
// If-Match and If-None-Match.
const completeConditions = true

// subOp is one operation on a sub-resource: its IAM action and what serves
// it.
type subOp struct {
	action string
	serve  func(h *Handler, w http.ResponseWriter, r *http.Request, rq *request) error
}

// subTarget is a sub-resource of a bucket or of an object, by method.
type subTarget struct {
	name   string
	object bool
	method string
}

// subresources are the query keys S3 gives meaning to as sub-resources
// and that are not routed elsewhere; the ones with an entry in subOps are
// served, the others refused with NotImplemented.
var subresources = []string{"acl", "cors", "lifecycle", "tagging", "versioning", "versions", "website",
	"logging", "replication", "encryption", "object-lock", "retention", "legal-hold", "accelerate",
	"requestPayment", "analytics", "inventory", "metrics", "ownershipControls", "publicAccessBlock",
	"intelligent-tiering", "attributes", "torrent", "restore", "select", "policyStatus", "uploads",
	"notification", "policy", "location", "delete"}

// subOps are the sub-resource operations served: mostly the answers S3
// gives for a bucket that has none of the configuration, which is every
// bucket here.
var subOps = map[subTarget]subOp{
	{"versioning", false, "GET"}:        {"s3:GetBucketVersioning", getBucketVersioning},
	{"versioning", false, "PUT"}:        {"s3:PutBucketVersioning", putBucketVersioning},
	{"versions", false, "GET"}:          {"s3:ListBucketVersions", listObjectVersions},
	{"acl", false, "GET"}:               {"s3:GetBucketAcl", bucketThen(ownerACL)},
	{"acl", false, "PUT"}:               {"s3:PutBucketAcl", bucketThen(putACL)},
	{"acl", true, "GET"}:                {"s3:GetObjectAcl", objectThen(ownerACL)},
	{"acl", true, "PUT"}:                {"s3:PutObjectAcl", objectThen(putACL)},
	{"encryption", false, "GET"}:        {"s3:GetEncryptionConfiguration", bucketThen(getBucketEncryption)},
	{"encryption", false, "PUT"}:        {"s3:PutEncryptionConfiguration", bucketThen(putBucketEncryption)},
	{"encryption", false, "DELETE"}:     {"s3:PutEncryptionConfiguration", bucketThen(deleteBucketEncryption)},
	{"cors", false, "GET"}:              {"s3:GetBucketCORS", bucketThen(getBucketCors)},
	{"cors", false, "PUT"}:              {"s3:PutBucketCORS", bucketThen(putBucketCors)},
	{"cors", false, "DELETE"}:           {"s3:PutBucketCORS", bucketThen(deleteBucketCors)},
	{"lifecycle", false, "GET"}:         {"s3:GetLifecycleConfiguration", getBucketLifecycle},
	{"lifecycle", false, "PUT"}:         {"s3:PutLifecycleConfiguration", putBucketLifecycle},
	{"lifecycle", false, "DELETE"}:      {"s3:PutLifecycleConfiguration", deleteBucketLifecycle},
	{"tagging", false, "GET"}:           {"s3:GetBucketTagging", getBucketTagging},
	{"tagging", false, "PUT"}:           {"s3:PutBucketTagging", putBucketTagging},
	{"tagging", false, "DELETE"}:        {"s3:PutBucketTagging", deleteBucketTagging},
	{"tagging", true, "GET"}:            {"s3:GetObjectTagging", getObjectTagging},
	{"tagging", true, "PUT"}:            {"s3:PutObjectTagging", putObjectTagging},
	{"tagging", true, "DELETE"}:         {"s3:DeleteObjectTagging", deleteObjectTagging},
	{"website", false, "GET"}:           {"s3:GetBucketWebsite", getBucketWebsite},
	{"website", false, "PUT"}:           {"s3:PutBucketWebsite", putBucketWebsite},
	{"website", false, "DELETE"}:        {"s3:DeleteBucketWebsite", deleteBucketWebsite},
	{"object-lock", false, "GET"}:       {"s3:GetBucketObjectLockConfiguration", getObjectLockConfiguration},
	{"object-lock", false, "PUT"}:       {"s3:PutBucketObjectLockConfiguration", putObjectLockConfiguration},
	{"replication", false, "GET"}:       {"s3:GetReplicationConfiguration", notFound("ReplicationConfigurationNotFoundError")},
	{"logging", false, "GET"}:           {"s3:GetBucketLogging", answer(bucketLoggingStatus{Xmlns: xmlns})},
	{"accelerate", false, "GET"}:        {"s3:GetAccelerateConfiguration", answer(accelerateConfiguration{Xmlns: xmlns})},
	{"requestPayment", false, "GET"}:    {"s3:GetBucketRequestPayment", answer(requestPaymentConfiguration{Xmlns: xmlns, Payer: "BucketOwner"})},
	{"ownershipControls", false, "GET"}: {"s3:GetBucketOwnershipControls", answer(ownershipControls{Xmlns: xmlns, Ownership: "BucketOwnerEnforced"})},
	{"retention", true, "GET"}:          {"s3:GetObjectRetention", getObjectRetention},
	{"retention", true, "PUT"}:          {"s3:PutObjectRetention", putObjectRetention},
	{"legal-hold", true, "GET"}:         {"s3:GetObjectLegalHold", getObjectLegalHold},
	{"legal-hold", true, "PUT"}:         {"s3:PutObjectLegalHold", putObjectLegalHold},

	// Block Public Access at bucket level (publicaccess.go).
	{"publicAccessBlock", false, "GET"}:    {"s3:GetBucketPublicAccessBlock", getPublicAccessBlock},
	{"publicAccessBlock", false, "PUT"}:    {"s3:PutBucketPublicAccessBlock", putPublicAccessBlock},
	{"publicAccessBlock", false, "DELETE"}: {"s3:PutBucketPublicAccessBlock", deletePublicAccessBlock},
	{"policyStatus", false, "GET"}:         {"s3:GetBucketPolicyStatus", getPolicyStatus},
}

// subresourceOf returns the sub-resource q names, if any.
func subresourceOf(q map[string][]string) (string, bool) {
	for _, s := range subresources {
		if _, ok := q[s]; ok {
			return s, true
		}
	}
	return "", false
}

// subresource plans a request naming a sub-resource (see plan).
func (h *Handler) subresource(w http.ResponseWriter, r *http.Request, rq *request, name string) (string, func() error) {
	op, ok := subOps[subTarget{name, rq.hasKey, r.Method}]
	if !ok {
		return "", func() error { return s3err("NotImplemented", "") }
	}
	return op.action, func() error { return op.serve(h, w, r, rq) }
}

// answer serves v once the bucket is found to exist.
func answer(v any) func(h *Handler, w http.ResponseWriter, r *http.Request, rq *request) error {
	return bucketThen(func(_ *Handler, w http.ResponseWriter, _ *http.Request, _ *request) error {
		writeXML(w, http.StatusOK, v)
		return nil
	})
}

// notFound answers S3's error for absent configuration once the bucket is
// found to exist.
func notFound(code string) func(h *Handler, w http.ResponseWriter, r *http.Request, rq *request) error {
	return bucketThen(func(_ *Handler, _ http.ResponseWriter, _ *http.Request, rq *request) error {
		e := s3err(code, "")
		e.Bucket = rq.bucket
		return e
	})
}

type serveFunc = func(h *Handler, w http.ResponseWriter, r *http.Request, rq *request) error

// bucketThen runs f once the bucket is found to exist.
func bucketThen(f serveFunc) serveFunc {
	return func(h *Handler, w http.ResponseWriter, r *http.Request, rq *request) error {
		if _, err := h.d.Store.Bucket(r.Context(), rq.bucket); err != nil {
			return err
		}
		return f(h, w, r, rq)
	}
}

// objectThen runs f once the object is found to exist.
func objectThen(f serveFunc) serveFunc {
	return func(h *Handler, w http.ResponseWriter, r *http.Request, rq *request) error {
		if _, err := h.d.Store.HeadObject(r.Context(), rq.bucket, rq.key); err != nil {
			return err
		}
		return f(h, w, r, rq)
	}
}

type bucketLoggingStatus struct {
	XMLName xml.Name `xml:"BucketLoggingStatus"`
	Xmlns   string   `xml:"xmlns,attr"`
}

type accelerateConfiguration struct {
	XMLName xml.Name `xml:"AccelerateConfiguration"`
	Xmlns   string   `xml:"xmlns,attr"`
}

type requestPaymentConfiguration struct {
	XMLName xml.Name `xml:"RequestPaymentConfiguration"`
	Xmlns   string   `xml:"xmlns,attr"`
	Payer   string
}

type ownershipControls struct {
	XMLName   xml.Name `xml:"OwnershipControls"`
	Xmlns     string   `xml:"xmlns,attr"`
	Ownership string   `xml:"Rule>ObjectOwnership"`
}

// accessControlPolicy is the ACL of every bucket and object: the owner
// has FULL_CONTROL.
type accessControlPolicy struct {
	XMLName xml.Name `xml:"AccessControlPolicy"`
	Xmlns   string   `xml:"xmlns,attr"`
	Owner   owner
	Grants  []aclGrant `xml:"AccessControlList>Grant"`
}

type aclGrant struct {
	Grantee    aclGrantee
	Permission string
}

type aclGrantee struct {
	XMLNS       string `xml:"xmlns:xsi,attr"`
	Type        string `xml:"xsi:type,attr"`
	ID          string
	DisplayName string
}

func ownerACL(_ *Handler, w http.ResponseWriter, _ *http.Request, _ *request) error {
	writeXML(w, http.StatusOK, accessControlPolicy{Xmlns: xmlns, Owner: theOwner, Grants: []aclGrant{{
		Grantee:    aclGrantee{XMLNS: "http://www.w3.org/2001/XMLSchema-instance", Type: "CanonicalUser", ID: theOwner.ID, DisplayName: theOwner.DisplayName},
		Permission: "FULL_CONTROL",
	}}})
	return nil
}

// putACL takes only what ACLs that are disabled take: the canned ACL
// private or bucket-owner-full-control (checked by the header rule), and
// no ACL document.
func putACL(h *Handler, w http.ResponseWriter, r *http.Request, rq *request) error {
	body, err := h.readSmall(r, rq, 64<<10)
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(body))) > 0 || r.Header.Get("X-Amz-Acl") == "" {
		return aclNotSupported()
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// The sub-resource operations' actions are among Actions.
func init() {
	for _, op := range subOps {
		if !slices.Contains(Actions, op.action) {
			Actions = append(Actions, op.action)
		}
	}
}
