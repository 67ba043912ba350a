// Package payload translates between HTTP and the JSON a Lambda proxy
// integration exchanges with its function. Append encodes an HTTP request
// as API Gateway's payload format 2.0 or 1.0, or as a Lambda function URL
// event; Decode reads the function's answer under that format's rules and
// gives the HTTP response to send.
//
// Events are written straight into a byte slice, field by field, with no
// intermediate maps or reflection: the encoding is on every request's path.
package payload

import (
	"bytes"
	"encoding/base64"
	"github.com/aloft-dev/aloft/internal/awsproto"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aloft-dev/aloft/internal/gateway/route"
)

// Format is a payload format.
type Format uint8

// Payload formats.
const (
	V2  Format = iota // API Gateway HTTP API payload format 2.0 (the default)
	V1                // payload format 1.0, the REST API proxy shape
	URL               // a Lambda function URL event: 2.0 with route and stage $default
)

// ParseFormat parses a payloadFormatVersion: "2.0" or "1.0".
func ParseFormat(s string) (Format, bool) {
	switch s {
	case "2.0":
		return V2, true
	case "1.0":
		return V1, true
	}
	return 0, false
}

// AccountID is the account every event names.
const AccountID = awsproto.AccountID

// TimeLayout is the layout of requestContext.time and requestTime.
const TimeLayout = "02/Jan/2006:15:04:05 -0700"

// Request is what an event says about one HTTP request.
type Request struct {
	HTTP *http.Request // method, headers, query, protocol, client address
	Body []byte
	// Path is the escaped path the function sees: the request's path less
	// any prefix that chose the API or URL.
	Path           string
	RouteKey       string        // the matched route key; $default for URLs
	Resource       string        // 1.0: the route's path, e.g. /items/{id}, or $default
	ResourceID     string        // 1.0: the route's id
	Params         []route.Param // path parameters, decoded
	APIID          string        // the API's id, or the URL's id
	DomainName     string        // e.g. abc123.execute-api.localhost
	Stage          string        // $default unless a named stage served it
	StageVariables map[string]string
	RequestID      string
	Time           time.Time
	IAM            *IAM // the signer of an AWS_IAM function URL request
	// Authorized is set when a Lambda authorizer allowed the request.
	Authorized bool
	// Lambda is the context the Lambda authorizer returned, a JSON object
	// (requestContext.authorizer.lambda in payload 2.0, the keys of
	// requestContext.authorizer in 1.0); nil without one.
	Lambda []byte
	// PrincipalID is what an authorizer's IAM policy answer named
	// (requestContext.authorizer.principalId in payload 1.0).
	PrincipalID string
}

// IAM is the caller of a signed function URL request
// (requestContext.authorizer.iam).
type IAM struct {
	AccessKey string
	AccountID string
	CallerID  string
	UserARN   string
	UserID    string
}

// Append appends r encoded in format f to dst and returns the result.
func Append(dst []byte, f Format, r *Request) []byte {
	if f == V1 {
		return appendV1(dst, r)
	}
	return appendV2(dst, f, r)
}

// SizeHint is a capacity that fits most events of r without growing.
func SizeHint(r *Request) int {
	n := 1024 + len(r.Path) + 2*len(r.HTTP.URL.RawQuery)
	for k, vs := range r.HTTP.Header {
		n += len(k) + 8
		for _, v := range vs {
			n += len(v) + 2
		}
	}
	if isText(r.HTTP.Header.Get("Content-Type")) {
		return n + len(r.Body) + len(r.Body)/16
	}
	return n + base64.StdEncoding.EncodedLen(len(r.Body))
}

func appendV2(b []byte, f Format, r *Request) []byte {
	hr := r.HTTP
	b = append(b, `{"version":"2.0","routeKey":`...)
	b = appendString(b, r.RouteKey)
	b = append(b, `,"rawPath":`...)
	b = appendString(b, r.Path)
	b = append(b, `,"rawQueryString":`...)
	b = appendString(b, hr.URL.RawQuery)
	if c := hr.Header["Cookie"]; len(c) > 0 {
		b = append(b, `,"cookies":[`...)
		first := true
		for _, line := range c {
			for part := range strings.SplitSeq(line, ";") {
				part = strings.TrimSpace(part)
				if part == "" {
					continue
				}
				if !first {
					b = append(b, ',')
				}
				first = false
				b = appendString(b, part)
			}
		}
		b = append(b, ']')
	}
	b = append(b, `,"headers":`...)
	b = appendHeaders(b, r, false)
	if hr.URL.RawQuery != "" {
		b = append(b, `,"queryStringParameters":`...)
		b = appendQuery(b, hr.URL.RawQuery, false)
	}
	if f == V2 && len(r.Params) > 0 {
		b = append(b, `,"pathParameters":`...)
		b = appendParams(b, r.Params)
	}
	b = append(b, `,"requestContext":{"accountId":"`+AccountID+`","apiId":`...)
	b = appendString(b, r.APIID)
	if r.IAM != nil {
		b = append(b, `,"authorizer":{"iam":{"accessKey":`...)
		b = appendString(b, r.IAM.AccessKey)
		b = append(b, `,"accountId":`...)
		b = appendString(b, r.IAM.AccountID)
		b = append(b, `,"callerId":`...)
		b = appendString(b, r.IAM.CallerID)
		b = append(b, `,"cognitoIdentity":null,"principalOrgId":null,"userArn":`...)
		b = appendString(b, r.IAM.UserARN)
		b = append(b, `,"userId":`...)
		b = appendString(b, r.IAM.UserID)
		b = append(b, `}}`...)
	}
	if r.Lambda != nil {
		b = append(b, `,"authorizer":{"lambda":`...)
		b = append(b, r.Lambda...)
		b = append(b, '}')
	}
	b = append(b, `,"domainName":`...)
	b = appendString(b, r.DomainName)
	b = append(b, `,"domainPrefix":`...)
	b = appendString(b, domainPrefix(r.DomainName))
	b = append(b, `,"http":{"method":`...)
	b = appendString(b, hr.Method)
	b = append(b, `,"path":`...)
	b = appendString(b, r.Path)
	b = append(b, `,"protocol":`...)
	b = appendString(b, hr.Proto)
	b = append(b, `,"sourceIp":`...)
	b = appendString(b, SourceIP(hr))
	b = append(b, `,"userAgent":`...)
	b = appendString(b, hr.UserAgent())
	b = append(b, `},"requestId":`...)
	b = appendString(b, r.RequestID)
	b = append(b, `,"routeKey":`...)
	b = appendString(b, r.RouteKey)
	b = append(b, `,"stage":`...)
	b = appendString(b, r.Stage)
	b = append(b, `,"time":"`...)
	t := r.Time.UTC()
	b = t.AppendFormat(b, TimeLayout)
	b = append(b, `","timeEpoch":`...)
	b = strconv.AppendInt(b, t.UnixMilli(), 10)
	b = append(b, '}')
	if f == V2 && len(r.StageVariables) > 0 {
		b = append(b, `,"stageVariables":`...)
		b = appendMap(b, r.StageVariables)
	}
	if len(r.Body) > 0 {
		b = append(b, `,"body":`...)
	}
	b = appendBody(b, r)
	return append(b, '}')
}

func appendV1(b []byte, r *Request) []byte {
	hr := r.HTTP
	b = append(b, `{"version":"1.0","resource":`...)
	b = appendString(b, r.Resource)
	b = append(b, `,"path":`...)
	b = appendString(b, r.Path)
	b = append(b, `,"httpMethod":`...)
	b = appendString(b, hr.Method)
	b = append(b, `,"headers":`...)
	b = appendHeaders(b, r, true)
	b = append(b, `,"multiValueHeaders":`...)
	b = appendMultiHeaders(b, r)
	if hr.URL.RawQuery != "" {
		b = append(b, `,"queryStringParameters":`...)
		b = appendQuery(b, hr.URL.RawQuery, true)
		b = append(b, `,"multiValueQueryStringParameters":`...)
		b = appendMultiQuery(b, hr.URL.RawQuery)
	} else {
		b = append(b, `,"queryStringParameters":null,"multiValueQueryStringParameters":null`...)
	}
	b = append(b, `,"requestContext":{"accountId":"`+AccountID+`","apiId":`...)
	b = appendString(b, r.APIID)
	if r.Authorized {
		// As API Gateway passes a Lambda authorizer's answer on in payload
		// 1.0: the context's keys next to principalId and the
		// authorizer's latency.
		b = append(b, `,"authorizer":{"integrationLatency":0,"principalId":`...)
		b = appendString(b, r.PrincipalID)
		if ctx := bytes.TrimSpace(r.Lambda); len(ctx) >= 2 {
			if inner := bytes.TrimSpace(ctx[1 : len(ctx)-1]); len(inner) > 0 {
				b = append(b, ',')
				b = append(b, inner...)
			}
		}
		b = append(b, '}')
	}
	b = append(b, `,"domainName":`...)
	b = appendString(b, r.DomainName)
	b = append(b, `,"domainPrefix":`...)
	b = appendString(b, domainPrefix(r.DomainName))
	b = append(b, `,"extendedRequestId":`...)
	b = appendString(b, r.RequestID)
	b = append(b, `,"httpMethod":`...)
	b = appendString(b, hr.Method)
	b = append(b, `,"identity":{"accessKey":null,"accountId":null,"caller":null,"cognitoAuthenticationProvider":null,"cognitoAuthenticationType":null,"cognitoIdentityId":null,"cognitoIdentityPoolId":null,"principalOrgId":null,"sourceIp":`...)
	b = appendString(b, SourceIP(hr))
	b = append(b, `,"user":null,"userAgent":`...)
	b = appendString(b, hr.UserAgent())
	b = append(b, `,"userArn":null},"path":`...)
	b = appendString(b, r.Path)
	b = append(b, `,"protocol":`...)
	b = appendString(b, hr.Proto)
	b = append(b, `,"requestId":`...)
	b = appendString(b, r.RequestID)
	b = append(b, `,"requestTime":"`...)
	t := r.Time.UTC()
	b = t.AppendFormat(b, TimeLayout)
	b = append(b, `","requestTimeEpoch":`...)
	b = strconv.AppendInt(b, t.UnixMilli(), 10)
	b = append(b, `,"resourceId":`...)
	b = appendString(b, r.ResourceID)
	b = append(b, `,"resourcePath":`...)
	b = appendString(b, r.Resource)
	b = append(b, `,"stage":`...)
	b = appendString(b, r.Stage)
	b = append(b, `},"pathParameters":`...)
	if len(r.Params) > 0 {
		b = appendParams(b, r.Params)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"stageVariables":`...)
	if len(r.StageVariables) > 0 {
		b = appendMap(b, r.StageVariables)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"body":`...)
	if len(r.Body) == 0 {
		b = append(b, "null"...)
	}
	b = appendBody(b, r)
	return append(b, '}')
}

// appendBody appends the body's value (when there is one) and
// isBase64Encoded; the caller has written the "body" key if needed.
func appendBody(b []byte, r *Request) []byte {
	if len(r.Body) == 0 {
		return append(b, `,"isBase64Encoded":false`...)
	}
	if isText(r.HTTP.Header.Get("Content-Type")) && utf8.Valid(r.Body) {
		b = appendStringBytes(b, r.Body)
		return append(b, `,"isBase64Encoded":false`...)
	}
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, r.Body)
	return append(b, `","isBase64Encoded":true`...)
}

// isText reports whether a body of this content type reaches the function
// as text; any other body is base64-encoded. A missing type counts as
// text (a body that is not valid UTF-8 is encoded anyway).
func isText(ct string) bool {
	if ct == "" {
		return true
	}
	mt := ct
	if i := strings.IndexByte(mt, ';'); i >= 0 {
		mt = mt[:i]
	}
	mt = strings.TrimSpace(mt)
	typ, sub, ok := strings.Cut(mt, "/")
	if !ok {
		return false
	}
	if strings.EqualFold(typ, "text") {
		return true
	}
	if !strings.EqualFold(typ, "application") {
		return false
	}
	sub = strings.ToLower(sub)
	switch sub {
	case "json", "xml", "javascript", "ecmascript", "yaml", "x-yaml", "graphql":
		return true
	}
	return strings.HasSuffix(sub, "+json") || strings.HasSuffix(sub, "+xml")
}

// appendHeaders writes the headers object: names lower-cased, the values
// of repeated headers joined with commas (2.0) or the last one kept (1.0).
// 2.0 moves cookies to their own field. The Host header, which net/http
// keeps apart, is put back, and X-Forwarded-* are added as API Gateway
// does.
func appendHeaders(b []byte, r *Request, v1 bool) []byte {
	hr := r.HTTP
	b = append(b, '{')
	first := true
	for k, vs := range hr.Header {
		if len(vs) == 0 || (!v1 && k == "Cookie") || isForwarded(k) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendLowerKey(b, k)
		if v1 {
			b = appendString(b, vs[len(vs)-1])
			continue
		}
		if len(vs) == 1 {
			b = appendString(b, vs[0])
			continue
		}
		b = append(b, '"')
		for i, v := range vs {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendEscaped(b, v)
		}
		b = append(b, '"')
	}
	if !first {
		b = append(b, ',')
	}
	b = append(b, `"host":`...)
	b = appendString(b, hr.Host)
	b = append(b, `,"x-forwarded-for":`...)
	b = appendForwardedFor(b, hr)
	b = append(b, `,"x-forwarded-port":`...)
	b = appendString(b, port(hr.Host))
	b = append(b, `,"x-forwarded-proto":"http"}`...)
	return b
}

// appendMultiHeaders writes 1.0's multiValueHeaders.
func appendMultiHeaders(b []byte, r *Request) []byte {
	hr := r.HTTP
	b = append(b, '{')
	first := true
	for k, vs := range hr.Header {
		if len(vs) == 0 || isForwarded(k) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendLowerKey(b, k)
		b = append(b, '[')
		for i, v := range vs {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, v)
		}
		b = append(b, ']')
	}
	if !first {
		b = append(b, ',')
	}
	b = append(b, `"host":[`...)
	b = appendString(b, hr.Host)
	b = append(b, `],"x-forwarded-for":[`...)
	b = appendForwardedFor(b, hr)
	b = append(b, `],"x-forwarded-port":[`...)
	b = appendString(b, port(hr.Host))
	b = append(b, `],"x-forwarded-proto":["http"]}`...)
	return b
}

func isForwarded(k string) bool {
	return k == "X-Forwarded-For" || k == "X-Forwarded-Port" || k == "X-Forwarded-Proto" || k == "Host"
}

// appendForwardedFor writes X-Forwarded-For as the client sent it with
// the client's address added.
func appendForwardedFor(b []byte, hr *http.Request) []byte {
	b = append(b, '"')
	for _, v := range hr.Header["X-Forwarded-For"] {
		b = appendEscaped(b, v)
		b = append(b, ", "...)
	}
	b = appendEscaped(b, SourceIP(hr))
	return append(b, '"')
}

// port returns the port of a Host header, or 80.
func port(host string) string {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") && i+1 < len(host) {
		return host[i+1:]
	}
	return "80"
}

// SourceIP returns the client's address without its port.
func SourceIP(hr *http.Request) string {
	a := hr.RemoteAddr
	if i := strings.LastIndexByte(a, ':'); i >= 0 {
		a = a[:i]
	}
	return strings.TrimSuffix(strings.TrimPrefix(a, "["), "]")
}

// domainPrefix returns the first label of a domain name.
func domainPrefix(d string) string {
	if i := strings.IndexByte(d, '.'); i >= 0 {
		return d[:i]
	}
	return d
}

// appendQuery writes queryStringParameters: decoded names and values,
// repeated names joined with commas (2.0) or the last value kept (1.0).
func appendQuery(b []byte, raw string, v1 bool) []byte {
	q := parseQuery(raw)
	b = append(b, '{')
	first := true
	for k, vs := range q {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, k)
		b = append(b, ':')
		if v1 {
			b = appendString(b, vs[len(vs)-1])
			continue
		}
		b = append(b, '"')
		for i, v := range vs {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendEscaped(b, v)
		}
		b = append(b, '"')
	}
	return append(b, '}')
}

func appendMultiQuery(b []byte, raw string) []byte {
	q := parseQuery(raw)
	b = append(b, '{')
	first := true
	for k, vs := range q {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, k)
		b = append(b, ":["...)
		for i, v := range vs {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, v)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// parseQuery splits a query string on '&' into decoded names and values,
// keeping pairs url.ParseQuery would refuse (a ';', a bad escape) as sent.
func parseQuery(raw string) map[string][]string {
	q := map[string][]string{}
	for pair := range strings.SplitSeq(raw, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k, v = unescapeQuery(k), unescapeQuery(v)
		q[k] = append(q[k], v)
	}
	return q
}

func unescapeQuery(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	d, err := url.QueryUnescape(s)
	if err != nil {
		return s
	}
	return d
}

func appendParams(b []byte, ps []route.Param) []byte {
	b = append(b, '{')
	for i, p := range ps {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, p.Name)
		b = append(b, ':')
		b = appendString(b, p.Value)
	}
	return append(b, '}')
}

func appendMap(b []byte, m map[string]string) []byte {
	b = append(b, '{')
	first := true
	for k, v := range m {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, k)
		b = append(b, ':')
		b = appendString(b, v)
	}
	return append(b, '}')
}

// appendLowerKey writes "name": with the name lower-cased.
func appendLowerKey(b []byte, k string) []byte {
	b = append(b, '"')
	start := len(b)
	b = appendEscaped(b, k)
	for i := start; i < len(b); i++ {
		if c := b[i]; c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return append(b, `":`...)
}

func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendEscaped(b, s)
	return append(b, '"')
}

func appendStringBytes(b []byte, s []byte) []byte {
	b = append(b, '"')
	b = appendEscaped(b, s)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendEscaped appends s escaped for the inside of a JSON string. Bytes
// that are not valid UTF-8 become U+FFFD, as encoding/json writes them.
func appendEscaped[S ~string | ~[]byte](b []byte, s S) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}
