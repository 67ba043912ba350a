package console

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// CallHeader carries the AWS request a console call makes, as
// URI-encoded JSON (a Call); the call's body is the request's body.
const CallHeader = "X-Console-Call"

// Call is one AWS request the page asks the console to make.
type Call struct {
	Service string            `json:"service"` // SigV4 signing name: lambda, s3, logs, monitoring, ...
	Method  string            `json:"method"`
	Path    string            `json:"path"`  // URI-encoded, starting with /
	Query   string            `json:"query"` // URI-encoded, without "?"
	Headers map[string]string `json:"headers"`
}

// services are the signing names a console call may name.
var services = map[string]bool{
	"lambda": true, "s3": true, "logs": true, "monitoring": true, "xray": true, "scheduler": true,
	"apigateway": true, "sqs": true, "dynamodb": true, "sns": true, "iam": true, "sts": true,
}

// withheld are the headers the console sets itself, or never forwards.
var withheld = map[string]bool{
	"Authorization": true, "Cookie": true, "Host": true, "Content-Length": true, "Transfer-Encoding": true,
	"Connection": true, "X-Amz-Date": true, "X-Amz-Security-Token": true, "X-Amz-Content-Sha256": true,
	"X-Console-Csrf": true, "X-Console-Call": true, "Expect": true, "Te": true, "Upgrade": true,
	"X-Amz-Decoded-Content-Length": true,
}

var signer = v4.NewSigner()

// call signs the AWS request the page sent and serves it in process
// through the front door, streaming the answer back as it is.
func (c *Console) call(w http.ResponseWriter, r *http.Request, ss *session) {
	spec, err := parseCall(r.Header.Get(CallHeader))
	if err != nil {
		fail(w, http.StatusBadRequest, "InvalidCall", err.Error())
		return
	}
	api := c.d.API
	var h http.Handler
	if api != nil {
		h = api()
	}
	if h == nil {
		fail(w, http.StatusServiceUnavailable, "Starting", "The server is starting.")
		return
	}
	if r.ContentLength > c.d.MaxBody {
		fail(w, http.StatusRequestEntityTooLarge, "RequestTooLarge", "The console sends bodies of at most "+sizeText(c.d.MaxBody)+"; use the CLI for larger ones.")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, c.d.MaxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			fail(w, http.StatusRequestEntityTooLarge, "RequestTooLarge", "The console sends bodies of at most "+sizeText(c.d.MaxBody)+"; use the CLI for larger ones.")
			return
		}
		fail(w, http.StatusBadRequest, "IncompleteBody", "The request body could not be read.")
		return
	}
	req, err := c.sign(r, spec, body, ss)
	if err != nil {
		fail(w, http.StatusBadRequest, "InvalidCall", err.Error())
		return
	}
	h.ServeHTTP(&answer{ResponseWriter: w}, req)
}

// parseCall reads and checks the X-Console-Call header.
func parseCall(v string) (Call, error) {
	var spec Call
	if v == "" {
		return spec, errors.New("the call names no AWS request (" + CallHeader + " header)")
	}
	raw, err := url.PathUnescape(v)
	if err == nil {
		err = json.Unmarshal([]byte(raw), &spec)
	}
	if err != nil {
		return spec, errors.New("the " + CallHeader + " header is not URI-encoded JSON")
	}
	if !services[spec.Service] {
		return spec, errors.New("the console does not call service " + strconvQuote(spec.Service))
	}
	switch spec.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch:
	default:
		return spec, errors.New("the console does not send method " + strconvQuote(spec.Method))
	}
	if !strings.HasPrefix(spec.Path, "/") || strings.HasPrefix(spec.Path, "//") || strings.HasPrefix(spec.Path, Path) ||
		strings.ContainsAny(spec.Path, "?#\r\n ") || strings.ContainsAny(spec.Query, "#\r\n ") {
		return spec, errors.New("the call's path must be an absolute, URI-encoded path outside " + Path)
	}
	return spec, nil
}

// sign builds the AWS request of spec with body, from the browser's
// request r, signed with the session's credentials.
func (c *Console) sign(r *http.Request, spec Call, body []byte, ss *session) (*http.Request, error) {
	target := "http://" + c.d.Host + spec.Path
	if spec.Query != "" {
		target += "?" + spec.Query
	}
	req, err := http.NewRequestWithContext(r.Context(), spec.Method, target, bytes.NewReader(body))
	if err != nil {
		return nil, errors.New("the call's path or query is not a valid URI")
	}
	if len(body) == 0 {
		req.Body = http.NoBody
	}
	for k, v := range spec.Headers {
		k = http.CanonicalHeaderKey(k)
		if withheld[k] || strings.ContainsAny(v, "\r\n") {
			continue
		}
		req.Header.Set(k, v)
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", hash)
	req.RemoteAddr, req.TLS = r.RemoteAddr, r.TLS
	if ua := r.Header.Get("User-Agent"); ua != "" {
		req.Header.Set("User-Agent", "aloft-console "+ua)
	}
	err = signer.SignHTTP(r.Context(), ss.who.Credentials, req, hash, spec.Service, c.d.Region, c.d.Now(), func(o *v4.SignerOptions) {
		o.DisableURIPathEscaping = spec.Service == "s3"
	})
	if err != nil {
		return nil, errors.New("the call could not be signed: " + err.Error())
	}
	return req, nil
}

// answer passes the front door's answer to the browser, without any
// cookie it might set.
type answer struct {
	http.ResponseWriter
	wrote bool
}

func (a *answer) WriteHeader(status int) {
	if !a.wrote {
		a.wrote = true
		a.Header().Del("Set-Cookie")
	}
	a.ResponseWriter.WriteHeader(status)
}

func (a *answer) Write(b []byte) (int, error) {
	if !a.wrote {
		a.WriteHeader(http.StatusOK)
	}
	return a.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (a *answer) Unwrap() http.ResponseWriter { return a.ResponseWriter }

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func sizeText(n int64) string {
	b, _ := json.Marshal(n >> 20)
	return string(b) + " MiB"
}
