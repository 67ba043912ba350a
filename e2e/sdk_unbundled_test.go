package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// TestNodeSDKUnbundled runs Node.js functions that use the AWS SDK for
// JavaScript v3 without bundling it, as on Lambda: an ES module imports
// @aws-sdk/client-s3 and lists the buckets, a CommonJS one requires
// @aws-sdk/client-sts and asks who it is. The SDK is the one
// scripts/install-sdks.sh installs for the server.
func TestNodeSDKUnbundled(t *testing.T) {
	home, _ := os.UserHomeDir()
	if _, err := os.Stat(filepath.Join(home, ".local", "share", "aloft", "sdk", "node", "node_modules", "@aws-sdk", "client-s3")); err != nil && os.Getenv("ALOFT_SDK_DIR") == "" {
		t.Fatal("the AWS SDK for Node.js functions is not installed: run bash scripts/install-sdks.sh (scripts/test.sh does)")
	}
	srv := alofttest.Start(t)
	ctx := ctxT(t)
	c := srv.Lambda()
	if _, err := srv.S3().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("listed")}); err != nil {
		t.Fatal(err)
	}
	role := executionRole(t, srv, "node-sdk", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}}`)
	rc := runtimeCases()[2]
	esm := alofttest.ZipFiles(t, map[string]string{"index.mjs": `
import { S3Client, ListBucketsCommand } from "@aws-sdk/client-s3";
const s3 = new S3Client({ forcePathStyle: true });
export const handler = async () => {
  const out = await s3.send(new ListBucketsCommand({}));
  return { buckets: out.Buckets.map((b) => b.Name) };
};`})
	create(t, c, "node-esm", rc, esm, func(in *lambda.CreateFunctionInput) { in.Role = aws.String(role) })
	_, out := invoke(t, c, "node-esm", `{}`)
	var got struct {
		Buckets []string `json:"buckets"`
	}
	if out.FunctionError != nil || json.Unmarshal(out.Payload, &got) != nil || len(got.Buckets) != 1 || got.Buckets[0] != "listed" {
		t.Errorf("the ES module function answered %s", out.Payload)
	}
	cjs := alofttest.ZipFiles(t, map[string]string{"index.js": `
const { STSClient, GetCallerIdentityCommand } = require("@aws-sdk/client-sts");
exports.handler = async () => {
  const who = await new STSClient({}).send(new GetCallerIdentityCommand({}));
  return { arn: who.Arn };
};`})
	create(t, c, "node-cjs", rc, cjs, func(in *lambda.CreateFunctionInput) { in.Role = aws.String(role) })
	_, out = invoke(t, c, "node-cjs", `{}`)
	var who struct {
		ARN string `json:"arn"`
	}
	if out.FunctionError != nil || json.Unmarshal(out.Payload, &who) != nil || who.ARN != "arn:aws:sts::000000000000:assumed-role/node-sdk/node-cjs" {
		t.Errorf("the CommonJS function answered %s", out.Payload)
	}
}

// TestPythonBoto3Unbundled runs a Python function that imports boto3
// without bundling it, on a Python whose own site-packages lack it, and
// lists the buckets with it.
func TestPythonBoto3Unbundled(t *testing.T) {
	home, _ := os.UserHomeDir()
	if _, err := os.Stat(filepath.Join(home, ".local", "share", "aloft", "sdk", "python", "boto3")); err != nil && os.Getenv("ALOFT_SDK_DIR") == "" {
		t.Fatal("boto3 for Python functions is not installed: run bash scripts/install-sdks.sh as root (scripts/test.sh does)")
	}
	srv := alofttest.Start(t)
	ctx := ctxT(t)
	c := srv.Lambda()
	out, _, code := srv.Run(ctx, nil, "runtimes")
	runtime := "python3.11"
	for _, r := range []string{"python3.13", "python3.12"} {
		if code == 0 && strings.Contains(out, r+" ") {
			runtime = r // a version the tests' own python3 (with its boto3) is not
		}
	}
	if _, err := srv.S3().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("from-boto3")}); err != nil {
		t.Fatal(err)
	}
	role := executionRole(t, srv, "py-sdk", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}}`)
	code3 := alofttest.ZipFiles(t, map[string]string{"app.py": `
import boto3

def handler(event, context):
    s3 = boto3.client("s3")
    return {"buckets": [b["Name"] for b in s3.list_buckets()["Buckets"]], "boto3": boto3.__version__}
`})
	rc := runtimeCase{"python", runtime, "app.handler", "", nil}
	create(t, c, "py-boto3", rc, code3, func(in *lambda.CreateFunctionInput) { in.Role = aws.String(role) })
	_, res := invoke(t, c, "py-boto3", `{}`)
	var got struct {
		Buckets []string `json:"buckets"`
		Boto3   string   `json:"boto3"`
	}
	if res.FunctionError != nil || json.Unmarshal(res.Payload, &got) != nil || len(got.Buckets) != 1 || got.Buckets[0] != "from-boto3" {
		t.Errorf("the %s function answered %s", runtime, res.Payload)
	}
	t.Logf("%s imported boto3 %s", runtime, got.Boto3)
}
