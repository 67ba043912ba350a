package cluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// sharedObjectSizes are the object sizes BenchmarkSharedObjects moves: a
// small object (a config, a thumbnail) and a large one, as the store's
// BenchmarkBackboneObjects does.
var sharedObjectSizes = []struct {
	name string
	size int
}{
	{"4KiB", 4 << 10},
	{"16MiB", 16 << 20},
}

// sharedObjectTimeout bounds one Put or Get of the benchmark, and its
// setup's requests: the largest takes well under a second on loopback;
// one that never ends fails in this time.
const sharedObjectTimeout = time.Minute

// crc32c is the table of the checksum a Get's content is checked with.
var crc32c = crc32.MakeTable(crc32.Castagnoli)

// objectTarget is a way to a bucket the benchmark measures: where its
// objects are written, where they are read.
type objectTarget struct {
	name   string
	bucket string
	put    *s3.Client // nil: the target only reads what another wrote
	get    *s3.Client
	// writer is the target whose Put makes the objects this one reads
	// (itself, or the one it shares the bucket with).
	writer *objectTarget
	// version and sum are, per key, the version number of the object
	// last put and the CRC-32C of the rest of it, which a Get must
	// return.
	version map[string]uint64
	sum     map[string]uint32
}

// BenchmarkSharedObjects measures S3 Put and Get of 4 KiB and 16 MiB
// objects, one request at a time, through three ways to a bucket
// measured in the same run:
//
//   - disk: a lone server keeping its objects on its own disk (the
//     external store of the others, used directly);
//   - external: node 1 of a cluster of three started with
//     --objects-endpoint, every request going from the node to that
//     external store;
//   - external-other-node: node 2 of that cluster reading what was
//     written through node 1 (Get only).
//
// Each iteration does the operation once on every target, one after
// another, starting with a different target each time, so that the
// machine's load drifting during the run weighs on all alike. Each Put
// replaces the object of its size with new content stamped with a new
// version number; each Get checks the size and a CRC-32C checksum of
// what it read against the object last put, and any error fails the
// benchmark.
//
// The timer runs during the requests only (not the checks): ns/op is
// the sum of one request to every target, and MB/s the bytes every
// target moved over that time. Per target, <target>-MB/s is its own rate
// (bytes over the sum of its latencies) and <target>-p50-ms and
// <target>-p99-ms its latency percentiles. The servers start once, which
// takes most of a run at -benchtime 1x.
func BenchmarkSharedObjects(b *testing.B) {
	// The disk target is a lone server, whatever ALOFT_E2E_CLUSTER says.
	alofttest.Alone(b)
	ext, c := startSharedObjectsBench(b)
	disk := &objectTarget{name: "disk", bucket: "bench-disk", put: ext.S3(), get: ext.S3()}
	external := &objectTarget{name: "external", bucket: "bench-external", put: c.Nodes[0].S3(), get: c.Nodes[0].S3()}
	other := &objectTarget{name: "external-other-node", bucket: external.bucket, get: c.Nodes[1].S3()}
	disk.writer, external.writer, other.writer = disk, external, external
	for _, t := range []*objectTarget{disk, external} {
		t.version, t.sum = map[string]uint64{}, map[string]uint32{}
		createBenchBucket(b, t)
	}
	// Node 2 learns of the bucket made through node 1 from the backbone.
	waitUntil(b, "node 2 to see the bucket made through node 1", 30*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), sharedObjectTimeout)
		defer cancel()
		_, err := other.get.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(other.bucket)})
		return err == nil
	})

	for _, sz := range sharedObjectSizes {
		data := make([]byte, sz.size)
		rand.Read(data)
		key := "obj-" + sz.name
		// Every Put of the size stamps a new version into the same random
		// bytes, whose checksum is taken once.
		sum := crc32.Checksum(data[8:], crc32c)
		// A first Put and Get on every target opens the connections the
		// measured ones use.
		for _, t := range []*objectTarget{disk, external} {
			stampBenchVersion(data)
			putBenchObject(b, t, key, data, sum)
		}
		var buf bytes.Buffer
		verify := func(b *testing.B) {
			for _, t := range []*objectTarget{disk, external, other} {
				getBenchObject(b, t, key, &buf)
				checkBenchGet(b, t, key, len(data), &buf)
			}
		}
		verify(b)

		b.Run("size="+sz.name+"/op=put", func(b *testing.B) {
			benchSharedOp(b, []*objectTarget{disk, external}, len(data), func(t *objectTarget) time.Duration {
				stampBenchVersion(data)
				return putBenchObject(b, t, key, data, sum)
			}, nil)
			// What the last Put wrote is what every target reads.
			verify(b)
		})
		b.Run("size="+sz.name+"/op=get", func(b *testing.B) {
			benchSharedOp(b, []*objectTarget{disk, external, other}, len(data), func(t *objectTarget) time.Duration {
				return getBenchObject(b, t, key, &buf)
			}, func(t *objectTarget) {
				checkBenchGet(b, t, key, len(data), &buf)
			})
		})
	}
}

// startSharedObjectsBench starts an S3-compatible store (a lone server)
// and a cluster of three whose nodes keep their buckets and objects in
// it, as startSharedObjects does for a test. When the benchmark ends,
// nodes 2 and 3 are killed before node 1 stops: the cluster is younger
// than the 20 seconds of a steady size after which its streams get three
// replicas, and a node stopped first may take a stream the others write
// their final metrics to. Their stop is no part of the measurement.
func startSharedObjectsBench(b *testing.B) (ext *alofttest.Server, c *alofttest.Cluster) {
	b.Helper()
	ext = alofttest.Start(b)
	b.Setenv("ALOFT_OBJECTS_ACCESS_KEY_ID", alofttest.AccessKeyID)
	b.Setenv("ALOFT_OBJECTS_SECRET_ACCESS_KEY", alofttest.SecretAccessKey)
	c = alofttest.StartCluster(b, 3, "--objects-endpoint", ext.URL)
	b.Cleanup(func() { c.Nodes[1].Kill(); c.Nodes[2].Kill() })
	return ext, c
}

// benchSharedOp runs op b.N times on every target, one target after
// another in each iteration, starting with target i mod len(targets) in
// iteration i, and reports the rates and latencies the benchmark's doc
// describes. The timer runs only during op; after, when not nil, runs
// after each op with the timer stopped (to check what it did).
func benchSharedOp(b *testing.B, targets []*objectTarget, size int, op func(t *objectTarget) time.Duration, after func(t *objectTarget)) {
	b.SetBytes(int64(size * len(targets)))
	lat := make([][]time.Duration, len(targets))
	b.ResetTimer()
	b.StopTimer()
	for i := range b.N {
		for k := range targets {
			j := (i + k) % len(targets)
			b.StartTimer()
			d := op(targets[j])
			b.StopTimer()
			lat[j] = append(lat[j], d)
			if after != nil {
				after(targets[j])
			}
		}
	}
	for j, t := range targets {
		reportTarget(b, t.name, size, lat[j])
	}
}

// reportTarget reports a target's rate in MB/s (as testing computes
// MB/s: 1e6 bytes a second) and the median and 99th percentile of its
// latencies in ms (the percentiles of benchtest.Report), each unit
// prefixed with the target's name.
func reportTarget(b *testing.B, name string, size int, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	var total time.Duration
	for _, d := range lat {
		total += d
	}
	b.ReportMetric(float64(size)*float64(len(lat))/1e6/total.Seconds(), name+"-MB/s")
	s := slices.Clone(lat)
	slices.Sort(s)
	at := func(p float64) float64 {
		return float64(s[min(len(s)-1, int(float64(len(s))*p))]) / float64(time.Millisecond)
	}
	b.ReportMetric(at(0.5), name+"-p50-ms")
	b.ReportMetric(at(0.99), name+"-p99-ms")
}

// createBenchBucket creates t's bucket through the client t writes with.
func createBenchBucket(b *testing.B, t *objectTarget) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), sharedObjectTimeout)
	defer cancel()
	if _, err := t.put.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(t.bucket)}); err != nil {
		b.Fatalf("%s: create bucket %s: %v", t.name, t.bucket, err)
	}
}

// benchVersions numbers the objects the benchmark writes.
var benchVersions uint64

// stampBenchVersion writes a new version number into data's first bytes,
// so that a Get returning the object it replaced is caught.
func stampBenchVersion(data []byte) {
	benchVersions++
	binary.BigEndian.PutUint64(data[:8], benchVersions)
}

// putBenchObject puts data as key through t, records it (its version
// and sum, the CRC-32C of data after the version) as what t's readers
// must get, and returns how long the Put took.
func putBenchObject(b *testing.B, t *objectTarget, key string, data []byte, sum uint32) time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), sharedObjectTimeout)
	defer cancel()
	start := time.Now()
	_, err := t.put.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(t.bucket), Key: aws.String(key),
		Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data)))})
	took := time.Since(start)
	if err != nil {
		b.Fatalf("%s: put %s/%s (%d bytes): %v", t.name, t.bucket, key, len(data), err)
	}
	t.version[key] = binary.BigEndian.Uint64(data[:8])
	t.sum[key] = sum
	return took
}

// getBenchObject gets key through t into buf and returns how long the
// Get took, to its last byte; checkBenchGet checks what it read.
func getBenchObject(b *testing.B, t *objectTarget, key string, buf *bytes.Buffer) time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), sharedObjectTimeout)
	defer cancel()
	buf.Reset()
	start := time.Now()
	out, err := t.get.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(t.bucket), Key: aws.String(key)})
	if err == nil {
		_, err = buf.ReadFrom(out.Body)
		if cerr := out.Body.Close(); err == nil {
			err = cerr
		}
	}
	took := time.Since(start)
	if err != nil {
		b.Fatalf("%s: get %s/%s: %v", t.name, t.bucket, key, err)
	}
	return took
}

// checkBenchGet fails b unless buf, what a Get of key through t read,
// is the object last put by t's writer.
func checkBenchGet(b *testing.B, t *objectTarget, key string, size int, buf *bytes.Buffer) {
	if err := checkBenchObject(buf.Bytes(), size, t.writer.version[key], t.writer.sum[key]); err != nil {
		b.Fatalf("%s: get %s/%s: %v", t.name, t.bucket, key, err)
	}
}

// checkBenchObject returns an error unless got is size bytes of the
// given version, the rest of them with the given CRC-32C.
func checkBenchObject(got []byte, size int, version uint64, sum uint32) error {
	if len(got) != size {
		return fmt.Errorf("%d bytes, want %d", len(got), size)
	}
	if v := binary.BigEndian.Uint64(got[:8]); v != version {
		return fmt.Errorf("version %d, want %d (the object last put)", v, version)
	}
	if s := crc32.Checksum(got[8:], crc32c); s != sum {
		return fmt.Errorf("CRC-32C %08x, want %08x", s, sum)
	}
	return nil
}

// TestCheckBenchObject: the check of BenchmarkSharedObjects's gets
// catches a short object, the object an earlier Put wrote, and changed
// content.
func TestCheckBenchObject(t *testing.T) {
	data := make([]byte, 4<<10)
	rand.Read(data)
	stampBenchVersion(data)
	old := slices.Clone(data)
	stampBenchVersion(data)
	v, sum := binary.BigEndian.Uint64(data[:8]), crc32.Checksum(data[8:], crc32c)
	if err := checkBenchObject(data, len(data), v, sum); err != nil {
		t.Fatalf("the object last put: %v", err)
	}
	flipped := slices.Clone(data)
	flipped[len(flipped)-1] ^= 1
	for name, got := range map[string][]byte{"short": data[:len(data)-1], "replaced": old, "changed": flipped} {
		if err := checkBenchObject(got, len(data), v, sum); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
