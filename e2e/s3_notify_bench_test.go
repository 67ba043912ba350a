package e2e

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// BenchmarkS3NotifyLatency measures the time from starting a PutObject of
// a small object to the handler of the function its bucket notifies
// starting, with uploads sent one after another to a warm function. It
// also reports how long the PutObject itself took, which includes storing
// the notification durably before the answer, and, alternated with it, a
// PutObject of the same size to a bucket without notifications.
func BenchmarkS3NotifyLatency(b *testing.B) {
	srv := alofttest.Start(b, "--sandbox", "process") // the function writes to a host directory
	dir := b.TempDir()
	arn := createRecorder(b, srv.Lambda(), "bench-s3-notify", dir)
	c := srv.S3()
	ctx := context.Background()
	for _, name := range []string{"bench", "plain"} {
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
			b.Fatal(err)
		}
	}
	notifyTo(b, c, "bench", lambdaConfig("bench", arn, "lat/", "", "s3:ObjectCreated:*"))
	body := bytes.Repeat([]byte("x"), 1024)
	var puts, plain []time.Duration
	send := func() {
		t0 := time.Now()
		key := "lat/" + strconv.FormatInt(t0.UnixNano(), 10)
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
			b.Fatal(err)
		}
		puts = append(puts, time.Since(t0))
	}
	send() // start an instance
	waitSeen(b, dir, 1, time.Minute)
	os.RemoveAll(dir)
	os.MkdirAll(dir, 0o755)
	puts = puts[:0]

	b.ResetTimer()
	for range b.N {
		send()
		time.Sleep(2 * time.Millisecond) // one at a time: latency, not throughput
		t0 := time.Now()
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("plain"), Key: aws.String("x"), Body: bytes.NewReader(body)}); err != nil {
			b.Fatal(err)
		}
		plain = append(plain, time.Since(t0))
	}
	b.StopTimer()
	seen := waitSeen(b, dir, b.N, time.Minute)
	var lat []time.Duration
	for _, s := range seen {
		sent, err := strconv.ParseInt(strings.TrimPrefix(s.record.S3.Object.URLDecodedKey, "lat/"), 10, 64)
		if err != nil {
			b.Fatalf("key %q: %v", s.record.S3.Object.URLDecodedKey, err)
		}
		lat = append(lat, time.Duration(s.start-sent))
	}
	b.ReportMetric(float64(percentile(lat, 0.5))/1e6, "start-p50-ms")
	b.ReportMetric(float64(percentile(lat, 0.99))/1e6, "start-p99-ms")
	b.ReportMetric(float64(percentile(puts, 0.5))/1e6, "put-p50-ms")
	b.ReportMetric(float64(percentile(puts, 0.99))/1e6, "put-p99-ms")
	b.ReportMetric(float64(percentile(plain, 0.5))/1e6, "plain-put-p50-ms")
}
