package s3api

import (
	"encoding/base64"
	"encoding/xml"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/aloft-dev/aloft/internal/objstore"
)

// owner is the one account's canonical user.
type owner struct {
	ID          string
	DisplayName string
}

var theOwner = owner{ID: "aloft000000000000000000000000000000000000000000000000000000000000", DisplayName: "aloft"}

type listAllMyBucketsResult struct {
	XMLName           xml.Name `xml:"ListAllMyBucketsResult"`
	Xmlns             string   `xml:"xmlns,attr"`
	Owner             owner
	Buckets           []bucketEntry `xml:"Buckets>Bucket"`
	ContinuationToken string        `xml:",omitempty"`
	Prefix            *string       `xml:",omitempty"`
}

// maxBuckets is the largest max-buckets ListBuckets takes.
const maxBuckets = 10000

type bucketEntry struct {
	Name         string
	CreationDate string
	BucketRegion string
}

// listBuckets answers ListBuckets, paged as the current API pages it:
// max-buckets, an opaque continuation-token (the base64 of the last name
// listed), prefix and bucket-region.
func (h *Handler) listBuckets(w http.ResponseWriter, r *http.Request, rq *request) error {
	q := rq.query
	limit := maxBuckets
	if s, ok := q["max-buckets"]; ok {
		n, err := strconv.Atoi(s[0])
		if err != nil || n < 1 || n > maxBuckets {
			return s3err("InvalidArgument", "Argument max-buckets must be an integer between 1 and 10000")
		}
		limit = n
	}
	after := ""
	if tok := q.Get("continuation-token"); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || len(b) == 0 {
			return s3err("InvalidArgument", "The continuation token provided is incorrect")
		}
		after = string(b)
	}
	list, err := h.d.Store.ListBuckets(r.Context())
	if err != nil {
		return err
	}
	out := listAllMyBucketsResult{Xmlns: xmlns, Owner: theOwner, Buckets: []bucketEntry{}}
	prefix, region := q.Get("prefix"), q.Get("bucket-region")
	if _, ok := q["prefix"]; ok {
		out.Prefix = &prefix
	}
	for _, b := range list {
		if b.Name <= after || !strings.HasPrefix(b.Name, prefix) || region != "" && b.Region != region {
			continue
		}
		if len(out.Buckets) == limit {
			out.ContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(out.Buckets[limit-1].Name))
			break
		}
		out.Buckets = append(out.Buckets, bucketEntry{Name: b.Name, CreationDate: s3Time(b.Created), BucketRegion: b.Region})
	}
	writeXML(w, http.StatusOK, out)
	return nil
}

type createBucketConfiguration struct {
	LocationConstraint string
}

func (h *Handler) createBucket(w http.ResponseWriter, r *http.Request, rq *request) error {
	body, err := h.readSmall(r, rq, 64<<10)
	if err != nil {
		return err
	}
	region := objstore.DefaultRegion
	if len(strings.TrimSpace(string(body))) > 0 {
		var cfg createBucketConfiguration
		if err := decodeXML(body, &cfg); err != nil {
			return err
		}
		if cfg.LocationConstraint == objstore.DefaultRegion {
			return s3err("InvalidLocationConstraint", "The specified location-constraint is not valid")
		}
		if cfg.LocationConstraint != "" {
			region = cfg.LocationConstraint
		}
	}
	if err := h.d.Store.CreateBucket(r.Context(), rq.bucket, region); err != nil {
		// Creating again one's own bucket in us-east-1 succeeds, as S3
		// answers there; in another region it is BucketAlreadyOwnedByYou.
		if !errors.Is(err, objstore.ErrBucketExists) || region != objstore.DefaultRegion {
			return err
		}
		if b, berr := h.d.Store.Bucket(r.Context(), rq.bucket); berr != nil || b.Region != objstore.DefaultRegion {
			return err
		}
	}
	if strings.EqualFold(r.Header.Get("X-Amz-Bucket-Object-Lock-Enabled"), "true") {
		// Object Lock comes with versioning, enabled for good.
		if err := h.d.Store.PutVersioning(r.Context(), rq.bucket, objstore.VersioningEnabled); err != nil {
			return err
		}
		if err := h.d.Store.PutObjectLock(r.Context(), rq.bucket, objstore.ObjectLockConfig{}); err != nil {
			return err
		}
	}
	h.regions.Store(rq.bucket, region)
	w.Header().Set("Location", "/"+rq.bucket)
	w.WriteHeader(http.StatusOK)
	return nil
}

func (h *Handler) headBucket(w http.ResponseWriter, r *http.Request, rq *request) error {
	b, err := h.d.Store.Bucket(r.Context(), rq.bucket)
	if err != nil {
		return err
	}
	w.Header().Set("X-Amz-Bucket-Region", b.Region)
	w.WriteHeader(http.StatusOK)
	return nil
}

func (h *Handler) deleteBucket(w http.ResponseWriter, r *http.Request, rq *request) error {
	if err := h.d.Store.DeleteBucket(r.Context(), rq.bucket); err != nil {
		return err
	}
	h.regions.Delete(rq.bucket)
	h.policies.Delete(rq.bucket)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type locationConstraint struct {
	XMLName xml.Name `xml:"LocationConstraint"`
	Xmlns   string   `xml:"xmlns,attr"`
	Region  string   `xml:",chardata"`
}

func (h *Handler) getLocation(w http.ResponseWriter, r *http.Request, rq *request) error {
	b, err := h.d.Store.Bucket(r.Context(), rq.bucket)
	if err != nil {
		return err
	}
	region := b.Region
	if region == objstore.DefaultRegion {
		region = ""
	}
	writeXML(w, http.StatusOK, locationConstraint{Xmlns: xmlns, Region: region})
	return nil
}

// region returns a bucket's region, cached.
func (h *Handler) region(r *http.Request, bucket string) string {
	if v, ok := h.regions.Load(bucket); ok {
		return v.(string)
	}
	b, err := h.d.Store.Bucket(r.Context(), bucket)
	if err != nil {
		return objstore.DefaultRegion
	}
	h.regions.Store(bucket, b.Region)
	return b.Region
}

// listBucketResult is ListObjects' (V1) and ListObjectsV2's answer; each
// fills the fields of its version.
type listBucketResult struct {
	XMLName               xml.Name `xml:"ListBucketResult"`
	Xmlns                 string   `xml:"xmlns,attr"`
	Name                  string
	Prefix                string
	Marker                *string `xml:",omitempty"`
	NextMarker            string  `xml:",omitempty"`
	ContinuationToken     *string `xml:",omitempty"`
	NextContinuationToken string  `xml:",omitempty"`
	StartAfter            string  `xml:",omitempty"`
	KeyCount              *int    `xml:",omitempty"`
	MaxKeys               int
	Delimiter             string `xml:",omitempty"`
	EncodingType          string `xml:",omitempty"`
	IsTruncated           bool
	Contents              []contentEntry
	CommonPrefixes        []commonPrefix
}

type contentEntry struct {
	Key          string
	LastModified string
	ETag         string
	Size         int64
	StorageClass string
	Owner        *owner `xml:",omitempty"`
}

type commonPrefix struct {
	Prefix string
}

// listObjects answers ListObjects (V1) and ListObjectsV2. A V2
// continuation token is the base64 of the previous page's last key or
// common prefix.
func (h *Handler) listObjects(w http.ResponseWriter, r *http.Request, rq *request, v2 bool) error {
	q := rq.query
	maxKeys, code, enc, err := listParams(q, "max-keys")
	if err != nil {
		return err
	}
	opts := objstore.ListOptions{Prefix: q.Get("prefix"), Delimiter: q.Get("delimiter"), MaxKeys: maxKeys}
	out := listBucketResult{Xmlns: xmlns, Name: rq.bucket, Prefix: code(opts.Prefix), Delimiter: code(opts.Delimiter),
		MaxKeys: maxKeys, EncodingType: enc}
	withOwner := !v2 || q.Get("fetch-owner") == "true"
	if v2 {
		opts.After = q.Get("start-after")
		out.StartAfter = code(opts.After)
		if toks, ok := q["continuation-token"]; ok {
			// An empty token is echoed empty and starts at the beginning.
			tok := toks[0]
			after, err := base64.RawURLEncoding.DecodeString(tok)
			if err != nil {
				return s3err("InvalidArgument", "The continuation token provided is incorrect")
			}
			if tok != "" {
				opts.After = string(after)
			}
			out.ContinuationToken = &tok
		}
	} else {
		opts.After = q.Get("marker")
		marker := code(opts.After)
		out.Marker = &marker
	}
	var res objstore.ListResult
	if maxKeys > 0 {
		var err error
		if res, err = h.d.Store.ListObjects(r.Context(), rq.bucket, opts); err != nil {
			return err
		}
	} else if _, err := h.d.Store.Bucket(r.Context(), rq.bucket); err != nil {
		return err
	}
	for _, o := range res.Objects {
		e := contentEntry{Key: code(o.Key), LastModified: s3Time(o.LastModified), ETag: quote(o.ETag), Size: o.Size, StorageClass: "STANDARD"}
		if withOwner {
			e.Owner = &theOwner
		}
		out.Contents = append(out.Contents, e)
	}
	for _, p := range res.CommonPrefixes {
		out.CommonPrefixes = append(out.CommonPrefixes, commonPrefix{Prefix: code(p)})
	}
	out.IsTruncated = res.IsTruncated
	if v2 {
		n := len(res.Objects) + len(res.CommonPrefixes)
		out.KeyCount = &n
		if res.IsTruncated {
			out.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(res.NextMarker))
		}
	} else if res.IsTruncated && opts.Delimiter != "" {
		out.NextMarker = code(res.NextMarker)
	}
	writeXML(w, http.StatusOK, out)
	return nil
}

// urlEncode percent-encodes every byte but the unreserved ones and '/',
// as S3 does for encoding-type=url.
func urlEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~/", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// listParams reads what every listing takes: its page size (parameter
// maxName, at most objstore.MaxListKeys) and encoding-type, with code,
// which encodes a key or prefix as the listing must answer it.
func listParams(q url.Values, maxName string) (max int, code func(string) string, enc string, err error) {
	max = objstore.MaxListKeys
	if s := q.Get(maxName); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return 0, nil, "", s3err("InvalidArgument", "Provided "+maxName+" not an integer or within integer range")
		}
		max = min(n, objstore.MaxListKeys)
	}
	enc = q.Get("encoding-type")
	if enc != "" && enc != "url" {
		return 0, nil, "", s3err("InvalidArgument", "Invalid Encoding Method specified in Request")
	}
	code = func(s string) string {
		if enc == "url" {
			return urlEncode(s)
		}
		return s
	}
	return max, code, enc, nil
}
