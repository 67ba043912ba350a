package store

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// TestPowerLoss is the half of scripts/test-powerloss.sh that runs inside a
// virtual machine: the script boots the machine on a fresh disk to write,
// cuts its power while it writes, then boots it again to check. The test
// skips unless ALOFT_POWERLOSS names the phase:
//
//   - write: open the store in ALOFT_POWERLOSS_DIR with the sync interval
//     ALOFT_POWERLOSS_SYNC (a duration; empty is the default, a flush before
//     every acknowledgement) and, until the power goes, publish event i to a
//     stream and put key i in a key-value bucket, printing
//     "powerloss: acked stream i" or "powerloss: acked kv i" as soon as each
//     write is acknowledged.
//   - check: open the store in ALOFT_POWERLOSS_DIR again and look for every
//     write named in the file ALOFT_POWERLOSS_ACKED ("stream i" or "kv i" a
//     line: the acknowledgements the host saw before the power went). It
//     prints "powerloss: acked A found F lost L" and fails if any is lost.
func TestPowerLoss(t *testing.T) {
	phase := os.Getenv("ALOFT_POWERLOSS")
	if phase == "" {
		t.Skip("ALOFT_POWERLOSS is not set; scripts/test-powerloss.sh runs this test in a virtual machine")
	}
	dir := os.Getenv("ALOFT_POWERLOSS_DIR")
	if dir == "" {
		t.Fatal("ALOFT_POWERLOSS_DIR is not set")
	}
	switch phase {
	case "write":
		sync, err := time.ParseDuration(cmp.Or(os.Getenv("ALOFT_POWERLOSS_SYNC"), "0s"))
		if err != nil {
			t.Fatalf("ALOFT_POWERLOSS_SYNC: %v", err)
		}
		powerLossWrite(t, dir, sync)
	case "check":
		powerLossCheck(t, dir, os.Getenv("ALOFT_POWERLOSS_ACKED"))
	default:
		t.Fatalf("ALOFT_POWERLOSS=%q, want write or check", phase)
	}
}

const (
	powerLossStream = "POWERLOSS"
	powerLossBucket = "powerloss"
	// powerLossMaxWrite bounds the write phase in case the power never goes.
	powerLossMaxWrite = 15 * time.Minute
)

// powerLossWrite writes until the process dies, printing each acknowledged
// write. Writes go one at a time, so event i is the stream's sequence i.
func powerLossWrite(t *testing.T, dir string, sync time.Duration) {
	ctx := context.Background()
	s, err := Open(ctx, Options{Dir: dir, SyncInterval: sync})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	js := s.JetStream()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: powerLossStream, Subjects: []string{"powerloss.>"}}); err != nil {
		t.Fatal(err)
	}
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: powerLossBucket})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("powerloss: writing, sync interval %v\n", sync)
	for i, end := uint64(1), time.Now().Add(powerLossMaxWrite); time.Now().Before(end); i++ {
		ack, err := js.Publish(ctx, "powerloss.event", powerLossValue("stream", i))
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if ack.Sequence != i {
			t.Fatalf("event %d stored as sequence %d", i, ack.Sequence)
		}
		fmt.Printf("powerloss: acked stream %d\n", i)
		if _, err := kv.Put(ctx, powerLossKey(i), powerLossValue("kv", i)); err != nil {
			t.Fatalf("key %d: %v", i, err)
		}
		fmt.Printf("powerloss: acked kv %d\n", i)
	}
	t.Fatalf("still writing after %v: the power never went", powerLossMaxWrite)
}

// powerLossCheck looks for every acknowledged write listed in the file
// acked, each with the value it was written with.
func powerLossCheck(t *testing.T, dir, acked string) {
	list, err := os.ReadFile(acked)
	if err != nil {
		t.Fatalf("ALOFT_POWERLOSS_ACKED: %v", err)
	}
	ctx := context.Background()
	s, err := Open(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	js := s.JetStream()
	// A stream or bucket that did not survive leaves its writes lost.
	stream, err := js.Stream(ctx, powerLossStream)
	if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, powerLossBucket)
	if err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Fatal(err)
	}

	var total, found int
	var lost []string
	sc := bufio.NewScanner(bytes.NewReader(list))
	for sc.Scan() {
		var kind string
		var i uint64
		if _, err := fmt.Sscanf(sc.Text(), "%s %d", &kind, &i); err != nil {
			t.Fatalf("%s: line %q: %v", acked, sc.Text(), err)
		}
		var got []byte
		switch {
		case kind == "stream" && stream != nil:
			m, err := stream.GetMsg(ctx, i)
			if err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
				t.Fatalf("event %d: %v", i, err)
			}
			if m != nil {
				got = m.Data
			}
		case kind == "kv" && kv != nil:
			e, err := kv.Get(ctx, powerLossKey(i))
			if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
				t.Fatalf("key %d: %v", i, err)
			}
			if e != nil {
				got = e.Value()
			}
		case kind != "stream" && kind != "kv":
			t.Fatalf("%s: line %q: unknown kind", acked, sc.Text())
		}
		total++
		if bytes.Equal(got, powerLossValue(kind, i)) {
			found++
		} else {
			lost = append(lost, sc.Text())
		}
	}
	if total == 0 {
		t.Fatalf("%s lists no acknowledged writes", acked)
	}
	if stream != nil {
		if info, err := stream.Info(ctx); err == nil {
			fmt.Printf("powerloss: the stream holds events %d to %d\n", info.State.FirstSeq, info.State.LastSeq)
		}
	}
	fmt.Printf("powerloss: acked %d found %d lost %d\n", total, found, len(lost))
	if len(lost) > 0 {
		t.Errorf("%d of %d acknowledged writes lost, among them %s", len(lost), total, strings.Join(lost[:min(len(lost), 5)], ", "))
	}
}

func powerLossKey(i uint64) string { return fmt.Sprintf("k%d", i) }

// powerLossValue is what write i of a kind ("stream" or "kv") carries: 256
// bytes, about the size of a small event, that name the write.
func powerLossValue(kind string, i uint64) []byte {
	v := fmt.Appendf(nil, "%s %d ", kind, i)
	return append(v, bytes.Repeat([]byte{'.'}, 256-len(v))...)
}
