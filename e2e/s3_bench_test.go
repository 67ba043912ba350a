package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// s3Bench sends signed PUTs and GETs with a plain net/http client, the
// body's SHA-256 computed once per size, so that the client's cost is one
// signature per request.
type s3Bench struct {
	url    string
	client *http.Client
	signer *v4.Signer
	creds  aws.Credentials
}

func (s *s3Bench) do(method, path string, body []byte, hash string, hdr ...string) (int64, error) {
	req, err := http.NewRequest(method, s.url+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	req.Header.Set("X-Amz-Content-Sha256", hash)
	if err := s.signer.SignHTTP(context.Background(), s.creds, req, hash, "s3", alofttest.Region, time.Now(),
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }); err != nil {
		return 0, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	// Read as the raw-read baseline does, 256 KiB at a time.
	buf := readBufs.Get().(*[]byte)
	n, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, struct{ io.Reader }{resp.Body}, *buf)
	readBufs.Put(buf)
	resp.Body.Close()
	if err != nil {
		return n, err
	}
	if resp.StatusCode != 200 {
		return n, fmt.Errorf("%s %s: status %d", method, path, resp.StatusCode)
	}
	return n, nil
}

// readBufs are the benchmark client's read buffers.
var readBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// BenchmarkS3Throughput measures PUT and GET through a real server (SigV4,
// the body's SHA-256 checked as it streams, MD5 for the ETag, write, fsync,
// rename and directory fsync for PUT; sendfile from the page cache for GET)
// for 4 KiB and 16 MiB objects, against the raw file system doing the same
// writes (write, fsync, rename, directory fsync) and reads in the same run,
// on the same file system. Each reports MB/s and objects/s. PUTs overwrite
// 256 keys in turn, so that with versioning each one keeps the version it
// replaces. Three buckets take turns: plain, with versioning enabled, and
// with every object encrypted (SSE-S3). A last pair of sub-benchmarks
// (alternating/put, alternating/get) takes the 16 MiB objects of the
// three buckets and the raw disk in turn, one request each, so that all
// four see the same machine (and the same state of the disk's
// writeback), and reports each one's MB/s.
//
//	go test -run '^$' -bench BenchmarkS3Throughput -benchtime 3s ./e2e/
func BenchmarkS3Throughput(b *testing.B) {
	srv := alofttest.Start(b)
	cl := &s3Bench{url: srv.URL, client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
		signer: v4.NewSigner(), creds: aws.Credentials{AccessKeyID: alofttest.AccessKeyID, SecretAccessKey: alofttest.SecretAccessKey}}
	empty := sha256.Sum256(nil)
	emptyHash := hex.EncodeToString(empty[:])
	for _, bucket := range []string{"/bench", "/bench-versioned", "/bench-sse"} {
		if _, err := cl.do("PUT", bucket, nil, emptyHash); err != nil {
			b.Fatal(err)
		}
	}
	enable := []byte(`<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>`)
	enableSum := sha256.Sum256(enable)
	if _, err := cl.do("PUT", "/bench-versioned?versioning", enable, hex.EncodeToString(enableSum[:])); err != nil {
		b.Fatal(err)
	}
	modes := []struct {
		name, bucket string
		hdr          []string // on PUT
	}{
		{"", "/bench", nil},
		{"versioned-", "/bench-versioned", nil},
		{"sse-", "/bench-sse", []string{"X-Amz-Server-Side-Encryption", "AES256"}},
	}
	rawDir := filepath.Join(srv.Dir, "raw-baseline")
	if err := os.MkdirAll(rawDir, 0o700); err != nil {
		b.Fatal(err)
	}
	for _, size := range []struct {
		name        string
		n           int
		parallelism int // goroutines per GOMAXPROCS
	}{{"4KiB", 4 << 10, 8}, {"16MiB", 16 << 20, 1}} {
		body := make([]byte, size.n)
		rand.Read(body)
		sum := sha256.Sum256(body)
		hash := hex.EncodeToString(sum[:])
		var seq atomic.Int64
		report := func(b *testing.B) {
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "objects/s")
		}

		for _, m := range modes {
			b.Run(m.name+"put/"+size.name, func(b *testing.B) {
				b.SetBytes(int64(size.n))
				b.SetParallelism(size.parallelism)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := cl.do("PUT", fmt.Sprintf("%s/%s/%d", m.bucket, size.name, seq.Add(1)%256), body, hash, m.hdr...); err != nil {
							b.Error(err)
							return
						}
					}
				})
				report(b)
			})
		}
		b.Run("raw-write/"+size.name, func(b *testing.B) {
			b.SetBytes(int64(size.n))
			b.SetParallelism(size.parallelism)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := rawWrite(rawDir, fmt.Sprintf("%s-%d", size.name, seq.Add(1)), body); err != nil {
						b.Error(err)
						return
					}
				}
			})
			report(b)
		})

		for _, m := range modes {
			key := m.bucket + "/get-" + size.name
			if _, err := cl.do("PUT", key, body, hash, m.hdr...); err != nil {
				b.Fatal(err)
			}
			b.Run(m.name+"get/"+size.name, func(b *testing.B) {
				b.SetBytes(int64(size.n))
				b.SetParallelism(size.parallelism)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						n, err := cl.do("GET", key, nil, emptyHash)
						if err != nil || n != int64(size.n) {
							b.Errorf("get: %d bytes, %v", n, err)
							return
						}
					}
				})
				report(b)
			})
		}
		rawFile := filepath.Join(rawDir, "read-"+size.name)
		if err := rawWrite(rawDir, "read-"+size.name, body); err != nil {
			b.Fatal(err)
		}
		b.Run("raw-read/"+size.name, func(b *testing.B) {
			b.SetBytes(int64(size.n))
			b.SetParallelism(size.parallelism)
			b.RunParallel(func(pb *testing.PB) {
				buf := make([]byte, 256<<10)
				for pb.Next() {
					f, err := os.Open(rawFile)
					if err != nil {
						b.Error(err)
						return
					}
					n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{f}, buf)
					f.Close()
					if err != nil || n != int64(size.n) {
						b.Errorf("read: %d bytes, %v", n, err)
						return
					}
				}
			})
			report(b)
		})
	}

	// The 16 MiB requests again, modes taking turns request by request.
	size := 16 << 20
	body := make([]byte, size)
	rand.Read(body)
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	names := []string{"plain", "versioned", "sse", "raw"}
	var puts, gets []func(i int) error
	for _, m := range modes {
		puts = append(puts, func(i int) error {
			_, err := cl.do("PUT", fmt.Sprintf("%s/alt/%d", m.bucket, i%16), body, hash, m.hdr...)
			return err
		})
		key := m.bucket + "/alt-get"
		if _, err := cl.do("PUT", key, body, hash, m.hdr...); err != nil {
			b.Fatal(err)
		}
		gets = append(gets, func(int) error {
			n, err := cl.do("GET", key, nil, emptyHash)
			if err == nil && n != int64(size) {
				err = fmt.Errorf("read %d bytes", n)
			}
			return err
		})
	}
	puts = append(puts, func(i int) error { return rawWrite(rawDir, fmt.Sprintf("alt-%d", i%16), body) })
	if err := rawWrite(rawDir, "alt-read", body); err != nil {
		b.Fatal(err)
	}
	gets = append(gets, func(int) error {
		f, err := os.Open(filepath.Join(rawDir, "alt-read"))
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(io.Discard, struct{ io.Reader }{f})
		return err
	})
	b.Run("alternating/put/16MiB", func(b *testing.B) { benchAlternating(b, names, puts, size) })
	b.Run("alternating/get/16MiB", func(b *testing.B) { benchAlternating(b, names, gets, size) })
}

// benchAlternating sends one 16 MiB request per mode in turn, b.N times,
// and reports each mode's MB/s from its own time.
func benchAlternating(b *testing.B, names []string, ops []func(i int) error, size int) {
	spent := make([]time.Duration, len(ops))
	b.SetBytes(int64(size * len(ops)))
	for i := range b.N {
		for k, op := range ops {
			t0 := time.Now()
			if err := op(i); err != nil {
				b.Fatalf("%s: %v", names[k], err)
			}
			spent[k] += time.Since(t0)
		}
	}
	for k, name := range names {
		b.ReportMetric(float64(b.N)*float64(size)/1e6/spent[k].Seconds(), name+"-MB/s")
	}
}

// rawWrite is the file system's share of a PUT: write a temporary file,
// fsync it, rename it into place and fsync the directory.
func rawWrite(dir, name string, body []byte) error {
	f, err := os.CreateTemp(dir, "tmp-*")
	if err != nil {
		return err
	}
	if _, err := f.Write(body); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, name)); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
