package gateway

import (
	"context"
	"errors"
	"net/http"

	"github.com/aloft-dev/aloft/internal/gateway/catalog"
	"github.com/aloft-dev/aloft/internal/objstore"
	"github.com/aloft-dev/aloft/internal/website"
)

// Objects opens stored objects, for static sites. When it also keeps
// buckets' website configurations (website.Configs, as the object store
// does), a site whose bucket has one follows it too.
type Objects interface {
	Open(ctx context.Context, bucket, key string) (objstore.Object, error)
}

var methodNotAllowedBody = []byte(`{"message":"Method Not Allowed"}`)

// serveSite answers a request to a route whose integration is a bucket,
// as an S3 website endpoint does (package website): the object at the
// site's prefix plus the path, the index document for paths ending in /,
// a 302 to path/ for a folder with an index document, conditional and
// range reads, and the error document (or the gateway's own 404) when
// there is no such object. When the bucket has a website configuration,
// its routing rules and RedirectAllRequestsTo apply too, to the path
// under the route's prefix, and its index and error documents serve
// where the route names none.
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
	site := website.Site{Bucket: s.Bucket, Prefix: s.Prefix, Index: s.Index, Error: s.Error, CacheControl: s.CacheControl}
	if configs, ok := h.d.Objects.(website.Configs); ok {
		cfg, err := website.Config(x.r.Context(), configs, s.Bucket)
		if err != nil && !errors.Is(err, objstore.ErrNoSuchBucket) {
			h.d.Logger.Warn("static site's website configuration cannot be read", "bucket", s.Bucket, "err", err)
		}
		if cfg != nil {
			site.Config = cfg
			if site.Index == "" {
				site.Index = cfg.IndexSuffix
			}
			if site.Error == "" {
				site.Error = cfg.ErrorKey
			}
		}
	}
	h.finish(x)
	if f := website.Serve(x.w, x.r, h.d.Objects, &site, path, nil); f != nil {
		if f.Err != nil {
			h.d.Logger.Warn("static site object cannot be read", "bucket", s.Bucket, "key", f.Key, "err", f.Err)
		}
		if f.ErrorDocument != nil && f.ErrorDocument.Err != nil {
			h.d.Logger.Warn("static site error document cannot be read", "bucket", s.Bucket, "key", f.ErrorDocument.Key, "err", f.ErrorDocument.Err)
		}
		h.fail(x, http.StatusNotFound, notFoundBody)
	}
}
