package e2e

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// TestS3CLI drives the bucket and object commands of the aloft binary
// against a real server and checks the results with the AWS SDK.
func TestS3CLI(t *testing.T) {
	srv := alofttest.Start(t)
	ctx := ctxT(t)
	run := func(args ...string) string {
		t.Helper()
		out, errOut, code := srv.Run(ctx, nil, args...)
		if code != 0 {
			t.Fatalf("aloft %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		return out
	}
	dir := t.TempDir()
	big := make([]byte, 20<<20+12345)
	for i := range big {
		big[i] = byte(i*31 + i>>13)
	}
	bigFile := filepath.Join(dir, "big file.bin")
	smallFile := filepath.Join(dir, "note.txt")
	if err := os.WriteFile(bigFile, big, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(smallFile, []byte("a small note"), 0o644); err != nil {
		t.Fatal(err)
	}

	run("bucket", "create", "cli-bucket")
	if out := run("bucket", "list"); !strings.Contains(out, "cli-bucket") {
		t.Fatalf("bucket list:\n%s", out)
	}
	out := run("object", "put", "cli-bucket/data/", bigFile, "--progress")
	if !strings.Contains(out, "in 3 parts") || !strings.Contains(out, "-3)") {
		t.Errorf("multipart put: %s", out)
	}
	run("object", "put", "cli-bucket", smallFile)

	// The SDK sees what the CLI stored.
	c := srv.S3()
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("cli-bucket"), Key: aws.String("data/big file.bin")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt64(head.ContentLength) != int64(len(big)) || !strings.HasSuffix(strings.Trim(aws.ToString(head.ETag), `"`), "-3") {
		t.Errorf("big object: %d bytes, ETag %s", aws.ToInt64(head.ContentLength), aws.ToString(head.ETag))
	}
	small, _ := (&s3Env{srv: srv, c: c}).get(t, "cli-bucket", "note.txt")
	if string(small) != "a small note" {
		t.Errorf("small object %q", small)
	}

	out = run("object", "list", "cli-bucket")
	for _, want := range []string{"data/big file.bin", "20.0 MiB", "note.txt", "12 B", "2 objects"} {
		if !strings.Contains(out, want) {
			t.Errorf("object list lacks %q:\n%s", want, out)
		}
	}
	var listed []struct {
		Key  string
		Size int64
		ETag string
	}
	if err := json.Unmarshal([]byte(run("object", "list", "cli-bucket", "--prefix", "data/", "-o", "json")), &listed); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 || listed[0].Key != "data/big file.bin" || listed[0].Size != int64(len(big)) {
		t.Errorf("object list -o json: %+v", listed)
	}

	got := filepath.Join(dir, "got.bin")
	run("object", "get", "cli-bucket/data/big file.bin", got)
	if b, _ := os.ReadFile(got); !bytes.Equal(b, big) {
		t.Errorf("downloaded %d bytes, not the %d uploaded", len(b), len(big))
	}
	if out := run("object", "get", "s3://cli-bucket/note.txt", "-"); out != "a small note" {
		t.Errorf("get to stdout: %q", out)
	}
	sum := md5.Sum([]byte("a small note"))
	if !strings.Contains(run("object", "list", "cli-bucket"), hex.EncodeToString(sum[:])) {
		t.Error("the listing does not show the small object's MD5 ETag")
	}

	_, errOut, code := srv.Run(ctx, nil, "bucket", "delete", "cli-bucket")
	if code != 1 || !strings.Contains(errOut, "not empty") {
		t.Errorf("delete of a full bucket: exit %d, %s", code, errOut)
	}
	run("object", "delete", "cli-bucket/note.txt")
	(&s3Env{srv: srv, c: c}).absent(t, "cli-bucket", "note.txt")
	run("bucket", "delete", "cli-bucket", "--force")
	if out := run("bucket", "list", "-o", "json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("buckets after delete: %s", out)
	}
	_, errOut, code = srv.Run(ctx, nil, "object", "get", "cli-bucket/note.txt", filepath.Join(dir, "x"))
	if code != 1 || !strings.Contains(errOut, `bucket "cli-bucket" not found`) {
		t.Errorf("get from a deleted bucket: exit %d, %s", code, errOut)
	}
}
