package s3api

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"net/http"
	"strings"

	"github.com/aloft-dev/aloft/internal/objstore"
)

// Server-side encryption: the request headers that ask for it (SSE-S3's
// x-amz-server-side-encryption: AES256 and SSE-C's customer key
// headers), the headers that answer with it, and the bucket default
// encryption sub-resource. The store does the encryption (see
// objstore's sse.go); SSE-KMS is refused as not implemented.

// sseAES256 is the one algorithm S3 names for SSE-S3 and SSE-C.
const sseAES256 = "AES256"

// sseHeader is the header rule of x-amz-server-side-encryption: taken on
// the writes that make an object (PutObject, CopyObject,
// CreateMultipartUpload), with AES256 its only implemented value; a part
// takes its upload's encryption.
func sseHeader(r *http.Request, rq *request, v string) error {
	_, uploads := rq.query["uploads"]
	_, uploadID := rq.query["uploadId"]
	_, sub := subresourceOf(rq.query)
	put := r.Method == http.MethodPut && !uploadID && !sub
	create := r.Method == http.MethodPost && uploads && !hasOtherQuery(rq, "uploads")
	if !rq.hasKey || !put && !create {
		return s3err("InvalidArgument", "x-amz-server-side-encryption header is not supported for this operation.")
	}
	return checkSSEAlgorithm(v)
}

// checkSSEAlgorithm checks an SSE algorithm a write or a bucket default
// names.
func checkSSEAlgorithm(v string) error {
	switch v {
	case sseAES256:
		return nil
	case "aws:kms", "aws:kms:dsse":
		return s3err("NotImplemented", "Server-side encryption with AWS KMS keys is not implemented; use AES256.")
	}
	return s3err("InvalidArgument", "The encryption method specified is not supported")
}

// customerKey is the header rule of the SSE-C headers: over plain HTTP
// refused with S3's own words, before the body is read, so that a key is
// never taken in the clear; over TLS taken by the operations that use
// them (reads and writes of an object, parts, copies), and refused by
// the others rather than ignored.
func customerKey(r *http.Request, rq *request, _ string) error {
	if r.TLS == nil {
		return s3err("InvalidRequest", "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.")
	}
	if rq.hasKey {
		_, uploads := rq.query["uploads"]
		_, sub := subresourceOf(rq.query)
		switch {
		case r.Method == http.MethodPost && uploads && !hasOtherQuery(rq, "uploads"):
			return nil
		case (r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodPut) && !sub:
			return nil
		case r.Method == http.MethodGet && len(rq.query["attributes"]) > 0 && !hasOtherQuery(rq, "attributes"):
			return nil // GetObjectAttributes: checkCustomerKey
		}
	}
	return s3err("NotImplemented", "Server-side encryption with customer-provided keys is not implemented for this operation.")
}

// hasOtherQuery reports whether rq's query names a sub-resource other
// than one.
func hasOtherQuery(rq *request, one string) bool {
	for _, s := range subresources {
		if _, ok := rq.query[s]; ok && s != one {
			return true
		}
	}
	return false
}

// customerHeaders reads one set of SSE-C headers (of the object, or with
// source of the copy source): the key, and whether any was given.
func customerHeaders(r *http.Request, source bool) (key []byte, given bool, err error) {
	prefix := "X-Amz-Server-Side-Encryption-Customer-"
	if source {
		prefix = "X-Amz-Copy-Source-Server-Side-Encryption-Customer-"
	}
	alg := r.Header.Get(prefix + "Algorithm")
	k := r.Header.Get(prefix + "Key")
	sum := r.Header.Get(prefix + "Key-Md5")
	if alg == "" && k == "" && sum == "" {
		return nil, false, nil
	}
	const must = "Requests specifying Server Side Encryption with Customer provided keys must provide "
	switch {
	case alg == "":
		return nil, true, s3err("InvalidArgument", must+"a valid encryption algorithm.")
	case alg != sseAES256:
		return nil, true, s3err("InvalidEncryptionAlgorithmError", "The encryption request you specified is not valid. The valid value is AES256.")
	case k == "":
		return nil, true, s3err("InvalidArgument", must+"an appropriate secret key.")
	case sum == "":
		return nil, true, s3err("InvalidArgument", must+"the client calculated MD5 of the secret key.")
	}
	key, err = base64.StdEncoding.DecodeString(k)
	if err != nil || len(key) != 32 {
		return nil, true, s3err("InvalidArgument", "The secret key was invalid for the specified algorithm.")
	}
	if want, err := base64.StdEncoding.DecodeString(sum); err != nil || len(want) != md5.Size || [md5.Size]byte(want) != md5.Sum(key) {
		return nil, true, s3err("InvalidArgument", "The calculated MD5 hash of the key did not match the hash that was provided.")
	}
	return key, true, nil
}

// requestEncryption returns the encryption a write of an object asks
// for: SSE-S3, SSE-C, or none (the bucket's default then applies).
func requestEncryption(r *http.Request) (objstore.Encryption, error) {
	sse := r.Header.Get("X-Amz-Server-Side-Encryption")
	key, given, err := customerHeaders(r, false)
	if err != nil {
		return objstore.Encryption{}, err
	}
	switch {
	case given && sse != "":
		return objstore.Encryption{}, s3err("InvalidArgument", "Server Side Encryption with Customer provided key is incompatible with the encryption method specified")
	case given:
		return objstore.Encryption{Mode: objstore.SSECustomer, CustomerKey: key, CustomerKeyMD5: objstore.CustomerKeyMD5(key)}, nil
	case sse != "":
		if err := checkSSEAlgorithm(sse); err != nil {
			return objstore.Encryption{}, err
		}
		return objstore.Encryption{Mode: objstore.SSES3}, nil
	}
	return objstore.Encryption{}, nil
}

// withCustomerKeys returns ctx carrying the SSE-C keys request r gives,
// of the object and of a copy source, for the store to read (or to add
// parts to) what they encrypt.
func withCustomerKeys(ctx context.Context, r *http.Request) (context.Context, error) {
	key, given, err := customerHeaders(r, false)
	if err != nil {
		return nil, err
	}
	if given {
		ctx = objstore.WithCustomerKey(ctx, key)
	}
	src, given, err := customerHeaders(r, true)
	if err != nil {
		return nil, err
	}
	if given {
		if r.Header.Get("X-Amz-Copy-Source") == "" {
			return nil, s3err("InvalidArgument", "The copy source encryption headers are only for a copy.")
		}
		ctx = objstore.WithCopySourceCustomerKey(ctx, src)
	}
	return ctx, nil
}

// checkCustomerKey checks the SSE-C key a request gives against an
// object's encryption, as the calls that describe an object without
// reading it (GetObjectAttributes) need: a key for an SSE-C object, whose
// MD5 is the object's, and none for another.
func checkCustomerKey(r *http.Request, e objstore.Encryption) error {
	key, given, err := customerHeaders(r, false)
	switch {
	case err != nil:
		return err
	case e.Mode != objstore.SSECustomer && given:
		return sseError(objstore.ErrSSENotApplicable)
	case e.Mode != objstore.SSECustomer:
		return nil
	case !given:
		return sseError(objstore.ErrSSEKeyRequired)
	case objstore.CustomerKeyMD5(key) != e.CustomerKeyMD5:
		return sseError(objstore.ErrSSEKeyMismatch)
	}
	return nil
}

// copyEncryption gives a copy (CopyObject) the encryption the request
// asks for. Encryption is no metadata: a copy that keeps the source's
// metadata (opts nil) still takes the request's encryption, or the
// bucket default when it asks for none.
func copyEncryption(r *http.Request, src objstore.ObjectInfo, opts *objstore.PutOptions) (*objstore.PutOptions, error) {
	enc, err := requestEncryption(r)
	if err != nil || enc.Mode == "" {
		return opts, err
	}
	if opts == nil {
		opts = &objstore.PutOptions{ContentType: src.ContentType, Metadata: src.Metadata, Headers: src.Headers, Tags: src.Tags}
	}
	opts.Encryption = enc
	return opts, nil
}

// asksEncryption reports whether a write names an encryption, which lets
// an object be copied onto itself.
func asksEncryption(r *http.Request) bool {
	return r.Header.Get("X-Amz-Server-Side-Encryption") != "" || r.Header.Get("X-Amz-Server-Side-Encryption-Customer-Algorithm") != ""
}

// setSSEHeaders answers with an object's (or upload's) encryption.
func setSSEHeaders(h http.Header, e objstore.Encryption) {
	switch e.Mode {
	case objstore.SSES3:
		h.Set("X-Amz-Server-Side-Encryption", sseAES256)
	case objstore.SSECustomer:
		h.Set("X-Amz-Server-Side-Encryption-Customer-Algorithm", sseAES256)
		h.Set("X-Amz-Server-Side-Encryption-Customer-Key-Md5", e.CustomerKeyMD5)
	}
}

// uploadEncryption is the encryption a new upload gets: the request's,
// or the bucket's default.
func (h *Handler) uploadEncryption(ctx context.Context, bucket string, e objstore.Encryption) objstore.Encryption {
	if e.Mode != "" {
		return e
	}
	if es, ok := h.d.Store.(objstore.EncryptionStore); ok {
		if cfg, err := es.BucketEncryption(ctx, bucket); err == nil {
			return objstore.Encryption{Mode: cfg.Algorithm}
		}
	}
	return objstore.Encryption{}
}

// sseError is the S3 error of a store's encryption error, or nil.
func sseError(err error) *Error {
	var e *Error
	switch {
	case errors.Is(err, objstore.ErrSSEKeyRequired):
		e = s3err("InvalidRequest", "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.")
	case errors.Is(err, objstore.ErrSSEKeyMismatch):
		e = s3err("AccessDenied", "")
	case errors.Is(err, objstore.ErrSSENotApplicable):
		e = s3err("InvalidRequest", "The encryption parameters are not applicable to this object.")
	case errors.Is(err, objstore.ErrSSEUploadMismatch):
		e = s3err("InvalidRequest", "The provided encryption parameters did not match the ones used originally.")
	case errors.Is(err, objstore.ErrSSEInvalid):
		e = s3err("InvalidArgument", "The encryption method specified is not supported")
	default:
		return nil
	}
	e.Err = err
	return e
}

// serverSideEncryptionConfiguration is the document of PutBucketEncryption
// and GetBucketEncryption.
type serverSideEncryptionConfiguration struct {
	XMLName xml.Name        `xml:"ServerSideEncryptionConfiguration"`
	Xmlns   string          `xml:"xmlns,attr,omitempty"`
	Rules   []sseConfigRule `xml:"Rule"`
}

type sseConfigRule struct {
	Default *struct {
		SSEAlgorithm   string
		KMSMasterKeyID string `xml:",omitempty"`
	} `xml:"ApplyServerSideEncryptionByDefault"`
	BucketKeyEnabled *bool `xml:",omitempty"`
}

// maxEncryptionDoc bounds a PutBucketEncryption document.
const maxEncryptionDoc = 64 << 10

func encryptionStore(h *Handler) (objstore.EncryptionStore, error) {
	es, ok := h.d.Store.(objstore.EncryptionStore)
	if !ok {
		return nil, s3err("NotImplemented", "Bucket default encryption is not implemented by this store.")
	}
	return es, nil
}

// putBucketEncryption answers PutBucketEncryption: one rule, SSE-S3
// (AES256). BucketKeyEnabled is kept and returned; S3 Bucket Keys are of
// SSE-KMS and change nothing for SSE-S3, as in S3.
func putBucketEncryption(h *Handler, w http.ResponseWriter, r *http.Request, rq *request) error {
	es, err := encryptionStore(h)
	if err != nil {
		return err
	}
	if !corsDigestDeclared(r) {
		return s3err("InvalidRequest", "Missing required header for this request: Content-MD5")
	}
	body, err := h.readSmall(r, rq, maxEncryptionDoc)
	if err != nil {
		return err
	}
	var doc serverSideEncryptionConfiguration
	if err := decodeXML(body, &doc); err != nil {
		return err
	}
	if len(doc.Rules) != 1 || doc.Rules[0].Default == nil {
		return s3err("MalformedXML", "")
	}
	rule := doc.Rules[0]
	alg := strings.TrimSpace(rule.Default.SSEAlgorithm)
	if alg != sseAES256 && !strings.HasPrefix(alg, "aws:kms") {
		return s3err("MalformedXML", "")
	}
	if err := checkSSEAlgorithm(alg); err != nil {
		return err
	}
	if rule.Default.KMSMasterKeyID != "" {
		return s3err("InvalidArgument", "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse")
	}
	cfg := objstore.EncryptionConfig{Algorithm: objstore.SSES3, BucketKeyEnabled: rule.BucketKeyEnabled != nil && *rule.BucketKeyEnabled}
	if err := es.PutBucketEncryption(r.Context(), rq.bucket, cfg); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func getBucketEncryption(h *Handler, w http.ResponseWriter, r *http.Request, rq *request) error {
	es, err := encryptionStore(h)
	if err != nil {
		return err
	}
	cfg, err := es.BucketEncryption(r.Context(), rq.bucket)
	if errors.Is(err, objstore.ErrNoEncryptionConfig) {
		e := s3err("ServerSideEncryptionConfigurationNotFoundError", "")
		e.Bucket = rq.bucket
		return e
	}
	if err != nil {
		return err
	}
	var rule sseConfigRule
	rule.Default = &struct {
		SSEAlgorithm   string
		KMSMasterKeyID string `xml:",omitempty"`
	}{SSEAlgorithm: cfg.Algorithm}
	rule.BucketKeyEnabled = &cfg.BucketKeyEnabled
	writeXML(w, http.StatusOK, serverSideEncryptionConfiguration{Xmlns: xmlns, Rules: []sseConfigRule{rule}})
	return nil
}

func deleteBucketEncryption(h *Handler, w http.ResponseWriter, r *http.Request, rq *request) error {
	es, err := encryptionStore(h)
	if err != nil {
		return err
	}
	if err := es.DeleteBucketEncryption(r.Context(), rq.bucket); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
