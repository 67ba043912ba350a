package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aloft-dev/aloft/internal/gateway/catalog"
	"github.com/aloft-dev/aloft/internal/objstore"
)

// Objects opens stored objects, for static sites.
type Objects interface {
	Open(ctx context.Context, bucket, key string) (objstore.Object, error)
}

var methodNotAllowedBody = []byte(`{"message":"Method Not Allowed"}`)

// serveSite answers a request to a route whose integration is a bucket,
// as an S3 website endpoint does: the object at the site's prefix plus the
// path (the index document for paths ending in /), with its ETag,
// Last-Modified, Content-Type and Cache-Control; 304 when If-None-Match
// holds its ETag or, without it, If-Modified-Since is not older than the
// object; one byte range (206, or 416 past the end) unless If-Range names
// another version; a 302 to path/ when path is a folder with an index
// document; the error document (or the gateway's own 404) when there is
// no such object.
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
	folder := key == "" || strings.HasSuffix(key, "/")
	if folder {
		key += s.Index
	}
	obj, err := h.d.Objects.Open(x.r.Context(), s.Bucket, s.Prefix+key)
	if err != nil && notExist(err) && !folder && s.Index != "" {
		if idx, ierr := h.d.Objects.Open(x.r.Context(), s.Bucket, s.Prefix+key+"/"+s.Index); ierr == nil {
			idx.Close()
			x.w.Header()["Location"] = []string{x.r.URL.EscapedPath() + "/"}
			h.finish(x)
			x.w.WriteHeader(http.StatusFound)
			return
		}
	}
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
	inm, ims := x.r.Header.Get("If-None-Match"), x.r.Header.Get("If-Modified-Since")
	if status == http.StatusOK && objstore.NotModified(inm, ims, info.ETag, info.LastModified) {
		x.w.WriteHeader(http.StatusNotModified)
		return
	}
	ct := info.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	hdr["Content-Type"] = []string{ct}
	start, length := int64(0), info.Size
	if status == http.StatusOK {
		hdr["Accept-Ranges"] = []string{"bytes"}
		if rg := x.r.Header.Get("Range"); rg != "" && ifRange(x.r.Header.Get("If-Range"), etag, info.LastModified) {
			var partial bool
			var err error
			if start, length, partial, err = objstore.ParseRange(rg, info.Size); err != nil {
				hdr["Content-Range"] = []string{"bytes */" + strconv.FormatInt(info.Size, 10)}
				delete(hdr, "Content-Type")
				x.w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
				return
			}
			if partial {
				status = http.StatusPartialContent
				hdr["Content-Range"] = []string{"bytes " + strconv.FormatInt(start, 10) + "-" +
					strconv.FormatInt(start+length-1, 10) + "/" + strconv.FormatInt(info.Size, 10)}
			}
		}
	}
	hdr["Content-Length"] = []string{strconv.FormatInt(length, 10)}
	x.w.WriteHeader(status)
	if x.r.Method == http.MethodHead {
		return
	}
	rd, err := obj.Range(start, length)
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

// ifRange reports whether a Range header applies given If-Range: always
// without one; with one, only when it names the current ETag (strongly)
// or the object's exact modification time.
func ifRange(header, etag string, mod time.Time) bool {
	if header == "" {
		return true
	}
	if strings.HasPrefix(header, `"`) {
		return header == etag
	}
	t, err := http.ParseTime(header)
	return err == nil && mod.Truncate(time.Second).Equal(t)
}
