package s3store_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestChecksumsThroughExternalStore: a checksum a client sends with an
// object (the SDK's, in a header or a trailer) is stored with it in the
// external store and returned through the front.
func TestChecksumsThroughExternalStore(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	if _, err := s.c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("summed")}); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("content"))
	want := base64.StdEncoding.EncodeToString(sum[:])
	for _, r := range []io.Reader{
		strings.NewReader("content"),                      // seekable: the checksum in a header
		struct{ io.Reader }{strings.NewReader("content")}, // not seekable: in a trailer
	} {
		if _, err := s.c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("summed"), Key: aws.String("k"), Body: r, ContentLength: aws.Int64(7),
			ChecksumAlgorithm: types.ChecksumAlgorithmSha256}); err != nil {
			t.Fatal(err)
		}
		if info, err := s.back.HeadObject(ctx, "summed", "k"); err != nil || info.Checksums["SHA256"] != want {
			t.Fatalf("in the external store: %v, %v", info.Checksums, err)
		}
		h, err := s.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("summed"), Key: aws.String("k"), ChecksumMode: types.ChecksumModeEnabled})
		if err != nil || aws.ToString(h.ChecksumSHA256) != want {
			t.Fatalf("through the front: %q, %v", aws.ToString(h.ChecksumSHA256), err)
		}
	}
}
