package lambdaapi

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/fault"
)

// CodePath is the path under which code download links live; the code's
// SHA-256 in hex follows it.
const CodePath = "/aloft/v1/code/"

// DefaultCodeLinkTTL is how long a code download link stays valid unless
// CodeLinks.TTL says otherwise: ten minutes, as for the presigned S3 URLs
// Lambda gives in GetFunction's Code.Location.
const DefaultCodeLinkTTL = 10 * time.Minute

// CodeLinks makes and serves the links GetFunction returns as
// Code.Location. As with Lambda's, a link needs no AWS credentials, so
// curl or a browser can fetch it, but it works only for the code it names
// and only until it expires: the link carries its expiry time (Unix
// seconds, "expires") and a token, the HMAC-SHA256 under Key of the code
// digest and that time, compared in constant time. Refusals are S3's XML
// errors: 403 AccessDenied, with "Request has expired" once the link has
// expired.
//
// A CodeLinks is safe for concurrent use once its fields are set.
type CodeLinks struct {
	// Key signs the links. It must be secret; 32 random bytes or more.
	Key []byte
	// TTL is how long a link stays valid; zero or less means
	// DefaultCodeLinkTTL.
	TTL time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Zip returns the stored code with the given digest. An error whose
	// function code is ENOTFOUND means there is no such code.
	Zip func(ctx context.Context, codeHex string) ([]byte, error)
	// Logger receives failures to read code; nil discards them.
	Logger *slog.Logger
}

// URL returns a link to the code with the given digest on the server at
// base ("http://host:port"), valid from now for the link lifetime.
func (c *CodeLinks) URL(base, codeHex string) string {
	expires := strconv.FormatInt(c.now().Add(c.ttl()).Unix(), 10)
	q := url.Values{"expires": {expires}, "token": {c.token(codeHex, expires)}}
	return base + CodePath + url.PathEscape(codeHex) + "?" + q.Encode()
}

// ServeHTTP answers GET and HEAD for a link made by URL.
func (c *CodeLinks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Amz-Request-Id", s3RequestID())
	h.Set("X-Amz-Id-2", s3HostID())
	codeHex, ok := strings.CutPrefix(r.URL.Path, CodePath)
	if !ok || codeHex == "" || strings.Contains(codeHex, "/") {
		writeS3Error(w, r, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.", awsproto.Field{Name: "Key", Value: codeHex})
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeS3Error(w, r, http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.")
		return
	}
	q := r.URL.Query()
	expires, token := q.Get("expires"), q.Get("token")
	exp, err := strconv.ParseInt(expires, 10, 64)
	if len(c.Key) == 0 || err != nil || len(q["expires"]) != 1 || len(q["token"]) != 1 ||
		!hmac.Equal([]byte(token), []byte(c.token(codeHex, expires))) {
		writeS3Error(w, r, http.StatusForbidden, "AccessDenied", "Access Denied")
		return
	}
	if now := c.now(); now.Unix() > exp {
		writeS3Error(w, r, http.StatusForbidden, "AccessDenied", "Request has expired",
			awsproto.Field{Name: "Expires", Value: time.Unix(exp, 0).UTC().Format(time.RFC3339)},
			awsproto.Field{Name: "ServerTime", Value: now.UTC().Format(time.RFC3339)})
		return
	}
	b, err := c.Zip(r.Context(), codeHex)
	if err != nil {
		if fault.KindOf(err) == fault.NotFound {
			writeS3Error(w, r, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.", awsproto.Field{Name: "Key", Value: codeHex})
			return
		}
		if c.Logger != nil {
			c.Logger.Error("code download failed", "code", codeHex, "err", err)
		}
		writeS3Error(w, r, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
		return
	}
	h.Set("Content-Type", "application/zip")
	h.Set("ETag", `"`+codeHex+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
}

// token returns the MAC that authorises a link to codeHex until expires.
func (c *CodeLinks) token(codeHex, expires string) string {
	m := hmac.New(sha256.New, c.Key)
	m.Write([]byte("aloft code link\n" + codeHex + "\n" + expires))
	return hex.EncodeToString(m.Sum(nil))
}

func (c *CodeLinks) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *CodeLinks) ttl() time.Duration {
	if c.TTL > 0 {
		return c.TTL
	}
	return DefaultCodeLinkTTL
}

// writeS3Error writes an error as S3 does: the XML document, with the
// further fields (those S3 adds when a presigned request has expired,
// say), or for HEAD the status alone.
func writeS3Error(w http.ResponseWriter, r *http.Request, status int, code, msg string, fields ...awsproto.Field) {
	h := w.Header()
	fields = append(fields, awsproto.Field{Name: "HostId", Value: h.Get("X-Amz-Id-2")})
	awsproto.WriteError(w, r, awsproto.RESTXML,
		&awsproto.Error{Status: status, Code: code, Message: msg, Fields: fields}, h.Get("X-Amz-Request-Id"))
}

// s3RequestID returns an ID in the shape of S3's: 16 upper-case hex digits.
func s3RequestID() string {
	var b [8]byte
	rand.Read(b[:]) // crypto/rand.Read never fails
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

// s3HostID returns an opaque x-amz-id-2 value.
func s3HostID() string {
	var b [24]byte
	rand.Read(b[:]) // crypto/rand.Read never fails
	return base64.StdEncoding.EncodeToString(b[:])
}
