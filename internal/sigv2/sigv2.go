// Package sigv2 verifies AWS Signature Version 2 as S3 still accepts it:
// the Authorization header "AWS AccessKeyId:Signature" and the presigned
// query (AWSAccessKeyId, Expires, Signature) that AWS CLI v1's
// `s3 presign` and boto3's default generate_presigned_url make. The
// signature is the base64 HMAC-SHA1 of the string to sign: the method,
// Content-MD5, Content-Type, the Date (or, presigned, Expires), the
// x-amz- headers and the resource with its sub-resources.
package sigv2

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Identity is who signed a request.
type Identity struct {
	AccessKeyID  string
	SessionToken string // x-amz-security-token, if sent
	Presigned    bool   // the signature came in the query string
}

// Errors, which S3 words as its own.
var (
	ErrMalformed = errors.New("sigv2: malformed signature")                  // AuthorizationHeaderMalformed / AccessDenied
	ErrUnknown   = errors.New("sigv2: unknown access key")                   // InvalidAccessKeyId
	ErrMismatch  = errors.New("sigv2: signature does not match")             // SignatureDoesNotMatch
	ErrExpired   = errors.New("sigv2: request has expired")                  // AccessDenied, Request has expired
	ErrSkewed    = errors.New("sigv2: request time too far from the server") // RequestTimeTooSkewed
)

// Signed reports whether r carries a Signature Version 2 signature.
func Signed(r *http.Request) bool {
	if strings.HasPrefix(r.Header.Get("Authorization"), "AWS ") {
		return true
	}
	q := r.URL.Query()
	return q.Get("AWSAccessKeyId") != "" && q.Get("Signature") != ""
}

// Verifier checks Signature Version 2 signatures.
type Verifier struct {
	// Lookup returns the secret access key for an access key ID.
	Lookup func(accessKeyID string) (secret string, ok bool)
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// VirtualBucket returns the bucket a virtual-host style Host names,
	// which the resource signed starts with; nil means path style only.
	VirtualBucket func(host string) (string, bool)
}

// maxSkew is how far a header-signed request's Date may lie from now.
const maxSkew = 15 * time.Minute

// Verify checks r's signature and returns who signed it.
func (v *Verifier) Verify(r *http.Request) (Identity, error) {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	var id Identity
	var sig, date string
	q := r.URL.Query()
	if auth := r.Header.Get("Authorization"); strings.HasPrefix(auth, "AWS ") {
		key, s, ok := strings.Cut(strings.TrimPrefix(auth, "AWS "), ":")
		if !ok || key == "" || s == "" {
			return id, ErrMalformed
		}
		id.AccessKeyID, sig = key, s
		if r.Header.Get("X-Amz-Date") == "" {
			date = r.Header.Get("Date")
			t, err := parseDate(date)
			if err != nil {
				return id, ErrMalformed
			}
			if d := now().Sub(t); d > maxSkew || d < -maxSkew {
				return id, ErrSkewed
			}
		} else if t, err := parseDate(r.Header.Get("X-Amz-Date")); err != nil {
			return id, ErrMalformed
		} else if d := now().Sub(t); d > maxSkew || d < -maxSkew {
			return id, ErrSkewed
		}
		id.SessionToken = r.Header.Get("X-Amz-Security-Token")
	} else {
		id.AccessKeyID, sig, date = q.Get("AWSAccessKeyId"), q.Get("Signature"), q.Get("Expires")
		if id.AccessKeyID == "" || sig == "" || date == "" {
			return id, ErrMalformed
		}
		exp, err := strconv.ParseInt(date, 10, 64)
		if err != nil {
			return id, ErrMalformed
		}
		if now().Unix() > exp {
			return id, ErrExpired
		}
		id.Presigned = true
		id.SessionToken = q.Get("x-amz-security-token")
	}
	secret, ok := "", false
	if v.Lookup != nil {
		secret, ok = v.Lookup(id.AccessKeyID)
	}
	if !ok {
		return id, ErrUnknown
	}
	want := sign(secret, v.stringToSign(r, date, id.Presigned))
	got, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || subtle.ConstantTimeCompare(got, want) != 1 {
		return id, ErrMismatch
	}
	return id, nil
}

// parseDate reads an HTTP date, with a zone name or a numeric offset.
func parseDate(s string) (time.Time, error) {
	if t, err := http.ParseTime(s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC1123Z, s)
}

func sign(secret, s string) []byte {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(s))
	return m.Sum(nil)
}

// subresources are the query parameters the signed resource keeps.
var subresources = []string{"acl", "cors", "delete", "lifecycle", "location", "logging", "notification", "partNumber",
	"policy", "requestPayment", "response-cache-control", "response-content-disposition", "response-content-encoding",
	"response-content-language", "response-content-type", "response-expires", "restore", "tagging", "torrent",
	"uploadId", "uploads", "versionId", "versioning", "versions", "website"}

// stringToSign builds what the signature covers.
func (v *Verifier) stringToSign(r *http.Request, date string, presigned bool) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(r.Header.Get("Content-MD5"))
	b.WriteByte('\n')
	b.WriteString(r.Header.Get("Content-Type"))
	b.WriteByte('\n')
	b.WriteString(date)
	b.WriteByte('\n')
	// The x-amz- headers, lower case and sorted, values joined by commas.
	// A presigned request carries them in its query (its session token
	// among them), where they are signed just the same.
	amz := map[string][]string{}
	for k, vals := range r.Header {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-amz-") {
			amz[lk] = append(amz[lk], vals...)
		}
	}
	if presigned {
		for k, vals := range r.URL.Query() {
			if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-amz-") {
				amz[lk] = append(amz[lk], vals...)
			}
		}
	}
	names := make([]string, 0, len(amz))
	for n := range amz {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		vals := amz[n]
		for i := range vals {
			vals[i] = strings.Join(strings.Fields(vals[i]), " ")
		}
		b.WriteString(n)
		b.WriteByte(':')
		b.WriteString(strings.Join(vals, ","))
		b.WriteByte('\n')
	}
	// The resource: /bucket for a virtual host, the path as sent, and the
	// sub-resources in order.
	if v.VirtualBucket != nil {
		if bucket, ok := v.VirtualBucket(r.Host); ok {
			b.WriteString("/" + bucket)
		}
	}
	p := r.URL.EscapedPath()
	if p == "" {
		p = "/"
	}
	b.WriteString(p)
	q := r.URL.Query()
	sep := byte('?')
	for _, s := range subresources {
		vals, ok := q[s]
		if !ok {
			continue
		}
		b.WriteByte(sep)
		sep = '&'
		b.WriteString(s)
		if len(vals) > 0 && vals[0] != "" {
			b.WriteByte('=')
			b.WriteString(vals[0])
		}
	}
	return b.String()
}

// Presign returns the query a Signature Version 2 presigned request for
// method on the resource path (/bucket/key) carries, expiring at expires;
// for tests and tools.
func Presign(method, path, keyID, secret string, expires time.Time) url.Values {
	s := method + "\n\n\n" + strconv.FormatInt(expires.Unix(), 10) + "\n" + path
	return url.Values{"AWSAccessKeyId": {keyID}, "Expires": {strconv.FormatInt(expires.Unix(), 10)},
		"Signature": {base64.StdEncoding.EncodeToString(sign(secret, s))}}
}
