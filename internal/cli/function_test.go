package cli

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// helloConfig is the configuration the fake server reports for "hello".
const helloConfig = `{"FunctionName":"hello","FunctionArn":"arn:aws:lambda:us-east-1:000000000000:function:hello",
"Runtime":"python3.12","Role":"arn:aws:iam::000000000000:role/aloft","Handler":"app.handler","CodeSize":1536,
"Description":"says hello","Timeout":3,"MemorySize":128,"LastModified":"2025-01-02T03:04:05.000+0000",
"CodeSha256":"mGvV2dN3ZV1cAOmYmtKMJ0Bm2yDzDd4wZuY8sqxnNFg=","Version":"$LATEST",
"Environment":{"Variables":{"STAGE":"dev","GREETING":"hi"}},"TracingConfig":{"Mode":"PassThrough"},
"RevisionId":"4c1a2c26-6c0e-4d7b-9f0e-2b5c6e1c9d11","State":"Active","LastUpdateStatus":"Successful",
"PackageType":"Zip","Architectures":["x86_64"],"EphemeralStorage":{"Size":512}}`

const workerConfig = `{"FunctionName":"worker","FunctionArn":"arn:aws:lambda:us-east-1:000000000000:function:worker",
"Runtime":"provided.al2023","Handler":"bootstrap","CodeSize":7340032,"Timeout":900,"MemorySize":1024,
"LastModified":"2025-01-01T23:00:00.000+0100","State":"Active","LastUpdateStatus":"Successful"}`

// codeDir makes a small function directory.
func codeDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.py"), []byte("def handler(e, c):\n    return e\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// zipNames lists the entries of the base64 zip in a JSON body.
func zipNames(t *testing.T, b64 any) []string {
	t.Helper()
	s, _ := b64.(string)
	data, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("ZipFile is not base64: %v", err)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("ZipFile is not a zip: %v", err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	return names
}

func TestCreate(t *testing.T) {
	f := newFakeAPI(t, map[string]http.HandlerFunc{
		"POST /2015-03-31/functions": reply(201, helloConfig),
	})
	r := f.run("function", "create", "hello", "--runtime", "python3.12", "--handler", "app.handler",
		"--code", codeDir(t), "--memory", "256", "--timeout", "10", "--env", "STAGE=dev", "--env", "DSN=a=b,c",
		"--description", "says hello", "--ephemeral-storage", "1024", "--network", "none", "--tag", "team=web").ok(t)
	golden(t, "create.golden", r.stdout)

	req := f.only()
	body := req.jsonBody(t)
	code, _ := body["Code"].(map[string]any)
	if d := cmp.Diff([]string{"app.py"}, zipNames(t, code["ZipFile"])); d != "" {
		t.Errorf("zip entries (-want +got):\n%s", d)
	}
	delete(body, "Code")
	want := map[string]any{
		"FunctionName":     "hello",
		"Runtime":          "python3.12",
		"Handler":          "app.handler",
		"Role":             DefaultRole,
		"MemorySize":       256.0,
		"Timeout":          10.0,
		"Description":      "says hello",
		"EphemeralStorage": map[string]any{"Size": 1024.0},
		"Environment":      map[string]any{"Variables": map[string]any{"STAGE": "dev", "DSN": "a=b,c"}},
		"Tags":             map[string]any{"aloft:network": "none", "team": "web"},
	}
	if d := cmp.Diff(want, body); d != "" {
		t.Errorf("CreateFunction body (-want +got):\n%s", d)
	}
}

func TestCreateDefaults(t *testing.T) {
	f := newFakeAPI(t, map[string]http.HandlerFunc{
		"POST /2015-03-31/functions": reply(201, workerConfig),
	})
	dir := t.TempDir()
	bootstrap := filepath.Join(dir, "bootstrap")
	if err := os.WriteFile(bootstrap, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := f.run("function", "create", "worker", "--runtime", "provided.al2023", "--code", bootstrap,
		"--role", "arn:aws:iam::123456789012:role/custom", "-o", "json").ok(t)
	golden(t, "create.json.golden", r.stdout)

	body := f.only().jsonBody(t)
	for _, k := range []string{"MemorySize", "Timeout", "Environment", "Description", "EphemeralStorage", "Tags"} {
		if v, ok := body[k]; ok {
			t.Errorf("%s sent (%v) although not given", k, v)
		}
	}
	if body["Handler"] != "bootstrap" || body["Role"] != "arn:aws:iam::123456789012:role/custom" {
		t.Errorf("Handler %v, Role %v", body["Handler"], body["Role"])
	}
}

func TestCreateErrors(t *testing.T) {
	f := newFakeAPI(t, map[string]http.HandlerFunc{
		"POST /2015-03-31/functions": lambdaError(409, "ResourceConflictException", "Function already exist: hello"),
	})
	dir := codeDir(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--runtime", "python3.12", "--code", dir},
			`aloft: --handler is required for runtime python3.12 (see "aloft function create --help")`},
		{[]string{"--runtime", "python3.12", "--handler", "app.handler", "--code", dir, "--env", "NOVALUE"},
			`aloft: --env "NOVALUE": expected KEY=VALUE (see "aloft function create --help")`},
		{[]string{"--runtime", "python3.12", "--handler", "app.handler", "--code", dir, "--network", "host"},
			`aloft: --network "host": want default or none (see "aloft function create --help")`},
		{[]string{"--runtime", "python3.12", "--handler", "app.handler", "--code", dir, "--tag", "x"},
			`aloft: --tag "x": expected KEY=VALUE (see "aloft function create --help")`},
		{[]string{"--runtime", "python3.12", "--handler", "app.handler", "--code", filepath.Join(dir, "missing")},
			"aloft: code " + filepath.Join(dir, "missing") + ": no such file or directory"},
		{[]string{"--runtime", "python3.12", "--handler", "app.handler", "--code", dir},
			`aloft: function "hello" already exists (change it with "aloft function update")`},
	} {
		r := f.run(append([]string{"function", "create", "hello"}, tc.args...)...)
		if r.code != 1 || r.stderr != tc.want+"\n" {
			t.Errorf("%v: exit %d, stderr %q; want %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	if n := len(f.requests()); n != 1 {
		t.Errorf("%d requests sent, want 1 (the others fail before sending)", n)
	}
}

func TestUpdate(t *testing.T) {
	inProgress := `{"FunctionName":"hello","LastUpdateStatus":"InProgress"}`
	var polls atomic.Int32
	f := newFakeAPI(t, map[string]http.HandlerFunc{
		"PUT /2015-03-31/functions/hello/code": reply(200, inProgress),
		"GET /2015-03-31/functions/hello/configuration": func(w http.ResponseWriter, r *http.Request) {
			if polls.Add(1) < 2 {
				reply(200, inProgress)(w, r)
				return
			}
			reply(200, helloConfig)(w, r)
		},
		"PUT /2015-03-31/functions/hello/configuration": reply(200, helloConfig),
	})
	r := f.run("function", "update", "hello", "--code", codeDir(t), "--memory", "512", "--env", "A=1").ok(t)
	golden(t, "update.golden", r.stdout)

	reqs := f.requests()
	var paths []string
	for _, q := range reqs {
		paths = append(paths, q.Method+" "+q.Path)
	}
	want := []string{
		"PUT /2015-03-31/functions/hello/code",
		"GET /2015-03-31/functions/hello/configuration",
		"GET /2015-03-31/functions/hello/configuration",
		"PUT /2015-03-31/functions/hello/configuration",
	}
	if d := cmp.Diff(want, paths); d != "" {
		t.Fatalf("requests (-want +got):\n%s", d)
	}
	codeBody := reqs[0].jsonBody(t)
	if d := cmp.Diff([]string{"app.py"}, zipNames(t, codeBody["ZipFile"])); d != "" {
		t.Errorf("zip entries (-want +got):\n%s", d)
	}
	confBody := reqs[3].jsonBody(t)
	wantConf := map[string]any{"MemorySize": 512.0, "Environment": map[string]any{"Variables": map[string]any{"A": "1"}}}
	if d := cmp.Diff(wantConf, confBody); d != "" {
		t.Errorf("UpdateFunctionConfiguration body (-want +got):\n%s", d)
	}
}

func TestUpdateConfigOnly(t *testing.T) {
	f := newFakeAPI(t, map[string]http.HandlerFunc{
		"PUT /2015-03-31/functions/hello/configuration": reply(200, helloConfig),
	})
	f.run("function", "update", "hello", "--clear-env", "--handler", "main.handler", "--runtime", "python3.13",
		"--timeout", "30", "--description", "", "-o", "json").ok(t)
	want := map[string]any{
		"Environment": map[string]any{"Variables": map[string]any{}},
		"Handler":     "main.handler",
		"Runtime":     "python3.13",
		"Timeout":     30.0,
		"Description": "",
	}
	if d := cmp.Diff(want, f.only().jsonBody(t)); d != "" {
		t.Errorf("UpdateFunctionConfiguration body (-want +got):\n%s", d)
	}
}

func TestUpdateErrors(t *testing.T) {
	f := newFakeAPI(t, map[string]http.HandlerFunc{
		"PUT /2015-03-31/functions/hello/code":          reply(200, helloConfig),
		"PUT /2015-03-31/functions/hello/configuration": lambdaError(400, "InvalidParameterValueException", "MemorySize must be at least 128"),
		"PUT /2015-03-31/functions/nope/configuration":  lambdaError(404, "ResourceNotFoundException", "Function not found"),
	})
	dir := codeDir(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"hello"}, `aloft: nothing to update: give --code or a configuration flag (see "aloft function update --help")`},
		{[]string{"hello", "--env", "A=1", "--clear-env"}, `aloft: --env and --clear-env exclude each other (see "aloft function update --help")`},
		{[]string{"nope", "--timeout", "5"}, `aloft: function "nope" not found`},
		{[]string{"hello", "--code", dir, "--memory", "64"},
			"aloft: the code was updated, but not the configuration: InvalidParameterValueException: MemorySize must be at least 128"},
	} {
		r := f.run(append([]string{"function", "update"}, tc.args...)...)
		if r.code != 1 || r.stderr != tc.want+"\n" {
			t.Errorf("%v: exit %d, stderr %q; want %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

func TestGet(t *testing.T) {
	f := newFakeAPI(t, map[string]http.HandlerFunc{
		"GET /2015-03-31/functions/hello": reply(200, `{"Configuration":`+helloConfig+`,
			"Code":{"RepositoryType":"S3","Location":"http://127.0.0.1:9000/code/hello.zip"},"Tags":{"team":"web"}}`),
	})
	golden(t, "get.golden", f.run("function", "get", "hello").ok(t).stdout)
	golden(t, "get.json.golden", f.run("function", "get", "hello", "--output", "json").ok(t).stdout)
}

func TestList(t *testing.T) {
	f := newFakeAPI(t, map[string]http.HandlerFunc{
		"GET /2015-03-31/functions": func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("Marker") == "" {
				reply(200, `{"Functions":[`+helloConfig+`],"NextMarker":"page2"}`)(w, r)
				return
			}
			reply(200, `{"Functions":[`+workerConfig+`]}`)(w, r)
		},
	})
	golden(t, "list.golden", f.run("function", "list").ok(t).stdout)
	golden(t, "list.json.golden", f.run("function", "ls", "-o", "json").ok(t).stdout)
	reqs := f.requests()
	if len(reqs) != 4 || reqs[1].Query["Marker"][0] != "page2" {
		t.Errorf("pagination: %d requests, second has Marker %v", len(reqs), reqs[1].Query["Marker"])
	}
}

func TestListEmpty(t *testing.T) {
	f := newFakeAPI(t, map[string]http.HandlerFunc{
		"GET /2015-03-31/functions": reply(200, `{"Functions":[]}`),
	})
	golden(t, "list-empty.golden", f.run("function", "list").ok(t).stdout)
}

func TestDelete(t *testing.T) {
	f := newFakeAPI(t, map[string]http.HandlerFunc{
		"DELETE /2015-03-31/functions/hello": reply(204, ""),
	})
	r := f.run("function", "delete", "hello").ok(t)
	if r.stdout != "deleted function hello\n" {
		t.Errorf("stdout %q", r.stdout)
	}
	f.only()
}
