package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/aloft-dev/aloft/internal/gateway/catalog"
	"github.com/aloft-dev/aloft/internal/objstore"
)

// Objects opens stored objects, for static sites.
type Objects interface {
	Open(ctx context.Context, bucket, key string) (objstore.Object, error)
}

var methodNotAllowedBody = []byte(`{"message":"Method Not Allowed"}`)

// serveSite answers a request to a route whose integration is a bucket:
// the object at the site's prefix plus the path (the index document for
// paths ending in /), with its ETag, Last-Modified, Content-Type and
// Cache-Control; 304 when If-None-Match holds its ETag; the error document
// (or the gateway's own 404) when there is no such object.
func (h *Handler) serveSite(x *exchange, s *catalog.Site, path string) {
	if x.r.Method != http.MethodGet && x.r.Method != http.MethodHead {
		x.w.Header()["Allow"] = []string{"GET, HEAD"}
		h.fail(x, http.StatusMethodNotAllowed, methodNotAllowedBody)
		return
	}
	if h.d.Objects == nil {
		h.fail(x, http.StatusNotFound, notFoundBody)
		return
	}
	key := strings.TrimPrefix(path, "/")
	if key == "" || strings.HasSuffix(key, "/") {
		key += s.Index
	}
	obj, err := h.d.Objects.Open(x.r.Context(), s.Bucket, s.Prefix+key)
	status := http.StatusOK
	if err != nil && s.Error != "" && notExist(err) {
		status = http.StatusNotFound
		obj, err = h.d.Objects.Open(x.r.Context(), s.Bucket, s.Prefix+s.Error)
	}
	if err != nil {
		if !notExist(err) {
			h.d.Logger.Warn("static site object cannot be read", "bucket", s.Bucket, "key", s.Prefix+key, "err", err)
		}
		h.fail(x, http.StatusNotFound, notFoundBody)
		return
	}
	defer obj.Close()
	info := obj.Info()
	hdr := x.w.Header()
	etag := `"` + info.ETag + `"`
	hdr["Etag"] = []string{etag}
	hdr["Last-Modified"] = []string{info.LastModified.UTC().Format(http.TimeFormat)}
	if cc := info.Headers["Cache-Control"]; cc != "" {
		hdr["Cache-Control"] = []string{cc}
	} else {
		hdr["Cache-Control"] = s.CacheControl
	}
	h.finish(x)
	if status == http.StatusOK && etagMatch(x.r.Header.Get("If-None-Match"), etag) {
		x.w.WriteHeader(http.StatusNotModified)
		return
	}
	ct := info.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	hdr["Content-Type"] = []string{ct}
	hdr["Content-Length"] = []string{strconv.FormatInt(info.Size, 10)}
	x.w.WriteHeader(status)
	if x.r.Method == http.MethodHead {
		return
	}
	rd, err := obj.Range(0, -1)
	if err == nil {
		_, err = io.Copy(x.w, rd)
	}
	if err != nil && x.r.Context().Err() == nil {
		h.d.Logger.Warn("static site object read failed", "bucket", s.Bucket, "key", info.Key, "err", err)
	}
}

func notExist(err error) bool {
	return errors.Is(err, objstore.ErrNoSuchKey) || errors.Is(err, objstore.ErrNoSuchBucket)
}

// etagMatch reports whether an If-None-Match header names etag (or is *).
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}
