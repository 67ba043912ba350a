package e2e

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// boto3Script asks STS who it is, then presigns a GET with boto3's
// defaults (Signature Version 2 for presigned URLs), with version 4 and
// with version 2, and fetches each.
const boto3Script = `
import os, sys, urllib.request
import boto3
from botocore.config import Config
kw = dict(endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1")
print(boto3.client("sts", **kw).get_caller_identity()["Arn"])
for cfg in (Config(s3={"addressing_style": "path"}), Config(signature_version="s3v4", s3={"addressing_style": "path"}),
            Config(signature_version="s3", s3={"addressing_style": "path"})):
    url = boto3.client("s3", config=cfg, **kw).generate_presigned_url("get_object", Params={"Bucket": "boto", "Key": "k.txt"}, ExpiresIn=60)
    print(("v2 " if "AWSAccessKeyId=" in url else "v4 ") + urllib.request.urlopen(url).read().decode())
`

// TestBoto3 uses boto3 against a real server: GetCallerIdentity and
// presigned URLs of both signature versions.
func TestBoto3(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil || exec.Command(python, "-c", "import boto3").Run() != nil {
		t.Skip("boto3 is not importable by python3 on this host: the test needs it (pip install boto3, or Debian's python3-boto3)")
	}
	srv := alofttest.Start(t)
	ctx := ctxT(t)
	c := srv.S3()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("boto")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("boto"), Key: aws.String("k.txt"), Body: strings.NewReader("from boto")}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(context.Background(), python, "-c", boto3Script)
	cmd.Env = append(os.Environ(), "ENDPOINT="+srv.URL, "AWS_ACCESS_KEY_ID="+alofttest.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY="+alofttest.SecretAccessKey, "AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("boto3: %v\n%s", err, out)
	}
	want := "arn:aws:iam::000000000000:root\nv2 from boto\nv4 from boto\nv2 from boto\n"
	if string(out) != want {
		t.Errorf("boto3 printed %q, want %q", out, want)
	}
}
