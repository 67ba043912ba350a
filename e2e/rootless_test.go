package e2e

import (
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/aloft-dev/aloft/internal/alofttest"
	"github.com/aloft-dev/aloft/internal/sandbox/linux"
)

// TestRootlessSandbox starts a server as an ordinary user (nobody) with
// the default sandbox: it must run functions in the rootless sandbox,
// say so in /health, and keep them away from the data dir, the host's
// processes and network, and the kernel surface the filter refuses.
func TestRootlessSandbox(t *testing.T) {
	srv := alofttest.StartAs(t, 65534, 65534)
	if err := linux.UserNamespacesWork(); err != nil {
		t.Skipf("this host forbids user namespaces (%v); the server fell back to plain processes", err)
	}
	resp, err := http.Get(srv.URL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	var health map[string]string
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := json.Unmarshal(b, &health); err != nil || health["sandbox"] != "linux-rootless" || !strings.Contains(health["isolation"], "NO cgroup limits") {
		t.Fatalf("/health: %s", b)
	}

	c := srv.Lambda()
	for _, rc := range runtimeCases() {
		create(t, c, "rc-"+rc.name, rc, rc.code(t, "v1"))
		if a, out := invoke(t, c, "rc-"+rc.name, `{}`); out.FunctionError != nil || a.Version != "v1" {
			t.Errorf("%s runtime: %s %+v", rc.name, out.Payload, a)
		}
	}
	goRC := runtimeCases()[0]
	create(t, c, "hostile", goRC, alofttest.GoFunction(t, "e2e/functions/hostile", "v1"), func(in *lambda.CreateFunctionInput) {
		in.Timeout = aws.Int32(5)
	})
	attack := func(payload string) hostileReport {
		t.Helper()
		out, err := c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String("hostile"), Payload: []byte(payload)})
		if err != nil || out.FunctionError != nil {
			t.Fatalf("invoke %s: %v %s", payload, err, out.Payload)
		}
		var r hostileReport
		if err := json.Unmarshal(out.Payload, &r); err != nil {
			t.Fatal(err)
		}
		return r
	}

	// Root of the user namespace, which is nobody on the host, with no
	// capabilities, no_new_privs and the filter.
	st := attack(`{"op":"status"}`)
	for _, want := range []string{"Uid: 0 0 0 0", "CapInh: 0000000000000000", "CapPrm: 0000000000000000", "CapEff: 0000000000000000",
		"CapBnd: 0000000000000000", "CapAmb: 0000000000000000", "NoNewPrivs: 1", "Seccomp: 2"} {
		if !strings.Contains(st.Detail, want) {
			t.Errorf("status lacks %q:\n%s", want, st.Detail)
		}
	}
	// The data dir holds nothing but the mount points of the code and
	// the runtimes (its keys, state and other instances' files are not
	// there), what else of the host is not mounted is not there either,
	// the code is read-only, and mounts, namespaces and tracing fail.
	for _, p := range []string{`{"op":"read","path":"` + srv.Dir + `/credentials"}`, `{"op":"read","path":"` + srv.Dir + `/jetstream"}`,
		`{"op":"read","path":"` + srv.Dir + `/instances"}`, `{"op":"write","path":"` + srv.Dir + `/runtimes"}`,
		`{"op":"read","path":"/root"}`, `{"op":"read","path":"/home"}`,
		`{"op":"write","path":"/var/task"}`, `{"op":"write","path":"/usr"}`,
		`{"op":"mount"}`, `{"op":"unshare"}`, `{"op":"ptrace"}`} {
		if r := attack(p); r.OK {
			t.Errorf("%s succeeded: %+v", p, r)
		}
	}
	if r := attack(`{"op":"tmpwrite","path":"x"}`); !r.OK {
		t.Errorf("/tmp is not writable: %+v", r)
	}
	// The data dir's path (here under /tmp) may be written to inside the
	// sandbox, but that is the instance's own /tmp, not the data dir.
	attack(`{"op":"write","path":"` + srv.Dir + `"}`)
	if _, err := os.Stat(filepath.Join(srv.Dir, "planted")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a function wrote into the data dir: %v", err)
	}
	// Its own processes only: init and itself. Being the same user as
	// its init, it may signal it, which harms its own instance at most
	// (init ignores SIGKILL from inside its namespace).
	if r := attack(`{"op":"procs"}`); r.Count > 2 {
		t.Errorf("procs: sees %d (%s)", r.Count, r.Detail)
	}
	if r := attack(`{"op":"whoami"}`); r.Detail != "localhost" {
		t.Errorf("after signalling its own processes the instance answers %+v", r)
	}
	if !srv.Alive() {
		t.Fatal("the server died")
	}

	// The network: its loopback, where Aloft's API answers, and nothing of
	// the host's.
	host, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	if r := attack(`{"op":"dial","path":"` + host.Addr().String() + `","mb":500}`); r.OK || r.Detail != "lo" {
		t.Errorf("host loopback service reached, or interfaces %q: %+v", r.Detail, r)
	}
	api, _ := url.Parse(srv.URL)
	if r := attack(`{"op":"dial","path":"` + api.Host + `"}`); !r.OK {
		t.Errorf("Aloft's API not reachable from the function: %+v", r)
	}
}
