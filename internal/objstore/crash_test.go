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
