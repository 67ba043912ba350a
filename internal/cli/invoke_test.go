package cli

import (
	"context"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

func TestInvoke(t *testing.T) {
	tail := "START RequestId: 1\nhello from the function\nEND RequestId: 1\nREPORT RequestId: 1\tDuration: 1.00 ms"
	f := newFakeAPI(t, map[string]http.HandlerFunc{
		"POST /2015-03-31/functions/hello/invocations": func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Amz-Log-Type") == "Tail" {
				w.Header().Set("X-Amz-Log-Result", base64.StdEncoding.EncodeToString([]byte(tail)))
			}
			w.Header().Set("X-Amz-Executed-Version", "$LATEST")
			reply(200, `{"statusCode":200,"body":"hi"}`)(w, r)
		},
	})
	event := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(event, []byte(`{"from":"file"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, stdin string
		args        []string
		body        string
		query       string
		log         bool
	}{
		{name: "default payload", args: nil, body: `{}`},
		{name: "literal", args: []string{"--payload", `{"name":"world"}`}, body: `{"name":"world"}`},
		{name: "file", args: []string{"-p", "@" + event}, body: `{"from":"file"}`},
		{name: "stdin", args: []string{"--payload", "-"}, stdin: `{"from":"stdin"}`, body: `{"from":"stdin"}`},
		{name: "qualifier", args: []string{"--qualifier", "live"}, body: `{}`, query: "live"},
		{name: "log", args: []string{"--log"}, body: `{}`, log: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.reset()
			r := run(t, context.Background(), f.srv.URL, tc.stdin, append([]string{"invoke", "hello"}, tc.args...)...)
			if r.code != 0 || r.stdout != `{"statusCode":200,"body":"hi"}`+"\n" {
				t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			wantErr := ""
			if tc.log {
				wantErr = tail + "\n"
			}
			if r.stderr != wantErr {
				t.Errorf("stderr %q, want %q", r.stderr, wantErr)
			}
			req := f.only()
			if string(req.Body) != tc.body {
				t.Errorf("payload %q, want %q", req.Body, tc.body)
			}
			if got := req.Header.Get("X-Amz-Log-Type"); (got == "Tail") != tc.log {
				t.Errorf("X-Amz-Log-Type %q", got)
			}
			if got := req.Query["Qualifier"]; tc.query != "" && (len(got) != 1 || got[0] != tc.query) || tc.query == "" && len(got) > 0 {
				t.Errorf("Qualifier %v, want %q", got, tc.query)
			}
			if got := req.Header.Get("X-Amz-Invocation-Type"); got != "" && got != "RequestResponse" {
				t.Errorf("X-Amz-Invocation-Type %q", got)
			}
		})
	}
}

func TestInvokeFunctionError(t *testing.T) {
	payload := `{"errorMessage":"boom","errorType":"ValueError","stackTrace":["  File \"app.py\", line 2"]}`
	f := newFakeAPI(t, map[string]http.HandlerFunc{
		"POST /2015-03-31/functions/hello/invocations": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
			reply(200, payload)(w, r)
		},
		"POST /2015-03-31/functions/nope/invocations": lambdaError(404, "ResourceNotFoundException", "Function not found"),
	})
	r := f.run("invoke", "hello")
	if r.code != 1 || r.stdout != payload+"\n" {
		t.Errorf("exit %d, stdout %q", r.code, r.stdout)
	}
	if want := "aloft: function hello failed (Unhandled): ValueError: boom\n"; r.stderr != want {
		t.Errorf("stderr %q, want %q", r.stderr, want)
	}

	r = f.run("invoke", "nope", "--qualifier", "3")
	if want := "aloft: function \"nope:3\" not found\n"; r.code != 1 || r.stderr != want || r.stdout != "" {
		t.Errorf("exit %d, stdout %q, stderr %q; want %q", r.code, r.stdout, r.stderr, want)
	}

	r = f.run("invoke", "hello", "--payload", "@/does/not/exist")
	if want := "aloft: payload file /does/not/exist: no such file\n"; r.code != 1 || r.stderr != want {
		t.Errorf("exit %d, stderr %q; want %q", r.code, r.stderr, want)
	}
}
