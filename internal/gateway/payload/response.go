package payload

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// ErrMalformed is wrapped by the errors of Decode: the function's answer
// does not follow its format's rules, and the caller gets a 502.
var ErrMalformed = errors.New("malformed Lambda proxy response")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// Response is the HTTP response a function's answer asks for.
type Response struct {
	Status  int
	Header  http.Header // canonical names; never nil after a successful Decode
	Cookies []string    // each becomes a Set-Cookie header
	Body    string
}

var jsonContentType = []string{"application/json"}

// Decode reads a function's answer under the rules of format f.
//
// 2.0 and function URLs: a JSON object with a "statusCode" member is a
// response object (statusCode, headers, multiValueHeaders, cookies, body,
// isBase64Encoded); any other valid JSON is a 200 application/json
// response whose body is that JSON, or the text of a JSON string.
//
// 1.0: the answer must be a response object with a statusCode.
//
// Anything else is ErrMalformed.
func Decode(f Format, answer []byte) (*Response, error) {
	a := bytes.TrimSpace(answer)
	if len(a) == 0 {
		return nil, malformed("the function returned nothing")
	}
	if a[0] == '{' {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(a, &m); err != nil {
			return nil, malformed("the answer is not valid JSON: %v", err)
		}
		if _, ok := m["statusCode"]; ok {
			return fields(f, m)
		}
		if f == V1 {
			return nil, malformed("statusCode is missing")
		}
		return &Response{Status: http.StatusOK, Header: http.Header{"Content-Type": jsonContentType}, Body: string(a)}, nil
	}
	if f == V1 {
		return nil, malformed("the answer is not a JSON object")
	}
	if a[0] == '"' {
		var s string
		if err := json.Unmarshal(a, &s); err != nil {
			return nil, malformed("the answer is not valid JSON: %v", err)
		}
		return &Response{Status: http.StatusOK, Header: http.Header{"Content-Type": jsonContentType}, Body: s}, nil
	}
	if !json.Valid(a) {
		return nil, malformed("the answer is not valid JSON")
	}
	return &Response{Status: http.StatusOK, Header: http.Header{"Content-Type": jsonContentType}, Body: string(a)}, nil
}

// fields reads a response object.
func fields(f Format, m map[string]json.RawMessage) (*Response, error) {
	r := &Response{Header: http.Header{}}
	status, err := statusCode(m["statusCode"])
	if err != nil {
		return nil, err
	}
	r.Status = status
	if raw := m["headers"]; !isNull(raw) {
		var hs map[string]json.RawMessage
		if err := json.Unmarshal(raw, &hs); err != nil {
			return nil, malformed("headers must be an object of strings")
		}
		for k, v := range hs {
			s, err := scalar(v)
			if err != nil {
				return nil, malformed("header %q: %v", k, err)
			}
			addHeader(r.Header, k, s, true)
		}
	}
	if raw := m["multiValueHeaders"]; !isNull(raw) {
		var hs map[string][]json.RawMessage
		if err := json.Unmarshal(raw, &hs); err != nil {
			return nil, malformed("multiValueHeaders must be an object of arrays of strings")
		}
		for k, vs := range hs {
			// The values of multiValueHeaders replace those of headers.
			delete(r.Header, http.CanonicalHeaderKey(k))
			for _, v := range vs {
				s, err := scalar(v)
				if err != nil {
					return nil, malformed("multiValueHeaders %q: %v", k, err)
				}
				addHeader(r.Header, k, s, false)
			}
		}
	}
	if raw := m["cookies"]; f != V1 && !isNull(raw) {
		if err := json.Unmarshal(raw, &r.Cookies); err != nil {
			return nil, malformed("cookies must be an array of strings")
		}
		for i, c := range r.Cookies {
			if strings.ContainsAny(c, "\r\n") {
				return nil, malformed("cookie %d holds a line break", i)
			}
		}
	}
	if raw := m["body"]; !isNull(raw) {
		if err := json.Unmarshal(raw, &r.Body); err != nil {
			return nil, malformed("body must be a string")
		}
	}
	if raw := m["isBase64Encoded"]; !isNull(raw) {
		var enc bool
		if err := json.Unmarshal(raw, &enc); err != nil {
			return nil, malformed("isBase64Encoded must be true or false")
		}
		if enc {
			b, err := base64.StdEncoding.DecodeString(r.Body)
			if err != nil {
				return nil, malformed("the body is not valid base64: %v", err)
			}
			r.Body = string(b)
		}
	}
	return r, nil
}

func isNull(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

// statusCode reads a status code, a JSON integer or a string holding one,
// from 100 to 599.
func statusCode(raw json.RawMessage) (int, error) {
	s := string(raw)
	if len(s) > 1 && s[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, malformed("statusCode must be an integer")
		}
	}
	n, err := strconv.Atoi(strings.TrimSuffix(s, ".0"))
	if err != nil || n < 100 || n > 599 {
		return 0, malformed("statusCode %s is not an HTTP status", raw)
	}
	return n, nil
}

// scalar reads a header value: a string, or a number or boolean taken as
// its text.
func scalar(raw json.RawMessage) (string, error) {
	if len(raw) == 0 {
		return "", errors.New("no value")
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
		return s, nil
	case '{', '[':
		return "", errors.New("the value must be a string")
	case 'n':
		return "", nil
	}
	return string(raw), nil
}

// dropped are the response headers the gateway sets itself.
var dropped = map[string]bool{
	"Content-Length": true, "Transfer-Encoding": true, "Connection": true, "Keep-Alive": true,
	"Upgrade": true, "Proxy-Connection": true, "Te": true, "Trailer": true,
}

// addHeader adds a header, skipping names that are not HTTP tokens,
// values with line breaks, and the headers the gateway owns.
func addHeader(h http.Header, k, v string, set bool) {
	if !validName(k) || strings.ContainsAny(v, "\r\n\x00") {
		return
	}
	k = http.CanonicalHeaderKey(k)
	if dropped[k] {
		return
	}
	if set {
		h[k] = []string{v}
	} else {
		h[k] = append(h[k], v)
	}
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}
