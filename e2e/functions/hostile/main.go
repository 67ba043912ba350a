// Command hostile is a test function that tries, in turn, everything a
// sandbox must stop: each "op" attempts one attack and reports what
// happened, so the tests can check it was contained.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
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
		c, err := net.DialTimeout("tcp", ev.Path, 2*time.Second)
		if err == nil {
			c.Close()
		}
		return report{OK: err == nil, Err: errText(err), Count: len(ifs), Detail: strings.Join(names, ",")}, nil
	}
	return report{Detail: "ok"}, nil
}
