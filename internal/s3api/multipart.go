package s3api

import (
	"encoding/xml"
	"net/http"
	"strconv"
	"strings"

	"github.com/aloft-dev/aloft/internal/objstore"
)

type initiateResult struct {
	XMLName  xml.Name `xml:"InitiateMultipartUploadResult"`
	Xmlns    string   `xml:"xmlns,attr"`
	Bucket   string
	Key      string
	UploadID string `xml:"UploadId"`
}

// createUpload answers CreateMultipartUpload, with the object checksum
// x-amz-checksum-algorithm and x-amz-checksum-type choose.
func (h *Handler) createUpload(w http.ResponseWriter, r *http.Request, rq *request) error {
	opts, err := putOptions(r)
	if err != nil {
		return err
	}
	opts.ChecksumAlgorithm = strings.ToUpper(r.Header.Get("X-Amz-Checksum-Algorithm"))
	opts.ChecksumType = strings.ToUpper(r.Header.Get("X-Amz-Checksum-Type"))
	if _, err := h.readSmall(r, rq, 0); err != nil {
		return err
	}
	id, err := h.d.Store.CreateUpload(r.Context(), rq.bucket, rq.key, opts)
	if err != nil {
		return multipartError(err)
	}
	if opts.ChecksumAlgorithm != "" {
		typ, _ := objstore.ChecksumType(opts.ChecksumAlgorithm, opts.ChecksumType)
		w.Header().Set("X-Amz-Checksum-Algorithm", opts.ChecksumAlgorithm)
		w.Header().Set("X-Amz-Checksum-Type", typ)
	}
	setSSEHeaders(w.Header(), h.uploadEncryption(r.Context(), rq.bucket, opts.Encryption))
	writeXML(w, http.StatusOK, initiateResult{Xmlns: xmlns, Bucket: rq.bucket, Key: rq.key, UploadID: id})
	return nil
}

// partNumber parses ?partNumber.
func partNumber(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > objstore.MaxParts {
		return 0, s3err("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive")
	}
	return n, nil
}

func (h *Handler) uploadPart(w http.ResponseWriter, r *http.Request, rq *request) error {
	n, err := partNumber(rq.query.Get("partNumber"))
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
	ctx, err := withCustomerKeys(r.Context(), r)
	if err != nil {
		return err
	}
	part, err := h.d.Store.UploadPart(ctx, rq.bucket, rq.key, rq.query.Get("uploadId"), n, body, objstore.PartOptions{})
	if err != nil {
		return multipartError(err)
	}
	w.Header().Set("ETag", quote(part.ETag))
	setChecksumHeaders(w.Header(), part.Checksums)
	setSSEHeaders(w.Header(), part.Encryption)
	w.WriteHeader(http.StatusOK)
	return nil
}

type listPartsResult struct {
	XMLName              xml.Name `xml:"ListPartsResult"`
	Xmlns                string   `xml:"xmlns,attr"`
	Bucket               string
	Key                  string
	UploadID             string `xml:"UploadId"`
	PartNumberMarker     int
	NextPartNumberMarker int
	MaxParts             int
	IsTruncated          bool
	Parts                []partEntry `xml:"Part"`
	Initiator            owner
	Owner                owner
	StorageClass         string
	ChecksumAlgorithm    string `xml:",omitempty"`
	ChecksumType         string `xml:",omitempty"`
}

type partEntry struct {
	PartNumber        int
	LastModified      string
	ETag              string
	Size              int64
	ChecksumCRC32     string `xml:",omitempty"`
	ChecksumCRC32C    string `xml:",omitempty"`
	ChecksumCRC64NVME string `xml:",omitempty"`
	ChecksumSHA1      string `xml:",omitempty"`
	ChecksumSHA256    string `xml:",omitempty"`
}

func (h *Handler) listParts(w http.ResponseWriter, r *http.Request, rq *request) error {
	q := rq.query
	max := objstore.MaxListKeys
	if s := q.Get("max-parts"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return s3err("InvalidArgument", "Provided max-parts not an integer or within integer range")
		}
		max = min(n, objstore.MaxListKeys)
	}
	marker := 0
	if s := q.Get("part-number-marker"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return s3err("InvalidArgument", "Provided part-number-marker not an integer or within integer range")
		}
		marker = n
	}
	list, err := h.d.Store.ListParts(r.Context(), rq.bucket, rq.key, q.Get("uploadId"), marker, max)
	if err != nil {
		return err
	}
	out := listPartsResult{Xmlns: xmlns, Bucket: rq.bucket, Key: rq.key, UploadID: list.UploadID, PartNumberMarker: marker,
		NextPartNumberMarker: list.NextMarker, MaxParts: max, IsTruncated: list.IsTruncated,
		Initiator: theOwner, Owner: theOwner, StorageClass: "STANDARD", ChecksumAlgorithm: list.ChecksumAlgorithm, ChecksumType: list.ChecksumType}
	for _, p := range list.Parts {
		out.Parts = append(out.Parts, partEntry{PartNumber: p.Number, LastModified: s3Time(p.LastModified), ETag: quote(p.ETag), Size: p.Size,
			ChecksumCRC32: p.Checksums["CRC32"], ChecksumCRC32C: p.Checksums["CRC32C"], ChecksumCRC64NVME: p.Checksums["CRC64NVME"],
			ChecksumSHA1: p.Checksums["SHA1"], ChecksumSHA256: p.Checksums["SHA256"]})
	}
	writeXML(w, http.StatusOK, out)
	return nil
}

type completeRequest struct {
	Parts []struct {
		PartNumber        int
		ETag              string
		ChecksumCRC32     string
		ChecksumCRC32C    string
		ChecksumCRC64NVME string
		ChecksumSHA1      string
		ChecksumSHA256    string
	} `xml:"Part"`
}

type completeResult struct {
	XMLName           xml.Name `xml:"CompleteMultipartUploadResult"`
	Xmlns             string   `xml:"xmlns,attr"`
	Location          string
	Bucket            string
	Key               string
	ETag              string
	ChecksumCRC32     string `xml:",omitempty"`
	ChecksumCRC32C    string `xml:",omitempty"`
	ChecksumCRC64NVME string `xml:",omitempty"`
	ChecksumSHA1      string `xml:",omitempty"`
	ChecksumSHA256    string `xml:",omitempty"`
	ChecksumType      string `xml:",omitempty"`
}

// checksumNames are the algorithms of x-amz-checksum-*, by name.
var checksumNames = []string{"CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"}

// completeUpload answers CompleteMultipartUpload. Its x-amz-checksum-*
// header is the whole object's checksum the client expects, not the
// body's, so it is taken off before the body is read. Completing an
// upload again with the same parts answers as the first time, while the
// object is still the one it made.
func (h *Handler) completeUpload(w http.ResponseWriter, r *http.Request, rq *request) error {
	opts := objstore.CompleteOptions{ChecksumType: strings.ToUpper(r.Header.Get("X-Amz-Checksum-Type"))}
	for _, alg := range checksumNames {
		name := "X-Amz-Checksum-" + alg
		if v := r.Header.Get(name); v != "" {
			if opts.Checksum != "" {
				return s3err("InvalidRequest", "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
			}
			opts.Checksum, opts.ChecksumAlgorithm = v, alg
			r.Header.Del(name)
		}
	}
	body, err := h.readSmall(r, rq, 4<<20)
	if err != nil {
		return err
	}
	var req completeRequest
	if err := decodeXML(body, &req); err != nil {
		return err
	}
	if len(req.Parts) == 0 {
		return s3err("MalformedXML", "")
	}
	parts := make([]objstore.CompletedPart, len(req.Parts))
	for i, p := range req.Parts {
		parts[i] = objstore.CompletedPart{Number: p.PartNumber, ETag: p.ETag}
		for alg, v := range map[string]string{"CRC32": p.ChecksumCRC32, "CRC32C": p.ChecksumCRC32C, "CRC64NVME": p.ChecksumCRC64NVME,
			"SHA1": p.ChecksumSHA1, "SHA256": p.ChecksumSHA256} {
			if v != "" {
				if parts[i].Checksums == nil {
					parts[i].Checksums = make(map[string]string, 1)
				}
				parts[i].Checksums[alg] = v
			}
		}
	}
	info, err := h.d.Store.CompleteUploadWith(objstore.WithWriteCondition(r.Context(), writeConditionOf(r)), rq.bucket, rq.key, rq.query.Get("uploadId"), parts, opts)
	if err != nil {
		return multipartError(err)
	}
	if info.Sequencer != "" { // not a repeat
		if err := h.changed(r, rq, "ObjectCreated:CompleteMultipartUpload", info); err != nil {
			return err
		}
	} else if writeConditionOf(r).IfNoneMatch {
		// A repeat finds the object the first completion made.
		return s3err("PreconditionFailed", "")
	}
	h.versionHeader(r, w.Header(), rq.bucket, info.VersionID)
	setSSEHeaders(w.Header(), info.Encryption)
	loc := "http://" + r.Host + "/" + rq.bucket + "/" + urlEncode(rq.key)
	c := info.Checksums
	writeXML(w, http.StatusOK, completeResult{Xmlns: xmlns, Location: loc, Bucket: rq.bucket, Key: rq.key, ETag: quote(info.ETag),
		ChecksumCRC32: c["CRC32"], ChecksumCRC32C: c["CRC32C"], ChecksumCRC64NVME: c["CRC64NVME"], ChecksumSHA1: c["SHA1"],
		ChecksumSHA256: c["SHA256"], ChecksumType: info.ChecksumType})
	return nil
}

func (h *Handler) abortUpload(w http.ResponseWriter, r *http.Request, rq *request) error {
	if err := h.d.Store.AbortUpload(r.Context(), rq.bucket, rq.key, rq.query.Get("uploadId")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
