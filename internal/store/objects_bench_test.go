package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/benchtest"
	"github.com/nats-io/nats.go/jetstream"
)

// benchObjectSizes are the object sizes BenchmarkBackboneObjects moves:
// a small object (a config, a thumbnail) and a large one, 128 chunks of
// the object store's default 128 KiB.
var benchObjectSizes = []struct {
	name string
	size int
}{
	{"4KiB", 4 << 10},
	{"16MiB", 16 << 20},
}

// benchObjectTimeout bounds one Put or Get of the benchmark: the largest
// takes well under a second; one that never ends fails in this time.
const benchObjectTimeout = 20 * time.Second

// benchVersion numbers every object the benchmark writes: each Put
// stamps its number in the object's first bytes, so that a Get returning
// an earlier object, byte for byte the same otherwise, is caught.
var benchVersion atomic.Uint64

// stampVersion writes a new version number into data's first bytes.
func stampVersion(data []byte) {
	binary.BigEndian.PutUint64(data[:8], benchVersion.Add(1))
}

// BenchmarkBackboneObjects measures the backbone's JetStream object store
// as a home for S3 objects: Put and Get of one object per iteration, one
// after another, with the store opened as the server opens it (every
// write flushed to disk before it is acknowledged):
//
//   - raw-disk: the baseline of the same run, the same bytes written to
//     a file with fsync and read back (from the page cache, as the
//     backbone's reads mostly are);
//   - nodes=1: a lone store, its bucket of one replica;
//   - nodes=3: a cluster of three stores in this process on loopback, its
//     bucket of three replicas, used through the node that leads the
//     bucket's stream (via=leader) and through another (via=follower),
//     as a request reaching any of three nodes does two times in three.
//
// Each Put replaces the object of the same name (so the store holds one
// of each size) with new content, and each Get checks it has the last
// one. Besides MB/s, every operation reports its median and 99th
// percentile latency in ms.
//
// The gets are timed once every replica answers with the object last
// put: a replicated stream's reads of an object's description (direct
// gets, which any replica answers) are not read-after-write consistent,
// and a Get that finds the description of the object it replaced either
// returns the old content or waits, for its whole timeout, for chunks
// purged already. The put+stat operation measures how often that
// happens: a Put then, through the same node, the object's description,
// reporting the share of descriptions that are not the one just put as
// stale/op (0 on a lone node).
func BenchmarkBackboneObjects(b *testing.B) {
	ctx := context.Background()
	data := make(map[string][]byte, len(benchObjectSizes))
	for _, sz := range benchObjectSizes {
		data[sz.name] = make([]byte, sz.size)
		rand.Read(data[sz.name])
	}

	b.Run("raw-disk", func(b *testing.B) {
		dir := b.TempDir()
		for _, sz := range benchObjectSizes {
			b.Run("size="+sz.name, func(b *testing.B) {
				benchRawDisk(b, filepath.Join(dir, "obj-"+sz.name), data[sz.name])
			})
		}
	})

	b.Run("nodes=1", func(b *testing.B) {
		s, err := Open(ctx, Options{Dir: b.TempDir()})
		if err != nil {
			b.Fatalf("open a lone store: %v", err)
		}
		b.Cleanup(func() { s.Close() })
		obj := benchBucket(b, s, 1)
		benchObjectSizesOn(b, obj, data)
		logBenchBucket(b, obj)
	})

	b.Run("nodes=3", func(b *testing.B) {
		stores, _ := startTestCluster(b, ctx, []string{freeAddr(b), freeAddr(b), freeAddr(b)}, nil)
		benchBucket(b, stores[0], 3)
		leader := waitBenchStream(b, ctx, stores[0], "OBJ_"+benchBucketName)
		var viaLeader, viaFollower *Store
		for _, s := range stores {
			switch {
			case s.cluster.node == leader:
				viaLeader = s
			case viaFollower == nil:
				viaFollower = s
			}
		}
		if viaLeader == nil || viaFollower == nil {
			b.Fatalf("the bucket's stream is led by %q, none of the nodes %v", leader, []string{stores[0].cluster.node, stores[1].cluster.node, stores[2].cluster.node})
		}
		for _, via := range []struct {
			name string
			s    *Store
		}{{"leader", viaLeader}, {"follower", viaFollower}} {
			b.Run("via="+via.name, func(b *testing.B) {
				b.Logf("through node %s; the stream's leader is %s", via.s.cluster.node, leader)
				obj, err := via.s.JetStream().ObjectStore(ctx, benchBucketName)
				if err != nil {
					b.Fatalf("open the bucket on node %s: %v", via.s.cluster.node, err)
				}
				benchObjectSizesOn(b, obj, data)
				logBenchBucket(b, obj)
			})
		}
	})
}

// logBenchBucket logs how much the bucket's stream holds besides the
// one object of each size it should: chunks of replaced objects left
// behind.
func logBenchBucket(b *testing.B, obj jetstream.ObjectStore) {
	ctx, cancel := context.WithTimeout(context.Background(), benchObjectTimeout)
	defer cancel()
	st, err := obj.Status(ctx)
	if err != nil {
		b.Fatalf("bucket status: %v", err)
	}
	var live uint64
	for _, sz := range benchObjectSizes {
		live += uint64(sz.size)
	}
	b.Logf("the bucket's stream holds %.1f MiB for %.1f MiB of objects", float64(st.Size())/(1<<20), float64(live)/(1<<20))
}

// benchBucketName is the object store the benchmark writes to.
const benchBucketName = "bench"

// benchBucket creates the benchmark's object store on s with replicas,
// stored in files as the platform's object stores are.
func benchBucket(b *testing.B, s *Store, replicas int) jetstream.ObjectStore {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	obj, err := s.JetStream().CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket: benchBucketName, Storage: jetstream.FileStorage, Replicas: replicas})
	if err != nil {
		b.Fatalf("create object store %s with %d replicas: %v", benchBucketName, replicas, err)
	}
	return obj
}

// benchObjectSizesOn runs the object benchmarks of every size on obj.
func benchObjectSizesOn(b *testing.B, obj jetstream.ObjectStore, data map[string][]byte) {
	for _, sz := range benchObjectSizes {
		b.Run("size="+sz.name, func(b *testing.B) {
			benchObject(b, obj, "obj-"+sz.name, data[sz.name])
		})
	}
}

// settledReads is how many reads of an object's description in a row
// must name the object last put before its gets are timed: direct gets
// go to any of the stream's replicas.
const settledReads = 20

// benchObject measures Put and Get of the object name, whose content is
// data with a new version stamped in each Put, and how often the
// object's description read right after a Put is stale.
func benchObject(b *testing.B, obj jetstream.ObjectStore, name string, data []byte) {
	var lastNUID string // of the object last put
	put := func(int) error {
		ctx, cancel := context.WithTimeout(context.Background(), benchObjectTimeout)
		defer cancel()
		stampVersion(data)
		info, err := obj.PutBytes(ctx, name, data)
		if err != nil {
			return fmt.Errorf("put %s: %w", name, err)
		}
		if info.Size != uint64(len(data)) {
			return fmt.Errorf("put %s: stored %d bytes, want %d", name, info.Size, len(data))
		}
		lastNUID = info.NUID
		return nil
	}
	// A read on three replicas may meet one not caught up with the put:
	// the previous object's bytes, or chunks that fail the digest. Such
	// a read is counted (corrupt) and made again; the op's time includes
	// it.
	corrupt := 0
	get := func(int) error {
		ctx, cancel := context.WithTimeout(context.Background(), benchObjectTimeout)
		defer cancel()
		for {
			got, err := obj.GetBytes(ctx, name)
			switch {
			case err == nil && bytes.Equal(got, data):
				return nil
			case err != nil && !errors.Is(err, jetstream.ErrDigestMismatch):
				return fmt.Errorf("get %s: %w", name, err)
			case ctx.Err() != nil:
				return fmt.Errorf("get %s: no read of the object put last in %v", name, benchObjectTimeout)
			}
			corrupt++
		}
	}
	// stat reads the object's description and reports whether it names
	// the object last put.
	stat := func() (bool, error) {
		ctx, cancel := context.WithTimeout(context.Background(), benchObjectTimeout)
		defer cancel()
		info, err := obj.GetInfo(ctx, name)
		if err != nil {
			return false, fmt.Errorf("stat %s: %w", name, err)
		}
		return info.NUID == lastNUID, nil
	}
	b.Run("put", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		benchtest.Latencies(b, "ms", put)
	})
	b.Run("get", func(b *testing.B) {
		if err := put(0); err != nil {
			b.Fatal(err)
		}
		began := time.Now()
		for inARow := 0; inARow < settledReads; {
			current, err := stat()
			if err != nil {
				b.Fatal(err)
			}
			inARow++
			if !current {
				inARow = 0
				if time.Since(began) > benchObjectTimeout {
					b.Fatalf("stat %s: still stale %v after the put", name, benchObjectTimeout)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		b.SetBytes(int64(len(data)))
		corrupt = 0
		benchtest.Latencies(b, "ms", get)
		b.ReportMetric(float64(corrupt)/float64(b.N), "corrupt-reads/op")
	})
	b.Run("put+stat", func(b *testing.B) {
		stale := 0
		benchtest.Latencies(b, "ms", func(i int) error {
			if err := put(i); err != nil {
				return err
			}
			current, err := stat()
			if !current {
				stale++
			}
			return err
		})
		b.ReportMetric(float64(stale)/float64(b.N), "stale/op")
	})
}

// benchRawDisk measures writing data, with a new version stamped each
// time, to the file path with fsync, and reading it back.
func benchRawDisk(b *testing.B, path string, data []byte) {
	write := func(int) error {
		stampVersion(data)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return fmt.Errorf("raw disk: %w", err)
		}
		if _, err := f.Write(data); err != nil {
			f.Close()
			return fmt.Errorf("raw disk: write %s: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return fmt.Errorf("raw disk: sync %s: %w", path, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("raw disk: close %s: %w", path, err)
		}
		return nil
	}
	read := func(int) error {
		got, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("raw disk: %w", err)
		}
		if !bytes.Equal(got, data) {
			return fmt.Errorf("raw disk: read %s: %d bytes that differ from the %d written last", path, len(got), len(data))
		}
		return nil
	}
	b.Run("put", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		benchtest.Latencies(b, "ms", write)
	})
	b.Run("get", func(b *testing.B) {
		if err := write(0); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(data)))
		benchtest.Latencies(b, "ms", read)
	})
}

// waitBenchStream waits until stream has three replicas, a leader and
// every follower current, and returns the leader's name.
func waitBenchStream(b *testing.B, ctx context.Context, s *Store, stream string) string {
	b.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ss, err := s.StreamStatuses(ctx)
		for _, st := range ss {
			if st.Name != stream || st.Replicas != 3 || st.Leader == "" || len(st.Peers) != 2 {
				continue
			}
			current := true
			for _, p := range st.Peers {
				current = current && p.Current && !p.Offline
			}
			if current {
				return st.Leader
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("stream %s has no leader and three current replicas after 30s: %+v (%v)", stream, ss, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
