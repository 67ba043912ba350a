package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

func mustGlob(t *testing.T, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	if err != nil || len(m) == 0 {
		t.Fatalf("no files match %s (%v)", pattern, err)
	}
	return m
}

// TestCLI drives the aloft CLI against a real server, as a user would.
func TestCLI(t *testing.T) {
	srv := alofttest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	root := alofttest.ModuleRoot(t)
	run := func(args ...string) (string, string, int) {
		t.Helper()
		return srv.Run(ctx, nil, args...)
	}
	mustRun := func(args ...string) string {
		t.Helper()
		out, errOut, code := run(args...)
		if code != 0 {
			t.Fatalf("aloft %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}

	mustRun("function", "create", "hello", "--runtime", "python3.11", "--handler", "app.handler",
		"--code", root+"/examples/hello-python/", "--env", "AA=1")
	out := mustRun("invoke", "hello", "--payload", `{"name":"Ada"}`)
	if !strings.Contains(out, "Hello, Ada!") {
		t.Fatalf("invoke printed %q", out)
	}
	out = mustRun("invoke", "hello", "--payload", `{"name":"Bob"}`)
	var resp struct {
		Message string `json:"message"`
		Count   int    `json:"count"`
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil || resp.Count != 2 {
		t.Fatalf("second invoke printed %q (%v), want count 2 from the warm instance", out, err)
	}

	list := mustRun("function", "list")
	if !strings.Contains(list, "hello") || !strings.Contains(list, "python3.11") {
		t.Fatalf("list printed %q", list)
	}
	var fns []map[string]any
	jsonOut := mustRun("function", "list", "--output", "json")
	if err := json.Unmarshal([]byte(jsonOut), &fns); err != nil || len(fns) != 1 || fns[0]["FunctionName"] != "hello" {
		t.Fatalf("list --output json printed %q (%v)", jsonOut, err)
	}

	mustRun("function", "update", "hello", "--memory", "256")
	var cfg map[string]any
	getOut := mustRun("function", "get", "hello", "--output", "json")
	if err := json.Unmarshal([]byte(getOut), &cfg); err != nil || !strings.Contains(getOut, "256") {
		t.Fatalf("get after update printed %q (%v)", getOut, err)
	}

	var logs string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		logs = mustRun("logs", "hello", "--since", "10m")
		if strings.Contains(logs, "greeting Bob") {
			break
		}
	}
	for _, want := range []string{"START RequestId:", "greeting Ada", "greeting Bob", "REPORT RequestId:"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	if usage := mustRun("usage"); !strings.Contains(usage, "hello") {
		t.Errorf("usage printed %q", usage)
	}

	if ka := mustRun("keepalive", "show", "hello"); !strings.Contains(ka, `"Reason"`) || !strings.Contains(ka, `"Samples"`) {
		t.Errorf("keepalive show printed %q", ka)
	}
	// The keep-alive simulator needs no server.
	sim := mustRun(append([]string{"keepalive", "simulate"}, mustGlob(t, root+"/internal/keepalive/testdata/synthetic.d0*.csv.gz")...)...)
	if !strings.Contains(sim, "hybrid") || !strings.Contains(sim, "fixed-10m") {
		t.Errorf("keepalive simulate printed %q", sim)
	}

	// Errors: one line on stderr, exit status 1.
	_, errOut, code := run("invoke", "nope")
	if code != 1 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.Contains(errOut, "not found") {
		t.Fatalf("invoke of a missing function: exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = run("function", "create", "bad name", "--runtime", "python3.11", "--handler", "app.handler", "--code", root+"/examples/hello-python/")
	if code != 1 || !strings.Contains(errOut, "ValidationException") {
		t.Fatalf("bad name: exit %d, stderr %q", code, errOut)
	}

	mustRun("function", "delete", "hello")
	if _, _, code := run("function", "get", "hello"); code != 1 {
		t.Fatalf("get after delete exited %d, want 1", code)
	}

	srv.Stop()
	_, errOut, code = run("function", "list")
	if code != 1 || !strings.Contains(errOut, "cannot reach") {
		t.Fatalf("with the server down: exit %d, stderr %q", code, errOut)
	}
}

// TestCLIIAM manages identities with the aloft CLI against a real server:
// a role for functions, a user with an inline policy and an access key,
// what that user may do with its key, the key disabled, and the user
// deleted with everything IAM wants gone first.
func TestCLIIAM(t *testing.T) {
	srv := alofttest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// runAs runs the CLI signing with the given keys; runAs("", "") signs
	// with the server's root keys.
	runAs := func(keyID, secret string, args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.CommandContext(ctx, alofttest.Binary(t), args...)
		cmd.Env = srv.Env()
		if keyID != "" {
			cmd.Env = append(cmd.Env, "ALOFT_ACCESS_KEY_ID="+keyID, "ALOFT_SECRET_ACCESS_KEY="+secret)
		}
		cmd.Dir = srv.Dir
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		code := 0
		if err := cmd.Run(); err != nil {
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("aloft %s: %v", strings.Join(args, " "), err)
			}
			code = exit.ExitCode()
		}
		return o.String(), e.String(), code
	}
	mustRun := func(args ...string) string {
		t.Helper()
		out, errOut, code := runAs("", "", args...)
		if code != 0 || errOut != "" {
			t.Fatalf("aloft %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}
	// eventually retries run until it exits with code: IAM changes reach
	// every request within a short delay.
	eventually := func(code int, run func() (string, string, int)) (string, string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			out, errOut, got := run()
			if got == code {
				return out, errOut
			}
			if time.Now().After(deadline) {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", got, code, out, errOut)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// A role for functions: trusts Lambda unless told otherwise.
	if out := mustRun("role", "create", "fn-role"); out != "created role fn-role (arn:aws:iam::000000000000:role/fn-role)\n" {
		t.Fatalf("role create printed %q", out)
	}
	var role struct {
		Role struct{ Arn, AssumeRolePolicyDocument string }
	}
	out := mustRun("role", "show", "fn-role", "-o", "json")
	if err := json.Unmarshal([]byte(out), &role); err != nil {
		t.Fatalf("role show -o json printed %q: %v", out, err)
	}
	var trust struct {
		Statement []struct {
			Effect    string
			Principal struct{ Service string }
			Action    string
		}
	}
	if err := json.Unmarshal([]byte(role.Role.AssumeRolePolicyDocument), &trust); err != nil || len(trust.Statement) != 1 ||
		trust.Statement[0].Principal.Service != "lambda.amazonaws.com" || trust.Statement[0].Action != "sts:AssumeRole" {
		t.Fatalf("the role's trust policy, decoded, is %q (%v)", role.Role.AssumeRolePolicyDocument, err)
	}
	if out := mustRun("role", "show", "fn-role"); !strings.Contains(out, `"Service": "lambda.amazonaws.com"`) {
		t.Errorf("role show does not print the decoded trust policy:\n%s", out)
	}

	// A user allowed to list functions, with a key.
	policy := filepath.Join(t.TempDir(), "list-functions.json")
	if err := os.WriteFile(policy, []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:ListFunctions","Resource":"*"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out = mustRun("user", "create", "dev", "--policy-file", policy, "--policy-name", "list-functions", "--with-key")
	for _, want := range []string{"created user dev (arn:aws:iam::000000000000:user/dev)\n", "put inline policy list-functions\n", "shown only this once"} {
		if !strings.Contains(out, want) {
			t.Errorf("user create printed no %q:\n%s", want, out)
		}
	}
	details := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		for _, name := range []string{"Access key ID", "Secret access key"} {
			if v, ok := strings.CutPrefix(line, name); ok {
				details[name] = strings.TrimSpace(v)
			}
		}
	}
	keyID, secret := details["Access key ID"], details["Secret access key"]
	if !strings.HasPrefix(keyID, "AKIA") || len(secret) < 30 {
		t.Fatalf("user create --with-key printed key %q, secret %q:\n%s", keyID, secret, out)
	}
	out = mustRun("user", "show", "dev")
	for _, want := range []string{"arn:aws:iam::000000000000:user/dev", "list-functions", keyID + "   Active"} {
		if !strings.Contains(out, want) {
			t.Errorf("user show printed no %q:\n%s", want, out)
		}
	}

	// With its key, the user is itself, and may do what its policy allows only.
	out, _ = eventually(0, func() (string, string, int) { return runAs(keyID, secret, "whoami", "-o", "json") })
	var who struct{ Account, Arn, UserId string }
	if err := json.Unmarshal([]byte(out), &who); err != nil || who.Account != "000000000000" ||
		who.Arn != "arn:aws:iam::000000000000:user/dev" || !strings.HasPrefix(who.UserId, "AIDA") {
		t.Fatalf("whoami as dev printed %q (%v)", out, err)
	}
	if out, _, _ := runAs(keyID, secret, "whoami"); !strings.Contains(out, "Arn       arn:aws:iam::000000000000:user/dev\n") {
		t.Errorf("whoami as dev printed %q", out)
	}
	if out := mustRun("whoami"); !strings.Contains(out, "Arn       arn:aws:iam::000000000000:root\n") {
		t.Errorf("whoami with the root keys printed %q", out)
	}
	if out, errOut, code := runAs(keyID, secret, "function", "list"); code != 0 || !strings.HasPrefix(out, "NAME") {
		t.Errorf("function list as dev: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	_, errOut, code := runAs(keyID, secret, "user", "list")
	if code != 1 || !strings.HasPrefix(errOut, "aloft: AccessDenied: User: arn:aws:iam::000000000000:user/dev is not authorized to perform: iam:ListUsers") {
		t.Errorf("user list as dev: exit %d, stderr %q", code, errOut)
	}

	// A disabled key is refused.
	if out := mustRun("key", "disable", "dev", keyID); out != "disabled access key "+keyID+" of user dev\n" {
		t.Errorf("key disable printed %q", out)
	}
	if out := mustRun("key", "list", "dev"); !strings.Contains(out, keyID+"   Inactive") {
		t.Errorf("key list after disable printed %q", out)
	}
	_, errOut = eventually(1, func() (string, string, int) { return runAs(keyID, secret, "whoami") })
	if !strings.HasPrefix(errOut, "aloft: ") || strings.Count(errOut, "\n") != 1 ||
		!strings.Contains(errOut, "UnrecognizedClientException") && !strings.Contains(errOut, "InvalidClientTokenId") {
		t.Errorf("whoami with the disabled key: stderr %q", errOut)
	}

	// IAM keeps a user with keys or policies; --force removes them first.
	_, errOut, code = runAs("", "", "user", "delete", "dev")
	if code != 1 || !strings.HasPrefix(errOut, "aloft: DeleteConflict: ") {
		t.Errorf("user delete without --force: exit %d, stderr %q", code, errOut)
	}
	out = mustRun("user", "delete", "dev", "--force")
	if want := "deleted access key " + keyID + "\ndeleted inline policy list-functions\ndeleted user dev\n"; out != want {
		t.Errorf("user delete --force printed %q, want %q", out, want)
	}
	_, errOut, code = runAs("", "", "user", "show", "dev")
	if code != 1 || errOut != "aloft: NoSuchEntity: The user with name dev cannot be found.\n" {
		t.Errorf("user show after delete: exit %d, stderr %q", code, errOut)
	}
	if out := mustRun("user", "list"); strings.Contains(out, "dev") {
		t.Errorf("user list after delete printed %q", out)
	}
	mustRun("role", "delete", "fn-role")
}

// TestCLIWarnsOfMissingFunctions creates a route and a schedule for a
// function that does not exist: both are made, with a warning that says
// what that means.
func TestCLIWarnsOfMissingFunctions(t *testing.T) {
	srv := alofttest.Start(t)
	ctx := ctxT(t)
	_, errOut, code := srv.Run(ctx, nil, "route", "create", "GET /later", "--function", "later")
	if code != 0 || !strings.Contains(errOut, "warning: the function later does not exist; until it does, the route answers 500") {
		t.Errorf("route create: exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = srv.Run(ctx, nil, "schedule", "create", "later-nightly", "--expression", "rate(1 day)", "--function", "later")
	if code != 0 || !strings.Contains(errOut, "does not exist; until it does, the schedule's invocations fail") {
		t.Errorf("schedule create: exit %d, stderr %q", code, errOut)
	}
	out, errOut, code := srv.Run(ctx, nil, "schedule", "delete", "later-nightly")
	if code != 0 || out != "deleted schedule later-nightly\n" {
		t.Errorf("schedule delete: exit %d, %q %q", code, out, errOut)
	}
}

// TestCLICompletesNames asks the shell completion for function, bucket
// and schedule names, as a shell does, against a real server.
func TestCLICompletesNames(t *testing.T) {
	srv := alofttest.Start(t)
	ctx := ctxT(t)
	rc := runtimeCases()[1]
	create(t, srv.Lambda(), "hello-one", rc, rc.code(t, "v1"))
	create(t, srv.Lambda(), "other", rc, rc.code(t, "v1"))
	if _, errOut, code := srv.Run(ctx, nil, "bucket", "create", "photos-in"); code != 0 {
		t.Fatal(errOut)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"__complete", "invoke", "hel"}, "hello-one\n"},
		{[]string{"__complete", "logs", ""}, "hello-one\nother\n"},
		{[]string{"__complete", "bucket", "delete", "pho"}, "photos-in\n"},
		{[]string{"__complete", "route", "create", "GET /x", "--function", "oth"}, "other\n"},
	} {
		out, errOut, code := srv.Run(ctx, nil, tc.args...)
		if code != 0 || !strings.HasPrefix(out, tc.want+":4\n") {
			t.Errorf("%v: exit %d, %q %q; want %q first", tc.args, code, out, errOut, tc.want)
		}
	}
}

// TestREADMEGatewaySteps runs the README's gateway steps with its example
// function: the name in the query string reaches it, and a payload
// format 1.0 route answers too.
func TestREADMEGatewaySteps(t *testing.T) {
	srv := alofttest.Start(t)
	ctx := ctxT(t)
	root := alofttest.ModuleRoot(t)
	for _, args := range [][]string{
		{"function", "create", "hello-py", "--runtime", "python3.11", "--handler", "app.handler", "--code", root + "/examples/hello-python/"},
		{"invoke", "hello-py", "--payload", "@" + root + "/examples/hello-python/event.json"},
		{"route", "create", "GET /hello", "--function", "hello-py"},
		{"route", "create", "POST", "/items/{id}", "--function", "hello-py", "--payload-format", "1.0"},
	} {
		if out, errOut, code := srv.Run(ctx, nil, args...); code != 0 {
			t.Fatalf("aloft %v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	r := call(t, "GET", srv.GatewayURL+"/hello?name=Ada", "", nil, nil).expect(t, 200, "")
	if !strings.Contains(string(r.body), `"message": "Hello, Ada!"`) {
		t.Errorf("GET /hello?name=Ada: %s", r.body)
	}
	r = call(t, "POST", srv.GatewayURL+"/items/7", "", nil, nil).expect(t, 200, "")
	if !strings.Contains(string(r.body), `"message": "Hello, world!"`) {
		t.Errorf("POST /items/7: %s", r.body)
	}
}
