package s3api

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/objstore"
	"github.com/aloft-dev/aloft/internal/policy"
	"github.com/aloft-dev/aloft/internal/sigv2"
	"github.com/aloft-dev/aloft/internal/sigv4"
)

// xmlns is the namespace of S3's XML documents.
const xmlns = "http://s3.amazonaws.com/doc/2006-03-01/"

// Deps are the handler's collaborators.
type Deps struct {
	Store    objstore.Store
	Verifier *sigv4.Verifier
	// VerifierV2 checks Signature Version 2 (header and presigned
	// query), which S3 still takes; nil refuses it.
	VerifierV2 *sigv2.Verifier
	// Authorize, if set, decides whether the signer of id (nil for an
	// anonymous request) may perform action on resource, given the
	// request's S3 condition keys (by their names in lower case) and the
	// bucket's policy (nil for none): nil, or the refusal
	// (awsproto.Error) to answer with. Nil lets every signer do
	// everything and refuses anonymous requests.
	Authorize func(r *http.Request, id *sigv4.Identity, action, resource string, keys map[string][]string, bucketPolicy *policy.Policy) *awsproto.Error
	// OnChange, if set, is called after a change to an object is durable
	// and before the client is answered; an error makes the request fail
	// with InternalError (the change stays made).
	OnChange func(ctx context.Context, c Change) error
	// FunctionExists, if set, reports whether a notification
	// configuration's function ARN names a function; configurations naming
	// unknown functions are refused. Nil accepts every ARN.
	FunctionExists func(ctx context.Context, arn string) bool
	// DestinationExists, if set, does the same for topic and queue
	// ARNs.
	DestinationExists func(ctx context.Context, arn string) bool
	// OnConfigured, if set, is told of a bucket's new notification
	// configuration (to send the test event topics and queues get),
	// with the request's id.
	OnConfigured func(ctx context.Context, bucket string, cfg objstore.NotificationConfig, requestID string) error
	// Domains are the host names under which a request's Host addresses a
	// bucket virtual-host style (bucket.<domain>); nil means localhost and
	// s3.localhost.
	Domains []string
	Logger  *slog.Logger
	// Observe, when set, is told of each answered request for metrics:
	// its operation (GetObject, PutObject, ...; "unknown" when it was
	// refused before one was known), status, and the body bytes it read
	// and wrote. It must be quick.
	Observe func(operation string, status int, in, out int64)
}

// Handler serves the S3 API.
type Handler struct {
	d        Deps
	regions  sync.Map // bucket name → region, for change records
	policies sync.Map // bucket name → *bucketAccess: its policy and public access block (publicaccess.go)
	cors     corsView // buckets' CORS rules, cached (cors.go)
}

// New returns the handler.
func New(d Deps) *Handler {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Domains == nil {
		d.Domains = []string{"localhost", "s3.localhost"}
	}
	return &Handler{d: d}
}

// request is what the handler learned about one request before routing it.
type request struct {
	id, hostID string
	bucket     string
	key        string
	hasKey     bool
	query      url.Values
	auth       sigv4.Identity
	signer     *sigv4.Identity // &auth, or nil for an anonymous request
	objectSize int64           // for InvalidRange's Content-Range; -1 if unknown
	action     string          // the IAM action of the operation, once known
}

// ServeHTTP authenticates, routes and answers one S3 request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rq := &request{id: requestID(), hostID: hostID(), objectSize: -1}
	if h.d.Observe != nil {
		m := &metered{ResponseWriter: w}
		if r.Body != nil {
			m.body = countingBody{ReadCloser: r.Body, n: &m.in}
			r.Body = &m.body
		}
		w = m
		defer func() { h.d.Observe(operation(rq.action), cmp.Or(m.code, http.StatusOK), m.in, m.out) }()
	}
	w.Header().Set("X-Amz-Request-Id", rq.id)
	w.Header().Set("X-Amz-Id-2", rq.hostID)
	w.Header().Set("Server", "AloftS3")
	if err := h.serve(w, r, rq); err != nil {
		e := toError(err, rq.bucket, rq.key)
		if e.Status >= 500 {
			h.d.Logger.Error("s3 request failed", "method", r.Method, "bucket", rq.bucket, "key", rq.key, "err", err)
		}
		writeError(w, r, rq, e)
	}
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, rq *request) error {
	if err := h.address(r, rq); err != nil {
		return err
	}
	if r.Method == http.MethodOptions {
		return h.preflight(w, r, rq) // unsigned, as browsers send it (cors.go)
	}
	h.crossOrigin(w, r, rq)
	if h.d.Verifier == nil {
		return s3err("AccessDenied", "")
	}
	var signer *sigv4.Identity // nil: an anonymous request
	if sigv2.Signed(r) {
		id, err := h.verifyV2(r)
		if err != nil {
			return err
		}
		rq.auth = id
		signer = &rq.auth
	} else if !anonymous(r) || (h.d.Authorize == nil && !isPostForm(r, rq)) {
		id, err := h.d.Verifier.Verify(r, "")
		if err != nil {
			return err
		}
		if id.Service != "s3" {
			return s3err("AuthorizationHeaderMalformed", "The authorization header is malformed; incorrect service \""+id.Service+"\". This endpoint belongs to \"s3\".")
		}
		rq.auth = id
		signer = &rq.auth
	}
	rq.signer = signer
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return s3err("InvalidURI", "")
	}
	rq.query = q
	if rq.bucket != "" && !objstore.ValidBucketName(rq.bucket) {
		e := s3err("InvalidBucketName", "")
		e.Bucket = rq.bucket
		return e
	}
	if rq.hasKey {
		switch {
		case len(rq.key) > objstore.MaxKeyLen:
			return s3err("KeyTooLongError", "")
		case !utf8.ValidString(rq.key):
			return s3err("InvalidURI", "")
		}
	}
	action, run := h.plan(w, r, rq)
	if rq.hasKey {
		action = versionAction(action, rq)
	}
	rq.action = action
	if h.d.Authorize != nil && action != "" {
		if err := h.authorize(r, signer, action, resource(rq), conditionKeys(rq), rq.bucket); err != nil {
			return err
		}
	}
	if err := checkHeaders(r, rq); err != nil {
		return err
	}
	return run()
}

// address finds the bucket and key of r, from its Host (virtual-host
// style) or its path (path style). The path is taken as sent: no cleaning.
func (h *Handler) address(r *http.Request, rq *request) error {
	p := r.URL.EscapedPath()
	if p == "" {
		p = "/"
	}
	if !strings.HasPrefix(p, "/") {
		return s3err("InvalidURI", "")
	}
	rest := p[1:]
	if b, ok := h.virtualBucket(r.Host); ok {
		rq.bucket = b
	} else {
		if rest == "" {
			return nil
		}
		var found bool
		var bucket string
		bucket, rest, found = strings.Cut(rest, "/")
		b, err := url.PathUnescape(bucket)
		if err != nil {
			return s3err("InvalidURI", "")
		}
		rq.bucket = b
		if !found {
			return nil
		}
	}
	if rest == "" {
		return nil
	}
	key, err := url.PathUnescape(rest)
	if err != nil {
		return s3err("InvalidURI", "")
	}
	rq.key, rq.hasKey = key, true
	return nil
}

// VirtualBucket returns the bucket a virtual-host style Host (with or
// without a port) names.
func (h *Handler) VirtualBucket(host string) (string, bool) { return h.virtualBucket(host) }

// IsVirtualHost reports whether host (with or without a port) addresses a
// bucket virtual-host style: bucket.<one of Deps.Domains>.
func (h *Handler) IsVirtualHost(host string) bool {
	_, ok := h.virtualBucket(host)
	return ok
}

// virtualBucket returns the bucket a virtual-host style Host names. The
// longest matching domain wins, so b.s3.localhost is bucket b.
func (h *Handler) virtualBucket(host string) (string, bool) {
	if hh, _, err := net.SplitHostPort(host); err == nil {
		host = hh
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	best := ""
	for _, d := range h.d.Domains {
		d = strings.ToLower(d)
		if host == d {
			return "", false // the service's own name: path style
		}
		if strings.HasSuffix(host, "."+d) && len(d) > len(best) {
			best = d
		}
	}
	if best == "" {
		return "", false
	}
	b := host[:len(host)-len(best)-1]
	return b, b != ""
}

// route picks the operation by method, addressing and query keys.
// plan routes r: it returns the IAM action the request asks for and the
// handler that serves it, from one decision, so that what is authorized
// is what runs. An empty action is a request the handler refuses itself,
// or (a batch delete) authorizes key by key.
func (h *Handler) plan(w http.ResponseWriter, r *http.Request, rq *request) (string, func() error) {
	q := rq.query
	has := func(k string) bool { _, ok := q[k]; return ok }
	sub, hasSub := subresourceOf(q) // see support.go
	m := r.Method
	switch {
	case rq.bucket == "":
		if m == http.MethodGet {
			return "s3:ListAllMyBuckets", func() error { return h.listBuckets(w, r, rq) }
		}
	case !rq.hasKey:
		switch {
		case has("notification"):
			switch m {
			case http.MethodPut:
				return "s3:PutBucketNotification", func() error { return h.putNotification(w, r, rq) }
			case http.MethodGet:
				return "s3:GetBucketNotification", func() error { return h.getNotification(w, r, rq) }
			}
		case has("location") && m == http.MethodGet:
			return "s3:GetBucketLocation", func() error { return h.getLocation(w, r, rq) }
		case has("policy"):
			switch m {
			case http.MethodPut:
				return "s3:PutBucketPolicy", func() error { return h.putPolicy(w, r, rq) }
			case http.MethodGet:
				return "s3:GetBucketPolicy", func() error { return h.getPolicy(w, r, rq) }
			case http.MethodDelete:
				return "s3:DeleteBucketPolicy", func() error { return h.deletePolicy(w, r, rq) }
			}
		case has("uploads") && m == http.MethodGet:
			return "s3:ListBucketMultipartUploads", func() error { return h.listUploads(w, r, rq) }
		case has("delete") && m == http.MethodPost:
			return "", func() error { return h.deleteObjects(w, r, rq) }
		case m == http.MethodPost && !hasSub && len(q) == 0:
			// POST Object (postform.go) checks the form's own signature
			// and authorizes the key the form names itself.
			return "", func() error { return h.postObject(w, r, rq) }
		case hasSub:
			return h.subresource(w, r, rq, sub)
		default:
			switch m {
			case http.MethodPut:
				return "s3:CreateBucket", func() error { return h.createBucket(w, r, rq) }
			case http.MethodHead:
				return "s3:ListBucket", func() error { return h.headBucket(w, r, rq) }
			case http.MethodDelete:
				return "s3:DeleteBucket", func() error { return h.deleteBucket(w, r, rq) }
			case http.MethodGet:
				if q.Get("list-type") == "2" {
					return "s3:ListBucket", func() error { return h.listObjects(w, r, rq, true) }
				}
				return "s3:ListBucket", func() error { return h.listObjects(w, r, rq, false) }
			}
		}
	default:
		switch {
		case has("uploads") && m == http.MethodPost:
			return "s3:PutObject", func() error { return h.createUpload(w, r, rq) }
		case has("attributes") && m == http.MethodGet:
			return "s3:GetObjectAttributes", func() error { return h.getObjectAttributes(w, r, rq) }
		case has("uploadId"):
			switch m {
			case http.MethodPut:
				if r.Header.Get("X-Amz-Copy-Source") != "" {
					return "s3:PutObject", func() error { return h.uploadPartCopy(w, r, rq) }
				}
				return "s3:PutObject", func() error { return h.uploadPart(w, r, rq) }
			case http.MethodGet:
				return "s3:ListMultipartUploadParts", func() error { return h.listParts(w, r, rq) }
			case http.MethodPost:
				return "s3:PutObject", func() error { return h.completeUpload(w, r, rq) }
			case http.MethodDelete:
				return "s3:AbortMultipartUpload", func() error { return h.abortUpload(w, r, rq) }
			}
		case hasSub:
			return h.subresource(w, r, rq, sub)
		default:
			switch m {
			case http.MethodPut:
				if r.Header.Get("X-Amz-Copy-Source") != "" {
					return "s3:PutObject", func() error { return h.copyObject(w, r, rq) }
				}
				return "s3:PutObject", func() error { return h.putObject(w, r, rq) }
			case http.MethodGet, http.MethodHead:
				return "s3:GetObject", func() error { return h.getObject(w, r, rq) }
			case http.MethodDelete:
				return "s3:DeleteObject", func() error { return h.deleteObject(w, r, rq) }
			}
		}
	}
	return "", func() error { return s3err("MethodNotAllowed", "") }
}

// body returns r's payload checked as it streams; see sigv4.Body.
func (h *Handler) body(r *http.Request, rq *request) (*payload, error) {
	b, err := h.d.Verifier.Body(r, rq.auth)
	if err != nil {
		return nil, err
	}
	return &payload{b: b}, nil
}

// payload is a checked body whose read failures are S3 errors: a client
// that goes away mid-upload is an IncompleteBody, not an internal error.
type payload struct{ b *sigv4.Body }

func (p *payload) Read(b []byte) (int, error) {
	n, err := p.b.Read(b)
	if err != nil && err != io.EOF {
		var pe *sigv4.PayloadError
		if !errors.As(err, &pe) {
			e := s3err("IncompleteBody", "")
			e.Err = err
			err = e
		}
	}
	return n, err
}

// Checksums returns the checksums the body was verified against.
func (p *payload) Checksums() map[string]string { return p.b.Checksums() }

// Size returns the payload length the request declares, or -1.
func (p *payload) Size() int64 { return p.b.Size() }

// DeclaredChecksums returns the checksums the request's headers give,
// known before the body is read.
func (p *payload) DeclaredChecksums() map[string]string { return p.b.DeclaredChecksums() }

// TrailerChecksum reports whether the body's checksum comes at its end.
func (p *payload) TrailerChecksum() bool { return p.b.TrailerChecksum() }

// readSmall reads a small checked body (an XML document) of at most limit
// bytes.
func (h *Handler) readSmall(r *http.Request, rq *request, limit int64) ([]byte, error) {
	p, err := h.body(r, rq)
	if err != nil {
		return nil, err
	}
	if p.Size() > limit {
		return nil, s3err("MaxMessageLengthExceeded", "")
	}
	b, err := io.ReadAll(io.LimitReader(p, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, s3err("MaxMessageLengthExceeded", "")
	}
	return b, nil
}

// writeXML writes v as an XML document with the given status.
func writeXML(w http.ResponseWriter, status int, v any) {
	b, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, "could not encode response", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(xml.Header)+len(b)))
	w.WriteHeader(status)
	io.WriteString(w, xml.Header)
	w.Write(b)
}

// decodeXML parses a request document; anything unparsable is MalformedXML.
func decodeXML(b []byte, v any) error {
	if err := xml.Unmarshal(b, v); err != nil {
		e := s3err("MalformedXML", "")
		e.Err = err
		return e
	}
	return nil
}

// requestID returns an ID in the shape of S3's: 16 upper-case hex digits.
func requestID() string { return fmt.Sprintf("%016X", rand.Uint64()) }

// hostID returns an opaque x-amz-id-2 value.
func hostID() string {
	var b [24]byte
	for i := 0; i < len(b); i += 8 {
		v := rand.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return base64.StdEncoding.EncodeToString(b[:])
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// s3Time formats a time as S3's XML documents do.
func s3Time(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func quote(etag string) string { return `"` + etag + `"` }
