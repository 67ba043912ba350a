package s3store

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/aloft-dev/aloft/internal/objstore"
)

// CreateUpload starts a multipart upload.
func (s *Store) CreateUpload(ctx context.Context, bucket, key string, opts objstore.PutOptions) (string, error) {
	in := &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: &key}
	expires := putHeaders(&opts, &in.ContentType, &in.Metadata, &in.CacheControl, &in.ContentDisposition, &in.ContentEncoding, &in.ContentLanguage)
	in.Tagging = tagging(opts.Tags)
	in.ChecksumAlgorithm = types.ChecksumAlgorithm(opts.ChecksumAlgorithm)
	in.ChecksumType = types.ChecksumType(opts.ChecksumType)
	setLock(opts.Retention, opts.LegalHold, &in.ObjectLockMode, &in.ObjectLockRetainUntilDate, &in.ObjectLockLegalHoldStatus)
	setEncryption(opts.Encryption, &in.ServerSideEncryption, &in.SSECustomerAlgorithm, &in.SSECustomerKey, &in.SSECustomerKeyMD5)
	out, err := s.c.CreateMultipartUpload(ctx, in, expires)
	if err != nil {
		return "", fail(err)
	}
	return aws.ToString(out.UploadId), nil
}

// UploadPart stores part n of an upload.
func (s *Store) UploadPart(ctx context.Context, bucket, key, uploadID string, n int, body io.Reader, opts objstore.PartOptions) (objstore.PartInfo, error) {
	if n < 1 || n > objstore.MaxParts {
		return objstore.PartInfo{}, objstore.ErrInvalidPartNumber
	}
	b, err := s.newBody(body)
	if err != nil {
		return objstore.PartInfo{}, err
	}
	defer b.close()
	size := b.n
	in := &s3.UploadPartInput{Bucket: &bucket, Key: &key, UploadId: &uploadID, PartNumber: aws.Int32(int32(n)), Body: b, ContentLength: &size}
	if opts.ContentMD5 != nil {
		in.ContentMD5 = aws.String(base64.StdEncoding.EncodeToString(opts.ContentMD5))
	}
	checksumFields{&in.ChecksumCRC32, &in.ChecksumCRC32C, &in.ChecksumCRC64NVME, &in.ChecksumSHA1, &in.ChecksumSHA256}.set(opts.Checksums)
	checksumFields{&in.ChecksumCRC32, &in.ChecksumCRC32C, &in.ChecksumCRC64NVME, &in.ChecksumSHA1, &in.ChecksumSHA256}.set(b.sums)
	k := customerKey(objstore.CustomerKey(ctx, false))
	in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = k.alg, k.key, k.md5
	out, err := s.c.UploadPart(ctx, in, once)
	if err != nil {
		return objstore.PartInfo{}, b.failed(err)
	}
	p := objstore.PartInfo{Number: n, Size: size, ETag: strings.Trim(aws.ToString(out.ETag), `"`), LastModified: time.Now().UTC(),
		Checksums: checksums(out.ChecksumCRC32, out.ChecksumCRC32C, out.ChecksumCRC64NVME, out.ChecksumSHA1, out.ChecksumSHA256)}
	p.Encryption = partEncryption(out.ServerSideEncryption, out.SSECustomerKeyMD5)
	return p, nil
}

// partEncryption is the encryption the store says a part has.
func partEncryption(sse types.ServerSideEncryption, keyMD5 *string) objstore.Encryption {
	switch {
	case keyMD5 != nil:
		return objstore.Encryption{Mode: objstore.SSECustomer, CustomerKeyMD5: *keyMD5}
	case sse == types.ServerSideEncryptionAes256:
		return objstore.Encryption{Mode: objstore.SSES3}
	}
	return objstore.Encryption{}
}

// UploadPartCopy copies the bytes pick chooses of an object into a part.
func (s *Store) UploadPartCopy(ctx context.Context, bucket, key, uploadID string, n int, srcBucket, srcKey string,
	pick func(src objstore.ObjectInfo) (offset, length int64, err error)) (objstore.PartInfo, error) {
	if n < 1 || n > objstore.MaxParts {
		return objstore.PartInfo{}, objstore.ErrInvalidPartNumber
	}
	srcVersion := objstore.CopySourceVersion(ctx)
	srcSSE := objstore.CustomerKey(ctx, true)
	src, err := s.head(ctx, srcBucket, srcKey, srcVersion, srcSSE)
	if err != nil {
		return objstore.PartInfo{}, err
	}
	off, length, err := pick(src)
	if err != nil {
		return objstore.PartInfo{}, err
	}
	if srcVersion == "" {
		srcVersion = src.VersionID // the version picked from
	}
	cs := copySource(srcBucket, srcKey, srcVersion)
	in := &s3.UploadPartCopyInput{Bucket: &bucket, Key: &key, UploadId: &uploadID, PartNumber: aws.Int32(int32(n)), CopySource: &cs}
	if length < 0 { // to the end
		length = src.Size - off
	}
	if off > 0 || length < src.Size {
		in.CopySourceRange = aws.String(fmt.Sprintf("bytes=%d-%d", off, off+length-1))
	}
	if srcVersion == "" {
		in.CopySourceIfMatch = aws.String(`"` + src.ETag + `"`)
	}
	sk := customerKey(srcSSE)
	in.CopySourceSSECustomerAlgorithm, in.CopySourceSSECustomerKey, in.CopySourceSSECustomerKeyMD5 = sk.alg, sk.key, sk.md5
	k := customerKey(objstore.CustomerKey(ctx, false))
	in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = k.alg, k.key, k.md5
	out, err := s.c.UploadPartCopy(ctx, in)
	if err != nil {
		return objstore.PartInfo{}, fail(err)
	}
	p := objstore.PartInfo{Number: n, Size: length, LastModified: time.Now().UTC()}
	if r := out.CopyPartResult; r != nil {
		p.ETag = strings.Trim(aws.ToString(r.ETag), `"`)
		if r.LastModified != nil {
			p.LastModified = *r.LastModified
		}
		p.Checksums = checksums(r.ChecksumCRC32, r.ChecksumCRC32C, r.ChecksumCRC64NVME, r.ChecksumSHA1, r.ChecksumSHA256)
	}
	p.Encryption = partEncryption(out.ServerSideEncryption, out.SSECustomerKeyMD5)
	return p, nil
}

// ListParts lists the parts of an upload numbered above marker.
func (s *Store) ListParts(ctx context.Context, bucket, key, uploadID string, marker, maxParts int) (objstore.PartList, error) {
	in := &s3.ListPartsInput{Bucket: &bucket, Key: &key, UploadId: &uploadID}
	if marker > 0 {
		in.PartNumberMarker = aws.String(fmt.Sprint(marker))
	}
	if maxParts > 0 {
		in.MaxParts = aws.Int32(int32(maxParts))
	}
	k := customerKey(objstore.CustomerKey(ctx, false))
	in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = k.alg, k.key, k.md5
	out, err := s.c.ListParts(ctx, in)
	if err != nil {
		return objstore.PartList{}, fail(err)
	}
	l := objstore.PartList{Bucket: bucket, Key: key, UploadID: uploadID, IsTruncated: aws.ToBool(out.IsTruncated),
		ChecksumAlgorithm: string(out.ChecksumAlgorithm), ChecksumType: string(out.ChecksumType)}
	for _, p := range out.Parts {
		n := int(aws.ToInt32(p.PartNumber))
		l.Parts = append(l.Parts, objstore.PartInfo{Number: n, Size: aws.ToInt64(p.Size), ETag: strings.Trim(aws.ToString(p.ETag), `"`),
			LastModified: aws.ToTime(p.LastModified), Checksums: checksums(p.ChecksumCRC32, p.ChecksumCRC32C, p.ChecksumCRC64NVME, p.ChecksumSHA1, p.ChecksumSHA256)})
		l.NextMarker = n
	}
	return l, nil
}

// CompleteUpload joins the listed parts into the object.
func (s *Store) CompleteUpload(ctx context.Context, bucket, key, uploadID string, parts []objstore.CompletedPart) (objstore.ObjectInfo, error) {
	return s.CompleteUploadWith(ctx, bucket, key, uploadID, parts, objstore.CompleteOptions{})
}

// CompleteUploadWith joins the listed parts into the object, checking the
// object checksum opts gives.
func (s *Store) CompleteUploadWith(ctx context.Context, bucket, key, uploadID string, parts []objstore.CompletedPart, opts objstore.CompleteOptions) (objstore.ObjectInfo, error) {
	if len(parts) == 0 {
		return objstore.ObjectInfo{}, objstore.ErrNoParts
	}
	in := &s3.CompleteMultipartUploadInput{Bucket: &bucket, Key: &key, UploadId: &uploadID, MultipartUpload: &types.CompletedMultipartUpload{}}
	for _, p := range parts {
		etag := p.ETag
		if !strings.HasPrefix(etag, `"`) {
			etag = `"` + etag + `"`
		}
		cp := types.CompletedPart{PartNumber: aws.Int32(int32(p.Number)), ETag: aws.String(etag)}
		checksumFields{&cp.ChecksumCRC32, &cp.ChecksumCRC32C, &cp.ChecksumCRC64NVME, &cp.ChecksumSHA1, &cp.ChecksumSHA256}.set(p.Checksums)
		in.MultipartUpload.Parts = append(in.MultipartUpload.Parts, cp)
	}
	if opts.Checksum != "" {
		checksumFields{&in.ChecksumCRC32, &in.ChecksumCRC32C, &in.ChecksumCRC64NVME, &in.ChecksumSHA1, &in.ChecksumSHA256}.set(map[string]string{opts.ChecksumAlgorithm: opts.Checksum})
	}
	in.ChecksumType = types.ChecksumType(opts.ChecksumType)
	setCondition(ctx, &in.IfNoneMatch, &in.IfMatch)
	k := customerKey(objstore.CustomerKey(ctx, false))
	in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = k.alg, k.key, k.md5
	seq := s.nextSequencer()
	out, err := s.c.CompleteMultipartUpload(ctx, in)
	if err != nil {
		return objstore.ObjectInfo{}, fail(err)
	}
	info, err := s.head(ctx, bucket, key, ourVersion(out.VersionId), objstore.CustomerKey(ctx, false))
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	info.Sequencer = seq
	return info, nil
}

// AbortUpload ends an upload and removes its parts.
func (s *Store) AbortUpload(ctx context.Context, bucket, key, uploadID string) error {
	_, err := s.c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &bucket, Key: &key, UploadId: &uploadID})
	return fail(err)
}

// ListUploads lists a bucket's uploads in progress.
func (s *Store) ListUploads(ctx context.Context, bucket string, opts objstore.UploadListOptions) (objstore.UploadList, error) {
	in := &s3.ListMultipartUploadsInput{Bucket: &bucket, Prefix: optional(opts.Prefix), Delimiter: optional(opts.Delimiter),
		KeyMarker: optional(opts.KeyMarker), UploadIdMarker: optional(opts.UploadIDMarker)}
	if opts.MaxUploads > 0 {
		in.MaxUploads = aws.Int32(int32(opts.MaxUploads))
	}
	out, err := s.c.ListMultipartUploads(ctx, in)
	if err != nil {
		return objstore.UploadList{}, fail(err)
	}
	l := objstore.UploadList{IsTruncated: aws.ToBool(out.IsTruncated), NextKeyMarker: aws.ToString(out.NextKeyMarker), NextUploadIDMarker: aws.ToString(out.NextUploadIdMarker)}
	for _, u := range out.Uploads {
		l.Uploads = append(l.Uploads, objstore.UploadInfo{Key: aws.ToString(u.Key), UploadID: aws.ToString(u.UploadId), Initiated: aws.ToTime(u.Initiated),
			ChecksumAlgorithm: string(u.ChecksumAlgorithm), ChecksumType: string(u.ChecksumType)})
	}
	for _, p := range out.CommonPrefixes {
		l.CommonPrefixes = append(l.CommonPrefixes, aws.ToString(p.Prefix))
	}
	return l, nil
}

// AbortUploadsBefore aborts every upload of every bucket started before t.
func (s *Store) AbortUploadsBefore(ctx context.Context, t time.Time) (int, error) {
	buckets, err := s.ListBuckets(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, b := range buckets {
		opts := objstore.UploadListOptions{}
		for {
			l, err := s.ListUploads(ctx, b.Name, opts)
			if err != nil {
				return n, err
			}
			for _, u := range l.Uploads {
				if u.Initiated.Before(t) {
					if err := s.AbortUpload(ctx, b.Name, u.Key, u.UploadID); err != nil {
						return n, err
					}
					n++
				}
			}
			if !l.IsTruncated {
				break
			}
			opts.KeyMarker, opts.UploadIDMarker = l.NextKeyMarker, l.NextUploadIDMarker
		}
	}
	return n, nil
}
