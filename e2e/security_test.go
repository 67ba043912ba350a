package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/aloft-dev/aloft/internal/alofttest"
	"github.com/aloft-dev/aloft/internal/sandbox/egress/egresstest"
)

// presignAPI presigns a request to the server's API listener for service
// with the root keys, as a leaked URL would carry them.
func presignAPI(t *testing.T, srv *alofttest.Server, service, method, path string, header http.Header) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	q := req.URL.Query()
	q.Set("X-Amz-Expires", "300")
	req.URL.RawQuery = q.Encode()
	creds := aws.Credentials{AccessKeyID: alofttest.AccessKeyID, SecretAccessKey: alofttest.SecretAccessKey}
	u, hdr, err := v4.NewSigner().PresignHTTP(ctxT(t), creds, req, "UNSIGNED-PAYLOAD", service, alofttest.Region, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	out, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		if k != "Host" {
			out.Header[k] = vs
		}
	}
	for k, vs := range header {
		out.Header[k] = vs
	}
	return out
}

// TestPresignedOnlyForS3 checks that presigned URLs work for S3 and are
// refused, with the service's own error, for every other API.
func TestPresignedOnlyForS3(t *testing.T) {
	srv := alofttest.Start(t)
	ctx := ctxT(t)
	c := srv.Lambda()
	create(t, c, "victim", runtimeCases()[1], alofttest.ZipFiles(t, map[string]string{"app.py": "def handler(e, c):\n    return e\n"}))

	s3c := srv.S3()
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("shared")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("shared"), Key: aws.String("report.txt"),
		Body: strings.NewReader("quarterly numbers")}); err != nil {
		t.Fatal(err)
	}
	get, err := s3.NewPresignClient(s3c).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("shared"), Key: aws.String("report.txt")},
		s3.WithPresignExpires(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(get.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(b) != "quarterly numbers" {
		t.Fatalf("presigned S3 GET: %d %q", resp.StatusCode, b)
	}

	logsTarget := http.Header{"X-Amz-Target": {"Logs_20140328.DescribeLogGroups"}, "Content-Type": {"application/x-amz-json-1.1"}}
	for _, tc := range []struct {
		name, service, method, path string
		header                      http.Header
	}{
		{"lambda ListFunctions", "lambda", "GET", "/2015-03-31/functions/", nil},
		{"lambda Invoke", "lambda", "POST", "/2015-03-31/functions/victim/invocations", nil},
		{"lambda DeleteFunction", "lambda", "DELETE", "/2015-03-31/functions/victim", nil},
		{"scheduler ListSchedules", "scheduler", "GET", "/schedules", nil},
		{"apigateway GetApis", "apigateway", "GET", "/v2/apis", nil},
		{"logs DescribeLogGroups", "logs", "POST", "/", logsTarget},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, hdr, body := do(t, presignAPI(t, srv, tc.service, tc.method, tc.path, tc.header))
			var e struct {
				Type    string `json:"__type"`
				Message string `json:"message"`
			}
			if status != http.StatusForbidden || hdr.Get("X-Amzn-Errortype") != "AccessDeniedException" ||
				json.Unmarshal([]byte(body), &e) != nil || e.Type != "AccessDeniedException" || !strings.Contains(e.Message, "Presigned") {
				t.Fatalf("got %d %v %s, want 403 AccessDeniedException", status, hdr, body)
			}
		})
	}
	// Nothing the refused requests asked for happened; header-signed
	// requests still work.
	if _, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("victim")}); err != nil {
		t.Fatalf("the function is gone after a refused presigned DeleteFunction: %v", err)
	}
}

// TestCodeLocationLink downloads GetFunction's Code.Location without AWS
// credentials and checks that the link names its expiry (ten minutes on)
// and works only as issued. Expiry itself is tested with a fake clock in
// internal/lambdaapi.
func TestCodeLocationLink(t *testing.T) {
	srv := alofttest.Start(t)
	c := srv.Lambda()
	zip := alofttest.ZipFiles(t, map[string]string{"app.py": "def handler(e, c):\n    return e\n"})
	create(t, c, "linked", runtimeCases()[1], zip)
	before := time.Now()
	fn, err := c.GetFunction(ctxT(t), &lambda.GetFunctionInput{FunctionName: aws.String("linked")})
	if err != nil {
		t.Fatal(err)
	}
	loc := aws.ToString(fn.Code.Location)
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	exp, err := strconv.ParseInt(u.Query().Get("expires"), 10, 64)
	if err != nil || u.Query().Get("token") == "" {
		t.Fatalf("code location %s carries no expiry or token", loc)
	}
	if d := time.Unix(exp, 0).Sub(before); d < 9*time.Minute || d > 11*time.Minute {
		t.Fatalf("code location expires in %s, want about ten minutes", d)
	}

	status, _, body := do(t, mustRequest(t, "GET", loc))
	if status != http.StatusOK || !bytes.Equal([]byte(body), zip) {
		t.Fatalf("code location got %d and %d bytes, want the %d-byte zip", status, len(body), len(zip))
	}
	q := u.Query()
	q.Set("expires", strconv.FormatInt(exp+24*3600, 10))
	later := *u
	later.RawQuery = q.Encode()
	status, hdr, body := do(t, mustRequest(t, "GET", later.String()))
	if xe := wantXMLError(t, status, hdr, body, http.StatusForbidden, "AccessDenied"); xe.Message != "Access Denied" {
		t.Fatalf("a link with its expiry moved got message %q", xe.Message)
	}
	q = u.Query()
	q.Set("token", strings.Repeat("0", len(q.Get("token"))))
	forged := *u
	forged.RawQuery = q.Encode()
	status, hdr, body = do(t, mustRequest(t, "GET", forged.String()))
	wantXMLError(t, status, hdr, body, http.StatusForbidden, "AccessDenied")
}

func mustRequest(t *testing.T, method, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// freeLoopbackPort returns a port that was free on 127.0.0.1 a moment ago.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestDebugProfiler starts servers with ALOFT_DEBUG_PPROF: on loopback the
// profiler answers the root keys only; elsewhere it does not start.
func TestDebugProfiler(t *testing.T) {
	t.Run("loopback", func(t *testing.T) {
		addr := fmt.Sprintf("127.0.0.1:%d", freeLoopbackPort(t))
		t.Setenv("ALOFT_DEBUG_PPROF", addr)
		alofttest.Start(t)
		base := "http://" + addr + "/debug/pprof/"
		for _, tc := range []struct {
			name     string
			id, key  string
			wantCode int
		}{
			{"no credentials", "", "", http.StatusUnauthorized},
			{"wrong secret", alofttest.AccessKeyID, "wrong", http.StatusUnauthorized},
			{"root keys", alofttest.AccessKeyID, alofttest.SecretAccessKey, http.StatusOK},
		} {
			req := mustRequest(t, "GET", base+"goroutine?debug=1")
			if tc.id != "" {
				req.SetBasicAuth(tc.id, tc.key)
			}
			if status, _, body := do(t, req); status != tc.wantCode {
				t.Errorf("%s: got %d %.200s, want %d", tc.name, status, body, tc.wantCode)
			}
		}
		// Signed with the root keys, as an AWS SDK would sign it.
		req := mustRequest(t, "GET", base)
		err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: alofttest.AccessKeyID, SecretAccessKey: alofttest.SecretAccessKey},
			req, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "aloft", alofttest.Region, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if status, _, body := do(t, req); status != http.StatusOK {
			t.Errorf("signed request: got %d %.200s, want 200", status, body)
		}
	})
	t.Run("all interfaces", func(t *testing.T) {
		port := freeLoopbackPort(t)
		t.Setenv("ALOFT_DEBUG_PPROF", fmt.Sprintf("0.0.0.0:%d", port))
		srv := alofttest.Start(t)
		if !strings.Contains(srv.Log(), "debug profiler not started") {
			t.Fatalf("no refusal in the server log:\n%s", srv.Log())
		}
		if conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
			conn.Close()
			t.Fatal("the profiler listens on every interface")
		}
	})
}

// hostServices gives the host each of addrs (IPv4, each a /32) on an
// interface of its own (a dummy one, or a veth pair with both ends on the
// host where the kernel has no dummy driver), removed when the test
// ends, runs a TCP listener
// on each that answers "host\n", checks from the host that each answers,
// and returns the listeners' addresses (host:port). A function's failure
// to reach one is then the sandbox's doing, not an empty address. It
// needs root.
func hostServices(t *testing.T, addrs ...string) []string {
	t.Helper()
	var name string
	for i := 0; i < 100 && name == ""; i++ {
		la := netlink.NewLinkAttrs()
		la.Name = "hostsvc" + strconv.Itoa(i)
		err := netlink.LinkAdd(&netlink.Dummy{LinkAttrs: la})
		if errors.Is(err, unix.EOPNOTSUPP) {
			peer := la.Name + "p"
			if err = netlink.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: peer}); err == nil {
				if p, err := netlink.LinkByName(peer); err == nil {
					netlink.LinkSetUp(p)
				}
			}
		}
		if errors.Is(err, unix.EEXIST) {
			continue // another test process's
		}
		if err != nil {
			t.Fatalf("an interface for the host's services: %v", err)
		}
		name = la.Name
	}
	if name == "" {
		t.Fatal("an interface for the host's services: no free name")
	}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(name); err == nil {
			netlink.LinkDel(l)
		}
	})
	l, err := netlink.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		ip := net.ParseIP(a).To4()
		if ip == nil {
			t.Fatalf("%s is not an IPv4 address", a)
		}
		if err := netlink.AddrAdd(l, &netlink.Addr{IPNet: &net.IPNet{IP: ip, Mask: net.CIDRMask(32, 32)}}); err != nil {
			t.Fatalf("address %s on %s: %v", a, name, err)
		}
	}
	if err := netlink.LinkSetUp(l); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range addrs {
		ln, err := net.Listen("tcp", net.JoinHostPort(a, "0"))
		if err != nil {
			t.Fatalf("listen on %s: %v", a, err)
		}
		t.Cleanup(func() { ln.Close() })
		go serveLine(ln, "host\n")
		if err := answersLine(ln.Addr().String(), "host\n"); err != nil {
			t.Fatalf("from the host: %v", err)
		}
		out = append(out, ln.Addr().String())
	}
	return out
}

// serveLine writes line to every connection ln accepts, until it closes.
func serveLine(ln net.Listener, line string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Write([]byte(line))
		c.Close()
	}
}

// answersLine connects to addr from the calling thread's network
// namespace and reports why it did not answer line, or nil.
func answersLine(addr, line string) error {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return fmt.Errorf("%s does not answer: %w", addr, err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	got, _ := bufio.NewReader(c).ReadString('\n')
	if got != line {
		return fmt.Errorf("%s answered %q, want %q", addr, got, line)
	}
	return nil
}

// listeningInstance waits up to wait for an instance of the server on
// dataDir to listen on port in its network namespace, and returns the
// address that namespace has on the link to the host (where egress put
// it: the second address of a /30 of 100.64.0.0/10), once a connection
// there from inside the namespace has been answered with line. It needs
// root.
func listeningInstance(t *testing.T, dataDir string, port int, line string, wait time.Duration) string {
	t.Helper()
	var last error
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		seen := map[uint64]bool{}
		for _, pids := range instanceCgroups(t, dataDir) {
			for _, pid := range pids {
				var st unix.Stat_t
				path := "/proc/" + strconv.Itoa(pid) + "/ns/net"
				if unix.Stat(path, &st) != nil || seen[st.Ino] {
					continue
				}
				seen[st.Ino] = true
				fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
				if err != nil {
					continue
				}
				var addr string
				err = egresstest.In(fd, func() error {
					if err := answersLine(net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), line); err != nil {
						return err
					}
					eth, err := net.InterfaceByName("eth0")
					if err != nil {
						return err
					}
					as, err := eth.Addrs()
					if err != nil {
						return err
					}
					for _, a := range as {
						if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
							addr = net.JoinHostPort(ipn.IP.String(), strconv.Itoa(port))
						}
					}
					if addr == "" {
						return fmt.Errorf("eth0 has no IPv4 address: %v", as)
					}
					return answersLine(addr, line)
				})
				unix.Close(fd)
				if err == nil {
					return addr
				}
				last = err
			}
		}
	}
	t.Fatalf("no instance listens on port %d after %s (last: %v)", port, wait, last)
	return ""
}
