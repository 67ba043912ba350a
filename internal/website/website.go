// Package website serves a bucket as a static website, the one way both
// of Aloft's servers of sites do it: S3's website endpoints
// (<bucket>.s3-website.<domain>, package s3api) and the HTTP gateway's
// routes whose integration is a bucket (package gateway).
//
// Serve answers a GET or HEAD as an S3 website endpoint does:
//
//   - RedirectAllRequestsTo sends every request, path and query kept,
//     to its host;
//   - a routing rule without an error-code condition whose key prefix
//     matches redirects before anything is read;
//   - a path ending in / is the index document under it; a path that is
//     no object but a folder with an index document is sent (302) to
//     path/;
//   - an object is answered with its ETag, Last-Modified, Content-Type
//     and stored headers; 304 when If-None-Match holds its ETag or,
//     without it, If-Modified-Since is not older than it; one byte range
//     (206, or 416 past its end) unless If-Range names another version;
//   - an error (403 when the key may not be read, or may not be told
//     missing; 404 when it is missing) first meets the routing rules with
//     its code, then the error document, answered with the error's
//     status; when neither serves, Serve returns the Failure for the
//     caller to word in its own shape.
//
// Keys in conditions and redirects are the requested path without its
// leading slash (the site's Prefix aside), as S3's are.
package website

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aloft-dev/aloft/internal/objstore"
)

// Objects opens stored objects.
type Objects interface {
	Open(ctx context.Context, bucket, key string) (objstore.Object, error)
}

// Site is a bucket served as a website.
type Site struct {
	Bucket string
	Prefix string // prepended to the path's key to make the object's
	Index  string // index document suffix; "" serves no folders
	Error  string // error document key (under Prefix); "" none
	// CacheControl is the Cache-Control of objects stored without one;
	// nil sends none.
	CacheControl []string
	// Config gives the routing rules and RedirectAllRequestsTo of the
	// bucket's website configuration; nil has none.
	Config *objstore.WebsiteConfig
}

// Guard is what a server of sites adds to Serve: who may read what, and
// the headers of its error answers. A nil Guard lets every key be read
// and told missing.
type Guard interface {
	// CanRead reports whether the object at key (Prefix included) may be
	// read.
	CanRead(key string) bool
	// CanList reports whether a reader may learn that a key does not
	// exist; false answers a missing key 403 AccessDenied, as S3 does to
	// those it does not let list the bucket.
	CanList() bool
	// ErrorHeaders adds headers to an error answered with the error
	// document.
	ErrorHeaders(h http.Header, f *Failure)
}

// Failure is an error answer Serve did not write: the caller words it.
type Failure struct {
	Status int    // 403, 404, 405 or 500
	Code   string // AccessDenied, NoSuchKey, MethodNotAllowed or InternalError
	Key    string // the key asked for, Prefix included
	Err    error  // the cause of an InternalError
	// ErrorDocument, when the site has an error document that could not
	// be served either, says why.
	ErrorDocument *Failure
}

// Error words f for logs.
func (f *Failure) Error() string {
	s := "website: " + f.Code + " for " + strconv.Quote(f.Key)
	if f.Err != nil {
		s += ": " + f.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (f *Failure) Unwrap() error { return f.Err }

// Error codes of a Failure.
const (
	AccessDenied     = "AccessDenied"
	NoSuchKey        = "NoSuchKey"
	MethodNotAllowed = "MethodNotAllowed"
	InternalError    = "InternalError"
)

// Serve answers r for site from objects; path is the request's decoded
// path under the site ("/" for its root). It returns nil when it wrote
// the answer (the object, a redirect, the error document) and otherwise
// the Failure to answer, having written nothing.
func Serve(w http.ResponseWriter, r *http.Request, objects Objects, site *Site, path string, guard Guard) *Failure {
	key := strings.TrimPrefix(path, "/")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return &Failure{Status: http.StatusMethodNotAllowed, Code: MethodNotAllowed, Key: site.Prefix + key}
	}
	cfg := site.Config
	if cfg != nil && cfg.RedirectAll != nil {
		target := scheme(r, cfg.RedirectAll.Protocol) + "://" + cfg.RedirectAll.HostName + escapePath(path)
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		redirect(w, target, http.StatusMovedPermanently)
		return nil
	}
	if rule := match(cfg, key, 0); rule != nil {
		redirectBy(w, r, rule, key, path)
		return nil
	}
	ctx := r.Context()
	name := key
	folder := key == "" || strings.HasSuffix(key, "/")
	if folder {
		name += site.Index
	}
	var obj objstore.Object
	var err error
	fail := &Failure{Key: site.Prefix + name}
	if guard != nil && !guard.CanRead(site.Prefix+name) {
		fail.Status, fail.Code = http.StatusForbidden, AccessDenied
	} else if obj, err = objects.Open(ctx, site.Bucket, site.Prefix+name); err == nil {
		defer obj.Close()
		serveObject(w, r, obj, site.CacheControl)
		return nil
	} else if notExist(err) {
		if !folder && site.Index != "" && hasIndex(ctx, objects, site, key, guard) {
			w.Header()["Location"] = []string{r.URL.EscapedPath() + "/"}
			w.WriteHeader(http.StatusFound)
			return nil
		}
		fail.Status, fail.Code = http.StatusNotFound, NoSuchKey
		if guard != nil && !guard.CanList() {
			fail.Status, fail.Code = http.StatusForbidden, AccessDenied
		}
	} else {
		fail.Status, fail.Code, fail.Err = http.StatusInternalServerError, InternalError, err
	}
	if rule := match(cfg, key, fail.Status); rule != nil {
		redirectBy(w, r, rule, key, path)
		return nil
	}
	if site.Error == "" || fail.Status >= 500 {
		return fail
	}
	if guard != nil && !guard.CanRead(site.Prefix+site.Error) {
		fail.ErrorDocument = &Failure{Status: http.StatusForbidden, Code: AccessDenied, Key: site.Prefix + site.Error}
		return fail
	}
	doc, err := objects.Open(ctx, site.Bucket, site.Prefix+site.Error)
	if err != nil {
		fail.ErrorDocument = &Failure{Status: http.StatusNotFound, Code: NoSuchKey, Key: site.Prefix + site.Error}
		if !notExist(err) {
			fail.ErrorDocument.Status, fail.ErrorDocument.Code, fail.ErrorDocument.Err = http.StatusInternalServerError, InternalError, err
		}
		return fail
	}
	defer doc.Close()
	if guard != nil {
		guard.ErrorHeaders(w.Header(), fail)
	}
	info := doc.Info()
	hdr := w.Header()
	hdr["Etag"] = []string{`"` + info.ETag + `"`}
	hdr["Last-Modified"] = []string{info.LastModified.UTC().Format(http.TimeFormat)}
	objectHeaders(hdr, &info, site.CacheControl)
	hdr["Content-Length"] = []string{strconv.FormatInt(info.Size, 10)}
	w.WriteHeader(fail.Status)
	if r.Method != http.MethodHead {
		if rd, err := doc.Range(0, info.Size); err == nil {
			io.Copy(w, rd)
		}
	}
	return nil
}

// hasIndex reports whether key is a folder whose index document may be
// read.
func hasIndex(ctx context.Context, objects Objects, site *Site, key string, guard Guard) bool {
	index := site.Prefix + key + "/" + site.Index
	if guard != nil && !guard.CanRead(index) {
		return false
	}
	obj, err := objects.Open(ctx, site.Bucket, index)
	if err != nil {
		return false
	}
	obj.Close()
	return true
}

// serveObject answers a read of obj.
func serveObject(w http.ResponseWriter, r *http.Request, obj objstore.Object, cacheControl []string) {
	info := obj.Info()
	hdr := w.Header()
	etag := `"` + info.ETag + `"`
	hdr["Etag"] = []string{etag}
	hdr["Last-Modified"] = []string{info.LastModified.UTC().Format(http.TimeFormat)}
	if objstore.NotModified(r.Header.Get("If-None-Match"), r.Header.Get("If-Modified-Since"), info.ETag, info.LastModified) {
		if cc := info.Headers["Cache-Control"]; cc != "" {
			hdr["Cache-Control"] = []string{cc}
		} else if cacheControl != nil {
			hdr["Cache-Control"] = cacheControl
		}
		w.WriteHeader(http.StatusNotModified)
		return
	}
	objectHeaders(hdr, &info, cacheControl)
	status := http.StatusOK
	start, length := int64(0), info.Size
	hdr["Accept-Ranges"] = []string{"bytes"}
	if rg := r.Header.Get("Range"); rg != "" && ifRange(r.Header.Get("If-Range"), etag, info.LastModified) {
		var partial bool
		var err error
		if start, length, partial, err = objstore.ParseRange(rg, info.Size); err != nil {
			hdr["Content-Range"] = []string{"bytes */" + strconv.FormatInt(info.Size, 10)}
			delete(hdr, "Content-Type")
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		if partial {
			status = http.StatusPartialContent
			hdr["Content-Range"] = []string{"bytes " + strconv.FormatInt(start, 10) + "-" +
				strconv.FormatInt(start+length-1, 10) + "/" + strconv.FormatInt(info.Size, 10)}
		}
	}
	hdr["Content-Length"] = []string{strconv.FormatInt(length, 10)}
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	rd, err := obj.Range(start, length)
	if err == nil {
		io.Copy(w, rd) // a reader gone away, or a read failing midway, ends the body short
	}
}

// storedHeaders are the stored headers an answer carries besides
// Content-Type.
var storedHeaders = [...]string{"Cache-Control", "Content-Disposition", "Content-Encoding", "Content-Language", "Expires"}

// objectHeaders sets the Content-Type and stored headers of an object.
func objectHeaders(hdr http.Header, info *objstore.ObjectInfo, cacheControl []string) {
	ct := info.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	hdr["Content-Type"] = []string{ct}
	for _, name := range storedHeaders {
		if v := info.Headers[name]; v != "" {
			hdr[name] = []string{v}
		}
	}
	if _, ok := hdr["Cache-Control"]; !ok && cacheControl != nil && info.Headers["Cache-Control"] == "" {
		hdr["Cache-Control"] = cacheControl
	}
}

// match returns the first routing rule of cfg that applies to key: with
// status 0, before the key is read, the rules without an error-code
// condition; otherwise the rules whose error code is status.
func match(cfg *objstore.WebsiteConfig, key string, status int) *objstore.WebsiteRule {
	if cfg == nil {
		return nil
	}
	for i := range cfg.Rules {
		rule := &cfg.Rules[i]
		c := rule.Condition
		code := 0
		if c != nil {
			code = c.HTTPErrorCode
		}
		if code != status {
			continue
		}
		if c != nil && c.KeyPrefixEquals != nil && !strings.HasPrefix(key, *c.KeyPrefixEquals) {
			continue
		}
		return rule
	}
	return nil
}

// target returns where rule sends a request for key at path: the rule's
// protocol and host or the request's, and the key replaced as the rule
// says. On the request's own host the key is under the site's base (the
// request's path less path), so that a site served under a path (a
// gateway stage) stays under it.
func target(r *http.Request, rule *objstore.WebsiteRule, key, path string) string {
	d := &rule.Redirect
	switch {
	case d.ReplaceKeyWith != nil:
		key = *d.ReplaceKeyWith
	case d.ReplaceKeyPrefixWith != nil:
		prefix := ""
		if rule.Condition != nil && rule.Condition.KeyPrefixEquals != nil {
			prefix = *rule.Condition.KeyPrefixEquals
		}
		key = *d.ReplaceKeyPrefixWith + strings.TrimPrefix(key, prefix)
	}
	host, base := d.HostName, ""
	if host == "" {
		host = r.Host
		base = strings.TrimSuffix(r.URL.EscapedPath(), escapePath(path))
	}
	return scheme(r, d.Protocol) + "://" + host + base + escapePath("/"+key)
}

// escapePath escapes a path for a URL, its slashes kept.
func escapePath(p string) string { return (&url.URL{Path: p}).EscapedPath() }

// redirectBy answers with rule's redirect.
func redirectBy(w http.ResponseWriter, r *http.Request, rule *objstore.WebsiteRule, key, path string) {
	code := rule.Redirect.HTTPRedirectCode
	if code == 0 {
		code = http.StatusMovedPermanently
	}
	redirect(w, target(r, rule, key, path), code)
}

func redirect(w http.ResponseWriter, location string, code int) {
	w.Header()["Location"] = []string{location}
	w.Header()["Content-Length"] = []string{"0"}
	w.WriteHeader(code)
}

// scheme is protocol, or else the request's.
func scheme(r *http.Request, protocol string) string {
	switch {
	case protocol != "":
		return protocol
	case r.TLS != nil:
		return "https"
	}
	return "http"
}

// notExist reports whether err says there is no such object: none
// stored, no bucket, or a key no object can have (empty, not UTF-8, too
// long), which a path can ask for.
func notExist(err error) bool {
	return errors.Is(err, objstore.ErrNoSuchKey) || errors.Is(err, objstore.ErrNoSuchBucket) ||
		errors.Is(err, objstore.ErrInvalidKey) || errors.Is(err, objstore.ErrKeyTooLong)
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
