package tables

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/benchtest"
	"github.com/aloft-dev/aloft/internal/item"
	"github.com/aloft-dev/aloft/internal/itemexpr"
	"github.com/aloft-dev/aloft/internal/store"
)

// These benchmarks put the table service beside its baseline: a raw
// JetStream key-value bucket of the same embedded backbone, read and
// written with nothing of the service.

// benchSync is the backbone's sync interval in these benchmarks: 0 (the
// default, a flush before every acknowledgement) unless
// ALOFT_BENCH_SYNC names another.
var benchSync, _ = time.ParseDuration(os.Getenv("ALOFT_BENCH_SYNC"))

// benchClients is how many clients write at once.
const benchClients = 16

func benchStore(b *testing.B) *store.Store {
	st, err := store.Open(context.Background(), store.Options{Dir: b.TempDir(), SyncInterval: benchSync})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// benchTable opens the service on a fresh backbone with a table "bench"
// keyed by p (S) and n (N).
func benchTable(b *testing.B) *Service {
	st := benchStore(b)
	s, err := Open(context.Background(), st.JetStream(), st.Conn(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	if _, err := s.CreateTable(context.Background(), Def{Name: "bench", BillingMode: "PAY_PER_REQUEST",
		KeySchema:            []KeyElement{{"p", "HASH"}, {"n", "RANGE"}},
		AttributeDefinitions: []AttributeDefinition{{"p", "S"}, {"n", "N"}}}); err != nil {
		b.Fatal(err)
	}
	return s
}

// benchKV is the baseline's bucket on a fresh backbone.
func benchKV(b *testing.B) jetstream.KeyValue {
	st := benchStore(b)
	kv, err := st.JetStream().CreateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: "raw", History: 1, Storage: jetstream.FileStorage})
	if err != nil {
		b.Fatal(err)
	}
	return kv
}

var payload = strings.Repeat("x", 100)

func benchItem(p string, n int) item.Item {
	return item.Item{"p": {Kind: item.S, Str: p}, "n": {Kind: item.N, Str: strconv.Itoa(n)}, "data": {Kind: item.S, Str: payload}}
}

func benchKey(p string, n int) item.Item {
	return item.Item{"p": {Kind: item.S, Str: p}, "n": {Kind: item.N, Str: strconv.Itoa(n)}}
}

// BenchmarkRawKVGet reads one key of a bucket: GetItem's baseline.
func BenchmarkRawKVGet(b *testing.B) {
	kv := benchKV(b)
	ctx := context.Background()
	if _, err := kv.Put(ctx, "p0.1", []byte(payload)); err != nil {
		b.Fatal(err)
	}
	benchtest.Latencies(b, "µs", func(int) error {
		_, err := kv.Get(ctx, "p0.1")
		return err
	})
}

// BenchmarkGetItem reads one item, eventually consistent (from this
// node's index) and strongly consistent (after making sure the index
// holds every write the backbone has acknowledged).
func BenchmarkGetItem(b *testing.B) {
	for _, consistent := range []bool{false, true} {
		b.Run("consistent="+strconv.FormatBool(consistent), func(b *testing.B) {
			s := benchTable(b)
			ctx := context.Background()
			if _, err := s.PutItem(ctx, "bench", benchItem("p0", 1), Condition{}); err != nil {
				b.Fatal(err)
			}
			key := benchKey("p0", 1)
			benchtest.Latencies(b, "µs", func(int) error {
				it, err := s.GetItem(ctx, "bench", key, consistent)
				if err == nil && it == nil {
					err = fmt.Errorf("no item")
				}
				return err
			})
		})
	}
}

// BenchmarkRawKVPut writes distinct keys from 16 clients: PutItem's
// baseline.
func BenchmarkRawKVPut(b *testing.B) {
	kv := benchKV(b)
	ctx := context.Background()
	benchtest.Clients(b, benchClients, 1, "items/s", func(i int) error {
		_, err := kv.Put(ctx, "p"+strconv.Itoa(i%benchClients)+"."+strconv.Itoa(i), []byte(payload))
		return err
	})
}

// BenchmarkPutItem writes distinct items from 16 clients, to a table
// without a stream and to one whose stream has new images (each version
// and its change record are then one atomic batch).
func BenchmarkPutItem(b *testing.B) {
	for _, stream := range []bool{false, true} {
		b.Run("stream="+strconv.FormatBool(stream), func(b *testing.B) {
			s := benchTable(b)
			ctx := context.Background()
			if stream {
				if _, err := s.SetStream(ctx, "bench", true, "NEW_IMAGE"); err != nil {
					b.Fatal(err)
				}
			}
			benchtest.Clients(b, benchClients, 1, "items/s", func(i int) error {
				_, err := s.PutItem(ctx, "bench", benchItem("p"+strconv.Itoa(i%benchClients), i), Condition{})
				return err
			})
		})
	}
}

// BenchmarkQuery reads 100 items of a 10,000-item partition, from a
// random place in it.
func BenchmarkQuery(b *testing.B) {
	const size = 10_000
	s := benchTable(b)
	ctx := context.Background()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range benchClients {
		wg.Go(func() {
			for i := next.Add(1); i <= size; i = next.Add(1) {
				if _, err := s.PutItem(ctx, "bench", benchItem("big", int(i)), Condition{}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	num := func(n int) *item.Value { return &item.Value{Kind: item.N, Str: strconv.Itoa(n)} }
	benchtest.Latencies(b, "µs", func(int) error {
		from := 1 + rand.IntN(size-99)
		p, err := s.Query(ctx, "bench", QueryInput{Key: []itemexpr.KeyPart{
			{Name: "p", Op: "=", Values: []*item.Value{{Kind: item.S, Str: "big"}}},
			{Name: "n", Op: "BETWEEN", Values: []*item.Value{num(from), num(from + 99)}}}})
		if err == nil && len(p.Items) != 100 {
			err = fmt.Errorf("%d items", len(p.Items))
		}
		return err
	})
}
