package objstore

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// crashDirEnv makes the test binary act as a writer that is killed.
const crashDirEnv = "OBJSTORE_CRASH_WRITER_DIR"

// crashWriter puts, overwrites, copies and deletes objects until it is
// killed. It prints "ready" once something is committed.
func crashWriter(dir string) {
	d, err := Open(dir)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	ctx := context.Background()
	d.CreateBucket(ctx, "crash", "")
	done := make(chan struct{}, 4)
	for w := range 4 {
		go func() {
			r := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for i := 0; ; i++ {
				key := fmt.Sprintf("k%d/%s", r.IntN(20), []string{"a", "..", "//x", "é"}[r.IntN(4)])
				size := r.IntN(3 << 20)
				body := bytes.Repeat([]byte{byte(r.IntN(256))}, size)
				switch r.IntN(6) {
				case 0:
					d.DeleteObject(ctx, "crash", key)
				case 1:
					d.CopyObject(ctx, "crash", key, "crash", key+"-copy", nil)
				default:
					if _, err := d.PutObject(ctx, "crash", key, bytes.NewReader(body), PutOptions{Metadata: map[string]string{"size": fmt.Sprint(size)}}); err != nil {
						fmt.Println("put:", err)
						os.Exit(2)
					}
				}
				if i == 0 {
					done <- struct{}{}
				}
			}
		}()
	}
	<-done
	fmt.Println("ready")
	select {}
}

func TestCrashLeavesWholeObjects(t *testing.T) {
	if dir := os.Getenv(crashDirEnv); dir != "" {
		crashWriter(dir)
		return
	}
	if testing.Short() {
		t.Skip("kills a writer process several times")
	}
	dir := t.TempDir()
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashLeavesWholeObjects$")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(out).ReadString('\n')
		if line != "ready\n" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("writer said %q", line)
		}
		time.Sleep(time.Duration(300+200*round) * time.Millisecond)
		cmd.Process.Kill() // SIGKILL
		cmd.Wait()

		d, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		if left := tmpEntries(t, d); len(left) != 0 {
			t.Fatalf("round %d: tmp holds %v after Open", round, left)
		}
		res, err := d.ListObjects(context.Background(), "crash", ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Objects) == 0 {
			t.Fatalf("round %d: nothing survived", round)
		}
		for _, obj := range res.Objects {
			o, err := d.Open(context.Background(), "crash", obj.Key)
			if err != nil {
				t.Fatalf("round %d: %s: %v", round, obj.Key, err)
			}
			r, _ := o.Range(0, -1)
			h := md5.New()
			n, err := io.Copy(h, r)
			info := o.Info()
			o.Close()
			if err != nil || n != info.Size || hex.EncodeToString(h.Sum(nil)) != info.ETag || info.Metadata["size"] != fmt.Sprint(n) {
				t.Fatalf("round %d: %s: %d bytes, metadata %+v, err %v", round, obj.Key, n, info, err)
			}
		}
		t.Logf("round %d: %d whole objects", round, len(res.Objects))
	}
}

// versionCrashDirEnv makes the test binary act as a versioned writer
// that is killed.
const versionCrashDirEnv = "OBJSTORE_VERSION_CRASH_WRITER_DIR"

// versionCrashWriter writes and deletes keys of a bucket with versioning
// until it is killed, each key by one writer, and prints "ack <key>
// <version>" once each change has returned.
func versionCrashWriter(dir string) {
	d, err := Open(dir)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	ctx := context.Background()
	d.CreateBucket(ctx, "vcrash", "")
	if err := d.PutVersioning(ctx, "vcrash", VersioningEnabled); err != nil {
		fmt.Println("versioning:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	fmt.Println("ready")
	for w := range 4 {
		go func() {
			r := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for {
				key := fmt.Sprintf("w%d/k%d", w, r.IntN(3))
				var id string
				if r.IntN(4) == 0 {
					del, err := d.DeleteObject(ctx, "vcrash", key)
					if err != nil {
						fmt.Println("delete:", err)
						os.Exit(2)
					}
					id = "marker:" + s3ID(del.VersionID)
				} else {
					body := bytes.Repeat([]byte{byte(r.IntN(256))}, r.IntN(256<<10))
					info, err := d.PutObject(ctx, "vcrash", key, bytes.NewReader(body), PutOptions{})
					if err != nil {
						fmt.Println("put:", err)
						os.Exit(2)
					}
					id = s3ID(info.VersionID)
				}
				mu.Lock()
				fmt.Println("ack", key, id)
				mu.Unlock()
			}
		}()
	}
	select {}
}

// Every acknowledged version and delete marker survives kill -9, in the
// order it was made; at most one change per key (made, not yet
// acknowledged) comes after them.
func TestCrashKeepsEveryVersion(t *testing.T) {
	if dir := os.Getenv(versionCrashDirEnv); dir != "" {
		versionCrashWriter(dir)
		return
	}
	if testing.Short() {
		t.Skip("kills a writer process several times")
	}
	dir := t.TempDir()
	acked := map[string][]string{} // key → versions, oldest first
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashKeepsEveryVersion$")
		cmd.Env = append(os.Environ(), versionCrashDirEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(out)
		if !lines.Scan() || lines.Text() != "ready" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("writer said %q", lines.Text())
		}
		time.AfterFunc(time.Duration(400+200*round)*time.Millisecond, func() { cmd.Process.Kill() })
		n := 0
		for lines.Scan() {
			f := strings.Fields(lines.Text())
			if len(f) != 3 || f[0] != "ack" {
				t.Fatalf("writer said %q", lines.Text())
			}
			acked[f[1]] = append(acked[f[1]], f[2])
			n++
		}
		cmd.Wait()
		d, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		listed := map[string][]string{} // key → versions, newest first
		opts := VersionListOptions{MaxKeys: 7}
		for {
			l, err := d.ListVersions(context.Background(), "vcrash", opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range l.Versions {
				id := s3ID(v.VersionID)
				if v.DeleteMarker {
					id = "marker:" + id
				} else if _, err := d.HeadVersion(context.Background(), "vcrash", v.Key, id); err != nil {
					t.Fatalf("round %d: %s %s: %v", round, v.Key, id, err)
				}
				listed[v.Key] = append(listed[v.Key], id)
			}
			if !l.IsTruncated {
				break
			}
			opts.KeyMarker, opts.VersionIDMarker = l.NextKeyMarker, l.NextVersionIDMarker
		}
		for key, want := range acked {
			got := slices.Clone(listed[key])
			slices.Reverse(got) // oldest first
			if len(got) < len(want) || len(got) > len(want)+1 || !slices.Equal(got[:len(want)], want) {
				t.Fatalf("round %d: %s has versions %v, acknowledged %v", round, key, got, want)
			}
			if len(got) == len(want)+1 {
				acked[key] = got // the change made before the kill counts from now on
			}
		}
		t.Logf("round %d: %d changes acknowledged, %d keys", round, n, len(acked))
	}
}
