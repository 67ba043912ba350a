package s3api

import (
	"context"
	"encoding/xml"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/objstore"
)

// This file serves a bucket's CORS configuration (PutBucketCors,
// GetBucketCors, DeleteBucketCors), answers browsers' preflight OPTIONS
// requests from it, and adds its headers to the answers of actual
// cross-origin requests, as S3 does:
//
//   - the first rule whose AllowedOrigin matches the Origin header (one
//     "*" standing for any run of characters, the empty one included),
//     whose AllowedMethod is the request's method (or, when present, its
//     Access-Control-Request-Method), and whose AllowedHeader entries
//     match every name in Access-Control-Request-Headers, case aside,
//     decides;
//   - a preflight is answered without a signature (browsers send none)
//     and without looking up the key; an unmatched preflight is 403
//     AccessForbidden, an unmatched actual request is served without
//     CORS headers;
//   - an actual request that matches carries the headers on its answer,
//     errors included.

// S3's limits on a CORS configuration.
const (
	maxCORSRules = 100
	maxCORSDoc   = 64 << 10 // bytes of the document
	maxCORSID    = 255      // characters of a rule's ID
)

// corsFresh is how long a bucket's configuration, once read, is taken
// as current without asking the store again. Changes made through this
// handler take effect at once; changes made by another node sharing the
// store are seen within this time.
const corsFresh = time.Second

// corsVary is the Vary of every answer a rule matched.
const corsVary = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"

// corsMethods are the methods a rule may allow.
var corsMethods = []string{"GET", "PUT", "POST", "DELETE", "HEAD"}

// Preflight refusals, in S3's words.
const (
	corsNotAllowed = "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec."
	corsNotEnabled = "CORSResponse: CORS is not enabled for this bucket."
	corsNoBucket   = "CORSResponse: Bucket not found"
	corsNoOrigin   = "Insufficient information. Origin request header needed."
)

// corsDoc is the CORSConfiguration document.
type corsDoc struct {
	XMLName xml.Name      `xml:"CORSConfiguration"`
	Xmlns   string        `xml:"xmlns,attr,omitempty"`
	Rules   []corsRuleDoc `xml:"CORSRule"`
	Unknown []anyElement  `xml:",any"`
}

// corsRuleDoc is one CORSRule. ID and MaxAgeSeconds are lists so that a
// rule giving either twice is told apart.
type corsRuleDoc struct {
	ID             []string     `xml:"ID"`
	AllowedHeaders []string     `xml:"AllowedHeader"`
	AllowedMethods []string     `xml:"AllowedMethod"`
	AllowedOrigins []string     `xml:"AllowedOrigin"`
	ExposeHeaders  []string     `xml:"ExposeHeader"`
	MaxAgeSeconds  []string     `xml:"MaxAgeSeconds"`
	Unknown        []anyElement `xml:",any"`
}

// anyElement is an element a document's schema does not have.
type anyElement struct{ XMLName xml.Name }

// parseCORS reads and checks a CORSConfiguration document.
func parseCORS(b []byte) (*objstore.CORSConfig, error) {
	var doc corsDoc
	if err := decodeXML(b, &doc); err != nil {
		return nil, err
	}
	if len(doc.Unknown) > 0 || len(doc.Rules) == 0 || len(doc.Rules) > maxCORSRules {
		return nil, s3err("MalformedXML", "")
	}
	cfg := &objstore.CORSConfig{Rules: make([]objstore.CORSRule, 0, len(doc.Rules))}
	for _, d := range doc.Rules {
		if len(d.Unknown) > 0 || len(d.AllowedMethods) == 0 || len(d.AllowedOrigins) == 0 ||
			len(d.ID) > 1 || len(d.MaxAgeSeconds) > 1 {
			return nil, s3err("MalformedXML", "")
		}
		for _, m := range d.AllowedMethods {
			if !slices.Contains(corsMethods, m) {
				return nil, s3err("InvalidRequest", "Found unsupported HTTP method in CORS config. Unsupported method is "+m)
			}
		}
		for _, o := range d.AllowedOrigins {
			if strings.Count(o, "*") > 1 {
				return nil, s3err("InvalidRequest", `AllowedOrigin "`+o+`" can not have more than one wildcard.`)
			}
		}
		for _, h := range d.AllowedHeaders {
			if strings.Count(h, "*") > 1 {
				return nil, s3err("InvalidRequest", `AllowedHeader "`+h+`" can not have more than one wildcard.`)
			}
		}
		rule := objstore.CORSRule{AllowedMethods: d.AllowedMethods, AllowedOrigins: d.AllowedOrigins,
			AllowedHeaders: d.AllowedHeaders, ExposeHeaders: d.ExposeHeaders}
		if len(d.ID) == 1 {
			if utf8.RuneCountInString(d.ID[0]) > maxCORSID {
				return nil, s3err("InvalidArgument", "ID length should not exceed allowed limit of 255")
			}
			rule.ID = d.ID[0]
		}
		if len(d.MaxAgeSeconds) == 1 {
			n, err := strconv.Atoi(strings.TrimSpace(d.MaxAgeSeconds[0]))
			if err != nil || n < 0 {
				return nil, s3err("MalformedXML", "")
			}
			rule.MaxAgeSeconds = &n
		}
		cfg.Rules = append(cfg.Rules, rule)
	}
	return cfg, nil
}

// corsDocument is cfg as GetBucketCors answers it.
func corsDocument(cfg *objstore.CORSConfig) corsDoc {
	doc := corsDoc{Xmlns: xmlns, Rules: make([]corsRuleDoc, 0, len(cfg.Rules))}
	for _, r := range cfg.Rules {
		d := corsRuleDoc{AllowedHeaders: r.AllowedHeaders, AllowedMethods: r.AllowedMethods,
			AllowedOrigins: r.AllowedOrigins, ExposeHeaders: r.ExposeHeaders}
		if r.ID != "" {
			d.ID = []string{r.ID}
		}
		if r.MaxAgeSeconds != nil {
			d.MaxAgeSeconds = []string{strconv.Itoa(*r.MaxAgeSeconds)}
		}
		doc.Rules = append(doc.Rules, d)
	}
	return doc
}

// corsDigestDeclared reports whether r declares its body's digest, by
// Content-MD5 or an x-amz-checksum-* header or trailer, as S3 requires
// of PutBucketCors (SDKs now send a CRC32 checksum in place of the MD5).
func corsDigestDeclared(r *http.Request) bool {
	if r.Header.Get("Content-Md5") != "" || r.Header.Get("X-Amz-Trailer") != "" {
		return true
	}
	for _, a := range []string{"Crc32", "Crc32c", "Crc64nvme", "Sha1", "Sha256"} {
		if r.Header.Get("X-Amz-Checksum-"+a) != "" {
			return true
		}
	}
	return false
}

func putBucketCors(h *Handler, w http.ResponseWriter, r *http.Request, rq *request) error {
	if !corsDigestDeclared(r) {
		return s3err("InvalidRequest", "Missing required header for this request: Content-MD5")
	}
	body, err := h.readSmall(r, rq, maxCORSDoc)
	if err != nil {
		return err
	}
	cfg, err := parseCORS(body)
	if err != nil {
		return err
	}
	if err := h.d.Store.PutCORS(r.Context(), rq.bucket, cfg); err != nil {
		return err
	}
	h.cors.forget(rq.bucket)
	w.WriteHeader(http.StatusOK)
	return nil
}

func getBucketCors(h *Handler, w http.ResponseWriter, r *http.Request, rq *request) error {
	cfg, err := h.d.Store.CORS(r.Context(), rq.bucket, nil)
	if err != nil {
		return err
	}
	if cfg == nil {
		e := s3err("NoSuchCORSConfiguration", "")
		e.Bucket = rq.bucket
		return e
	}
	writeXML(w, http.StatusOK, corsDocument(cfg))
	return nil
}

func deleteBucketCors(h *Handler, w http.ResponseWriter, r *http.Request, rq *request) error {
	if err := h.d.Store.PutCORS(r.Context(), rq.bucket, nil); err != nil {
		return err
	}
	h.cors.forget(rq.bucket)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// corsPattern is an AllowedOrigin or AllowedHeader: literal, or with
// one "*" between prefix and suffix.
type corsPattern struct {
	prefix, suffix string
	wild           bool
}

func newCORSPattern(s string) corsPattern {
	if p, s2, ok := strings.Cut(s, "*"); ok {
		return corsPattern{prefix: p, suffix: s2, wild: true}
	}
	return corsPattern{prefix: s}
}

// match reports whether s matches, byte for byte (origins).
func (p corsPattern) match(s string) bool {
	if !p.wild {
		return s == p.prefix
	}
	return len(s) >= len(p.prefix)+len(p.suffix) && strings.HasPrefix(s, p.prefix) && strings.HasSuffix(s, p.suffix)
}

// matchFold reports whether s matches without regard to ASCII case
// (header names).
func (p corsPattern) matchFold(s string) bool {
	if !p.wild {
		return strings.EqualFold(s, p.prefix)
	}
	return len(s) >= len(p.prefix)+len(p.suffix) &&
		strings.EqualFold(s[:len(p.prefix)], p.prefix) && strings.EqualFold(s[len(s)-len(p.suffix):], p.suffix)
}

// corsRule is a stored rule made ready for matching, with the values of
// its answer's headers joined once.
type corsRule struct {
	methods   []string
	origins   []corsPattern
	anyOrigin bool // an AllowedOrigin is "*": answer "*", without credentials
	headers   []corsPattern
	allow     string // Access-Control-Allow-Methods
	expose    string // Access-Control-Expose-Headers; "" for none
	maxAge    string // Access-Control-Max-Age; "" for none
}

func compileCORS(cfg *objstore.CORSConfig) []corsRule {
	rules := make([]corsRule, 0, len(cfg.Rules))
	for _, r := range cfg.Rules {
		c := corsRule{methods: r.AllowedMethods, allow: strings.Join(r.AllowedMethods, ", "),
			expose: strings.Join(r.ExposeHeaders, ", ")}
		for _, o := range r.AllowedOrigins {
			c.origins = append(c.origins, newCORSPattern(o))
			c.anyOrigin = c.anyOrigin || o == "*"
		}
		for _, h := range r.AllowedHeaders {
			c.headers = append(c.headers, newCORSPattern(h))
		}
		if r.MaxAgeSeconds != nil {
			c.maxAge = strconv.Itoa(*r.MaxAgeSeconds)
		}
		rules = append(rules, c)
	}
	return rules
}

// matchCORS returns the first rule that allows origin to use method
// with the comma-separated header names requested, or nil.
func matchCORS(rules []corsRule, origin, method, requested string) *corsRule {
	for i := range rules {
		if rules[i].allows(origin, method, requested) {
			return &rules[i]
		}
	}
	return nil
}

func (c *corsRule) allows(origin, method, requested string) bool {
	if !slices.Contains(c.methods, method) {
		return false
	}
	ok := false
	for _, p := range c.origins {
		if p.match(origin) {
			ok = true
			break
		}
	}
	if !ok {
		return false
	}
	for rest := requested; rest != ""; {
		var name string
		name, rest, _ = strings.Cut(rest, ",")
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		ok = false
		for _, p := range c.headers {
			if p.matchFold(name) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// setHeaders writes the rule's answer to a request from origin.
func (c *corsRule) setHeaders(h http.Header, origin string) {
	if c.anyOrigin {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	h.Set("Access-Control-Allow-Methods", c.allow)
	if c.expose != "" {
		h.Set("Access-Control-Expose-Headers", c.expose)
	}
	if c.maxAge != "" {
		h.Set("Access-Control-Max-Age", c.maxAge)
	}
	h.Set("Vary", corsVary)
}

// allowedHeaders is Access-Control-Allow-Headers for the names requested:
// lower-cased, in the order requested.
func allowedHeaders(requested string) string {
	var b strings.Builder
	for rest := requested; rest != ""; {
		var name string
		name, rest, _ = strings.Cut(rest, ",")
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strings.ToLower(name))
	}
	return b.String()
}

// corsView caches buckets' compiled CORS rules, so that preflights and
// cross-origin requests do not read the configuration each time. An
// entry is trusted for corsFresh, then checked against the store, which
// reads the configuration again only if it changed.
type corsView struct {
	m sync.Map // bucket name → *corsEntry
}

// corsEntry is one bucket's configuration as last read.
type corsEntry struct {
	cfg     *objstore.CORSConfig // nil: none
	rules   []corsRule
	checked atomic.Int64 // when cfg was last found current, in Unix nanoseconds
}

// rules returns bucket's rules, nil when it has no configuration.
func (v *corsView) rules(ctx context.Context, store objstore.Store, bucket string) ([]corsRule, error) {
	now := time.Now().UnixNano()
	var prev *objstore.CORSConfig
	if x, ok := v.m.Load(bucket); ok {
		e := x.(*corsEntry)
		if now-e.checked.Load() < int64(corsFresh) {
			return e.rules, nil
		}
		prev = e.cfg
		cfg, err := store.CORS(ctx, bucket, prev)
		if err != nil {
			v.m.Delete(bucket)
			return nil, err
		}
		if cfg == prev {
			e.checked.Store(now)
			return e.rules, nil
		}
		return v.keep(bucket, cfg, now), nil
	}
	cfg, err := store.CORS(ctx, bucket, nil)
	if err != nil {
		return nil, err
	}
	return v.keep(bucket, cfg, now), nil
}

func (v *corsView) keep(bucket string, cfg *objstore.CORSConfig, now int64) []corsRule {
	e := &corsEntry{cfg: cfg}
	if cfg != nil {
		e.rules = compileCORS(cfg)
	}
	e.checked.Store(now)
	v.m.Store(bucket, e)
	return e.rules
}

// forget drops bucket's entry after a change to its configuration.
func (v *corsView) forget(bucket string) { v.m.Delete(bucket) }

// preflightAction names a preflight in Deps.Observe; it is no IAM
// action and is never authorized.
const preflightAction = "s3:PreflightRequest"

// preflight answers an OPTIONS request: a browser asking whether it may
// send a cross-origin request. It carries no signature and is answered
// from the bucket's CORS configuration alone.
func (h *Handler) preflight(w http.ResponseWriter, r *http.Request, rq *request) error {
	rq.action = preflightAction
	origin := r.Header.Get("Origin")
	method := r.Header.Get("Access-Control-Request-Method")
	asked := method
	if asked == "" {
		asked = http.MethodOptions
	}
	if origin == "" {
		return s3err("BadRequest", corsNoOrigin)
	}
	if rq.bucket == "" {
		return h.corsRefusal(w, r, rq, corsNoBucket, asked, "BUCKET")
	}
	rules, err := h.cors.rules(r.Context(), h.d.Store, rq.bucket)
	if errors.Is(err, objstore.ErrNoSuchBucket) {
		return h.corsRefusal(w, r, rq, corsNoBucket, asked, "BUCKET")
	}
	if err != nil {
		return err
	}
	if rules == nil {
		return h.corsRefusal(w, r, rq, corsNotEnabled, asked, "BUCKET")
	}
	if !slices.Contains(corsMethods, method) {
		if method == "" {
			method = "null"
		}
		return s3err("BadRequest", "Invalid Access-Control-Request-Method: "+method)
	}
	requested := r.Header.Get("Access-Control-Request-Headers")
	rule := matchCORS(rules, origin, method, requested)
	if rule == nil {
		kind := "OBJECT"
		if !rq.hasKey {
			kind = "BUCKET"
		}
		return h.corsRefusal(w, r, rq, corsNotAllowed, method, kind)
	}
	hd := w.Header()
	rule.setHeaders(hd, origin)
	if requested != "" {
		if a := allowedHeaders(requested); a != "" {
			hd.Set("Access-Control-Allow-Headers", a)
		}
	}
	hd.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

// corsRefusal answers a preflight with S3's 403 AccessForbidden, which
// names the method asked for and the kind of resource.
func (h *Handler) corsRefusal(w http.ResponseWriter, r *http.Request, rq *request, msg, method, kind string) error {
	awsproto.WriteError(w, r, awsproto.RESTXML, &awsproto.Error{Status: http.StatusForbidden, Code: "AccessForbidden", Message: msg,
		Fields: []awsproto.Field{{Name: "Method", Value: method}, {Name: "ResourceType", Value: kind}, {Name: "HostId", Value: rq.hostID}}}, rq.id)
	return nil
}

// crossOrigin adds the CORS headers of the rule that allows an actual
// request carrying Origin to the answer, before anything else is
// decided, so that errors carry them too. A request no rule allows, or
// to a bucket without a configuration, is served without them.
func (h *Handler) crossOrigin(w http.ResponseWriter, r *http.Request, rq *request) {
	origin := r.Header.Get("Origin")
	if origin == "" || rq.bucket == "" {
		return
	}
	rules, err := h.cors.rules(r.Context(), h.d.Store, rq.bucket)
	if err != nil {
		if !errors.Is(err, objstore.ErrNoSuchBucket) {
			h.d.Logger.Warn("s3: reading a CORS configuration failed; the request is served without CORS headers", "bucket", rq.bucket, "err", err)
		}
		return
	}
	method := r.Header.Get("Access-Control-Request-Method")
	if method == "" {
		method = r.Method
	}
	if rule := matchCORS(rules, origin, method, r.Header.Get("Access-Control-Request-Headers")); rule != nil {
		rule.setHeaders(w.Header(), origin)
	}
}
