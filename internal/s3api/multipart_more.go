package s3api

import (
	"encoding/xml"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/aloft-dev/aloft/internal/objstore"
)

// multipartError turns the object store's checksum errors into S3's; other
// errors pass through to toError.
func multipartError(err error) error {
	switch {
	case errors.Is(err, objstore.ErrChecksumMismatch):
		e := s3err("BadDigest", "The checksum you specified did not match the calculated checksum.")
		e.Err = err
		return e
	case errors.Is(err, objstore.ErrChecksumRequest):
		e := s3err("InvalidRequest", strings.TrimPrefix(err.Error(), objstore.ErrChecksumRequest.Error()+": "))
		e.Err = err
		return e
	}
	return err
}

type copyPartResult struct {
	XMLName           xml.Name `xml:"CopyPartResult"`
	Xmlns             string   `xml:"xmlns,attr"`
	LastModified      string
	ETag              string
	ChecksumCRC32     string `xml:",omitempty"`
	ChecksumCRC32C    string `xml:",omitempty"`
	ChecksumCRC64NVME string `xml:",omitempty"`
	ChecksumSHA1      string `xml:",omitempty"`
	ChecksumSHA256    string `xml:",omitempty"`
}

// copySourceRange parses x-amz-copy-source-range: one closed range
// "bytes=first-last", which must lie inside an object of size bytes. ok is
// false for no range.
func copySourceRange(v string, size int64) (offset, length int64, ok bool, err error) {
	if v == "" {
		return 0, -1, false, nil
	}
	malformed := s3err("InvalidArgument", "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
	spec, found := strings.CutPrefix(v, "bytes=")
	a, b, dash := strings.Cut(spec, "-")
	if !found || !dash || !digits(a) || !digits(b) {
		return 0, 0, false, malformed
	}
	first, err1 := strconv.ParseInt(a, 10, 64)
	last, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || first > last {
		return 0, 0, false, malformed
	}
	if last >= size {
		return 0, 0, false, s3err("InvalidArgument", "Range specified is not valid for source object of size: "+itoa(size))
	}
	return first, last - first + 1, true, nil
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// uploadPartCopy answers UploadPartCopy: part n of the upload from an
// object's content (all of it, or x-amz-copy-source-range), under the
// same source preconditions as CopyObject. The signer must be allowed
// s3:GetObject on the source as well as s3:PutObject here.
func (h *Handler) uploadPartCopy(w http.ResponseWriter, r *http.Request, rq *request) error {
	n, err := partNumber(rq.query.Get("partNumber"))
	if err != nil {
		return err
	}
	srcBucket, srcKey, srcVersion, err := h.copySource(r, rq)
	if err != nil {
		return err
	}
	if _, err := h.readSmall(r, rq, 0); err != nil { // empty, its hash checked
		return err
	}
	kctx, err := withCustomerKeys(r.Context(), r)
	if err != nil {
		return err
	}
	hd := r.Header
	rng := hd.Get("X-Amz-Copy-Source-Range")
	part, err := h.d.Store.UploadPartCopy(objstore.WithCopySourceVersion(kctx, srcVersion), rq.bucket, rq.key, rq.query.Get("uploadId"), n, srcBucket, srcKey,
		func(src objstore.ObjectInfo) (int64, int64, error) {
			if err := conditions(hd.Get("X-Amz-Copy-Source-If-Match"), hd.Get("X-Amz-Copy-Source-If-Unmodified-Since"),
				hd.Get("X-Amz-Copy-Source-If-None-Match"), hd.Get("X-Amz-Copy-Source-If-Modified-Since"), src.ETag, src.LastModified, false); err != nil {
				return 0, 0, err
			}
			off, length, _, err := copySourceRange(rng, src.Size)
			if err == nil && length > objstore.MaxObjectSize {
				err = s3err("InvalidRequest", "The specified copy source is larger than the maximum allowable size for a copy source: 5368709120")
			}
			return off, length, err
		})
	if err != nil {
		if errors.Is(err, objstore.ErrNoSuchKey) || errors.Is(err, objstore.ErrIsDeleteMarker) {
			e := s3err("NoSuchKey", "")
			e.Key = srcKey
			return e
		}
		return multipartError(err)
	}
	c := part.Checksums
	setSSEHeaders(w.Header(), part.Encryption)
	writeXML(w, http.StatusOK, copyPartResult{Xmlns: xmlns, LastModified: s3Time(part.LastModified), ETag: quote(part.ETag),
		ChecksumCRC32: c["CRC32"], ChecksumCRC32C: c["CRC32C"], ChecksumCRC64NVME: c["CRC64NVME"], ChecksumSHA1: c["SHA1"], ChecksumSHA256: c["SHA256"]})
	return nil
}

type listUploadsResult struct {
	XMLName            xml.Name `xml:"ListMultipartUploadsResult"`
	Xmlns              string   `xml:"xmlns,attr"`
	Bucket             string
	KeyMarker          string
	UploadIDMarker     string `xml:"UploadIdMarker"`
	NextKeyMarker      string
	NextUploadIDMarker string `xml:"NextUploadIdMarker"`
	Delimiter          string `xml:",omitempty"`
	Prefix             string
	EncodingType       string `xml:",omitempty"`
	MaxUploads         int
	IsTruncated        bool
	Uploads            []uploadEntry  `xml:"Upload"`
	CommonPrefixes     []commonPrefix `xml:"CommonPrefixes"`
}

type uploadEntry struct {
	Key               string
	UploadID          string `xml:"UploadId"`
	Initiator         owner
	Owner             owner
	StorageClass      string
	Initiated         string
	ChecksumAlgorithm string `xml:",omitempty"`
	ChecksumType      string `xml:",omitempty"`
}

// listUploads answers ListMultipartUploads.
func (h *Handler) listUploads(w http.ResponseWriter, r *http.Request, rq *request) error {
	q := rq.query
	max, code, enc, err := listParams(q, "max-uploads")
	if err != nil {
		return err
	}
	opts := objstore.UploadListOptions{Prefix: q.Get("prefix"), Delimiter: q.Get("delimiter"),
		KeyMarker: q.Get("key-marker"), UploadIDMarker: q.Get("upload-id-marker"), MaxUploads: max}
	if opts.KeyMarker == "" {
		opts.UploadIDMarker = "" // S3 ignores it without a key marker
	}
	out := listUploadsResult{Xmlns: xmlns, Bucket: rq.bucket, KeyMarker: code(opts.KeyMarker), UploadIDMarker: opts.UploadIDMarker,
		Delimiter: code(opts.Delimiter), Prefix: code(opts.Prefix), EncodingType: enc, MaxUploads: max}
	if max > 0 {
		list, err := h.d.Store.ListUploads(r.Context(), rq.bucket, opts)
		if err != nil {
			return err
		}
		out.IsTruncated = list.IsTruncated
		if list.IsTruncated {
			out.NextKeyMarker, out.NextUploadIDMarker = code(list.NextKeyMarker), list.NextUploadIDMarker
		}
		for _, u := range list.Uploads {
			out.Uploads = append(out.Uploads, uploadEntry{Key: code(u.Key), UploadID: u.UploadID, Initiator: theOwner, Owner: theOwner,
				StorageClass: "STANDARD", Initiated: s3Time(u.Initiated), ChecksumAlgorithm: u.ChecksumAlgorithm, ChecksumType: u.ChecksumType})
		}
		for _, p := range list.CommonPrefixes {
			out.CommonPrefixes = append(out.CommonPrefixes, commonPrefix{Prefix: code(p)})
		}
	} else if _, err := h.d.Store.Bucket(r.Context(), rq.bucket); err != nil {
		return err
	}
	writeXML(w, http.StatusOK, out)
	return nil
}
