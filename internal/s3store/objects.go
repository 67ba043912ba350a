package s3store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/aloft-dev/aloft/internal/objstore"
)

// sized is a body that knows its length, as the S3 handler's bodies do.
type sized interface{ Size() int64 }

// trailed is a body whose checksums are known only at its end (an
// aws-chunked body with a trailer), from Checksums.
type trailed interface {
	TrailerChecksum() bool
	Checksums() map[string]string
}

// declared is a body whose checksums its request's headers give.
type declared interface{ DeclaredChecksums() map[string]string }

// body is a request body on its way to the store. A body of known length
// streams through, its last byte held back until the caller's reader has
// ended cleanly, so that a body that fails its check at its end (a bad
// chunk signature, a digest that does not match) never reaches the store
// whole; it keeps the first error reading gave, which is what a failed
// request is then reported with. A body of unknown length, or whose
// checksum comes at its end, is spooled to a file first: the store needs
// the length, and the checksum, before the bytes.
type body struct {
	r     io.Reader
	n     int64 // the length
	sent  int64 // bytes given to the store's request
	err   error
	spool *os.File
	sums  map[string]string // the body's checksums, given to the store
}

// newBody readies r to be sent: streamed when its length is known and no
// checksum comes at its end, else spooled to a file in s.tmp first.
func (s *Store) newBody(r io.Reader) (*body, error) {
	b, isSized := r.(sized)
	t, isTrailed := r.(trailed)
	if isSized && b.Size() >= 0 && !(isTrailed && t.TrailerChecksum()) {
		out := &body{r: r, n: b.Size()}
		if d, ok := r.(declared); ok {
			out.sums = d.DeclaredChecksums()
		}
		return out, nil
	}
	f, err := os.CreateTemp(s.tmp, "spool-*")
	if err != nil {
		return nil, fmt.Errorf("s3store: spool a body: %w", err)
	}
	os.Remove(f.Name()) // gone with the file's last descriptor
	n, err := io.Copy(f, io.LimitReader(r, objstore.MaxObjectSize+1))
	if err == nil && n > objstore.MaxObjectSize {
		err = objstore.ErrTooLarge
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, err // the body's own error, as a disk store gives it
	}
	out := &body{r: f, n: n, spool: f}
	if isTrailed {
		out.sums = t.Checksums()
	}
	return out, nil
}

func (b *body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.spool != nil {
		return b.spool.Read(p)
	}
	left := b.n - b.sent
	if left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) < left {
		// Not the end yet: never the last byte, which waits for the
		// reader's clean end below.
		n, err := b.r.Read(p[:min(int64(len(p)), left-1)])
		b.sent += int64(n)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF // shorter than it said
		}
		if err != nil {
			b.err = err
		}
		return n, err
	}
	// The rest, then the reader's end: given only once it has ended
	// without an error.
	n, err := io.ReadFull(b.r, p[:left])
	if err == nil {
		var one [1]byte
		var k int
		k, err = b.r.Read(one[:])
		for err == nil && k == 0 {
			k, err = b.r.Read(one[:])
		}
		switch {
		case k > 0:
			err = fmt.Errorf("s3store: a body longer than its %d bytes", b.n)
		case err == io.EOF:
			b.sent += int64(n)
			return n, nil
		}
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	b.err = err
	return 0, err
}

// failed returns the error a request sending b ended with: the body's
// own, if reading it failed, else the store's.
func (b *body) failed(err error) error {
	if b.err != nil {
		return b.err
	}
	return fail(err)
}

// close removes a spooled copy.
func (b *body) close() {
	if b.spool != nil {
		b.spool.Close()
	}
}

// once sends a request with a body a single time: a body read once
// cannot be sent again.
func once(o *s3.Options) { o.RetryMaxAttempts = 1 }

// version is a version id as the store takes it: nil for the current
// version.
func version(id string) *string {
	if id == "" {
		return nil
	}
	return &id
}

// ourVersion is a version id the store answered, as objstore gives it:
// "" for the null version.
func ourVersion(id *string) string {
	if v := aws.ToString(id); v != "null" {
		return v
	}
	return ""
}

// sse is an SSE-C key as the store's requests carry it.
type sse struct{ alg, key, md5 *string }

func customerKey(key []byte) sse {
	if key == nil {
		return sse{}
	}
	return sse{aws.String("AES256"), aws.String(base64.StdEncoding.EncodeToString(key)), aws.String(objstore.CustomerKeyMD5(key))}
}

// tagging encodes tags as the x-amz-tagging header does.
func tagging(tags map[string]string) *string {
	if len(tags) == 0 {
		return nil
	}
	v := url.Values{}
	for k, t := range tags {
		v.Set(k, t)
	}
	return aws.String(v.Encode())
}

// PutObject stores body under key.
func (s *Store) PutObject(ctx context.Context, bucket, key string, body io.Reader, opts objstore.PutOptions) (objstore.ObjectInfo, error) {
	b, err := s.newBody(body)
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	defer b.close()
	n := b.n
	in := &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: b, ContentLength: &n}
	expires := putHeaders(&opts, &in.ContentType, &in.Metadata, &in.CacheControl, &in.ContentDisposition, &in.ContentEncoding, &in.ContentLanguage)
	if opts.ContentMD5 != nil {
		in.ContentMD5 = aws.String(base64.StdEncoding.EncodeToString(opts.ContentMD5))
	}
	checksumFields{&in.ChecksumCRC32, &in.ChecksumCRC32C, &in.ChecksumCRC64NVME, &in.ChecksumSHA1, &in.ChecksumSHA256}.set(opts.Checksums)
	checksumFields{&in.ChecksumCRC32, &in.ChecksumCRC32C, &in.ChecksumCRC64NVME, &in.ChecksumSHA1, &in.ChecksumSHA256}.set(b.sums)
	in.Tagging = tagging(opts.Tags)
	setLock(opts.Retention, opts.LegalHold, &in.ObjectLockMode, &in.ObjectLockRetainUntilDate, &in.ObjectLockLegalHoldStatus)
	setEncryption(opts.Encryption, &in.ServerSideEncryption, &in.SSECustomerAlgorithm, &in.SSECustomerKey, &in.SSECustomerKeyMD5)
	setCondition(ctx, &in.IfNoneMatch, &in.IfMatch)
	seq := s.nextSequencer()
	out, err := s.c.PutObject(ctx, in, once, expires)
	if err != nil {
		return objstore.ObjectInfo{}, b.failed(err)
	}
	info := objstore.ObjectInfo{
		Bucket: bucket, Key: key, Size: n, ETag: strings.Trim(aws.ToString(out.ETag), `"`), LastModified: time.Now().UTC(),
		ContentType: aws.ToString(in.ContentType), Metadata: opts.Metadata, Headers: opts.Headers, Checksums: checksums(in.ChecksumCRC32, in.ChecksumCRC32C, in.ChecksumCRC64NVME, in.ChecksumSHA1, in.ChecksumSHA256), Tags: opts.Tags,
		Encryption: objstore.Encryption{Mode: opts.Encryption.Mode, CustomerKeyMD5: opts.Encryption.CustomerKeyMD5},
		Sequencer:  seq, VersionID: ourVersion(out.VersionId), Retention: opts.Retention, LegalHold: opts.LegalHold,
	}
	if out.ServerSideEncryption == types.ServerSideEncryptionAes256 && info.Encryption.Mode == "" {
		info.Encryption.Mode = objstore.SSES3 // the bucket's default
	}
	return info, nil
}

// putHeaders sets a request's content type, metadata and stored headers
// from opts, defaulting the content type as S3 does. Expires goes as the
// client sent it, by the option returned: S3 keeps it whether or not it
// is a date, which the request's typed field could not carry.
func putHeaders(opts *objstore.PutOptions, contentType **string, meta *map[string]string, cache, disp, enc, lang **string) func(*s3.Options) {
	ct := opts.ContentType
	if ct == "" {
		ct = "binary/octet-stream"
	}
	*contentType = aws.String(ct)
	*meta = opts.Metadata
	raw := func(*s3.Options) {}
	for name, v := range opts.Headers {
		switch name {
		case "Cache-Control":
			*cache = aws.String(v)
		case "Content-Disposition":
			*disp = aws.String(v)
		case "Content-Encoding":
			*enc = aws.String(v)
		case "Content-Language":
			*lang = aws.String(v)
		case "Expires":
			raw = func(o *s3.Options) { o.APIOptions = append(o.APIOptions, smithyhttp.SetHeaderValue("Expires", v)) }
		}
	}
	return raw
}

// Open opens the current version of an object.
func (s *Store) Open(ctx context.Context, bucket, key string) (objstore.Object, error) {
	return s.OpenVersion(ctx, bucket, key, "")
}

// HeadObject describes the current version of an object.
func (s *Store) HeadObject(ctx context.Context, bucket, key string) (objstore.ObjectInfo, error) {
	return s.HeadVersion(ctx, bucket, key, "")
}

// HeadVersion describes one version of an object, with its tags and, for
// a multipart object, its parts.
func (s *Store) HeadVersion(ctx context.Context, bucket, key, versionID string) (objstore.ObjectInfo, error) {
	return s.head(ctx, bucket, key, versionID, objstore.CustomerKey(ctx, false))
}

func (s *Store) head(ctx context.Context, bucket, key, versionID string, ssec []byte) (objstore.ObjectInfo, error) {
	k := customerKey(ssec)
	out, err := s.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &key, VersionId: version(versionID),
		ChecksumMode: types.ChecksumModeEnabled, SSECustomerAlgorithm: k.alg, SSECustomerKey: k.key, SSECustomerKeyMD5: k.md5})
	if err != nil {
		if sseErr := headSSE(err, ssec != nil); sseErr != nil {
			return objstore.ObjectInfo{}, sseErr
		}
		return objstore.ObjectInfo{}, s.missing(ctx, bucket, versionID, err)
	}
	info := objstore.ObjectInfo{
		Bucket: bucket, Key: key, Size: aws.ToInt64(out.ContentLength), ETag: strings.Trim(aws.ToString(out.ETag), `"`),
		LastModified: aws.ToTime(out.LastModified), ContentType: aws.ToString(out.ContentType), Metadata: out.Metadata,
		VersionID: ourVersion(out.VersionId), ChecksumType: string(out.ChecksumType),
		Checksums: checksums(out.ChecksumCRC32, out.ChecksumCRC32C, out.ChecksumCRC64NVME, out.ChecksumSHA1, out.ChecksumSHA256),
		Headers:   headers(out.CacheControl, out.ContentDisposition, out.ContentEncoding, out.ContentLanguage, out.ExpiresString),
		LegalHold: out.ObjectLockLegalHoldStatus == types.ObjectLockLegalHoldStatusOn,
	}
	if out.ObjectLockMode != "" {
		info.Retention = objstore.Retention{Mode: string(out.ObjectLockMode), Until: aws.ToTime(out.ObjectLockRetainUntilDate)}
	}
	switch {
	case out.SSECustomerAlgorithm != nil:
		info.Encryption = objstore.Encryption{Mode: objstore.SSECustomer, CustomerKeyMD5: aws.ToString(out.SSECustomerKeyMD5)}
	case out.ServerSideEncryption == types.ServerSideEncryptionAes256:
		info.Encryption.Mode = objstore.SSES3
	}
	if len(info.Metadata) == 0 {
		info.Metadata = nil
	}
	tags, err := s.c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: &bucket, Key: &key, VersionId: version(versionID)})
	if err != nil {
		return objstore.ObjectInfo{}, fail(err)
	}
	for _, t := range tags.TagSet {
		if info.Tags == nil {
			info.Tags = make(map[string]string)
		}
		info.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	if strings.Contains(info.ETag, "-") {
		if err := s.parts(ctx, &info, versionID, k); err != nil {
			return objstore.ObjectInfo{}, err
		}
	}
	return info, nil
}

// headSSE reads the bodiless refusal of a HEAD as S3 gives it for
// SSE-C: 400 for a key missing or given for an object without one, 403
// for a key that is not the object's. It returns nil for other errors.
func headSSE(err error, withKey bool) error {
	var re *smithyhttp.ResponseError
	if !errors.As(err, &re) || re.Response == nil {
		return nil
	}
	switch st := re.Response.StatusCode; {
	case st == http.StatusBadRequest && !withKey:
		return objstore.ErrSSEKeyRequired
	case st == http.StatusBadRequest:
		return objstore.ErrSSENotApplicable
	case st == http.StatusForbidden && withKey:
		return objstore.ErrSSEKeyMismatch
	}
	return nil
}

// parts fills in the part sizes and checksums of a multipart object.
func (s *Store) parts(ctx context.Context, info *objstore.ObjectInfo, versionID string, k sse) error {
	in := &s3.GetObjectAttributesInput{Bucket: &info.Bucket, Key: &info.Key, VersionId: version(versionID), MaxParts: aws.Int32(1000),
		ObjectAttributes:     []types.ObjectAttributes{types.ObjectAttributesObjectParts},
		SSECustomerAlgorithm: k.alg, SSECustomerKey: k.key, SSECustomerKeyMD5: k.md5}
	for {
		out, err := s.c.GetObjectAttributes(ctx, in)
		if err != nil {
			return fail(err)
		}
		if out.ObjectParts == nil {
			return nil
		}
		info.Parts = int(aws.ToInt32(out.ObjectParts.TotalPartsCount))
		for _, p := range out.ObjectParts.Parts {
			info.PartSizes = append(info.PartSizes, aws.ToInt64(p.Size))
			if sums := checksums(p.ChecksumCRC32, p.ChecksumCRC32C, p.ChecksumCRC64NVME, p.ChecksumSHA1, p.ChecksumSHA256); info.ChecksumType == string(types.ChecksumTypeComposite) {
				for _, v := range sums {
					info.PartChecksums = append(info.PartChecksums, v)
				}
			}
		}
		if !aws.ToBool(out.ObjectParts.IsTruncated) {
			return nil
		}
		in.PartNumberMarker = out.ObjectParts.NextPartNumberMarker
	}
}

// missing turns the error of a read into objstore's: a 404 or 405 that
// names a delete marker is a MarkerError; another 404 is ErrNoSuchKey or
// ErrNoSuchBucket, or ErrNoSuchVersion for a version asked by id.
func (s *Store) missing(ctx context.Context, bucket, versionID string, err error) error {
	resp, ok := notFound(err)
	if !ok {
		return fail(err)
	}
	if resp.Header.Get("X-Amz-Delete-Marker") == "true" {
		lm, _ := http.ParseTime(resp.Header.Get("Last-Modified"))
		return &objstore.MarkerError{VersionID: ourVersion(aws.String(resp.Header.Get("X-Amz-Version-Id"))), LastModified: lm, Current: versionID == ""}
	}
	if mapped := fail(err); resp.StatusCode != http.StatusNotFound && !errors.As(mapped, new(*objstore.ServiceError)) {
		return mapped // a 405 that names no delete marker
	}
	switch {
	case s.checkBucket(ctx, bucket) != nil:
		return objstore.ErrNoSuchBucket
	case versionID != "":
		return objstore.ErrNoSuchVersion
	}
	return objstore.ErrNoSuchKey
}

func checksums(crc32, crc32c, crc64, sha1, sha256 *string) map[string]string {
	var m map[string]string
	for _, c := range []struct {
		alg string
		v   *string
	}{{"CRC32", crc32}, {"CRC32C", crc32c}, {"CRC64NVME", crc64}, {"SHA1", sha1}, {"SHA256", sha256}} {
		if v := aws.ToString(c.v); v != "" {
			if m == nil {
				m = make(map[string]string)
			}
			m[c.alg] = v
		}
	}
	return m
}

func headers(cache, disp, enc, lang, exp *string) map[string]string {
	var m map[string]string
	for _, h := range []struct {
		name string
		v    *string
	}{{"Cache-Control", cache}, {"Content-Disposition", disp}, {"Content-Encoding", enc}, {"Content-Language", lang}, {"Expires", exp}} {
		if v := aws.ToString(h.v); v != "" {
			if m == nil {
				m = make(map[string]string)
			}
			m[h.name] = v
		}
	}
	return m
}

// object is an open version of an object: its description, read when it
// was opened, and ranges of its content read on demand, each checked to
// be of that same version.
type object struct {
	s       *Store
	info    objstore.ObjectInfo
	ssec    sse
	version *string
	body    io.ReadCloser // the last range's
}

// OpenVersion opens one version of an object.
func (s *Store) OpenVersion(ctx context.Context, bucket, key, versionID string) (objstore.Object, error) {
	key0 := objstore.CustomerKey(ctx, false)
	info, err := s.head(ctx, bucket, key, versionID, key0)
	if err != nil {
		return nil, err
	}
	v := version(versionID)
	if v == nil && info.VersionID != "" {
		v = aws.String(info.VersionID) // the version described, whatever is written meanwhile
	}
	return &object{s: s, info: info, ssec: customerKey(key0), version: v}, nil
}

func (o *object) Info() objstore.ObjectInfo { return o.info }

// Range reads length bytes from offset (to the end if length < 0) of the
// version opened; if the key was replaced since, the read fails with
// ErrNoSuchKey rather than returning another object's bytes.
func (o *object) Range(offset, length int64) (io.Reader, error) {
	if o.body != nil {
		o.body.Close()
		o.body = nil
	}
	if length == 0 || offset >= o.info.Size {
		return strings.NewReader(""), nil
	}
	in := &s3.GetObjectInput{Bucket: &o.info.Bucket, Key: &o.info.Key, VersionId: o.version,
		SSECustomerAlgorithm: o.ssec.alg, SSECustomerKey: o.ssec.key, SSECustomerKeyMD5: o.ssec.md5}
	if o.version == nil {
		in.IfMatch = aws.String(`"` + o.info.ETag + `"`)
	}
	if offset > 0 || (length >= 0 && length < o.info.Size) {
		r := fmt.Sprintf("bytes=%d-", offset)
		if length >= 0 {
			r += fmt.Sprint(offset + length - 1)
		}
		in.Range = &r
	}
	// The body outlives this call; the caller's context is the request's.
	out, err := o.s.c.GetObject(context.Background(), in)
	if err != nil {
		if errors.Is(fail(err), objstore.ErrPreconditionFailed) {
			return nil, fmt.Errorf("%w: replaced while it was read", objstore.ErrNoSuchKey)
		}
		return nil, fail(err)
	}
	o.body = out.Body
	return out.Body, nil
}

func (o *object) Close() error {
	if o.body != nil {
		return o.body.Close()
	}
	return nil
}

// DeleteObject removes the current version of an object, or with
// versioning set makes a delete marker.
func (s *Store) DeleteObject(ctx context.Context, bucket, key string) (objstore.Deleted, error) {
	return s.DeleteVersion(ctx, bucket, key, "")
}

// DeleteVersion removes one version for good ("" the current object, as
// DeleteObject does).
func (s *Store) DeleteVersion(ctx context.Context, bucket, key, versionID string) (objstore.Deleted, error) {
	existed := true
	if versionID == "" {
		// S3 does not say whether there was something to delete; the
		// notifications need to know.
		if _, err := s.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &key}); err != nil {
			if _, ok := notFound(err); !ok {
				return objstore.Deleted{}, fail(err)
			}
			existed = false
		}
	}
	in := &s3.DeleteObjectInput{Bucket: &bucket, Key: &key, VersionId: version(versionID)}
	if c := objstore.WriteConditionOf(ctx); c != nil && versionID == "" {
		in.IfMatch = optional(c.IfMatch)
	}
	if objstore.BypassGovernance(ctx) {
		in.BypassGovernanceRetention = aws.Bool(true)
	}
	seq := s.nextSequencer()
	out, err := s.c.DeleteObject(ctx, in)
	if err != nil {
		if errors.Is(fail(err), objstore.ErrNoSuchBucket) {
			return objstore.Deleted{}, objstore.ErrNoSuchBucket
		}
		var svc *objstore.ServiceError
		if errors.As(fail(err), &svc) && svc.Code == "AccessDenied" && strings.Contains(strings.ToLower(svc.Message), "object lock") {
			return objstore.Deleted{}, objstore.ErrLocked
		}
		return objstore.Deleted{}, fail(err)
	}
	d := objstore.Deleted{Existed: existed || aws.ToBool(out.DeleteMarker), Sequencer: seq, Time: time.Now().UTC(),
		VersionID: ourVersion(out.VersionId), DeleteMarker: aws.ToBool(out.DeleteMarker)}
	return d, nil
}

// CopyObject copies an object; a nil opts keeps the source's metadata and
// tags.
func (s *Store) CopyObject(ctx context.Context, srcBucket, srcKey, dstBucket, dstKey string, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	src := copySource(srcBucket, srcKey, objstore.CopySourceVersion(ctx))
	in := &s3.CopyObjectInput{Bucket: &dstBucket, Key: &dstKey, CopySource: &src}
	srcKey0 := customerKey(objstore.CustomerKey(ctx, true))
	in.CopySourceSSECustomerAlgorithm, in.CopySourceSSECustomerKey, in.CopySourceSSECustomerKeyMD5 = srcKey0.alg, srcKey0.key, srcKey0.md5
	enc := objstore.Encryption{}
	expires := func(*s3.Options) {}
	if opts != nil {
		in.MetadataDirective = types.MetadataDirectiveReplace
		expires = putHeaders(opts, &in.ContentType, &in.Metadata, &in.CacheControl, &in.ContentDisposition, &in.ContentEncoding, &in.ContentLanguage)
		in.TaggingDirective = types.TaggingDirectiveReplace
		in.Tagging = tagging(opts.Tags)
		setLock(opts.Retention, opts.LegalHold, &in.ObjectLockMode, &in.ObjectLockRetainUntilDate, &in.ObjectLockLegalHoldStatus)
		enc = opts.Encryption
	}
	setEncryption(enc, &in.ServerSideEncryption, &in.SSECustomerAlgorithm, &in.SSECustomerKey, &in.SSECustomerKeyMD5)
	setCondition(ctx, &in.IfNoneMatch, &in.IfMatch)
	seq := s.nextSequencer()
	out, err := s.c.CopyObject(ctx, in, expires)
	if err != nil {
		return objstore.ObjectInfo{}, fail(err)
	}
	info, err := s.head(ctx, dstBucket, dstKey, ourVersion(out.VersionId), enc.CustomerKey)
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	info.Sequencer = seq
	return info, nil
}

// copySource is an x-amz-copy-source value.
func copySource(bucket, key, versionID string) string {
	src := url.PathEscape(bucket) + "/" + strings.ReplaceAll(url.PathEscape(key), "%2F", "/")
	if versionID != "" {
		src += "?versionId=" + url.QueryEscape(versionID)
	}
	return src
}

// ListObjects lists keys in byte order.
func (s *Store) ListObjects(ctx context.Context, bucket string, opts objstore.ListOptions) (objstore.ListResult, error) {
	in := &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: optional(opts.Prefix), Delimiter: optional(opts.Delimiter), StartAfter: optional(opts.After)}
	if opts.MaxKeys > 0 && opts.MaxKeys < objstore.MaxListKeys {
		in.MaxKeys = aws.Int32(int32(opts.MaxKeys))
	}
	out, err := s.c.ListObjectsV2(ctx, in)
	if err != nil {
		return objstore.ListResult{}, fail(err)
	}
	res := objstore.ListResult{IsTruncated: aws.ToBool(out.IsTruncated)}
	for _, o := range out.Contents {
		res.Objects = append(res.Objects, objstore.ObjectInfo{Bucket: bucket, Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size),
			ETag: strings.Trim(aws.ToString(o.ETag), `"`), LastModified: aws.ToTime(o.LastModified)})
		res.NextMarker = max(res.NextMarker, aws.ToString(o.Key))
	}
	for _, p := range out.CommonPrefixes {
		res.CommonPrefixes = append(res.CommonPrefixes, aws.ToString(p.Prefix))
		res.NextMarker = max(res.NextMarker, aws.ToString(p.Prefix))
	}
	return res, nil
}
