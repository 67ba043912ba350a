package s3api

import (
	"encoding/xml"
	"net/http"
	"strconv"
	"strings"

	"github.com/aloft-dev/aloft/internal/objstore"
)

type objectAttributes struct {
	XMLName      xml.Name       `xml:"GetObjectAttributesResponse"`
	Xmlns        string         `xml:"xmlns,attr"`
	ETag         string         `xml:",omitempty"`
	Checksum     *checksumAttrs `xml:",omitempty"`
	ObjectParts  *objectParts   `xml:",omitempty"`
	StorageClass string         `xml:",omitempty"`
	ObjectSize   *int64         `xml:",omitempty"`
}

type checksumAttrs struct {
	ChecksumCRC32     string `xml:",omitempty"`
	ChecksumCRC32C    string `xml:",omitempty"`
	ChecksumCRC64NVME string `xml:",omitempty"`
	ChecksumSHA1      string `xml:",omitempty"`
	ChecksumSHA256    string `xml:",omitempty"`
	ChecksumType      string `xml:",omitempty"`
}

type objectParts struct {
	PartsCount           int
	PartNumberMarker     int
	NextPartNumberMarker int
	MaxParts             int
	IsTruncated          bool
	Parts                []attrPart `xml:"Part"`
}

type attrPart struct {
	PartNumber        int
	Size              int64
	ChecksumCRC32     string `xml:",omitempty"`
	ChecksumCRC32C    string `xml:",omitempty"`
	ChecksumCRC64NVME string `xml:",omitempty"`
	ChecksumSHA1      string `xml:",omitempty"`
	ChecksumSHA256    string `xml:",omitempty"`
}

// checksumFields returns c with the checksum of alg set to v.
func checksumFields(alg, v string) checksumAttrs {
	var c checksumAttrs
	switch alg {
	case "CRC32":
		c.ChecksumCRC32 = v
	case "CRC32C":
		c.ChecksumCRC32C = v
	case "CRC64NVME":
		c.ChecksumCRC64NVME = v
	case "SHA1":
		c.ChecksumSHA1 = v
	case "SHA256":
		c.ChecksumSHA256 = v
	}
	return c
}

// getObjectAttributes answers GetObjectAttributes: the attributes
// x-amz-object-attributes names, with a page of a multipart object's parts
// (x-amz-max-parts, x-amz-part-number-marker). Like S3 it wants
// s3:GetObject besides s3:GetObjectAttributes.
func (h *Handler) getObjectAttributes(w http.ResponseWriter, r *http.Request, rq *request) error {
	want := map[string]bool{}
	for _, v := range r.Header.Values("X-Amz-Object-Attributes") {
		for _, a := range strings.Split(v, ",") {
			a = strings.TrimSpace(a)
			switch a {
			case "ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize":
				want[a] = true
			case "":
			default:
				return s3err("InvalidArgument", "Invalid attribute name specified.")
			}
		}
	}
	if len(want) == 0 {
		return s3err("InvalidArgument", "The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty")
	}
	max := objstore.MaxListKeys
	if s := r.Header.Get("X-Amz-Max-Parts"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return s3err("InvalidArgument", "Provided max-parts not an integer or within integer range")
		}
		max = min(n, objstore.MaxListKeys)
	}
	marker := 0
	if s := r.Header.Get("X-Amz-Part-Number-Marker"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return s3err("InvalidArgument", "Provided part-number-marker not an integer or within integer range")
		}
		marker = n
	}
	if err := h.authorize(r, rq.signer, "s3:GetObject", resource(rq), nil, rq.bucket); err != nil {
		return err
	}
	vid := rq.query.Get("versionId")
	info, err := h.d.Store.HeadVersion(r.Context(), rq.bucket, rq.key, vid)
	if err != nil {
		return markerAnswer(w, err)
	}
	if err := checkCustomerKey(r, info.Encryption); err != nil { // sse.go
		return err
	}
	if info.VersionID != "" || vid != "" {
		w.Header().Set("X-Amz-Version-Id", versionName(info.VersionID))
	}
	out := objectAttributes{Xmlns: xmlns}
	if want["ETag"] {
		out.ETag = info.ETag
	}
	if want["StorageClass"] {
		out.StorageClass = "STANDARD"
	}
	if want["ObjectSize"] {
		out.ObjectSize = &info.Size
	}
	alg := ""
	for _, a := range checksumNames {
		if _, ok := info.Checksums[a]; ok {
			alg = a
			break
		}
	}
	if want["Checksum"] && alg != "" {
		c := checksumFields(alg, info.Checksums[alg])
		c.ChecksumType = info.ChecksumType
		if c.ChecksumType == "" {
			c.ChecksumType = objstore.ChecksumFullObject // of content uploaded at once
		}
		out.Checksum = &c
	}
	if want["ObjectParts"] && info.Parts > 0 {
		op := &objectParts{PartsCount: info.Parts, PartNumberMarker: marker, MaxParts: max}
		for n := marker + 1; n <= len(info.PartSizes); n++ {
			if len(op.Parts) == max {
				op.IsTruncated = true
				break
			}
			p := attrPart{PartNumber: n, Size: info.PartSizes[n-1]}
			if n <= len(info.PartChecksums) {
				c := checksumFields(alg, info.PartChecksums[n-1])
				p.ChecksumCRC32, p.ChecksumCRC32C, p.ChecksumCRC64NVME, p.ChecksumSHA1, p.ChecksumSHA256 =
					c.ChecksumCRC32, c.ChecksumCRC32C, c.ChecksumCRC64NVME, c.ChecksumSHA1, c.ChecksumSHA256
			}
			op.Parts = append(op.Parts, p)
			op.NextPartNumberMarker = n
		}
		out.ObjectParts = op
	}
	w.Header().Set("Last-Modified", info.LastModified.UTC().Format(http.TimeFormat))
	writeXML(w, http.StatusOK, out)
	return nil
}
