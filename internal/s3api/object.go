package s3api

import (
	"cmp"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aloft-dev/aloft/internal/objstore"
)

// maxMetadata is S3's limit on the size of user metadata: names and
// values of the x-amz-meta-* headers.
const maxMetadata = 2 << 10

// storedHeaders are the standard headers kept with an object and sent back
// with it.
var storedHeaders = []string{"Cache-Control", "Content-Disposition", "Content-Encoding", "Content-Language", "Expires"}

// putOptions collects what the request says about an object besides its
// content: Content-Type, user metadata and the stored headers.
func putOptions(r *http.Request) (objstore.PutOptions, error) {
	o := objstore.PutOptions{ContentType: r.Header.Get("Content-Type")}
	var encErr error
	if o.Encryption, encErr = requestEncryption(r); encErr != nil { // sse.go
		return o, encErr
	}
	size := 0
	for name, vals := range r.Header {
		lower := strings.ToLower(name)
		m, ok := strings.CutPrefix(lower, "x-amz-meta-")
		if !ok || m == "" {
			continue
		}
		v := strings.Join(vals, ",")
		size += len(m) + len(v)
		if o.Metadata == nil {
			o.Metadata = make(map[string]string)
		}
		o.Metadata[m] = v
	}
	if size > maxMetadata {
		return o, s3err("MetadataTooLarge", "")
	}
	var err error
	if o.Retention, o.LegalHold, err = lockOptions(r); err != nil {
		return o, err
	}
	if v := r.Header.Get("X-Amz-Tagging"); v != "" {
		tags, err := parseTagHeader(v)
		if err != nil {
			return o, err
		}
		o.Tags = tags
	}
	for _, name := range storedHeaders {
		v := r.Header.Get(name)
		if name == "Content-Encoding" {
			v = stripAWSChunked(v)
		}
		if v != "" {
			if o.Headers == nil {
				o.Headers = make(map[string]string)
			}
			o.Headers[name] = v
		}
	}
	return o, nil
}

// stripAWSChunked removes the aws-chunked transfer coding from a
// Content-Encoding value; it describes the request, not the object. The
// rest of the value is kept as sent.
func stripAWSChunked(v string) string {
	if !strings.Contains(strings.ToLower(v), "aws-chunked") {
		return v
	}
	var keep []string
	for _, c := range strings.Split(v, ",") {
		if t := strings.TrimSpace(c); t != "" && !strings.EqualFold(t, "aws-chunked") {
			keep = append(keep, c)
		}
	}
	return strings.TrimSpace(strings.Join(keep, ","))
}

// setChecksumHeaders sets x-amz-checksum-* headers for stored checksums.
func setChecksumHeaders(h http.Header, sums map[string]string) {
	for alg, v := range sums {
		h.Set("X-Amz-Checksum-"+alg, v)
	}
}

func (h *Handler) putObject(w http.ResponseWriter, r *http.Request, rq *request) error {
	opts, err := putOptions(r)
	if err != nil {
		return err
	}
	body, err := h.body(r, rq)
	if err != nil {
		return err
	}
	if body.Size() > objstore.MaxObjectSize {
		return s3err("EntityTooLarge", "")
	}
	ctx, err := h.conditionalWrite(r, rq.bucket, rq.key)
	if err != nil {
		return err
	}
	info, err := h.d.Store.PutObject(ctx, rq.bucket, rq.key, body, opts)
	if err != nil {
		return err
	}
	if err := h.changed(r, rq, "ObjectCreated:Put", info); err != nil {
		return err
	}
	h.versionHeader(r, w.Header(), rq.bucket, info.VersionID)
	w.Header().Set("ETag", quote(info.ETag))
	setChecksumHeaders(w.Header(), info.Checksums)
	setSSEHeaders(w.Header(), info.Encryption)
	w.WriteHeader(http.StatusOK)
	return nil
}

// writeConditionOf returns the write condition of r's If-None-Match
// (which checkHeaders has limited to "*") and If-Match headers.
func writeConditionOf(r *http.Request) objstore.WriteCondition {
	return objstore.WriteCondition{IfNoneMatch: r.Header.Get("If-None-Match") != "", IfMatch: r.Header.Get("If-Match")}
}

// conditionalWrite returns the request's context carrying the write
// condition of its If-Match and If-None-Match headers (see
// objstore.WithWriteCondition), which the store checks again as it
// commits. A condition that fails already against the object as it is now
// is refused here, before the body is read.
func (h *Handler) conditionalWrite(r *http.Request, bucket, key string) (context.Context, error) {
	c := writeConditionOf(r)
	if !c.IfNoneMatch && c.IfMatch == "" {
		return r.Context(), nil
	}
	cur, err := h.d.Store.HeadObject(r.Context(), bucket, key)
	switch {
	case errors.Is(err, objstore.ErrNoSuchKey):
		if c.IfMatch != "" {
			return nil, err
		}
	case err != nil:
		return nil, err
	case c.IfNoneMatch, c.IfMatch != "" && !objstore.ETagListHas(c.IfMatch, cur.ETag):
		return nil, s3err("PreconditionFailed", "")
	}
	return objstore.WithWriteCondition(r.Context(), c), nil
}

// getObject answers GetObject and HeadObject: conditional requests, one
// byte range, and the object's stored headers, with the content sent
// straight from the store's file.
func (h *Handler) getObject(w http.ResponseWriter, r *http.Request, rq *request) error {
	vid := rq.query.Get("versionId")
	ctx, err := withCustomerKeys(r.Context(), r)
	if err != nil {
		return err
	}
	obj, err := h.d.Store.OpenVersion(ctx, rq.bucket, rq.key, vid)
	if err != nil {
		return markerAnswer(w, err)
	}
	defer obj.Close()
	info := obj.Info()
	rq.objectSize = info.Size
	hdr := w.Header()
	setSSEHeaders(hdr, info.Encryption)
	if info.VersionID != "" || vid != "" {
		hdr.Set("X-Amz-Version-Id", versionName(info.VersionID))
	}
	hdr.Set("ETag", quote(info.ETag))
	hdr.Set("Last-Modified", info.LastModified.UTC().Format(http.TimeFormat))
	if err := checkConditions(r, info.ETag, info.LastModified); err != nil {
		return err
	}
	hdr.Set("Accept-Ranges", "bytes")
	hdr.Set("Content-Type", info.ContentType)
	for k, v := range info.Headers {
		hdr.Set(k, v)
	}
	for k, v := range info.Metadata {
		hdr["X-Amz-Meta-"+k] = []string{v}
	}
	for q, name := range map[string]string{"response-content-type": "Content-Type", "response-content-language": "Content-Language",
		"response-expires": "Expires", "response-cache-control": "Cache-Control",
		"response-content-disposition": "Content-Disposition", "response-content-encoding": "Content-Encoding"} {
		if v := rq.query.Get(q); v != "" {
			hdr.Set(name, v)
		}
	}
	if info.Parts > 0 {
		hdr.Set("X-Amz-Mp-Parts-Count", strconv.Itoa(info.Parts))
	}
	if len(info.Tags) > 0 {
		hdr.Set("X-Amz-Tagging-Count", strconv.Itoa(len(info.Tags)))
	}
	setLockHeaders(hdr, info)
	var start, length int64
	var partial bool
	if pn := rq.query.Get("partNumber"); pn != "" {
		if r.Header.Get("Range") != "" {
			return s3err("InvalidRequest", "Cannot specify both Range header and partNumber query parameter")
		}
		n, err := partNumber(pn)
		if err != nil {
			return err
		}
		if start, length, err = partRange(info, n); err != nil {
			return err
		}
		partial = info.Size > 0
	} else if start, length, partial, err = objstore.ParseRange(r.Header.Get("Range"), info.Size); err != nil {
		return s3err("InvalidRange", "")
	}
	status := http.StatusOK
	if partial {
		status = http.StatusPartialContent
		hdr.Set("Content-Range", "bytes "+itoa(start)+"-"+itoa(start+length-1)+"/"+itoa(info.Size))
	} else if strings.EqualFold(r.Header.Get("X-Amz-Checksum-Mode"), "ENABLED") {
		setChecksumHeaders(hdr, info.Checksums)
		if len(info.Checksums) > 0 {
			// A multipart upload's type as it was made; a single PUT's
			// checksum covers the whole object.
			hdr.Set("X-Amz-Checksum-Type", cmp.Or(info.ChecksumType, objstore.ChecksumFullObject))
		}
	}
	hdr.Set("Content-Length", itoa(length))
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return nil
	}
	body, err := obj.Range(start, length)
	if err != nil {
		return err
	}
	w.WriteHeader(status)
	// An *io.LimitedReader over the file: net/http sends it with sendfile.
	if _, err := io.Copy(w, body); err != nil {
		h.d.Logger.Debug("s3 response cut short", "bucket", rq.bucket, "key", rq.key, "err", err)
	}
	return nil
}

// partRange returns the bytes of part n of an object: of a multipart
// object the part as uploaded, of any other the whole object as part 1.
func partRange(info objstore.ObjectInfo, n int) (start, length int64, err error) {
	if len(info.PartSizes) == 0 {
		if n != 1 {
			return 0, 0, s3err("InvalidPartNumber", "The requested partnumber is not satisfiable")
		}
		return 0, info.Size, nil
	}
	if n > len(info.PartSizes) {
		return 0, 0, s3err("InvalidPartNumber", "The requested partnumber is not satisfiable")
	}
	for _, sz := range info.PartSizes[:n-1] {
		start += sz
	}
	return start, info.PartSizes[n-1], nil
}

// checkConditions applies If-Match, If-Unmodified-Since, If-None-Match
// and If-Modified-Since in the order RFC 9110 gives, comparing times to the
// second as Last-Modified carries them.
func checkConditions(r *http.Request, etag string, modified time.Time) error {
	return conditions(r.Header.Get("If-Match"), r.Header.Get("If-Unmodified-Since"),
		r.Header.Get("If-None-Match"), r.Header.Get("If-Modified-Since"), etag, modified, true)
}

// conditions evaluates the four preconditions. A failed If-None-Match or
// If-Modified-Since is a 304 for reads and a 412 otherwise.
func conditions(ifMatch, ifUnmodified, ifNoneMatch, ifModified, etag string, modified time.Time, read bool) error {
	mod := modified.UTC().Truncate(time.Second)
	if ifMatch != "" {
		if !objstore.ETagListHas(ifMatch, etag) {
			return s3err("PreconditionFailed", "")
		}
	} else if t, err := http.ParseTime(ifUnmodified); ifUnmodified != "" && err == nil && mod.After(t) {
		return s3err("PreconditionFailed", "")
	}
	notModified := &Error{Code: "NotModified", Message: "Not Modified", Status: http.StatusNotModified}
	if !read {
		notModified = s3err("PreconditionFailed", "")
	}
	if objstore.NotModified(ifNoneMatch, ifModified, etag, modified) {
		return notModified
	}
	return nil
}

func (h *Handler) deleteObject(w http.ResponseWriter, r *http.Request, rq *request) error {
	// If-Match (of the current version only: writeCondition refuses it
	// with a versionId) is checked by the store as it deletes.
	ifMatch := r.Header.Get("If-Match")
	if err := h.authorizeETagCondition(r, rq, rq.key, ifMatch); err != nil {
		return err
	}
	ctx := objstore.WithWriteCondition(r.Context(), objstore.WriteCondition{IfMatch: ifMatch})
	del, err := h.delete(ctx, r, rq, rq.key, rq.query["versionId"])
	if err != nil {
		return err
	}
	if del.Existed {
		if err := h.changed(r, rq, removal(del, rq.query.Has("versionId")), deletedInfo(rq.bucket, rq.key, del)); err != nil {
			return err
		}
	}
	if del.DeleteMarker {
		w.Header().Set("X-Amz-Delete-Marker", "true")
	}
	if del.DeleteMarker || del.VersionID != "" || rq.query.Has("versionId") {
		w.Header().Set("X-Amz-Version-Id", versionName(del.VersionID))
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// authorizeETagCondition authorizes the s3:GetObject a delete
// conditional on an ETag (If-Match, or a DeleteObjects entry's ETag)
// needs besides s3:DeleteObject, as S3 requires: its answer tells whether
// the object has that ETag. "*" asks only whether the key exists.
func (h *Handler) authorizeETagCondition(r *http.Request, rq *request, key, ifMatch string) error {
	if v := strings.TrimSpace(ifMatch); v == "" || v == "*" {
		return nil
	}
	return h.authorize(r, rq.signer, "s3:GetObject", "arn:aws:s3:::"+rq.bucket+"/"+key, nil, rq.bucket)
}

type deleteRequest struct {
	Quiet   bool
	Objects []struct {
		Key       string
		VersionID string `xml:"VersionId"`
		// ETag makes the deletion conditional, as If-Match does
		// DeleteObject's; the other conditions are directory buckets'.
		ETag             string
		LastModifiedTime *struct{}
		Size             *struct{}
	} `xml:"Object"`
}

type deleteResult struct {
	XMLName xml.Name        `xml:"DeleteResult"`
	Xmlns   string          `xml:"xmlns,attr"`
	Deleted []deletedEntry  `xml:"Deleted"`
	Errors  []deleteFailure `xml:"Error"`
}

type deletedEntry struct {
	Key                   string
	VersionID             string `xml:"VersionId,omitempty"`
	DeleteMarker          bool   `xml:",omitempty"`
	DeleteMarkerVersionID string `xml:"DeleteMarkerVersionId,omitempty"`
}

type deleteFailure struct {
	Key       string
	VersionID string `xml:"VersionId,omitempty"`
	Code      string
	Message   string
}

// deleteObjects answers DeleteObjects. Like S3 it wants the body's
// integrity declared, by Content-MD5 or an x-amz-checksum-* header or
// trailer, which the checked body then verifies.
func (h *Handler) deleteObjects(w http.ResponseWriter, r *http.Request, rq *request) error {
	declared := r.Header.Get("Content-Md5") != "" || r.Header.Get("X-Amz-Trailer") != ""
	for name := range r.Header {
		if strings.HasPrefix(strings.ToLower(name), "x-amz-checksum-") {
			declared = true
		}
	}
	if !declared {
		return s3err("InvalidRequest", "Missing required header for this request: Content-MD5")
	}
	body, err := h.readSmall(r, rq, 2<<20)
	if err != nil {
		return err
	}
	var req deleteRequest
	if err := decodeXML(body, &req); err != nil {
		return err
	}
	if len(req.Objects) == 0 || len(req.Objects) > 1000 {
		return s3err("MalformedXML", "")
	}
	if _, err := h.d.Store.Bucket(r.Context(), rq.bucket); err != nil {
		return err
	}
	out := deleteResult{Xmlns: xmlns}
	for _, o := range req.Objects {
		fail := func(e *Error) {
			out.Errors = append(out.Errors, deleteFailure{Key: o.Key, VersionID: o.VersionID, Code: e.Code, Message: e.Message})
		}
		switch {
		case o.Key == "":
			fail(s3err("InvalidArgument", "Invalid key"))
			continue
		case len(o.Key) > objstore.MaxKeyLen:
			fail(s3err("KeyTooLongError", ""))
			continue
		case o.VersionID != "" && !objstore.ValidVersionID(o.VersionID):
			fail(s3err("InvalidArgument", "Invalid version id specified"))
			continue
		case o.LastModifiedTime != nil || o.Size != nil:
			fail(s3err("NotImplemented", "Conditional deletes by LastModifiedTime or Size are not implemented."))
			continue
		case o.ETag != "" && o.VersionID != "":
			fail(s3err("NotImplemented", "A conditional delete applies to the current version only."))
			continue
		}
		// Each key of the batch is an s3:DeleteObject (or
		// s3:DeleteObjectVersion) of its own.
		action := "s3:DeleteObject"
		var version []string
		if o.VersionID != "" {
			action, version = "s3:DeleteObjectVersion", []string{o.VersionID}
		}
		err := h.authorize(r, rq.signer, action, "arn:aws:s3:::"+rq.bucket+"/"+o.Key, nil, rq.bucket)
		if err == nil {
			err = h.authorizeETagCondition(r, rq, o.Key, o.ETag)
		}
		if err != nil {
			var e *Error
			if errors.As(err, &e) {
				fail(e)
				continue
			}
			return err
		}
		ctx := objstore.WithWriteCondition(r.Context(), objstore.WriteCondition{IfMatch: o.ETag})
		del, err := h.delete(ctx, r, rq, o.Key, version)
		if err == nil && del.Existed {
			sub := *rq
			sub.key = o.Key
			err = h.changed(r, &sub, removal(del, len(version) > 0), deletedInfo(rq.bucket, o.Key, del))
		}
		if err != nil {
			e := toError(err, rq.bucket, o.Key)
			if e.Status >= 500 {
				h.d.Logger.Error("s3 batch delete failed", "bucket", rq.bucket, "key", o.Key, "err", err)
			}
			fail(e)
			continue
		}
		if !req.Quiet {
			e := deletedEntry{Key: o.Key, VersionID: o.VersionID, DeleteMarker: del.DeleteMarker}
			if del.DeleteMarker && o.VersionID == "" {
				e.DeleteMarkerVersionID = versionName(del.VersionID)
			}
			out.Deleted = append(out.Deleted, e)
		}
	}
	writeXML(w, http.StatusOK, out)
	return nil
}

type copyObjectResult struct {
	XMLName      xml.Name `xml:"CopyObjectResult"`
	Xmlns        string   `xml:"xmlns,attr"`
	LastModified string
	ETag         string
}

// parseCopySource splits x-amz-copy-source ("/bucket/key" or
// "bucket/key", URL-encoded, optionally with ?versionId=).
func parseCopySource(v string) (bucket, key, version string, err error) {
	src, version, _ := strings.Cut(v, "?versionId=")
	if version != "" && !objstore.ValidVersionID(version) {
		return "", "", "", s3err("InvalidArgument", "Invalid version id specified")
	}
	src = strings.TrimPrefix(src, "/")
	b, k, ok := strings.Cut(src, "/")
	if !ok || b == "" || k == "" {
		return "", "", "", s3err("InvalidArgument", "Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
	}
	if bucket, err = url.PathUnescape(b); err != nil {
		return "", "", "", s3err("InvalidArgument", "Invalid copy source encoding")
	}
	if key, err = url.PathUnescape(k); err != nil {
		return "", "", "", s3err("InvalidArgument", "Invalid copy source encoding")
	}
	return bucket, key, version, nil
}

// copySource returns the object a copy (CopyObject, UploadPartCopy)
// reads, from x-amz-copy-source, once the signer is allowed to read it:
// a copy reads its source, so the signer must be allowed to, by the
// source as the copy will read it (s3:GetObjectVersion for a version
// named, which is returned; "" for the current one).
func (h *Handler) copySource(r *http.Request, rq *request) (bucket, key, version string, err error) {
	bucket, key, version, err = parseCopySource(r.Header.Get("X-Amz-Copy-Source"))
	if err != nil {
		return "", "", "", err
	}
	if !objstore.ValidBucketName(bucket) {
		e := s3err("InvalidBucketName", "")
		e.Bucket = bucket
		return "", "", "", e
	}
	action := "s3:GetObject"
	if version != "" {
		action = "s3:GetObjectVersion"
	}
	if err := h.authorize(r, rq.signer, action, "arn:aws:s3:::"+bucket+"/"+key, nil, bucket); err != nil {
		return "", "", "", err
	}
	return bucket, key, version, nil
}

func (h *Handler) copyObject(w http.ResponseWriter, r *http.Request, rq *request) error {
	srcBucket, srcKey, srcVersion, err := h.copySource(r, rq)
	if err != nil {
		return err
	}
	var opts *objstore.PutOptions
	switch d := r.Header.Get("X-Amz-Metadata-Directive"); d {
	case "", "COPY":
		if srcBucket == rq.bucket && srcKey == rq.key && srcVersion == "" && !asksEncryption(r) {
			return s3err("InvalidRequest", "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
		}
	case "REPLACE":
		o, err := putOptions(r)
		if err != nil {
			return err
		}
		opts = &o
	default:
		return s3err("InvalidArgument", "Unknown metadata directive.")
	}
	// The request's own body must be empty; reading it checks its hash.
	body, err := h.readSmall(r, rq, 0)
	if err != nil {
		return err
	}
	_ = body
	src, err := h.d.Store.HeadVersion(r.Context(), srcBucket, srcKey, srcVersion)
	if err != nil {
		if errors.Is(err, objstore.ErrNoSuchKey) || errors.Is(err, objstore.ErrIsDeleteMarker) {
			e := s3err("NoSuchKey", "")
			e.Key = srcKey
			return e
		}
		return err
	}
	hd := r.Header
	if err := conditions(hd.Get("X-Amz-Copy-Source-If-Match"), hd.Get("X-Amz-Copy-Source-If-Unmodified-Since"),
		hd.Get("X-Amz-Copy-Source-If-None-Match"), hd.Get("X-Amz-Copy-Source-If-Modified-Since"), src.ETag, src.LastModified, false); err != nil {
		return err
	}
	if opts != nil || r.Header.Get("X-Amz-Tagging-Directive") == "REPLACE" {
		// Without either the store copies the source's metadata and tags.
		tags, err := copyTags(r, src)
		if err != nil {
			return err
		}
		if opts == nil {
			opts = &objstore.PutOptions{ContentType: src.ContentType, Metadata: src.Metadata, Headers: src.Headers}
		}
		opts.Tags = tags
	}
	if opts == nil && hasLockHeaders(r) {
		// The copy keeps the source's metadata and tags, not its lock.
		opts = &objstore.PutOptions{ContentType: src.ContentType, Metadata: src.Metadata, Headers: src.Headers, Tags: src.Tags}
		if opts.Retention, opts.LegalHold, err = lockOptions(r); err != nil {
			return err
		}
	}
	if opts, err = copyEncryption(r, src, opts); err != nil { // sse.go
		return err
	}
	ctx, err := h.conditionalWrite(r, rq.bucket, rq.key)
	if err != nil {
		return err
	}
	if ctx, err = withCustomerKeys(ctx, r); err != nil {
		return err
	}
	info, err := h.d.Store.CopyObject(objstore.WithCopySourceVersion(ctx, srcVersion), srcBucket, srcKey, rq.bucket, rq.key, opts)
	if err != nil {
		return err
	}
	if err := h.changed(r, rq, "ObjectCreated:Copy", info); err != nil {
		return err
	}
	if srcVersion != "" || src.VersionID != "" {
		w.Header().Set("X-Amz-Copy-Source-Version-Id", versionName(src.VersionID))
	}
	h.versionHeader(r, w.Header(), rq.bucket, info.VersionID)
	setSSEHeaders(w.Header(), info.Encryption)
	writeXML(w, http.StatusOK, copyObjectResult{Xmlns: xmlns, LastModified: s3Time(info.LastModified), ETag: quote(info.ETag)})
	return nil
}
