package payload

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/aloft-dev/aloft/internal/gateway/route"
)

var when = time.Date(2024, 4, 21, 15, 8, 21, 67_000_000, time.UTC)

func sample(body string, ct string) *Request {
	hr := httptest.NewRequest("POST", "http://abc123.execute-api.localhost:8080/items/42?a=1&a=2&b=x%20y&c", strings.NewReader(body))
	hr.RemoteAddr = "10.1.2.3:5555"
	hr.Header.Add("X-Multi", "one")
	hr.Header.Add("X-Multi", "two")
	hr.Header.Set("User-Agent", "tester/1.0")
	hr.Header.Add("Cookie", "a=1; b=2")
	hr.Header.Add("Cookie", "c=3")
	hr.Header.Set("X-Quote", `say "hi"`+"\t\\")
	hr.Header.Set("X-Forwarded-For", "192.0.2.1")
	if ct != "" {
		hr.Header.Set("Content-Type", ct)
	}
	return &Request{
		HTTP: hr, Body: []byte(body), Path: "/items/42", RouteKey: "POST /items/{id}", Resource: "/items/{id}", ResourceID: "r1",
		Params: []route.Param{{Name: "id", Value: "42"}}, APIID: "abc123", DomainName: "abc123.execute-api.localhost",
		Stage: "$default", StageVariables: map[string]string{"env": "test"}, RequestID: "req-1", Time: when,
	}
}

func encode(t *testing.T, f Format, r *Request) []byte {
	t.Helper()
	b := Append(nil, f, r)
	if !json.Valid(b) {
		t.Fatalf("not valid JSON: %s", b)
	}
	return b
}

func TestV2Event(t *testing.T) {
	r := sample(`{"k":"v"}`, "application/json")
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(encode(t, V2, r), &ev); err != nil {
		t.Fatal(err)
	}
	want := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "POST /items/{id}", RawPath: "/items/42", RawQueryString: "a=1&a=2&b=x%20y&c",
		Cookies: []string{"a=1", "b=2", "c=3"},
		Headers: map[string]string{
			"x-multi": "one,two", "user-agent": "tester/1.0", "x-quote": `say "hi"` + "\t\\", "content-type": "application/json",
			"host": "abc123.execute-api.localhost:8080", "x-forwarded-for": "192.0.2.1, 10.1.2.3", "x-forwarded-port": "8080",
			"x-forwarded-proto": "http",
		},
		QueryStringParameters: map[string]string{"a": "1,2", "b": "x y", "c": ""},
		PathParameters:        map[string]string{"id": "42"},
		StageVariables:        map[string]string{"env": "test"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: "POST /items/{id}", AccountID: AccountID, Stage: "$default", RequestID: "req-1", APIID: "abc123",
			DomainName: "abc123.execute-api.localhost", DomainPrefix: "abc123", Time: "21/Apr/2024:15:08:21 +0000",
			TimeEpoch: when.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: "POST", Path: "/items/42", Protocol: "HTTP/1.1", SourceIP: "10.1.2.3", UserAgent: "tester/1.0",
			},
		},
		Body: `{"k":"v"}`,
	}
	if diff := cmp.Diff(want, ev); diff != "" {
		t.Errorf("event (-want +got):\n%s", diff)
	}
}

func TestV1Event(t *testing.T) {
	r := sample("", "")
	var ev events.APIGatewayProxyRequest
	raw := encode(t, V1, r)
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	want := events.APIGatewayProxyRequest{
		Resource: "/items/{id}", Path: "/items/42", HTTPMethod: "POST",
		Headers: map[string]string{
			"x-multi": "two", "user-agent": "tester/1.0", "x-quote": `say "hi"` + "\t\\", "cookie": "c=3",
			"host": "abc123.execute-api.localhost:8080", "x-forwarded-for": "192.0.2.1, 10.1.2.3", "x-forwarded-port": "8080",
			"x-forwarded-proto": "http",
		},
		MultiValueHeaders: map[string][]string{
			"x-multi": {"one", "two"}, "user-agent": {"tester/1.0"}, "x-quote": {`say "hi"` + "\t\\"}, "cookie": {"a=1; b=2", "c=3"},
			"host": {"abc123.execute-api.localhost:8080"}, "x-forwarded-for": {"192.0.2.1, 10.1.2.3"}, "x-forwarded-port": {"8080"},
			"x-forwarded-proto": {"http"},
		},
		QueryStringParameters:           map[string]string{"a": "2", "b": "x y", "c": ""},
		MultiValueQueryStringParameters: map[string][]string{"a": {"1", "2"}, "b": {"x y"}, "c": {""}},
		PathParameters:                  map[string]string{"id": "42"},
		StageVariables:                  map[string]string{"env": "test"},
		RequestContext: events.APIGatewayProxyRequestContext{
			AccountID: AccountID, ResourceID: "r1", Stage: "$default", DomainName: "abc123.execute-api.localhost", DomainPrefix: "abc123",
			RequestID: "req-1", ExtendedRequestID: "req-1", Protocol: "HTTP/1.1", ResourcePath: "/items/{id}", Path: "/items/42",
			HTTPMethod: "POST", RequestTime: "21/Apr/2024:15:08:21 +0000", RequestTimeEpoch: when.UnixMilli(), APIID: "abc123",
			Identity: events.APIGatewayRequestIdentity{SourceIP: "10.1.2.3", UserAgent: "tester/1.0"},
		},
	}
	if diff := cmp.Diff(want, ev); diff != "" {
		t.Errorf("event (-want +got):\n%s", diff)
	}
	// A Lambda authorizer's answer: its context's keys beside principalId.
	for _, tc := range []struct {
		ctx  string
		want map[string]any
	}{
		{`{"user": "bob", "n": 2}`, map[string]any{"integrationLatency": 0.0, "principalId": "p1", "user": "bob", "n": 2.0}},
		{`{ }`, map[string]any{"integrationLatency": 0.0, "principalId": "p1"}},
		{``, map[string]any{"integrationLatency": 0.0, "principalId": "p1"}},
	} {
		ra := sample("", "")
		ra.Authorized, ra.PrincipalID = true, "p1"
		if tc.ctx != "" {
			ra.Lambda = []byte(tc.ctx)
		}
		var evA events.APIGatewayProxyRequest
		if err := json.Unmarshal(encode(t, V1, ra), &evA); err != nil {
			t.Fatalf("context %q: %v", tc.ctx, err)
		}
		if diff := cmp.Diff(tc.want, evA.RequestContext.Authorizer); diff != "" {
			t.Errorf("context %q: authorizer (-want +got):\n%s", tc.ctx, diff)
		}
	}
	// Absent parts are null, as API Gateway sends them.
	var m map[string]json.RawMessage
	json.Unmarshal(raw, &m)
	if string(m["body"]) != "null" || string(m["isBase64Encoded"]) != "false" || string(m["version"]) != `"1.0"` {
		t.Errorf("body %s, isBase64Encoded %s, version %s; want null, false, \"1.0\"", m["body"], m["isBase64Encoded"], m["version"])
	}
}

func TestURLEvent(t *testing.T) {
	r := sample("\x00\x01\xffbinary", "application/octet-stream")
	r.RouteKey, r.Params, r.StageVariables = "$default", nil, nil
	r.APIID, r.DomainName = "u1", "u1.lambda-url.us-east-1.localhost"
	r.IAM = &IAM{AccessKey: "AKID", AccountID: AccountID, CallerID: "AKID", UserARN: "arn:aws:iam::000000000000:user/x", UserID: "AKID"}
	raw := encode(t, URL, r)
	var ev events.LambdaFunctionURLRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	if !ev.IsBase64Encoded || ev.Body != base64.StdEncoding.EncodeToString([]byte("\x00\x01\xffbinary")) {
		t.Errorf("binary body: got %q base64 %v", ev.Body, ev.IsBase64Encoded)
	}
	wantIAM := &events.LambdaFunctionURLRequestContextAuthorizerIAMDescription{AccessKey: "AKID", AccountID: AccountID, CallerID: "AKID",
		UserARN: "arn:aws:iam::000000000000:user/x", UserID: "AKID"}
	if ev.RequestContext.Authorizer == nil || !cmp.Equal(ev.RequestContext.Authorizer.IAM, wantIAM) {
		t.Errorf("authorizer: got %+v", ev.RequestContext.Authorizer)
	}
	if ev.RequestContext.DomainPrefix != "u1" || ev.RequestContext.APIID != "u1" {
		t.Errorf("request context: %+v", ev.RequestContext)
	}
	var m map[string]json.RawMessage
	json.Unmarshal(raw, &m)
	if _, ok := m["pathParameters"]; ok {
		t.Error("a function URL event has no pathParameters")
	}
}

func TestTextTypes(t *testing.T) {
	for ct, text := range map[string]bool{
		"": true, "text/plain": true, "TEXT/HTML; charset=utf-8": true, "application/json": true, "application/ld+json": true,
		"application/xml": true, "application/atom+xml": true, "application/javascript": true,
		"application/octet-stream": false, "image/png": false, "application/x-www-form-urlencoded": false,
		"multipart/form-data; boundary=x": false, "garbage": false,
	} {
		if isText(ct) != text {
			t.Errorf("isText(%q) = %v, want %v", ct, !text, text)
		}
	}
}

func TestAppendAllocations(t *testing.T) {
	r := sample(`{"k":"v"}`, "application/json")
	r.HTTP.URL.RawQuery = ""
	buf := make([]byte, 0, 4096)
	n := testing.AllocsPerRun(100, func() { Append(buf[:0], V2, r) })
	if n > 0 {
		t.Errorf("Append allocates %v times with room in the buffer, want 0", n)
	}
}

func BenchmarkAppendV2(b *testing.B) {
	r := sample(`{"k":"v"}`, "application/json")
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = Append(buf[:0], V2, r)
	}
}

// FuzzAppend checks that any request gives valid JSON whose body,
// header and path survive the trip.
func FuzzAppend(f *testing.F) {
	f.Add("/a/b", "q=1&q=%zz", "x\"y\\z\x01", "text/plain", []byte("hello\n"), byte(0))
	f.Add("/%ff", "a=b;c", "\xff\xfe", "image/png", []byte{0, 1, 2, 0xff}, byte(1))
	f.Add("/", "", "", "", []byte(nil), byte(2))
	f.Fuzz(func(t *testing.T, path, query, header, ct string, body []byte, which byte) {
		hr := httptest.NewRequest("PUT", "http://example.com/", bytes.NewReader(body))
		hr.URL.RawQuery = query
		hr.Header["X-Fuzz"] = []string{header, header}
		hr.Header.Set("Content-Type", ct)
		hr.Header["Cookie"] = []string{header}
		r := &Request{HTTP: hr, Body: body, Path: path, RouteKey: "$default", Resource: path, Params: []route.Param{{Name: "p", Value: header}},
			StageVariables: map[string]string{header: header}, Time: when}
		f := Format(which % 3)
		b := Append(nil, f, r)
		if !json.Valid(b) {
			t.Fatalf("format %d: invalid JSON %q", f, b)
		}
		var ev struct {
			Body            *string           `json:"body"`
			IsBase64Encoded bool              `json:"isBase64Encoded"`
			RawPath         string            `json:"rawPath"`
			Path            string            `json:"path"`
			Headers         map[string]string `json:"headers"`
		}
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatal(err)
		}
		var got []byte
		if ev.Body != nil {
			got = []byte(*ev.Body)
			if ev.IsBase64Encoded {
				var err error
				if got, err = base64.StdEncoding.DecodeString(*ev.Body); err != nil {
					t.Fatal(err)
				}
			}
		}
		if !bytes.Equal(got, body) && utf8.Valid(body) || (ev.IsBase64Encoded && !bytes.Equal(got, body)) {
			t.Fatalf("body %q came back as %q (base64 %v)", body, got, ev.IsBase64Encoded)
		}
		p := ev.RawPath
		if f == V1 {
			p = ev.Path
		}
		if utf8.ValidString(path) && p != path {
			t.Fatalf("path %q came back as %q", path, p)
		}
		want := header + "," + header
		if f == V1 {
			want = header
		}
		if utf8.ValidString(header) && ev.Headers["x-fuzz"] != want {
			t.Fatalf("header %q came back as %q", header, ev.Headers["x-fuzz"])
		}
	})
}

func TestDecode(t *testing.T) {
	cases := []struct {
		name   string
		f      Format
		answer string
		want   *Response
	}{
		{"object without statusCode", V2, ` {"message":"hi"} `,
			&Response{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: `{"message":"hi"}`}},
		{"string", V2, `"Hello from Lambda!"`,
			&Response{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: "Hello from Lambda!"}},
		{"number", V2, `42`, &Response{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: "42"}},
		{"null", URL, `null`, &Response{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: "null"}},
		{"full response", V2, `{"statusCode":201,"headers":{"content-type":"text/plain","x-n":5,"content-length":"99"},
			"multiValueHeaders":{"x-m":["a","b"]},"cookies":["a=1; Path=/","b=2"],"body":"made","isBase64Encoded":false}`,
			&Response{Status: 201, Header: http.Header{"Content-Type": {"text/plain"}, "X-N": {"5"}, "X-M": {"a", "b"}},
				Cookies: []string{"a=1; Path=/", "b=2"}, Body: "made"}},
		{"multiValueHeaders replace headers", V1, `{"statusCode":"204","headers":{"X-A":"1"},"multiValueHeaders":{"x-a":["2","3"]}}`,
			&Response{Status: 204, Header: http.Header{"X-A": {"2", "3"}}}},
		{"base64 body", V2, `{"statusCode":200,"body":"AAH/","isBase64Encoded":true}`,
			&Response{Status: 200, Header: http.Header{}, Body: "\x00\x01\xff"}},
		{"1.0 ignores cookies", V1, `{"statusCode":200,"cookies":["a=1"],"body":null}`,
			&Response{Status: 200, Header: http.Header{}}},
		{"bad header names are dropped", V2, `{"statusCode":200,"headers":{"bad name":"x","x-ok":"y","x-nl":"a\r\nb"}}`,
			&Response{Status: 200, Header: http.Header{"X-Ok": {"y"}}}},
	}
	for _, tc := range cases {
		got, err := Decode(tc.f, []byte(tc.answer))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
	for _, bad := range []struct {
		f      Format
		answer string
	}{
		{V2, ``}, {V2, `not json`}, {V2, `{"statusCode":200`}, {V2, `{"statusCode":"abc"}`}, {V2, `{"statusCode":99}`},
		{V2, `{"statusCode":600}`}, {V2, `{"statusCode":200,"body":{"a":1}}`}, {V2, `{"statusCode":200,"headers":[1]}`},
		{V2, `{"statusCode":200,"headers":{"a":{"b":1}}}`}, {V2, `{"statusCode":200,"body":"!!","isBase64Encoded":true}`},
		{V2, `{"statusCode":200,"cookies":"a=1"}`}, {V2, `{"statusCode":200,"isBase64Encoded":"yes"}`}, {V2, `"unterminated`},
		{V1, `{"body":"x"}`}, {V1, `"text"`}, {V1, `[1]`}, {URL, `{"statusCode":200,"cookies":["a\nb"]}`},
	} {
		if _, err := Decode(bad.f, []byte(bad.answer)); !errors.Is(err, ErrMalformed) {
			t.Errorf("Decode(%d, %q) = %v, want ErrMalformed", bad.f, bad.answer, err)
		}
	}
}

// FuzzDecode checks that Decode never panics, that what it accepts is a
// usable response, and that a response object built from the inputs comes
// back as built.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"statusCode":200,"body":"x"}`), 200, "v", "body", false, byte(0))
	f.Add([]byte(`"s"`), 404, "", "\x00\xff", true, byte(1))
	f.Add([]byte(`{"statusCode":"301","headers":{"location":"/x"}}`), 599, "a,b", "", false, byte(2))
	f.Fuzz(func(t *testing.T, answer []byte, status int, header, body string, b64 bool, which byte) {
		format := Format(which % 3)
		r, err := Decode(format, answer)
		if err == nil && (r.Status < 100 || r.Status > 599 || r.Header == nil) {
			t.Fatalf("Decode(%q) = %+v", answer, r)
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("Decode(%q): error %v is not ErrMalformed", answer, err)
		}
		if status < 100 || status > 599 || !utf8.ValidString(header) || strings.ContainsAny(header, "\r\n\x00") {
			return
		}
		wireBody := body
		if b64 {
			wireBody = base64.StdEncoding.EncodeToString([]byte(body))
		} else if !utf8.ValidString(body) {
			return
		}
		obj, _ := json.Marshal(map[string]any{"statusCode": status, "headers": map[string]string{"x-h": header},
			"cookies": []string{"c=1"}, "body": wireBody, "isBase64Encoded": b64})
		r, err = Decode(format, obj)
		if err != nil {
			t.Fatalf("Decode(%s): %v", obj, err)
		}
		if r.Status != status || r.Body != body || r.Header.Get("X-H") != header {
			t.Fatalf("Decode(%s) = %+v", obj, r)
		}
		if (format == V1) != (r.Cookies == nil) {
			t.Fatalf("format %d: cookies %v", format, r.Cookies)
		}
	})
}

// referenceDecode is Decode written plainly with encoding/json, to check
// the in-place walker against. collide reports header names that differ
// only in case, whose order encoding/json's maps do not keep.
func referenceDecode(f Format, answer []byte) (r *Response, collide bool, err error) {
	a := bytes.TrimSpace(answer)
	if len(a) == 0 || !json.Valid(a) {
		return nil, false, ErrMalformed
	}
	if a[0] != '{' {
		if f == V1 {
			return nil, false, ErrMalformed
		}
		body := string(a)
		if a[0] == '"' {
			json.Unmarshal(a, &body)
		}
		return &Response{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: body}, false, nil
	}
	var m map[string]json.RawMessage
	json.Unmarshal(a, &m)
	sc, ok := m["statusCode"]
	if !ok {
		if f == V1 {
			return nil, false, ErrMalformed
		}
		return &Response{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: string(a)}, false, nil
	}
	s := string(sc)
	if len(s) > 0 && s[0] == '"' {
		json.Unmarshal(sc, &s)
	}
	s = strings.TrimSuffix(s, ".0")
	n, perr := strconv.Atoi(s)
	if perr != nil || n < 100 || n > 599 || strings.Trim(s, "0123456789") != "" {
		return nil, false, ErrMalformed
	}
	r = &Response{Status: n, Header: http.Header{}}
	seen := map[string]bool{}
	note := func(k string) {
		c := http.CanonicalHeaderKey(k)
		if seen[c] {
			collide = true
		}
		seen[c] = true
	}
	if raw := m["headers"]; !isNull(raw) {
		var hs map[string]json.RawMessage
		if json.Unmarshal(raw, &hs) != nil {
			return nil, false, ErrMalformed
		}
		for k, v := range hs {
			note(k)
			s, err := scalar(v)
			if err != nil {
				return nil, false, ErrMalformed
			}
			addHeader(r.Header, k, s, true)
		}
	}
	if raw := m["multiValueHeaders"]; !isNull(raw) {
		var hs map[string][]json.RawMessage
		if json.Unmarshal(raw, &hs) != nil {
			return nil, false, ErrMalformed
		}
		seen = map[string]bool{}
		for k, vs := range hs {
			note(k)
			delete(r.Header, http.CanonicalHeaderKey(k))
			for _, v := range vs {
				s, err := scalar(v)
				if err != nil {
					return nil, false, ErrMalformed
				}
				addHeader(r.Header, k, s, false)
			}
		}
	}
	if raw := m["cookies"]; f != V1 && !isNull(raw) {
		var cs []*string
		if json.Unmarshal(raw, &cs) != nil {
			return nil, false, ErrMalformed
		}
		for _, c := range cs {
			if c != nil {
				if strings.ContainsAny(*c, "\r\n") {
					return nil, false, ErrMalformed
				}
				r.Cookies = append(r.Cookies, *c)
			}
		}
	}
	if raw := m["body"]; !isNull(raw) {
		if json.Unmarshal(raw, &r.Body) != nil {
			return nil, false, ErrMalformed
		}
	}
	if raw := m["isBase64Encoded"]; !isNull(raw) {
		var enc bool
		if json.Unmarshal(raw, &enc) != nil {
			return nil, false, ErrMalformed
		}
		if enc {
			b, err := base64.StdEncoding.DecodeString(r.Body)
			if err != nil {
				return nil, false, ErrMalformed
			}
			r.Body = string(b)
		}
	}
	return r, collide, nil
}

// FuzzDecodeReference checks Decode against referenceDecode.
func FuzzDecodeReference(f *testing.F) {
	for _, s := range []string{
		`{"statusCode":200,"headers":{"a":"1","b":2,"c":null},"multiValueHeaders":{"d":["x",1]},"cookies":["k=v",null],"body":"\u00e9\n","isBase64Encoded":false}`,
		`{"statusCode":"201","body":"AAE=","isBase64Encoded":true}`, `{"x":1}`, `"s\"q"`, `[1,{"a":[]}]`, `{"statusCode":2e2}`,
		`{"statusCode":200,"headers":{"A":"1","a":"2"}}`, `{"st\u0061tusCode":204}`, `{"statusCode":200,"body":"\xff"}`,
	} {
		f.Add([]byte(s), byte(0))
	}
	f.Fuzz(func(t *testing.T, answer []byte, which byte) {
		format := Format(which % 3)
		got, err := Decode(format, answer)
		want, collide, werr := referenceDecode(format, answer)
		if (err == nil) != (werr == nil) {
			t.Fatalf("Decode(%q): error %v, reference error %v", answer, err, werr)
		}
		if err != nil || collide {
			return
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("Decode(%q) (-reference +got):\n%s", answer, diff)
		}
	})
}
