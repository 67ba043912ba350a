// Command hostile is a test function that tries, in turn, everything a
// sandbox must stop: each "op" attempts one attack and reports what
// happened, so the tests can check it was contained.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

type event struct {
	Op   string `json:"op"`
	Path string `json:"path"`
	MB   int    `json:"mb"`
}

type report struct {
	OK     bool   `json:"ok"`     // the attack succeeded
	Err    string `json:"err"`    // the error that stopped it
	Count  int    `json:"count"`  // how far it got (processes, MB, PIDs seen)
	Detail string `json:"detail"` // anything else worth seeing
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func main() {
	if os.Getenv("HOSTILE_CHILD") != "" { // a fork bomb's child: just wait
		time.Sleep(time.Hour)
		return
	}
	lambda.Start(handle)
}

var hoard [][]byte

func handle(ctx context.Context, ev event) (report, error) {
	switch ev.Op {
	case "forkbomb":
		n := 0
		var err error
		for n < 5000 {
			cmd := exec.Command("/proc/self/exe")
			cmd.Env = append(os.Environ(), "HOSTILE_CHILD=1")
			if err = cmd.Start(); err != nil {
				break
			}
			n++
		}
		return report{OK: err == nil, Err: errText(err), Count: n}, nil
	case "memory":
		for i := 0; i < ev.MB; i++ {
			b := make([]byte, 1<<20)
			for j := range b {
				b[j] = byte(j)
			}
			hoard = append(hoard, b)
		}
		return report{OK: true, Count: ev.MB}, nil
	case "filltmp":
		f, err := os.Create("/tmp/fill")
		if err != nil {
			return report{Err: errText(err)}, nil
		}
		defer f.Close()
		chunk := make([]byte, 1<<20)
		n := 0
		for ; n < 100000; n++ {
			if _, err = f.Write(chunk); err != nil {
				break
			}
		}
		os.Remove("/tmp/fill")
		return report{OK: err == nil, Err: errText(err), Count: n}, nil
	case "read":
		b, err := os.ReadFile(ev.Path)
		if err == nil {
			return report{OK: true, Detail: fmt.Sprint(len(b), " bytes")}, nil
		}
		entries, derr := os.ReadDir(ev.Path)
		if derr == nil {
			return report{OK: len(entries) > 0, Count: len(entries), Err: errText(err)}, nil
		}
		return report{Err: errText(err)}, nil
	case "write":
		err := os.WriteFile(filepath.Join(ev.Path, "planted"), []byte("x"), 0o644)
		return report{OK: err == nil, Err: errText(err)}, nil
	case "procs":
		entries, _ := os.ReadDir("/proc")
		var pids []string
		for _, e := range entries {
			if _, err := strconv.Atoi(e.Name()); err == nil {
				pids = append(pids, e.Name())
			}
		}
		// Signal every process it can see but itself.
		killed := 0
		for _, p := range pids {
			pid, _ := strconv.Atoi(p)
			if pid == os.Getpid() {
				continue
			}
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				killed++
			}
		}
		return report{OK: killed > 0, Count: len(pids), Detail: strings.Join(pids, ",")}, nil
	case "mount":
		err := syscall.Mount("tmpfs", "/tmp", "tmpfs", 0, "")
		return report{OK: err == nil, Err: errText(err)}, nil
	case "unshare":
		err := syscall.Unshare(syscall.CLONE_NEWNS | syscall.CLONE_NEWUSER)
		return report{OK: err == nil, Err: errText(err)}, nil
	case "ptrace":
		err := syscall.PtraceAttach(1)
		return report{OK: err == nil, Err: errText(err)}, nil
	case "spin":
		for {
			if errors.Is(ctx.Err(), context.Canceled) {
				break
			}
		}
		return report{}, nil
	case "status":
		// The identity, capabilities and restrictions the kernel reports.
		b, err := os.ReadFile("/proc/self/status")
		var keep []string
		for _, l := range strings.Split(string(b), "\n") {
			k, _, _ := strings.Cut(l, ":")
			switch k {
			case "Uid", "Gid", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp":
				keep = append(keep, strings.Join(strings.Fields(l), " "))
			}
		}
		return report{OK: err == nil, Err: errText(err), Detail: strings.Join(keep, "\n")}, nil
	case "whoami":
		host, _ := os.Hostname()
		return report{Count: os.Getuid(), Detail: host}, nil
	case "tmpwrite":
		err := os.WriteFile("/tmp/mine", []byte(ev.Path), 0o600)
		return report{OK: err == nil, Err: errText(err)}, nil
	case "tmpcheck":
		// Write a value, wait, read it back: another instance sharing /tmp
		// would have overwritten it meanwhile.
		if err := os.WriteFile("/tmp/shared", []byte(ev.Path), 0o600); err != nil {
			return report{Err: errText(err)}, nil
		}
		time.Sleep(700 * time.Millisecond)
		b, err := os.ReadFile("/tmp/shared")
		return report{OK: string(b) == ev.Path, Detail: string(b), Err: errText(err)}, nil
	case "tmpread":
		b, err := os.ReadFile("/tmp/mine")
		return report{OK: err == nil, Detail: string(b), Err: errText(err)}, nil
	case "dial":
		var names []string
		ifs, _ := net.Interfaces()
		for _, i := range ifs {
			names = append(names, i.Name)
		}
		timeout := 2 * time.Second
		if ev.MB > 0 { // milliseconds, here
			timeout = time.Duration(ev.MB) * time.Millisecond
		}
		c, err := net.DialTimeout("tcp", ev.Path, timeout)
		if err == nil {
			c.Close()
		}
		return report{OK: err == nil, Err: errText(err), Count: len(ifs), Detail: strings.Join(names, ",")}, nil
	case "rtsteal":
		return stealRuntimeAPI(), nil
	case "listen":
		// Listen on every address for a while: the test tries to reach it
		// from the host.
		ln, err := net.Listen("tcp", ev.Path)
		if err != nil {
			return report{Err: errText(err)}, nil
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Write([]byte("function\n"))
				c.Close()
			}
		}()
		time.Sleep(time.Duration(ev.MB) * time.Millisecond)
		return report{OK: true}, nil
	}
	return report{Detail: "ok"}, nil
}

// stealRuntimeAPI looks, as an attacker would, for every listening TCP
// port this process can see in /proc/net/tcp and tcp6, and asks each one
// but its own Runtime API for another instance's next invocation. OK
// means it got one; Count is how many ports it tried; Detail lists them.
func stealRuntimeAPI() report {
	own := os.Getenv("AWS_LAMBDA_RUNTIME_API")
	seen := map[string]bool{}
	var tried []string
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, _ := os.ReadFile(file)
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 4 || f[3] != "0A" { // LISTEN
				continue
			}
			_, hexPort, _ := strings.Cut(f[1], ":")
			port, err := strconv.ParseUint(hexPort, 16, 16)
			if err != nil {
				continue
			}
			addr := net.JoinHostPort("127.0.0.1", strconv.FormatUint(port, 10))
			if addr == own || seen[addr] {
				continue
			}
			seen[addr] = true
			tried = append(tried, addr)
			c := http.Client{Timeout: 1500 * time.Millisecond}
			resp, err := c.Get("http://" + addr + "/2018-06-01/runtime/invocation/next")
			if err != nil {
				continue
			}
			resp.Body.Close()
			if id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id"); resp.StatusCode == 200 && id != "" {
				return report{OK: true, Count: len(tried), Detail: addr + " gave " + id}
			}
		}
	}
	return report{Count: len(tried), Detail: strings.Join(tried, ",")}
}
