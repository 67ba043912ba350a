package s3api

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestObserveOperationsAndBytes checks that each request is counted
// under its operation and status, with the object bytes it carried.
func TestObserveOperationsAndBytes(t *testing.T) {
	type count struct {
		n       int
		in, out int64
	}
	var mu sync.Mutex
	seen := map[string]*count{}
	e := newEnv(t, func(d *Deps) {
		d.Observe = func(op string, status int, in, out int64) {
			mu.Lock()
			defer mu.Unlock()
			k := op + " " + string(rune('0'+status/100)) + "xx"
			if seen[k] == nil {
				seen[k] = &count{}
			}
			seen[k].n++
			seen[k].in += in
			seen[k].out += out
		}
	})
	ctx := context.Background()
	if _, err := e.c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("metered")}); err != nil {
		t.Fatal(err)
	}
	body := strings.Repeat("x", 100000)
	if _, err := e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("metered"), Key: aws.String("k"), Body: strings.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		out, err := e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("metered"), Key: aws.String("k")})
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, out.Body)
		out.Body.Close()
	}
	e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("metered"), Key: aws.String("missing")})
	mu.Lock()
	defer mu.Unlock()
	if c := seen["PutObject 2xx"]; c == nil || c.n != 1 || c.in < int64(len(body)) {
		t.Errorf("PutObject counted %+v, want 1 request of at least %d bytes in", c, len(body))
	}
	if c := seen["GetObject 2xx"]; c == nil || c.n != 2 || c.out != 2*int64(len(body)) {
		t.Errorf("GetObject counted %+v, want 2 requests of %d bytes out", c, 2*len(body))
	}
	if c := seen["GetObject 4xx"]; c == nil || c.n != 1 {
		t.Errorf("GetObject of a missing key counted %+v, want one 4xx", c)
	}
	if c := seen["CreateBucket 2xx"]; c == nil || c.n != 1 {
		t.Errorf("CreateBucket counted %+v: %v", c, seen)
	}
}
