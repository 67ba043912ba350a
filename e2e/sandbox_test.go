package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/aloft-dev/aloft/internal/alofttest"
	"github.com/aloft-dev/aloft/internal/sandbox/egress/egresstest"
)

// hostileReport is what the hostile test function answers.
type hostileReport struct {
	OK     bool   `json:"ok"`
	Err    string `json:"err"`
	Count  int    `json:"count"`
	Detail string `json:"detail"`
}

// TestSandboxContainsHostileFunctions runs functions that attack their
// sandbox under the linux driver, and checks each attack is contained and
// reported while a well-behaved function keeps answering.
func TestSandboxContainsHostileFunctions(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the linux sandbox needs root (namespaces, cgroups, mounts): run the suite as root, as CI does")
	}
	srv := alofttest.Start(t, "--sandbox", "linux")
	c := srv.Lambda()
	goRC := runtimeCases()[0]
	create(t, c, "good", goRC, goRC.code(t, "v1"))
	create(t, c, "hostile", goRC, alofttest.GoFunction(t, "e2e/functions/hostile", "v1"), func(in *lambda.CreateFunctionInput) {
		in.Timeout = aws.Int32(3)
	})
	create(t, c, "hangup", goRC, alofttest.GoFunction(t, "e2e/functions/hangup", "v1"), func(in *lambda.CreateFunctionInput) {
		in.Timeout = aws.Int32(2)
	})

	// A well-behaved function is invoked all along.
	stop := make(chan struct{})
	var goodErrs []error
	var goodLat []time.Duration
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			t0 := time.Now()
			out, err := c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String("good"), Payload: []byte(`{"op":"noop"}`)})
			if err == nil && out.FunctionError != nil {
				err = fmt.Errorf("function error: %s", out.Payload)
			}
			if err != nil {
				goodErrs = append(goodErrs, err)
			}
			goodLat = append(goodLat, time.Since(t0))
		}
	}()

	attack := func(t *testing.T, payload string) (hostileReport, *lambda.InvokeOutput) {
		t.Helper()
		out, err := c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String("hostile"), Payload: []byte(payload)})
		if err != nil {
			t.Fatalf("invoke %s: %v", payload, err)
		}
		var r hostileReport
		if out.FunctionError == nil {
			if err := json.Unmarshal(out.Payload, &r); err != nil {
				t.Fatalf("%s answered %s", payload, out.Payload)
			}
		}
		return r, out
	}
	blocked := func(t *testing.T, payload, wantErr string) {
		t.Helper()
		r, out := attack(t, payload)
		if out.FunctionError != nil || r.OK || !strings.Contains(r.Err, wantErr) {
			t.Errorf("%s: got %+v (function error %q: %s), want it refused with %q", payload, r, aws.ToString(out.FunctionError), out.Payload, wantErr)
		}
	}
	host, _ := os.Hostname()

	t.Run("identity", func(t *testing.T) {
		r, _ := attack(t, `{"op":"whoami"}`)
		if r.Count == 0 || r.Detail == host {
			t.Errorf("function runs as uid %d on hostname %q (the host is %q)", r.Count, r.Detail, host)
		}
	})
	t.Run("files", func(t *testing.T) {
		blocked(t, `{"op":"read","path":"/etc/shadow"}`, "no such file")
		blocked(t, fmt.Sprintf(`{"op":"read","path":%q}`, srv.Dir+"/credentials"), "no such file")
		blocked(t, `{"op":"read","path":"/root/.profile"}`, "no such file")
		blocked(t, `{"op":"read","path":"/home"}`, "no such file")
		blocked(t, `{"op":"write","path":"/var/task"}`, "read-only file system")
		blocked(t, `{"op":"write","path":"/usr/bin"}`, "read-only file system")
	})
	t.Run("syscalls", func(t *testing.T) {
		blocked(t, `{"op":"mount"}`, "operation not permitted")
		blocked(t, `{"op":"unshare"}`, "operation not permitted")
		blocked(t, `{"op":"ptrace"}`, "operation not permitted")
	})
	t.Run("processes", func(t *testing.T) {
		r, _ := attack(t, `{"op":"procs"}`)
		if r.OK || r.Count > 3 || strings.Contains(","+r.Detail+",", fmt.Sprintf(",%d,", os.Getpid())) {
			t.Errorf("the function saw processes %s and could signal some: %+v", r.Detail, r)
		}
	})
	t.Run("tmp is sized", func(t *testing.T) {
		// /tmp is memory, counted against the instance's memory limit, so
		// this function has room to fill all 512 MB of it.
		create(t, c, "hostile-tmp", goRC, alofttest.GoFunction(t, "e2e/functions/hostile", "v1"), func(in *lambda.CreateFunctionInput) {
			in.MemorySize, in.Timeout = aws.Int32(1024), aws.Int32(30)
			in.EphemeralStorage = &types.EphemeralStorage{Size: aws.Int32(512)}
		})
		out, err := c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String("hostile-tmp"), Payload: []byte(`{"op":"filltmp"}`)})
		if err != nil {
			t.Fatal(err)
		}
		var r hostileReport
		json.Unmarshal(out.Payload, &r)
		if out.FunctionError != nil || r.OK || !strings.Contains(r.Err, "no space left") || r.Count > 512 {
			t.Errorf("filling /tmp got %s, want ENOSPC within 512 MB", out.Payload)
		}
	})
	t.Run("network", func(t *testing.T) {
		api := strings.TrimPrefix(srv.URL, "http://")
		dial := `{"op":"dial","path":"` + api + `"}`
		// By default a function reaches the network, Aloft's APIs included.
		if r, out := attack(t, dial); !r.OK {
			t.Errorf("a function on the default network cannot reach %s: %s", api, out.Payload)
		}
		// With aloft:network=none it has only a loopback interface, and
		// still its Runtime API (or it could not answer at all).
		create(t, c, "offline", goRC, alofttest.GoFunction(t, "e2e/functions/hostile", "v1"), func(in *lambda.CreateFunctionInput) {
			in.Tags = map[string]string{"aloft:network": "none"}
		})
		invokeDial := func(fn string) (hostileReport, *lambda.InvokeOutput) {
			out, err := c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String(fn), Payload: []byte(dial)})
			if err != nil {
				t.Fatalf("invoke %s: %v", fn, err)
			}
			var r hostileReport
			json.Unmarshal(out.Payload, &r)
			return r, out
		}
		r, out := invokeDial("offline")
		if out.FunctionError != nil || r.OK || r.Detail != "lo" || !strings.Contains(r.Err, "connection refused") {
			t.Errorf("offline function dialling %s: %s, want refused with only lo", api, out.Payload)
		}
		for _, addr := range []string{"10.255.255.1:80", "[2001:db8::1]:80"} {
			out, err := c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String("offline"), Payload: []byte(`{"op":"dial","path":"` + addr + `"}`)})
			if err != nil {
				t.Fatal(err)
			}
			if json.Unmarshal(out.Payload, &r); r.OK || !strings.Contains(r.Err, "unreachable") {
				t.Errorf("offline function dialling %s: %s, want network unreachable", addr, out.Payload)
			}
		}
		// Tagging it back onto the network replaces its instances.
		fnARN := "arn:aws:lambda:" + alofttest.Region + ":000000000000:function:offline"
		if _, err := c.TagResource(ctxT(t), &lambda.TagResourceInput{Resource: aws.String(fnARN), Tags: map[string]string{"aloft:network": "default"}}); err != nil {
			t.Fatal(err)
		}
		if r, out := invokeDial("offline"); !r.OK {
			t.Errorf("after tagging aloft:network=default the function still cannot reach %s: %s", api, out.Payload)
		}
		tags, err := c.ListTags(ctxT(t), &lambda.ListTagsInput{Resource: aws.String(fnARN)})
		if err != nil || tags.Tags["aloft:network"] != "default" {
			t.Errorf("ListTags: %v %v", tags, err)
		}
	})
	t.Run("allow-net", func(t *testing.T) {
		// A private range is out of reach unless the function's
		// aloft:allow-net tag names it; tagging changes it at once.
		lan := egresstest.LAN(t)
		go func() {
			for {
				c, err := lan.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		dialLAN := `{"op":"dial","path":"` + lan.Addr().String() + `","mb":500}`
		if r, out := attack(t, dialLAN); r.OK {
			t.Errorf("an untagged function reached the private range: %s", out.Payload)
		}
		create(t, c, "lanuser", goRC, alofttest.GoFunction(t, "e2e/functions/hostile", "v1"), func(in *lambda.CreateFunctionInput) {
			in.Tags = map[string]string{"aloft:allow-net": "10.99.0.0/24 192.0.2.7"}
		})
		dial := func(fn string) (hostileReport, string) {
			out, err := c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String(fn), Payload: []byte(dialLAN)})
			if err != nil {
				t.Fatalf("invoke %s: %v", fn, err)
			}
			var r hostileReport
			json.Unmarshal(out.Payload, &r)
			return r, string(out.Payload)
		}
		if r, out := dial("lanuser"); !r.OK {
			t.Errorf("a function tagged aloft:allow-net=10.99.0.0/24 cannot reach %s: %s", lan.Addr(), out)
		}
		if r, out := attack(t, dialLAN); r.OK {
			t.Errorf("another function reached the range allowed to lanuser: %s", out.Payload)
		}
		fnARN := "arn:aws:lambda:" + alofttest.Region + ":000000000000:function:lanuser"
		if _, err := c.UntagResource(ctxT(t), &lambda.UntagResourceInput{Resource: aws.String(fnARN), TagKeys: []string{"aloft:allow-net"}}); err != nil {
			t.Fatal(err)
		}
		if r, out := dial("lanuser"); r.OK {
			t.Errorf("after untagging the function still reaches the range: %s", out)
		}
		_, err := c.TagResource(ctxT(t), &lambda.TagResourceInput{Resource: aws.String(fnARN), Tags: map[string]string{"aloft:allow-net": "10.0.0.0/8 fe80::/10"}})
		apiErr(t, err, "InvalidParameterValueException", 400)
	})
	t.Run("network isolation", func(t *testing.T) {
		// What a function may reach: the internet and Aloft's APIs. What
		// it may not: anything else of the host, its LAN, link-local
		// addresses, other instances' Runtime APIs.
		hostLo, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer hostLo.Close()
		hostAll, err := net.Listen("tcp", "0.0.0.0:0")
		if err != nil {
			t.Fatal(err)
		}
		defer hostAll.Close()
		for _, ln := range []net.Listener{hostLo, hostAll} {
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					c.Close()
				}
			}()
		}
		allPort := strconv.Itoa(hostAll.Addr().(*net.TCPAddr).Port)
		cases := []struct {
			name, addr string
			want       bool
		}{
			{"the internet", internetHost(t), true},
			{"Aloft's API", strings.TrimPrefix(srv.URL, "http://"), true},
			{"a host loopback service", hostLo.Addr().String(), false},
			{"the gateway on the host", strings.TrimPrefix(srv.GatewayURL, "http://"), false},
		}
		addrs, _ := net.InterfaceAddrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() {
				cases = append(cases, struct {
					name, addr string
					want       bool
				}{"the host at " + ipn.IP.String(), net.JoinHostPort(ipn.IP.String(), allPort), false})
			}
		}
		// A cloud metadata service and a LAN service, each listening on
		// an address the host holds, and answering the host.
		svc := hostServices(t, "169.254.169.254", "10.77.0.1")
		cases = append(cases, []struct {
			name, addr string
			want       bool
		}{
			{"cloud metadata", svc[0], false},
			{"a private LAN address", svc[1], false},
		}...)
		for _, tc := range cases {
			r, out := attack(t, `{"op":"dial","path":"`+tc.addr+`","mb":500}`)
			if r.OK != tc.want {
				t.Errorf("%s (%s): reached %v, want %v: %s", tc.name, tc.addr, r.OK, tc.want, out.Payload)
			}
		}

		// A port the function listens on is its own: the host does not
		// see it.
		done := make(chan struct{})
		go func() {
			defer close(done)
			attack(t, `{"op":"listen","path":"0.0.0.0:47123","mb":1500}`)
		}()
		time.Sleep(700 * time.Millisecond)
		if c, err := net.DialTimeout("tcp", "127.0.0.1:47123", 500*time.Millisecond); err == nil {
			c.Close()
			t.Errorf("a port a function listens on is reachable on the host's loopback")
		}
		<-done

		// Another function's instance, listening at its own address: the
		// test reaches it there from inside its namespace, another
		// function's instance may not.
		create(t, c, "listener", goRC, alofttest.GoFunction(t, "e2e/functions/hostile", "v1"), func(in *lambda.CreateFunctionInput) {
			in.Timeout = aws.Int32(20)
		})
		listening := make(chan error, 1)
		go func() {
			out, err := c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String("listener"), Payload: []byte(`{"op":"listen","path":"0.0.0.0:47124","mb":6000}`)})
			if err == nil && out.FunctionError != nil {
				err = fmt.Errorf("function error: %s", out.Payload)
			}
			listening <- err
		}()
		peer := listeningInstance(t, srv.Dir, 47124, "function\n", 10*time.Second)
		if r, out := attack(t, `{"op":"dial","path":"`+peer+`","mb":1000}`); r.OK || r.Err == "" {
			t.Errorf("another function's instance (%s): reached %v, want false: %s", peer, r.OK, out.Payload)
		}
		if err := <-listening; err != nil {
			t.Errorf("the listening function: %v", err)
		}

		// Another function's Runtime API: the attacker holds a request for
		// work on every port it can find while the victim is invoked.
		create(t, c, "victim", goRC, goRC.code(t, "v1"))
		if _, err := c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String("victim"), Payload: []byte(`{"op":"noop"}`)}); err != nil {
			t.Fatal(err)
		}
		stolen := make(chan hostileReport, 1)
		go func() {
			r, _ := attack(t, `{"op":"rtsteal"}`)
			stolen <- r
		}()
		for i := 0; i < 6; i++ {
			time.Sleep(200 * time.Millisecond)
			out, err := c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String("victim"), Payload: []byte(`{"op":"noop"}`)})
			if err != nil || out.FunctionError != nil {
				t.Errorf("victim invocation %d: %v %s", i, err, out.Payload)
			}
		}
		if r := <-stolen; r.OK {
			t.Errorf("a function took another instance's invocation from its Runtime API: %+v", r)
		} else {
			t.Logf("the attacker tried %d ports: %s", r.Count, r.Detail)
		}
	})
	t.Run("tmp is private", func(t *testing.T) {
		var wg sync.WaitGroup
		reports := make([]hostileReport, 2)
		for i := range reports {
			wg.Add(1)
			go func() {
				defer wg.Done()
				reports[i], _ = attack(t, fmt.Sprintf(`{"op":"tmpcheck","path":"instance-%d"}`, i))
			}()
		}
		wg.Wait()
		for i, r := range reports {
			if !r.OK {
				t.Errorf("instance %d read back %q: another instance's /tmp leaked in", i, r.Detail)
			}
		}
	})
	t.Run("memory", func(t *testing.T) {
		// 128 MB buys a fifth of a CPU: touching 256 MB takes seconds on a
		// busy machine, so this function may run long enough to hit its
		// memory limit rather than its timeout.
		create(t, c, "hostile-mem", goRC, alofttest.GoFunction(t, "e2e/functions/hostile", "v1"), func(in *lambda.CreateFunctionInput) {
			in.Timeout = aws.Int32(60)
		})
		out, err := c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String("hostile-mem"), Payload: []byte(`{"op":"memory","mb":256}`)})
		if err != nil {
			t.Fatal(err)
		}
		var e fnError
		json.Unmarshal(out.Payload, &e)
		if aws.ToString(out.FunctionError) != "Unhandled" || e.ErrorType != "Runtime.OutOfMemory" {
			t.Errorf("allocating twice MemorySize got %s, want Runtime.OutOfMemory", out.Payload)
		}
	})
	t.Run("fork bomb", func(t *testing.T) {
		r, out := attack(t, `{"op":"forkbomb"}`)
		if out.FunctionError == nil && (r.OK || r.Count > 1100) {
			t.Errorf("fork bomb got %+v, want it stopped by the pids limit", r)
		}
		// A fresh configuration retires the instance and its children.
		_, err := c.UpdateFunctionConfiguration(ctxT(t), &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("hostile"), Description: aws.String("after the bomb")})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("cpu past the timeout", func(t *testing.T) {
		e := invokeErr(t, c, "hostile", `{"op":"spin"}`)
		if e.ErrorType != "Sandbox.Timedout" {
			t.Errorf("spinning got %+v, want Sandbox.Timedout", e)
		}
	})
	t.Run("runtime hangs up", func(t *testing.T) {
		e := invokeErr(t, c, "hangup", `{}`)
		if e.ErrorType != "Sandbox.Timedout" {
			t.Errorf("a runtime that hung up got %+v, want Sandbox.Timedout", e)
		}
	})

	close(stop)
	wg.Wait()
	if len(goodErrs) > 0 {
		t.Errorf("the well-behaved function failed %d times meanwhile, first: %v", len(goodErrs), goodErrs[0])
	}
	slices.Sort(goodLat)
	if len(goodLat) > 0 {
		t.Logf("well-behaved function during the attacks: %d calls, p50 %v, max %v", len(goodLat), goodLat[len(goodLat)/2], goodLat[len(goodLat)-1])
	}
}
