package payload

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"
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
// Anything else is ErrMalformed. The answer is checked once and then
// walked in place: only the strings the response keeps are allocated.
func Decode(f Format, answer []byte) (*Response, error) {
	a := bytes.TrimSpace(answer)
	if len(a) == 0 {
		return nil, malformed("the function returned nothing")
	}
	if !json.Valid(a) {
		return nil, malformed("the answer is not valid JSON")
	}
	switch {
	case a[0] == '{':
		var o object
		o.read(a)
		if o.statusCode != nil {
			return o.response(f)
		}
		if f == V1 {
			return nil, malformed("statusCode is missing")
		}
		return &Response{Status: http.StatusOK, Header: http.Header{"Content-Type": jsonContentType}, Body: string(a)}, nil
	case f == V1:
		return nil, malformed("the answer is not a JSON object")
	case a[0] == '"':
		return &Response{Status: http.StatusOK, Header: http.Header{"Content-Type": jsonContentType}, Body: unquote(a)}, nil
	}
	return &Response{Status: http.StatusOK, Header: http.Header{"Content-Type": jsonContentType}, Body: string(a)}, nil
}

// object holds the raw values of a response object's members; a member
// given twice keeps its last value, as encoding/json would.
type object struct {
	statusCode, headers, multiValueHeaders, cookies, body, isBase64Encoded []byte
}

func (o *object) read(a []byte) {
	eachMember(a, func(key, value []byte) {
		if bytes.IndexByte(key, '\\') >= 0 {
			key = []byte(keyString(key))
		}
		switch string(key) {
		case "statusCode":
			o.statusCode = value
		case "headers":
			o.headers = value
		case "multiValueHeaders":
			o.multiValueHeaders = value
		case "cookies":
			o.cookies = value
		case "body":
			o.body = value
		case "isBase64Encoded":
			o.isBase64Encoded = value
		}
	})
}

// response reads a response object.
func (o *object) response(f Format) (*Response, error) {
	status, err := statusCode(o.statusCode)
	if err != nil {
		return nil, err
	}
	r := &Response{Status: status, Header: http.Header{}}
	if !isNull(o.headers) {
		if o.headers[0] != '{' {
			return nil, malformed("headers must be an object of strings")
		}
		eachMember(o.headers, func(k, v []byte) {
			if err != nil {
				return
			}
			var s string
			if s, err = scalar(v); err != nil {
				err = malformed("header %q: %v", keyString(k), err)
				return
			}
			addHeader(r.Header, keyString(k), s, true)
		})
		if err != nil {
			return nil, err
		}
	}
	if !isNull(o.multiValueHeaders) {
		if o.multiValueHeaders[0] != '{' {
			return nil, malformed("multiValueHeaders must be an object of arrays of strings")
		}
		eachMember(o.multiValueHeaders, func(k, vs []byte) {
			if err != nil {
				return
			}
			name := keyString(k)
			if !isNull(vs) && vs[0] != '[' {
				err = malformed("multiValueHeaders %q must be an array of strings", name)
				return
			}
			// The values of multiValueHeaders replace those of headers.
			delete(r.Header, http.CanonicalHeaderKey(name))
			eachElement(vs, func(v []byte) {
				if err != nil {
					return
				}
				var s string
				if s, err = scalar(v); err != nil {
					err = malformed("multiValueHeaders %q: %v", name, err)
					return
				}
				addHeader(r.Header, name, s, false)
			})
		})
		if err != nil {
			return nil, err
		}
	}
	if f != V1 && !isNull(o.cookies) {
		if o.cookies[0] != '[' {
			return nil, malformed("cookies must be an array of strings")
		}
		eachElement(o.cookies, func(v []byte) {
			switch {
			case err != nil || isNull(v):
			case v[0] != '"':
				err = malformed("cookies must be an array of strings")
			default:
				c := unquote(v)
				if strings.ContainsAny(c, "\r\n") {
					err = malformed("a cookie holds a line break")
					return
				}
				r.Cookies = append(r.Cookies, c)
			}
		})
		if err != nil {
			return nil, err
		}
	}
	if !isNull(o.body) {
		if o.body[0] != '"' {
			return nil, malformed("body must be a string")
		}
		r.Body = unquote(o.body)
	}
	if !isNull(o.isBase64Encoded) {
		switch string(o.isBase64Encoded) {
		case "true":
			b, err := base64.StdEncoding.DecodeString(r.Body)
			if err != nil {
				return nil, malformed("the body is not valid base64: %v", err)
			}
			r.Body = string(b)
		case "false":
		default:
			return nil, malformed("isBase64Encoded must be true or false")
		}
	}
	return r, nil
}

func isNull(raw []byte) bool { return len(raw) == 0 || string(raw) == "null" }

// statusCode reads a status code, a JSON integer or a string holding one,
// from 100 to 599.
func statusCode(raw []byte) (int, error) {
	digits := raw
	if raw[0] == '"' {
		digits = raw[1 : len(raw)-1]
	}
	digits = bytes.TrimSuffix(digits, []byte(".0"))
	n := 0
	for _, c := range digits {
		if c < '0' || c > '9' || n > 599 {
			n = -1
			break
		}
		n = n*10 + int(c-'0')
	}
	if len(digits) == 0 || n < 100 || n > 599 {
		return 0, malformed("statusCode %s is not an HTTP status", raw)
	}
	return n, nil
}

// scalar reads a header value: a string, or a number or boolean taken as
// its text; null is empty.
func scalar(raw []byte) (string, error) {
	switch raw[0] {
	case '"':
		return unquote(raw), nil
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

// The walkers below read JSON that json.Valid has accepted; they do not
// check it again.

// eachMember calls fn with the raw key (between its quotes, still
// escaped) and raw value of each member of the object obj.
func eachMember(obj []byte, fn func(key, value []byte)) {
	i := skipSpace(obj, 1)
	for i < len(obj) && obj[i] != '}' {
		kEnd := skipValue(obj, i)
		key := obj[i+1 : kEnd-1]
		i = skipSpace(obj, kEnd) + 1 // past ':'
		i = skipSpace(obj, i)
		vEnd := skipValue(obj, i)
		fn(key, obj[i:vEnd])
		i = skipSpace(obj, vEnd)
		if i < len(obj) && obj[i] == ',' {
			i = skipSpace(obj, i+1)
		}
	}
}

// eachElement calls fn with each raw element of the array arr; null
// calls it never.
func eachElement(arr []byte, fn func(value []byte)) {
	if isNull(arr) {
		return
	}
	i := skipSpace(arr, 1)
	for i < len(arr) && arr[i] != ']' {
		end := skipValue(arr, i)
		fn(arr[i:end])
		i = skipSpace(arr, end)
		if i < len(arr) && arr[i] == ',' {
			i = skipSpace(arr, i+1)
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index just past the value that starts at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		for i++; i < len(b); i++ {
			switch b[i] {
			case '\\':
				i++
			case '"':
				return i + 1
			}
		}
		return i
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipValue(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return i
	}
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
		i++
	}
	return i
}

// keyString returns a member key's text. Keys without escapes, the usual
// case, are compared and converted without decoding.
func keyString(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw)
	}
	var s string
	json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &s)
	return s
}

// unquote returns the text of a JSON string (with its quotes). Bytes that
// are not valid UTF-8 become U+FFFD, as encoding/json decodes them.
func unquote(raw []byte) string {
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner)
	}
	var s string
	json.Unmarshal(raw, &s)
	return s
}
