// Package sigv4 verifies AWS Signature Version 4 on incoming requests.
//
// Both forms AWS clients send are accepted: the Authorization header
// ("AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...")
// with X-Amz-Date, and the presigned query (X-Amz-Algorithm,
// X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders,
// X-Amz-Signature). The canonical request is rebuilt from the request as it
// arrived: the path as sent (encoded once more for every service but s3),
// the query re-encoded and sorted, and the signed headers trimmed and
// joined.
//
// Verify runs on every invocation, so it builds the canonical request and
// string to sign in pooled buffers, computes the final HMAC without
// allocating, and caches derived signing keys per secret, day, region and
// service.
package sigv4

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	algorithm       = "AWS4-HMAC-SHA256"
	terminator      = "aws4_request"
	timeFormat      = "20060102T150405Z"
	unsignedPayload = "UNSIGNED-PAYLOAD"
	emptyHash       = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

	defaultMaxSkew = 15 * time.Minute
	maxExpires     = 7 * 24 * 60 * 60 // seconds
)

// Verifier checks SigV4 signatures. The zero value rejects every key; set
// Lookup. A Verifier must not be copied after first use.
type Verifier struct {
	// Lookup returns the secret access key for an access key ID.
	Lookup func(accessKeyID string) (secret string, ok bool)
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// MaxSkew is how far a request's X-Amz-Date may lie from Now; zero or
	// less means 15 minutes.
	MaxSkew time.Duration

	keys keyCache
}

// Identity describes a verified request. Its strings may share memory with
// the request's headers or query.
type Identity struct {
	AccessKeyID  string
	Region       string    // region of the credential scope
	Service      string    // service of the credential scope
	Date         string    // day of the credential scope, YYYYMMDD
	Time         time.Time // X-Amz-Date
	SessionToken string    // X-Amz-Security-Token, if sent
	// PayloadHash is the payload hash the signature covers: the hash passed
	// to Verify, the x-amz-content-sha256 header, or for presigned requests
	// the X-Amz-Content-Sha256 query value or UNSIGNED-PAYLOAD.
	PayloadHash string
	Presigned   bool // the signature came in the query string
}

// auth holds the parsed signing parameters of one request.
type auth struct {
	accessKey, date, region, service string
	signedHeaders                    string
	signature                        string
	amzDate                          string
	token                            string
	payload                          string
	expires                          int64 // presigned only
	presigned                        bool
}

// Verify checks the signature on r and returns who signed it. It does not
// read r.Body.
//
// payloadHash is the lower-case hex SHA-256 of the body (see PayloadHash),
// which the caller has read already. A caller that streams the body instead
// passes "": the hash the client declared in x-amz-content-sha256 (which may
// be a literal such as UNSIGNED-PAYLOAD) is then used, and the caller must
// check the body against Identity.PayloadHash itself. Presigned requests
// ignore payloadHash: they sign X-Amz-Content-Sha256 from the query, or
// UNSIGNED-PAYLOAD.
//
// Failures are returned as *Error.
func (v *Verifier) Verify(r *http.Request, payloadHash string) (Identity, error) {
	var p Pending
	if e := v.verify(r, payloadHash, &p); e != nil {
		e.presigned = p.a.presigned
		return Identity{}, e
	}
	return p.identity(), nil
}

// Pending is a request whose signature form, date and key Precheck has
// accepted, waiting for its body's hash. Its zero value is ready for
// Precheck, which starts it afresh for each request; it must not be
// shared between goroutines.
type Pending struct {
	v      *Verifier
	a      auth
	t      time.Time // X-Amz-Date
	secret string
}

// Precheck does what Verify can do before the body is read: it refuses a
// request without a signature, a malformed one, one outside the allowed
// time and one whose key is unknown, so that such requests are answered
// without reading their bodies. p.Verify must still follow, with the
// body's hash; it does not parse the request again. Failures are returned
// as *Error, the same as Verify's for the same request.
func (v *Verifier) Precheck(r *http.Request, p *Pending) error {
	*p = Pending{}
	e := v.parse(r, &p.a)
	if e == nil {
		e = v.admit(p)
	}
	if e != nil {
		e.presigned = p.a.presigned
		return e
	}
	p.v = v
	return nil
}

// Verify finishes the check Precheck began, with the body's hash as
// Verifier.Verify takes it, and returns who signed the request: r must be
// the request Precheck accepted. A Pending that Precheck refused or never
// saw verifies nothing.
func (p *Pending) Verify(r *http.Request, payloadHash string) (Identity, error) {
	if p.v == nil {
		return Identity{}, newError(Missing, msgMissing)
	}
	e := setPayload(r, payloadHash, &p.a)
	if e == nil {
		e = p.finish(r)
	}
	if e != nil {
		e.presigned = p.a.presigned
		return Identity{}, e
	}
	return p.identity(), nil
}

// verify does the work of Verify. Every *Error kind is checked in order:
// Missing and Malformed, then Expired, UnknownKey and Mismatch.
func (v *Verifier) verify(r *http.Request, payloadHash string, p *Pending) *Error {
	p.v = v
	if e := v.parse(r, &p.a); e != nil {
		return e
	}
	if e := setPayload(r, payloadHash, &p.a); e != nil {
		return e
	}
	s := getScratch()
	defer putScratch(s)
	if e := s.canonicalRequest(r, &p.a); e != nil {
		return e
	}
	if e := v.admit(p); e != nil {
		return e
	}
	return p.sign(s)
}

// admit checks a parsed request's time and looks its key's secret up.
func (v *Verifier) admit(p *Pending) *Error {
	p.t, _ = parseAmzDate(p.a.amzDate)
	if e := v.checkTime(&p.a, p.t); e != nil {
		return e
	}
	known := false
	if v.Lookup != nil {
		p.secret, known = v.Lookup(p.a.accessKey)
	}
	if !known {
		return unknownKeyError(p.a.service)
	}
	return nil
}

// finish builds the canonical request of an admitted request and checks
// its signature.
func (p *Pending) finish(r *http.Request) *Error {
	s := getScratch()
	defer putScratch(s)
	if e := s.canonicalRequest(r, &p.a); e != nil {
		return e
	}
	return p.sign(s)
}

// sign compares the signature computed over s's canonical request with
// the one the request carries.
func (p *Pending) sign(s *scratch) *Error {
	var want [sha256.Size]byte
	if !decodeHex(&want, p.a.signature) {
		return mismatchError(p.a.service)
	}
	key := p.v.keys.get(p.secret, p.a.date, p.a.region, p.a.service)
	got := s.sign(&key, &p.a)
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return mismatchError(p.a.service)
	}
	return nil
}

// identity is who signed a verified request.
func (p *Pending) identity() Identity {
	return Identity{
		AccessKeyID:  p.a.accessKey,
		Region:       p.a.region,
		Service:      p.a.service,
		Date:         p.a.date,
		Time:         p.t,
		SessionToken: p.a.token,
		PayloadHash:  p.a.payload,
		Presigned:    p.a.presigned,
	}
}

// parse fills a from r's Authorization header or presigned query.
func (v *Verifier) parse(r *http.Request, a *auth) *Error {
	if r.URL == nil {
		return malformed("The request has no URL.")
	}
	hdr := r.Header["Authorization"]
	presign := hasQueryKey(r.URL.RawQuery, "X-Amz-Algorithm") ||
		hasQueryKey(r.URL.RawQuery, "X-Amz-Signature") ||
		hasQueryKey(r.URL.RawQuery, "X-Amz-Credential")
	switch {
	case len(hdr) == 0 && !presign:
		return newError(Missing, msgMissing)
	case len(hdr) > 0 && presign:
		return malformed(msgBothForms)
	case presign:
		a.presigned = true
		return parseQuery(r.URL.RawQuery, a)
	}
	if len(hdr) > 1 {
		return malformed("Authorization header must be sent only once.")
	}
	if e := parseAuthorization(hdr[0], requestDate(r.Header), a); e != nil {
		return e
	}
	a.token = r.Header.Get("X-Amz-Security-Token")
	return nil
}

// setPayload sets the payload hash a signed Authorization header covers:
// payloadHash, or without it the one x-amz-content-sha256 declares. A
// presigned query names its own.
func setPayload(r *http.Request, payloadHash string, a *auth) *Error {
	if a.presigned {
		return nil
	}
	a.payload = payloadHash
	if a.payload == "" {
		vals, ok := r.Header["X-Amz-Content-Sha256"]
		if !ok || len(vals) != 1 || vals[0] == "" {
			return malformed(msgContentSHA)
		}
		a.payload = vals[0]
	}
	return nil
}

// requestDate returns the signed time of a request in the form of
// X-Amz-Date: that header, or without it the standard Date header (an
// HTTP date, which a signer may sign instead), converted; "" if neither is
// usable.
func requestDate(h http.Header) string {
	if v := h.Get("X-Amz-Date"); v != "" {
		return v
	}
	v := h.Get("Date")
	if v == "" {
		return ""
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return v // refused as a malformed date
	}
	return t.UTC().Format("20060102T150405Z")
}

// parseAuthorization parses an Authorization header value and the
// X-Amz-Date header into a.
func parseAuthorization(h, amzDate string, a *auth) *Error {
	alg, rest, _ := strings.Cut(h, " ")
	if alg != algorithm {
		if strings.HasPrefix(alg, "AWS4-") {
			return malformed(msgAlgorithm)
		}
		return missingParamsError(false, false, false, amzDate != "", h)
	}
	var cred, signed, sig string
	var haveCred, haveSigned, haveSig bool
	for rest != "" {
		var part string
		part, rest, _ = strings.Cut(rest, ",")
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, val, ok := strings.Cut(part, "=")
		if !ok {
			return pairError(part, h)
		}
		switch k {
		case "Credential":
			if haveCred {
				return malformed("Authorization header has more than one 'Credential' parameter.")
			}
			cred, haveCred = val, true
		case "SignedHeaders":
			if haveSigned {
				return malformed("Authorization header has more than one 'SignedHeaders' parameter.")
			}
			signed, haveSigned = val, true
		case "Signature":
			if haveSig {
				return malformed("Authorization header has more than one 'Signature' parameter.")
			}
			sig, haveSig = val, true
		default:
			return malformed("'" + k + "' is not a valid Authorization header parameter: '" + h + "'.")
		}
	}
	if cred == "" || signed == "" || sig == "" || amzDate == "" {
		return missingParamsError(cred != "", signed != "", sig != "", amzDate != "", h)
	}
	if e := parseCredential(cred, a); e != nil {
		return e
	}
	if e := checkSignedHeaders(signed); e != nil {
		return e
	}
	if e := checkDate(amzDate, a.date); e != nil {
		return e
	}
	a.signedHeaders = signed
	a.signature = sig
	a.amzDate = amzDate
	return nil
}

// parseQuery parses the presigned query parameters into a.
func parseQuery(raw string, a *auth) *Error {
	var alg, cred, date, expires, signed, sig, token, sha string
	var counts [8]int
	names := [8]string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
		"X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Security-Token", "X-Amz-Content-Sha256"}
	dst := [8]*string{&alg, &cred, &date, &expires, &signed, &sig, &token, &sha}
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		k, val, _ := strings.Cut(pair, "=")
		for i, n := range names {
			if k != n {
				continue
			}
			u, err := url.QueryUnescape(val)
			if err != nil {
				return malformed("Invalid query parameter encoding: " + n)
			}
			counts[i]++
			*dst[i] = u
		}
	}
	for i, c := range counts {
		if c > 1 {
			return malformed("Query parameter " + names[i] + " must be sent only once.")
		}
		if i < 6 && (c == 0 || *dst[i] == "") {
			return malformed(msgQueryParams)
		}
	}
	if alg != algorithm {
		return malformed("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"")
	}
	if e := parseCredential(cred, a); e != nil {
		return e
	}
	if e := checkSignedHeaders(signed); e != nil {
		return e
	}
	if e := checkDate(date, a.date); e != nil {
		return e
	}
	if neg, found := strings.CutPrefix(expires, "-"); found && allDigits(neg) {
		return malformed(msgExpiresNegative)
	}
	if !allDigits(expires) {
		return malformed(msgExpiresNumber)
	}
	n, err := strconv.ParseInt(expires, 10, 64)
	if err != nil || n > maxExpires {
		return newError(Expired, msgExpiresTooLarge)
	}
	a.expires = n
	a.signedHeaders = signed
	a.signature = sig
	a.amzDate = date
	a.token = token
	a.payload = unsignedPayload
	if sha != "" {
		a.payload = sha
	}
	return nil
}

// parseCredential splits "AKID/YYYYMMDD/region/service/aws4_request".
func parseCredential(cred string, a *auth) *Error {
	if strings.Count(cred, "/") != 4 {
		return credentialError(cred)
	}
	rest := cred
	var parts [5]string
	for i := range 4 {
		parts[i], rest, _ = strings.Cut(rest, "/")
	}
	parts[4] = rest
	for _, p := range parts {
		if p == "" {
			return credentialError(cred)
		}
	}
	if parts[4] != terminator {
		return terminatorError(parts[4])
	}
	if len(parts[1]) != 8 || !allDigits(parts[1]) {
		return malformed("Invalid credential date '" + parts[1] + "'. Date must be in YYYYMMDD format.")
	}
	a.accessKey, a.date, a.region, a.service = parts[0], parts[1], parts[2], parts[3]
	return nil
}

// checkSignedHeaders requires a ';'-separated list of non-empty names that
// includes host.
func checkSignedHeaders(list string) *Error {
	host := false
	for rest := list; ; {
		name, more, found := strings.Cut(rest, ";")
		if name == "" {
			return malformed("SignedHeaders contains an empty header name: '" + list + "'.")
		}
		if strings.EqualFold(name, "host") {
			host = true
		}
		if !found {
			break
		}
		rest = more
	}
	if !host {
		return malformed(msgHostUnsigned)
	}
	return nil
}

// checkDate validates an X-Amz-Date value against the scope day.
func checkDate(amzDate, scopeDate string) *Error {
	if _, ok := parseAmzDate(amzDate); !ok {
		return dateFormatError(amzDate)
	}
	if amzDate[:8] != scopeDate {
		return scopeDateError(scopeDate, amzDate)
	}
	return nil
}

// checkTime applies the clock-skew and presigned-expiry rules.
func (v *Verifier) checkTime(a *auth, t time.Time) *Error {
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	now = now.UTC().Truncate(time.Second)
	skew := v.MaxSkew
	if skew <= 0 {
		skew = defaultMaxSkew
	}
	if a.presigned {
		if t.Sub(now) > skew {
			return newError(Expired, msgPresignNotYet)
		}
		if now.Sub(t) > time.Duration(a.expires)*time.Second {
			return newError(Expired, msgPresignExpired)
		}
		return nil
	}
	if d := now.Sub(t); d > skew || d < -skew {
		return skewError(a.service, t, now, skew)
	}
	return nil
}

// parseAmzDate parses the ISO-8601 basic form YYYYMMDD'T'HHMMSS'Z' strictly
// and without allocating.
func parseAmzDate(s string) (time.Time, bool) {
	if len(s) != 16 || s[8] != 'T' || s[15] != 'Z' || !allDigits(s[:8]) || !allDigits(s[9:15]) {
		return time.Time{}, false
	}
	num := func(i, n int) int {
		v := 0
		for _, c := range []byte(s[i : i+n]) {
			v = v*10 + int(c-'0')
		}
		return v
	}
	y, mo, d := num(0, 4), num(4, 2), num(6, 2)
	h, mi, sec := num(9, 2), num(11, 2), num(13, 2)
	if mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(mo), d, h, mi, sec, 0, time.UTC)
	if t.Day() != d { // e.g. February 30th
		return time.Time{}, false
	}
	return t, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// decodeHex decodes a 64-digit hex signature into dst.
func decodeHex(dst *[sha256.Size]byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	for i := range dst {
		hi, ok1 := unhex(s[2*i])
		lo, ok2 := unhex(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

// hasQueryKey reports whether the raw query has a parameter named key.
func hasQueryKey(raw, key string) bool {
	for raw != "" {
		i := strings.Index(raw, key)
		if i < 0 {
			return false
		}
		end := i + len(key)
		if (i == 0 || raw[i-1] == '&') && (end == len(raw) || raw[end] == '=' || raw[end] == '&') {
			return true
		}
		raw = raw[end:]
	}
	return false
}

// PayloadHash returns the lower-case hex SHA-256 of body, the form Verify
// expects. Its only allocation is the returned string, and none for an
// empty body.
func PayloadHash(body []byte) string {
	if len(body) == 0 {
		return emptyHash
	}
	sum := sha256.Sum256(body)
	var dst [2 * sha256.Size]byte
	hex.Encode(dst[:], sum[:])
	return string(dst[:])
}

// Scope returns the region and service of r's credential scope, from the
// Authorization header or the X-Amz-Credential query parameter, without
// verifying anything. A router uses it to pick a service before reading the
// body; ok is false when no well-formed credential is present.
func Scope(r *http.Request) (region, service string, ok bool) {
	var cred string
	if h := r.Header.Get("Authorization"); h != "" {
		_, rest, _ := strings.Cut(h, " ")
		for rest != "" && cred == "" {
			var part string
			part, rest, _ = strings.Cut(rest, ",")
			if c, found := strings.CutPrefix(strings.TrimSpace(part), "Credential="); found {
				cred = c
			}
		}
	} else {
		for raw := r.URL.RawQuery; raw != "" && cred == ""; {
			var pair string
			pair, raw, _ = strings.Cut(raw, "&")
			if c, found := strings.CutPrefix(pair, "X-Amz-Credential="); found {
				u, err := url.QueryUnescape(c)
				if err != nil {
					return "", "", false
				}
				cred = u
			}
		}
	}
	var a auth
	if cred == "" || parseCredential(cred, &a) != nil {
		return "", "", false
	}
	return a.region, a.service, true
}
