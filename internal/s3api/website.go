package s3api

import (
	"encoding/xml"
	"html"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/aloft-dev/aloft/internal/objstore"
	"github.com/aloft-dev/aloft/internal/policy"
	"github.com/aloft-dev/aloft/internal/website"
)

// This file serves a bucket's website configuration (PutBucketWebsite,
// GetBucketWebsite, DeleteBucketWebsite), checked as S3 checks it, and
// the website endpoints that serve it: <bucket>.s3-website.<domain>,
// <bucket>.s3-website-<region>.<domain> and
// <bucket>.s3-website.<region>.<domain> for each of Deps.Domains.
// Package website does the serving; this file adds S3's rules around
// it: only what the bucket's policy lets anybody read (s3:GetObject) is
// served, a missing key is 404 only to those it lets list the bucket
// (s3:ListBucket) and 403 to others, and errors without an error
// document are S3's HTML pages. The bucket's CORS configuration applies
// as it does on the API: preflights are answered from it, and answers to
// cross-origin reads carry its headers.

// S3's limits on a website configuration.
const (
	maxWebsiteRules = 50
	maxWebsiteDoc   = 256 << 10 // bytes of the document
)

// websiteDoc is the WebsiteConfiguration document.
type websiteDoc struct {
	XMLName     xml.Name         `xml:"WebsiteConfiguration"`
	Xmlns       string           `xml:"xmlns,attr,omitempty"`
	RedirectAll *redirectAllDoc  `xml:"RedirectAllRequestsTo,omitempty"`
	Index       *indexDoc        `xml:"IndexDocument,omitempty"`
	Error       *errorDoc        `xml:"ErrorDocument,omitempty"`
	Rules       *routingRulesDoc `xml:"RoutingRules,omitempty"`
	Unknown     []anyElement     `xml:",any"`
}

type redirectAllDoc struct {
	HostName *string      `xml:"HostName"`
	Protocol *string      `xml:"Protocol,omitempty"`
	Unknown  []anyElement `xml:",any"`
}

type indexDoc struct {
	Suffix  *string      `xml:"Suffix"`
	Unknown []anyElement `xml:",any"`
}

type errorDoc struct {
	Key     *string      `xml:"Key"`
	Unknown []anyElement `xml:",any"`
}

type routingRulesDoc struct {
	Rules   []routingRuleDoc `xml:"RoutingRule"`
	Unknown []anyElement     `xml:",any"`
}

type routingRuleDoc struct {
	Condition *conditionDoc `xml:"Condition,omitempty"`
	Redirect  *redirectDoc  `xml:"Redirect"`
	Unknown   []anyElement  `xml:",any"`
}

type conditionDoc struct {
	HTTPErrorCode   *string      `xml:"HttpErrorCodeReturnedEquals,omitempty"`
	KeyPrefixEquals *string      `xml:"KeyPrefixEquals,omitempty"`
	Unknown         []anyElement `xml:",any"`
}

type redirectDoc struct {
	HostName             *string      `xml:"HostName,omitempty"`
	HTTPRedirectCode     *string      `xml:"HttpRedirectCode,omitempty"`
	Protocol             *string      `xml:"Protocol,omitempty"`
	ReplaceKeyPrefixWith *string      `xml:"ReplaceKeyPrefixWith,omitempty"`
	ReplaceKeyWith       *string      `xml:"ReplaceKeyWith,omitempty"`
	Unknown              []anyElement `xml:",any"`
}

// S3's refusals of a website configuration, in its words.
const (
	websiteRedirectAlone = "RedirectAllRequestsTo cannot be provided in conjunction with other Routing Rules."
	websiteNoIndex       = "A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty"
	websiteBadIndex      = "The IndexDocument Suffix is not well formed"
	websiteBadProtocol   = "Invalid protocol, protocol can be http or https. If not defined the protocol will be selected automatically."
	websiteBothKeys      = "You can only define ReplaceKeyPrefix or ReplaceKey but not both."
	websiteEmptyCond     = "Condition cannot be empty. To redirect all requests without a condition, the condition element shouldn't be present."
)

// parseWebsite reads and checks a WebsiteConfiguration document.
func parseWebsite(b []byte) (*objstore.WebsiteConfig, error) {
	var doc websiteDoc
	if err := decodeXML(b, &doc); err != nil {
		return nil, err
	}
	if len(doc.Unknown) > 0 {
		return nil, malformed("")
	}
	if a := doc.RedirectAll; a != nil {
		if doc.Index != nil || doc.Error != nil || doc.Rules != nil {
			return nil, invalidArgument(websiteRedirectAlone)
		}
		if len(a.Unknown) > 0 || a.HostName == nil || *a.HostName == "" {
			return nil, malformed("")
		}
		r := &objstore.WebsiteRedirect{HostName: *a.HostName}
		if a.Protocol != nil {
			if !validProtocol(*a.Protocol) {
				return nil, s3err("InvalidRequest", websiteBadProtocol)
			}
			r.Protocol = *a.Protocol
		}
		return &objstore.WebsiteConfig{RedirectAll: r}, nil
	}
	if doc.Index == nil {
		return nil, invalidArgument(websiteNoIndex)
	}
	if len(doc.Index.Unknown) > 0 {
		return nil, malformed("")
	}
	if doc.Index.Suffix == nil || *doc.Index.Suffix == "" || strings.Contains(*doc.Index.Suffix, "/") {
		return nil, invalidArgument(websiteBadIndex)
	}
	cfg := &objstore.WebsiteConfig{IndexSuffix: *doc.Index.Suffix}
	if e := doc.Error; e != nil {
		if len(e.Unknown) > 0 || e.Key == nil || *e.Key == "" {
			return nil, malformed("")
		}
		cfg.ErrorKey = *e.Key
	}
	if doc.Rules == nil {
		return cfg, nil
	}
	rules := doc.Rules.Rules
	if len(doc.Rules.Unknown) > 0 || len(rules) == 0 {
		return nil, malformed("")
	}
	if len(rules) > maxWebsiteRules {
		return nil, s3err("InvalidRequest", strconv.Itoa(len(rules))+" routing rules provided, the number of routing rules in a website configuration is limited to "+strconv.Itoa(maxWebsiteRules)+".")
	}
	cfg.Rules = make([]objstore.WebsiteRule, 0, len(rules))
	for i := range rules {
		rule, err := parseRoutingRule(&rules[i])
		if err != nil {
			return nil, err
		}
		cfg.Rules = append(cfg.Rules, rule)
	}
	return cfg, nil
}

// parseRoutingRule checks and converts one RoutingRule.
func parseRoutingRule(x *routingRuleDoc) (objstore.WebsiteRule, error) {
	var rule objstore.WebsiteRule
	d := x.Redirect
	if len(x.Unknown) > 0 || d == nil || len(d.Unknown) > 0 {
		return rule, malformed("")
	}
	if c := x.Condition; c != nil {
		if len(c.Unknown) > 0 {
			return rule, malformed("")
		}
		if c.HTTPErrorCode == nil && c.KeyPrefixEquals == nil {
			return rule, s3err("InvalidRequest", websiteEmptyCond)
		}
		rule.Condition = &objstore.WebsiteCondition{KeyPrefixEquals: c.KeyPrefixEquals}
		if c.HTTPErrorCode != nil {
			n, err := strconv.Atoi(*c.HTTPErrorCode)
			if err != nil || n < 400 || n > 599 {
				return rule, s3err("InvalidRequest", "The provided HTTP error code ("+*c.HTTPErrorCode+") is not valid. Valid codes are 4XX or 5XX.")
			}
			rule.Condition.HTTPErrorCode = n
		}
	}
	if d.ReplaceKeyWith != nil && d.ReplaceKeyPrefixWith != nil {
		return rule, s3err("InvalidRequest", websiteBothKeys)
	}
	if d.HostName == nil && d.HTTPRedirectCode == nil && d.Protocol == nil && d.ReplaceKeyWith == nil && d.ReplaceKeyPrefixWith == nil {
		return rule, malformed("") // a Redirect that goes nowhere
	}
	r := objstore.WebsiteRedirect{ReplaceKeyPrefixWith: d.ReplaceKeyPrefixWith, ReplaceKeyWith: d.ReplaceKeyWith}
	if d.HostName != nil {
		if *d.HostName == "" {
			return rule, malformed("")
		}
		r.HostName = *d.HostName
	}
	if d.Protocol != nil {
		if !validProtocol(*d.Protocol) {
			return rule, s3err("InvalidRequest", websiteBadProtocol)
		}
		r.Protocol = *d.Protocol
	}
	if d.HTTPRedirectCode != nil {
		n, err := strconv.Atoi(*d.HTTPRedirectCode)
		if err != nil || n < 301 || n > 399 {
			return rule, s3err("InvalidRequest", "The provided HTTP redirect code ("+*d.HTTPRedirectCode+") is not valid. Valid codes are 3XX except 300.")
		}
		r.HTTPRedirectCode = n
	}
	rule.Redirect = r
	return rule, nil
}

func validProtocol(p string) bool { return p == "http" || p == "https" }

// websiteDocument is cfg as GetBucketWebsite answers it.
func websiteDocument(cfg *objstore.WebsiteConfig) websiteDoc {
	doc := websiteDoc{Xmlns: xmlns}
	if a := cfg.RedirectAll; a != nil {
		doc.RedirectAll = &redirectAllDoc{HostName: &a.HostName}
		if a.Protocol != "" {
			doc.RedirectAll.Protocol = &a.Protocol
		}
		return doc
	}
	doc.Index = &indexDoc{Suffix: &cfg.IndexSuffix}
	if cfg.ErrorKey != "" {
		doc.Error = &errorDoc{Key: &cfg.ErrorKey}
	}
	if len(cfg.Rules) == 0 {
		return doc
	}
	doc.Rules = &routingRulesDoc{Rules: make([]routingRuleDoc, len(cfg.Rules))}
	for i := range cfg.Rules {
		rule, x := &cfg.Rules[i], &doc.Rules.Rules[i]
		if c := rule.Condition; c != nil {
			x.Condition = &conditionDoc{KeyPrefixEquals: c.KeyPrefixEquals}
			if c.HTTPErrorCode != 0 {
				code := strconv.Itoa(c.HTTPErrorCode)
				x.Condition.HTTPErrorCode = &code
			}
		}
		r := &rule.Redirect
		d := &redirectDoc{ReplaceKeyPrefixWith: r.ReplaceKeyPrefixWith, ReplaceKeyWith: r.ReplaceKeyWith}
		if r.HostName != "" {
			d.HostName = &r.HostName
		}
		if r.Protocol != "" {
			d.Protocol = &r.Protocol
		}
		if r.HTTPRedirectCode != 0 {
			code := strconv.Itoa(r.HTTPRedirectCode)
			d.HTTPRedirectCode = &code
		}
		x.Redirect = d
	}
	return doc
}

// putBucketWebsite stores a bucket's website configuration. As on S3,
// the body must declare its integrity (Content-MD5 or a checksum, which
// the SDKs send).
func putBucketWebsite(h *Handler, w http.ResponseWriter, r *http.Request, rq *request) error {
	if !integrityDeclared(r) {
		return s3err("InvalidRequest", "Missing required header for this request: Content-MD5")
	}
	body, err := h.readSmall(r, rq, maxWebsiteDoc)
	if err != nil {
		return err
	}
	cfg, err := parseWebsite(body)
	if err != nil {
		return err
	}
	if err := h.d.Store.PutWebsite(r.Context(), rq.bucket, cfg); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func getBucketWebsite(h *Handler, w http.ResponseWriter, r *http.Request, rq *request) error {
	cfg, err := h.d.Store.Website(r.Context(), rq.bucket, nil)
	if err != nil {
		return err
	}
	if cfg == nil {
		e := s3err("NoSuchWebsiteConfiguration", "")
		e.Bucket = rq.bucket
		return e
	}
	writeXML(w, http.StatusOK, websiteDocument(cfg))
	return nil
}

func deleteBucketWebsite(h *Handler, w http.ResponseWriter, r *http.Request, rq *request) error {
	if err := h.d.Store.PutWebsite(r.Context(), rq.bucket, nil); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Websites serves the website endpoints of the buckets of a Handler.
// Create it with NewWebsites.
type Websites struct{ h *Handler }

// NewWebsites returns the website endpoints of h's buckets: requests
// whose Host Bucket recognises are served with ServeHTTP, before (and
// instead of) any of the API listener's own paths, since every path of
// a website is its bucket's.
func NewWebsites(h *Handler) *Websites { return &Websites{h: h} }

// websiteLabel begins the host label of a website endpoint.
const websiteLabel = ".s3-website"

// Bucket returns the bucket a website endpoint's Host (with or without
// a port) names: <bucket>.s3-website.<domain>,
// <bucket>.s3-website-<region>.<domain> or
// <bucket>.s3-website.<region>.<domain>, for one of Deps.Domains.
func (s *Websites) Bucket(host string) (string, bool) {
	if hh, _, err := net.SplitHostPort(host); err == nil {
		host = hh
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if !strings.Contains(host, websiteLabel) {
		return "", false
	}
	for _, d := range s.h.d.Domains {
		d = strings.ToLower(d)
		if !strings.HasSuffix(host, "."+d) {
			continue
		}
		rest := host[:len(host)-len(d)-1]
		i := strings.LastIndex(rest, websiteLabel)
		if i <= 0 {
			continue
		}
		tail := rest[i+len(websiteLabel):]
		if tail == "" || (tail[0] == '-' || tail[0] == '.') && regionLike(tail[1:]) {
			return rest[:i], true
		}
	}
	return "", false
}

// regionLike reports whether s can be a region's name: letters, digits
// and dashes.
func regionLike(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// ServeHTTP answers a request to a bucket's website endpoint.
func (s *Websites) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rq := &request{id: requestID(), hostID: hostID(), objectSize: -1}
	hdr := w.Header()
	hdr["X-Amz-Request-Id"] = []string{rq.id}
	hdr["X-Amz-Id-2"] = []string{rq.hostID}
	hdr["Server"] = []string{"AloftS3"}
	bucket, _ := s.Bucket(r.Host)
	rq.bucket = bucket
	if !objstore.ValidBucketName(bucket) {
		s.page(w, r, rq, &website.Failure{Status: http.StatusNotFound, Code: "NoSuchBucket"})
		return
	}
	cfg, err := website.Config(r.Context(), s.h.d.Store, bucket)
	if err == nil && cfg == nil {
		err = s3err("NoSuchWebsiteConfiguration", "")
	}
	if err != nil {
		e := toError(err, bucket, "")
		if e.Status >= 500 {
			s.h.d.Logger.Error("website configuration cannot be read", "bucket", bucket, "err", err)
		}
		s.page(w, r, rq, &website.Failure{Status: e.Status, Code: e.Code})
		return
	}
	if r.Method == http.MethodOptions {
		if err := s.h.preflight(w, r, rq); err != nil { // the bucket's CORS, as on the API (cors.go)
			e := toError(err, bucket, "")
			s.page(w, r, rq, &website.Failure{Status: e.Status, Code: e.Code, Err: e})
		}
		return
	}
	s.h.crossOrigin(w, r, rq)
	g := &websiteGuard{h: s.h, r: r, bucket: bucket}
	if s.h.d.Authorize != nil {
		if g.policy, err = s.h.bucketPolicy(r, bucket); err != nil {
			s.page(w, r, rq, &website.Failure{Status: http.StatusInternalServerError, Code: website.InternalError, Err: err})
			return
		}
	}
	site := website.Site{Bucket: bucket, Index: cfg.IndexSuffix, Error: cfg.ErrorKey, Config: cfg}
	if f := website.Serve(w, r, s.h.d.Store, &site, r.URL.Path, g); f != nil {
		s.page(w, r, rq, f)
	}
}

// websiteGuard lets the website endpoint serve what a bucket's policy
// lets anybody read.
type websiteGuard struct {
	h      *Handler
	r      *http.Request
	bucket string
	policy *policy.Policy
}

// CanRead reports whether anybody may get the object at key.
func (g *websiteGuard) CanRead(key string) bool {
	return g.h.d.Authorize != nil && g.h.d.Authorize(g.r, nil, "s3:GetObject", "arn:aws:s3:::"+g.bucket+"/"+key, nil, g.policy) == nil
}

// CanList reports whether anybody may list the bucket.
func (g *websiteGuard) CanList() bool {
	return g.h.d.Authorize != nil && g.h.d.Authorize(g.r, nil, "s3:ListBucket", "arn:aws:s3:::"+g.bucket, nil, g.policy) == nil
}

// ErrorHeaders says which error an error document answers.
func (g *websiteGuard) ErrorHeaders(h http.Header, f *website.Failure) {
	h["X-Amz-Error-Code"] = []string{f.Code}
	h["X-Amz-Error-Message"] = []string{websiteMessage(f.Code)}
}

// websiteMessage is S3's message for an error code.
func websiteMessage(code string) string {
	if code == "NoSuchKey" {
		return "The specified key does not exist."
	}
	return s3err(code, "").Message
}

// page answers f with S3's HTML error page.
func (s *Websites) page(w http.ResponseWriter, r *http.Request, rq *request, f *website.Failure) {
	if f.Status >= 500 {
		s.h.d.Logger.Error("website request failed", "bucket", rq.bucket, "err", f)
	}
	hdr := w.Header()
	msg := websiteMessage(f.Code)
	if e, ok := f.Err.(*Error); ok && e.Message != "" {
		msg = e.Message
	}
	hdr["X-Amz-Error-Code"] = []string{f.Code}
	hdr["X-Amz-Error-Message"] = []string{msg}
	status := strconv.Itoa(f.Status) + " " + http.StatusText(f.Status)
	var b strings.Builder
	b.WriteString("<html>\n<head><title>" + status + "</title></head>\n<body>\n<h1>" + status + "</h1>\n<ul>\n")
	item := func(name, value string) { b.WriteString("<li>" + name + ": " + html.EscapeString(value) + "</li>\n") }
	item("Code", f.Code)
	item("Message", msg)
	switch {
	case f.Code == website.MethodNotAllowed:
		item("Method", r.Method)
		item("ResourceType", "OBJECT")
	case f.Key != "":
		item("Key", f.Key)
	case r.Method == http.MethodOptions:
	default:
		item("BucketName", rq.bucket)
	}
	item("RequestId", rq.id)
	item("HostId", rq.hostID)
	b.WriteString("</ul>\n")
	if d := f.ErrorDocument; d != nil {
		b.WriteString("<h3>An Error Occurred While Attempting to Retrieve a Custom Error Document</h3>\n<ul>\n")
		item("Code", d.Code)
		item("Message", websiteMessage(d.Code))
		item("Key", d.Key)
		b.WriteString("</ul>\n")
	}
	b.WriteString("<hr/>\n</body>\n</html>\n")
	if f.Code == website.MethodNotAllowed {
		hdr["Allow"] = []string{"GET, HEAD"}
	}
	hdr["Content-Type"] = []string{"text/html; charset=utf-8"}
	hdr["Content-Length"] = []string{strconv.Itoa(b.Len())}
	w.WriteHeader(f.Status)
	if r.Method != http.MethodHead {
		w.Write([]byte(b.String()))
	}
}
