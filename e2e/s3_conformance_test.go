package e2e

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// TestS3ConformanceRefusals sends headers and sub-resources S3 has and
// Aloft does not implement, and expects each refused with the code S3
// gives, and nothing stored.
func TestS3ConformanceRefusals(t *testing.T) {
	e := newS3Env(t)
	e.bucket(t, "refuse")
	e.put(t, "refuse", "there", []byte("x"))
	tests := []struct {
		name, method, path string
		hdr                map[string]string
		status             int
		code               string
	}{
		{"SSE-S3 on a read", "GET", "/refuse/there", map[string]string{"X-Amz-Server-Side-Encryption": "AES256"}, 400, "InvalidArgument"},
		{"SSE-KMS", "PUT", "/refuse/k", map[string]string{"X-Amz-Server-Side-Encryption": "aws:kms", "X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id": "alias/x"}, 501, "NotImplemented"},
		{"SSE-C over HTTP", "PUT", "/refuse/k", map[string]string{"X-Amz-Server-Side-Encryption-Customer-Algorithm": "AES256",
			"X-Amz-Server-Side-Encryption-Customer-Key":     "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
			"X-Amz-Server-Side-Encryption-Customer-Key-Md5": "ZGVmYXVsdA=="}, 400, "InvalidRequest"},
		{"public ACL", "PUT", "/refuse/k", map[string]string{"X-Amz-Acl": "public-read"}, 400, "AccessControlListNotSupported"},
		{"grant", "PUT", "/refuse/k", map[string]string{"X-Amz-Grant-Read": `id="abc"`}, 400, "AccessControlListNotSupported"},
		{"bad tag", "PUT", "/refuse/k", map[string]string{"X-Amz-Tagging": "aws:owner=me"}, 400, "InvalidTag"},
		{"tagging directive", "PUT", "/refuse/k", map[string]string{"X-Amz-Copy-Source": "/refuse/there", "X-Amz-Tagging-Directive": "MERGE"}, 400, "InvalidArgument"},
		{"glacier", "PUT", "/refuse/k", map[string]string{"X-Amz-Storage-Class": "GLACIER"}, 501, "NotImplemented"},
		{"unknown class", "PUT", "/refuse/k", map[string]string{"X-Amz-Storage-Class": "FROZEN"}, 400, "InvalidStorageClass"},
		{"object lock", "PUT", "/refuse/k", map[string]string{"X-Amz-Object-Lock-Mode": "GOVERNANCE",
			"X-Amz-Object-Lock-Retain-Until-Date": "2030-01-01T00:00:00Z"}, 400, "InvalidRequest"},
		{"website redirect", "PUT", "/refuse/k", map[string]string{"X-Amz-Website-Redirect-Location": "/other"}, 501, "NotImplemented"},
		{"other owner", "PUT", "/refuse/k", map[string]string{"X-Amz-Expected-Bucket-Owner": "123456789012"}, 403, "AccessDenied"},
		{"etag If-None-Match on a write", "PUT", "/refuse/k", map[string]string{"If-None-Match": `"abc"`}, 501, "NotImplemented"},
		{"conditional delete of a version", "DELETE", "/refuse/there?versionId=null", map[string]string{"If-Match": `"abc"`}, 501, "NotImplemented"},
		{"If-None-Match on a delete", "DELETE", "/refuse/there", map[string]string{"If-None-Match": "*"}, 501, "NotImplemented"},
		{"object lock bucket", "PUT", "/refuse2", map[string]string{"X-Amz-Bucket-Object-Lock-Enabled": "maybe"}, 400, "InvalidArgument"},
		{"version id", "GET", "/refuse/there?versionId=3sL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY", nil, 400, "InvalidArgument"},
		{"copy source version", "PUT", "/refuse/k", map[string]string{"X-Amz-Copy-Source": "/refuse/there?versionId=abc"}, 400, "InvalidArgument"},
		{"put versioning without a document", "PUT", "/refuse?versioning", nil, 400, "MalformedXML"},
		{"put encryption without a digest", "PUT", "/refuse?encryption", nil, 400, "InvalidRequest"},
		{"put cors without a digest", "PUT", "/refuse?cors", nil, 400, "InvalidRequest"},
		{"put lifecycle without a digest", "PUT", "/refuse?lifecycle", nil, 400, "InvalidRequest"},
		{"put website without a digest", "PUT", "/refuse?website", nil, 400, "InvalidRequest"},
		{"put object tagging unsigned body", "PUT", "/refuse/there?tagging", nil, 400, "MalformedXML"},
		{"versions of a key", "GET", "/refuse/there?versions", nil, 501, "NotImplemented"},
		{"inventory", "GET", "/refuse?inventory", nil, 501, "NotImplemented"},
		{"analytics", "GET", "/refuse?analytics", nil, 501, "NotImplemented"},
		{"metrics", "GET", "/refuse?metrics", nil, 501, "NotImplemented"},
		{"intelligent tiering", "GET", "/refuse?intelligent-tiering", nil, 501, "NotImplemented"},
		{"torrent", "GET", "/refuse/there?torrent", nil, 501, "NotImplemented"},
		{"restore", "POST", "/refuse/there?restore", nil, 501, "NotImplemented"},
		{"select", "POST", "/refuse/there?select&select-type=2", nil, 501, "NotImplemented"},
		{"retention", "GET", "/refuse/there?retention", nil, 400, "InvalidRequest"},
		{"legal hold", "PUT", "/refuse/there?legal-hold", nil, 400, "InvalidRequest"},
		{"put location", "PUT", "/refuse?location", nil, 501, "NotImplemented"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body []byte
			if tt.method == "PUT" && !strings.Contains(tt.path, "?") && tt.hdr["X-Amz-Copy-Source"] == "" {
				body = []byte("must not be stored")
			}
			status, hdr, text := e.raw(t, tt.method, tt.path, body, tt.hdr)
			got := wantXMLError(t, status, hdr, text, tt.status, tt.code)
			if tt.code == "NotImplemented" && got.Message == "" {
				t.Fatalf("NotImplemented without a message: %s", text)
			}
		})
	}
	e.absent(t, "refuse", "k")
	if _, err := e.c.HeadBucket(ctxT(t), &s3.HeadBucketInput{Bucket: aws.String("refuse2")}); err == nil {
		t.Fatal("a bucket refused for Object Lock was created")
	}
	// The SDK's own fields meet the same refusals.
	ctx := ctxT(t)
	_, err := e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("refuse"), Key: aws.String("k"), Body: strings.NewReader("x"),
		ServerSideEncryption: types.ServerSideEncryptionAwsKms})
	apiErr(t, err, "NotImplemented", 501)
	_, err = e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("refuse"), Key: aws.String("k"), Body: strings.NewReader("x"),
		StorageClass: types.StorageClassStandardIa})
	apiErr(t, err, "NotImplemented", 501)
	_, err = e.c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("refuse"), MFA: aws.String("serial 123456"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled, MFADelete: types.MFADeleteEnabled}})
	apiErr(t, err, "NotImplemented", 501)
	_, err = e.c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String("refuse"), ACL: types.BucketCannedACLPublicRead})
	apiErr(t, err, "AccessControlListNotSupported", 400)
	e.absent(t, "refuse", "k")
	// What is taken: the canned ACLs of a bucket whose ACLs are
	// disabled, STANDARD, the right owner, a requester paying nothing.
	_, err = e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("refuse"), Key: aws.String("k"), Body: strings.NewReader("x"),
		ACL: types.ObjectCannedACLBucketOwnerFullControl, StorageClass: types.StorageClassStandard,
		ExpectedBucketOwner: aws.String("000000000000"), RequestPayer: types.RequestPayerRequester})
	if err != nil {
		t.Fatalf("a put with what is implemented: %v", err)
	}
	if _, err := e.c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String("refuse"), ACL: types.BucketCannedACLPrivate}); err != nil {
		t.Fatalf("canned ACL private: %v", err)
	}
	// A batch delete naming a version other than null deletes nothing.
	del, err := e.c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("refuse"), Delete: &types.Delete{Objects: []types.ObjectIdentifier{
		{Key: aws.String("k"), VersionId: aws.String("3sL4kqtJlcpXroDTDmJ")}, {Key: aws.String("there"), VersionId: aws.String("null")}}}})
	if err != nil || len(del.Errors) != 1 || aws.ToString(del.Errors[0].Key) != "k" || aws.ToString(del.Errors[0].Code) != "InvalidArgument" ||
		len(del.Deleted) != 1 || aws.ToString(del.Deleted[0].Key) != "there" {
		t.Fatalf("batch delete with versions: %+v, %v", del, err)
	}
	if _, err := e.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("refuse"), Key: aws.String("k")}); err != nil {
		t.Fatalf("the object of a refused version was deleted: %v", err)
	}
}

// TestS3ConformanceUnconfigured reads configuration no bucket has and
// expects S3's answers for an unconfigured bucket.
func TestS3ConformanceUnconfigured(t *testing.T) {
	e := newS3Env(t)
	ctx := ctxT(t)
	e.bucket(t, "plain")
	e.put(t, "plain", "obj", []byte("x"))
	b := aws.String("plain")

	v, err := e.c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: b})
	if err != nil || v.Status != "" || v.MFADelete != "" {
		t.Fatalf("versioning: %+v, %v", v, err)
	}
	acl, err := e.c.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: b})
	if err != nil || len(acl.Grants) != 1 || acl.Grants[0].Permission != types.PermissionFullControl ||
		aws.ToString(acl.Grants[0].Grantee.ID) != aws.ToString(acl.Owner.ID) || acl.Grants[0].Grantee.Type != types.TypeCanonicalUser {
		t.Fatalf("bucket ACL: %+v, %v", acl, err)
	}
	oacl, err := e.c.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: b, Key: aws.String("obj")})
	if err != nil || len(oacl.Grants) != 1 || oacl.Grants[0].Permission != types.PermissionFullControl {
		t.Fatalf("object ACL: %+v, %v", oacl, err)
	}
	_, err = e.c.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: b, Key: aws.String("missing")})
	apiErr(t, err, "NoSuchKey", 404)
	own, err := e.c.GetBucketOwnershipControls(ctx, &s3.GetBucketOwnershipControlsInput{Bucket: b})
	if err != nil || len(own.OwnershipControls.Rules) != 1 || own.OwnershipControls.Rules[0].ObjectOwnership != types.ObjectOwnershipBucketOwnerEnforced {
		t.Fatalf("ownership controls: %+v, %v", own, err)
	}
	tags, err := e.c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: b, Key: aws.String("obj")})
	if err != nil || len(tags.TagSet) != 0 {
		t.Fatalf("object tags: %+v, %v", tags, err)
	}
	_, err = e.c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: b})
	apiErr(t, err, "ServerSideEncryptionConfigurationNotFoundError", 404)
	_, err = e.c.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: b})
	apiErr(t, err, "NoSuchCORSConfiguration", 404)
	_, err = e.c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: b})
	apiErr(t, err, "NoSuchLifecycleConfiguration", 404)
	_, err = e.c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: b})
	apiErr(t, err, "NoSuchTagSet", 404)
	_, err = e.c.GetBucketWebsite(ctx, &s3.GetBucketWebsiteInput{Bucket: b})
	apiErr(t, err, "NoSuchWebsiteConfiguration", 404)
	_, err = e.c.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: b})
	apiErr(t, err, "ObjectLockConfigurationNotFoundError", 404)
	_, err = e.c.GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: b})
	apiErr(t, err, "ReplicationConfigurationNotFoundError", 404)
	_, err = e.c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: b})
	apiErr(t, err, "NoSuchPublicAccessBlockConfiguration", 404)
	// Of a bucket that does not exist, NoSuchBucket.
	_, err = e.c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String("nobody")})
	apiErr(t, err, "NoSuchBucket", 404)
	// versionId=null is the one version of an object in such a bucket.
	out, err := e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("obj"), VersionId: aws.String("null")})
	if err != nil {
		t.Fatalf("get version null: %v", err)
	}
	out.Body.Close()
}

// TestS3ConditionalWrites races conditional writers of one key and
// checks If-Match, conditional completion and conditional copy.
func TestS3ConditionalWrites(t *testing.T) {
	e := newS3Env(t)
	ctx := ctxT(t)
	e.bucket(t, "cond")
	b := aws.String("cond")

	const n = 12
	var wg sync.WaitGroup
	results := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, results[i] = e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("race"),
				Body: strings.NewReader(fmt.Sprintf("writer %d", i)), IfNoneMatch: aws.String("*")})
		}()
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range results {
		if err == nil {
			if winner >= 0 {
				t.Fatalf("writers %d and %d both won", winner, i)
			}
			winner = i
			continue
		}
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "PreconditionFailed" && ae.ErrorCode() != "ConditionalRequestConflict" {
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no writer won")
	}
	got, head := e.get(t, "cond", "race")
	if string(got) != fmt.Sprintf("writer %d", winner) {
		t.Fatalf("object holds %q, the winner was %d", got, winner)
	}
	etag := aws.ToString(head.ETag)

	// If-Match.
	_, err := e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("race"), Body: strings.NewReader("stale"), IfMatch: aws.String(`"0123456789abcdef0123456789abcdef"`)})
	apiErr(t, err, "PreconditionFailed", 412)
	_, err = e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("nothing"), Body: strings.NewReader("x"), IfMatch: aws.String(etag)})
	apiErr(t, err, "NoSuchKey", 404)
	e.absent(t, "cond", "nothing")
	put, err := e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("race"), Body: strings.NewReader("fresh"), IfMatch: aws.String(etag)})
	if err != nil {
		t.Fatalf("If-Match with the current ETag: %v", err)
	}
	if got, _ := e.get(t, "cond", "race"); string(got) != "fresh" {
		t.Fatalf("after If-Match: %q", got)
	}
	// The old ETag no longer matches.
	_, err = e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("race"), Body: strings.NewReader("late"), IfMatch: aws.String(etag)})
	apiErr(t, err, "PreconditionFailed", 412)

	// Conditional copy: the conditions are on the destination.
	_, err = e.c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("race"), CopySource: aws.String("cond/race"),
		MetadataDirective: types.MetadataDirectiveReplace, IfNoneMatch: aws.String("*")})
	apiErr(t, err, "PreconditionFailed", 412)
	if _, err := e.c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("copy"), CopySource: aws.String("cond/race"),
		IfNoneMatch: aws.String("*")}); err != nil {
		t.Fatalf("conditional copy to a new key: %v", err)
	}
	_, err = e.c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("copy"), CopySource: aws.String("cond/race"),
		IfMatch: aws.String(`"ffffffffffffffffffffffffffffffff"`)})
	apiErr(t, err, "PreconditionFailed", 412)
	if _, err := e.c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("copy"), CopySource: aws.String("cond/race"),
		IfMatch: put.ETag}); err != nil {
		t.Fatalf("copy with the destination's ETag: %v", err)
	}

	// Conditional completion.
	complete := func(key string, cond func(*s3.CompleteMultipartUploadInput)) error {
		up, err := e.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		part, err := e.c.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: aws.String(key), UploadId: up.UploadId,
			PartNumber: aws.Int32(1), Body: bytes.NewReader([]byte("multipart " + key))})
		if err != nil {
			t.Fatal(err)
		}
		in := &s3.CompleteMultipartUploadInput{Bucket: b, Key: aws.String(key), UploadId: up.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: part.ETag}}}}
		cond(in)
		_, err = e.c.CompleteMultipartUpload(ctx, in)
		return err
	}
	apiErr(t, complete("race", func(in *s3.CompleteMultipartUploadInput) { in.IfNoneMatch = aws.String("*") }), "PreconditionFailed", 412)
	if got, _ := e.get(t, "cond", "race"); string(got) != "fresh" {
		t.Fatalf("a refused completion changed the object: %q", got)
	}
	if err := complete("mp-new", func(in *s3.CompleteMultipartUploadInput) { in.IfNoneMatch = aws.String("*") }); err != nil {
		t.Fatalf("conditional completion of a new key: %v", err)
	}
	apiErr(t, complete("race", func(in *s3.CompleteMultipartUploadInput) { in.IfMatch = aws.String(etag) }), "PreconditionFailed", 412)
	if err := complete("race", func(in *s3.CompleteMultipartUploadInput) { in.IfMatch = put.ETag }); err != nil {
		t.Fatalf("completion with the current ETag: %v", err)
	}
	if got, _ := e.get(t, "cond", "race"); string(got) != "multipart race" {
		t.Fatalf("after the conditional completion: %q", got)
	}

	// Conditional deletes: If-Match on DeleteObject, ETag in a
	// DeleteObjects entry.
	cur, err := e.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String("race")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("race"), IfMatch: aws.String(etag)})
	apiErr(t, err, "PreconditionFailed", 412)
	_, err = e.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("nothing"), IfMatch: aws.String(etag)})
	apiErr(t, err, "NoSuchKey", 404)
	if got, _ := e.get(t, "cond", "race"); string(got) != "multipart race" {
		t.Fatalf("a refused delete removed the object: %q", got)
	}
	if _, err := e.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("race"), IfMatch: cur.ETag}); err != nil {
		t.Fatalf("delete with the current ETag: %v", err)
	}
	e.absent(t, "cond", "race")
	copyHead, err := e.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String("copy")})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := e.c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: b, Delete: &types.Delete{Objects: []types.ObjectIdentifier{
		{Key: aws.String("copy"), ETag: aws.String(etag)}, {Key: aws.String("mp-new"), ETag: aws.String(`"ffffffffffffffffffffffffffffffff"`)}}}})
	if err != nil || len(batch.Deleted) != 0 || len(batch.Errors) != 2 || aws.ToString(batch.Errors[0].Code) != "PreconditionFailed" || aws.ToString(batch.Errors[1].Code) != "PreconditionFailed" {
		t.Fatalf("batch delete with stale ETags: %+v, %v", batch, err)
	}
	batch, err = e.c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: b, Delete: &types.Delete{Objects: []types.ObjectIdentifier{
		{Key: aws.String("copy"), ETag: copyHead.ETag}}}})
	if err != nil || len(batch.Deleted) != 1 || len(batch.Errors) != 0 {
		t.Fatalf("batch delete with the current ETag: %+v, %v", batch, err)
	}
	e.absent(t, "cond", "copy")
	if got, _ := e.get(t, "cond", "mp-new"); string(got) != "multipart mp-new" {
		t.Fatalf("a refused batch delete removed an object: %q", got)
	}
}

// TestS3ConformanceDefects checks answers that once differed from S3's.
func TestS3ConformanceDefects(t *testing.T) {
	e := newS3Env(t)
	ctx := ctxT(t)
	e.bucket(t, "defects")

	t.Run("request id", func(t *testing.T) {
		for _, path := range []string{"/defects", "/defects/missing", "/"} {
			_, hdr, _ := e.raw(t, "GET", path, nil, nil)
			if hdr.Get("X-Amz-Request-Id") == "" || hdr.Get("X-Amz-Id-2") == "" || hdr.Get("X-Amzn-Requestid") != "" {
				t.Fatalf("%s: request id headers %v", path, hdr)
			}
		}
		// Anonymous requests too.
		resp, err := http.Get(e.srv.URL + "/defects/missing")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("X-Amz-Request-Id") == "" || resp.Header.Get("X-Amzn-Requestid") != "" {
			t.Fatalf("anonymous: %v", resp.Header)
		}
	})

	t.Run("Date header signs", func(t *testing.T) {
		e.put(t, "defects", "dated", []byte("dated"))
		status, _, body := dateSigned(t, e.srv.URL, "/defects/dated", time.Now(), time.Now())
		if status != 200 || body != "dated" {
			t.Fatalf("Date-signed GET: %d %s", status, body)
		}
		// An old Date is as skewed as an old X-Amz-Date.
		old := time.Now().Add(-time.Hour)
		status, hdr, body := dateSigned(t, e.srv.URL, "/defects/dated", old, old)
		wantXMLError(t, status, hdr, body, 403, "RequestTimeTooSkewed")
	})

	t.Run("re-create own bucket in us-east-1", func(t *testing.T) {
		if _, err := e.c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("defects")}); err != nil {
			t.Fatalf("re-create: %v", err)
		}
		e.put(t, "defects", "kept", []byte("kept"))
		if _, err := e.c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("defects")}); err != nil {
			t.Fatalf("re-create: %v", err)
		}
		if got, _ := e.get(t, "defects", "kept"); string(got) != "kept" {
			t.Fatalf("re-creating emptied the bucket: %q", got)
		}
		_, err := e.c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("elsewhere"),
			CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraintEuWest1}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("elsewhere"),
			CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraintEuWest1}})
		apiErr(t, err, "BucketAlreadyOwnedByYou", 409)
	})

	t.Run("Content-Encoding as sent", func(t *testing.T) {
		const enc = "x-custom, identity"
		status, _, body := e.raw(t, "PUT", "/defects/encoded", []byte("abc"), map[string]string{"Content-Encoding": enc})
		if status != 200 {
			t.Fatalf("put: %d %s", status, body)
		}
		_, hdr, _ := e.raw(t, "HEAD", "/defects/encoded", nil, nil)
		if got := hdr.Get("Content-Encoding"); got != enc {
			t.Fatalf("Content-Encoding %q, want %q", got, enc)
		}
	})

	t.Run("empty continuation token", func(t *testing.T) {
		status, _, body := e.raw(t, "GET", "/defects?list-type=2&continuation-token=", nil, nil)
		if status != 200 || !strings.Contains(body, "<ContinuationToken></ContinuationToken>") || !strings.Contains(body, "<Key>kept</Key>") {
			t.Fatalf("list with an empty token: %d %s", status, body)
		}
	})

	t.Run("ListBuckets paging", func(t *testing.T) {
		for _, name := range []string{"page-a", "page-b", "page-c", "page-d", "page-e"} {
			e.bucket(t, name)
		}
		var names []string
		var token *string
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatal("paging does not end")
			}
			out, err := e.c.ListBuckets(ctx, &s3.ListBucketsInput{MaxBuckets: aws.Int32(2), Prefix: aws.String("page-"), ContinuationToken: token})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Buckets) > 2 || aws.ToString(out.Prefix) != "page-" {
				t.Fatalf("page: %d buckets, prefix %q", len(out.Buckets), aws.ToString(out.Prefix))
			}
			for _, b := range out.Buckets {
				names = append(names, aws.ToString(b.Name))
			}
			if token = out.ContinuationToken; token == nil {
				break
			}
		}
		if strings.Join(names, ",") != "page-a,page-b,page-c,page-d,page-e" {
			t.Fatalf("paged listing: %v", names)
		}
		out, err := e.c.ListBuckets(ctx, &s3.ListBucketsInput{BucketRegion: aws.String("eu-west-1")})
		if err != nil || len(out.Buckets) != 1 || aws.ToString(out.Buckets[0].Name) != "elsewhere" {
			t.Fatalf("by region: %+v, %v", out, err)
		}
		_, err = e.c.ListBuckets(ctx, &s3.ListBucketsInput{MaxBuckets: aws.Int32(0)})
		apiErr(t, err, "InvalidArgument", 400)
	})

	t.Run("Expect other than 100-continue", func(t *testing.T) {
		// S3 ignores an expectation it does not know and serves the
		// request (see TestS3Expect).
		status, _, body := e.raw(t, "PUT", "/defects/expect", []byte("x"), map[string]string{"Expect": "200"})
		if status != 200 {
			t.Fatalf("Expect: 200 answered %d %s", status, body)
		}
		if got, _ := e.get(t, "defects", "expect"); string(got) != "x" {
			t.Fatalf("stored %q", got)
		}
		status, _, body = e.raw(t, "PUT", "/defects/expect", []byte("x"), map[string]string{"Expect": "100-continue"})
		if status != 200 {
			t.Fatalf("Expect: 100-continue answered %d %s", status, body)
		}
	})
}

// dateSigned sends a GET signed with SigV4 whose time is in the Date
// header (sent) rather than X-Amz-Date; signedAt is the time the
// signature's scope and string to sign use.
func dateSigned(t *testing.T, base, path string, sent, signedAt time.Time) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest("GET", base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	date := sent.UTC().Format(http.TimeFormat)
	const empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	req.Header.Set("Date", date)
	req.Header.Set("X-Amz-Content-Sha256", empty)
	mac := func(k []byte, s string) []byte { h := hmac.New(sha256.New, k); h.Write([]byte(s)); return h.Sum(nil) }
	canon := "GET\n" + path + "\n\ndate:" + date + "\nhost:" + req.URL.Host + "\nx-amz-content-sha256:" + empty +
		"\n\ndate;host;x-amz-content-sha256\n" + empty
	sum := sha256.Sum256([]byte(canon))
	day := signedAt.UTC().Format("20060102")
	scope := day + "/" + alofttest.Region + "/s3/aws4_request"
	sts := "AWS4-HMAC-SHA256\n" + signedAt.UTC().Format("20060102T150405Z") + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	k := mac(mac(mac(mac([]byte("AWS4"+alofttest.SecretAccessKey), day), alofttest.Region), "s3"), "aws4_request")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+alofttest.AccessKeyID+"/"+scope+
		", SignedHeaders=date;host;x-amz-content-sha256, Signature="+hex.EncodeToString(mac(k, sts)))
	return do(t, req)
}

// TestS3Tagging sets, reads, copies and deletes object and bucket tags,
// and meets S3's limits.
func TestS3Tagging(t *testing.T) {
	e := newS3Env(t)
	ctx := ctxT(t)
	e.bucket(t, "tags")
	b := aws.String("tags")
	tagsOf := func(key string) map[string]string {
		t.Helper()
		out, err := e.c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: b, Key: aws.String(key)})
		if err != nil {
			t.Fatalf("tags of %s: %v", key, err)
		}
		m := map[string]string{}
		for _, tag := range out.TagSet {
			m[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
		}
		return m
	}
	if _, err := e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("k"), Body: strings.NewReader("x"),
		Tagging: aws.String("colour=blue&size=")}); err != nil {
		t.Fatal(err)
	}
	if got := tagsOf("k"); len(got) != 2 || got["colour"] != "blue" || got["size"] != "" {
		t.Fatalf("tags from the put: %v", got)
	}
	head, err := e.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String("k")})
	if err != nil || aws.ToInt32(head.TagCount) != 2 {
		t.Fatalf("tag count: %+v, %v", head, err)
	}
	_, gout := e.get(t, "tags", "k")
	if aws.ToInt32(gout.TagCount) != 2 {
		t.Fatalf("GET tag count %d", aws.ToInt32(gout.TagCount))
	}
	// Replacing the tags keeps the object.
	if _, err := e.c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: b, Key: aws.String("k"),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("stage"), Value: aws.String("done")}}}}); err != nil {
		t.Fatal(err)
	}
	after, err := e.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String("k")})
	if err != nil || aws.ToString(after.ETag) != aws.ToString(head.ETag) || !aws.ToTime(after.LastModified).Equal(aws.ToTime(head.LastModified)) {
		t.Fatalf("retagging changed the object: %+v, %v", after, err)
	}
	if got := tagsOf("k"); len(got) != 1 || got["stage"] != "done" {
		t.Fatalf("replaced tags: %v", got)
	}
	// Copies: the source's tags, or the request's with REPLACE.
	if _, err := e.c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("copy"), CopySource: aws.String("tags/k")}); err != nil {
		t.Fatal(err)
	}
	if got := tagsOf("copy"); len(got) != 1 || got["stage"] != "done" {
		t.Fatalf("copied tags: %v", got)
	}
	if _, err := e.c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("copy2"), CopySource: aws.String("tags/k"),
		TaggingDirective: types.TaggingDirectiveReplace, Tagging: aws.String("fresh=1")}); err != nil {
		t.Fatal(err)
	}
	if got := tagsOf("copy2"); len(got) != 1 || got["fresh"] != "1" {
		t.Fatalf("replaced copy tags: %v", got)
	}
	// Multipart uploads take x-amz-tagging at creation.
	up, err := e.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("mp"), Tagging: aws.String("mp=yes")})
	if err != nil {
		t.Fatal(err)
	}
	part, err := e.c.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: aws.String("mp"), UploadId: up.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("p")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: aws.String("mp"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: part.ETag}}}}); err != nil {
		t.Fatal(err)
	}
	if got := tagsOf("mp"); got["mp"] != "yes" {
		t.Fatalf("multipart tags: %v", got)
	}
	// S3's limits.
	eleven := make([]types.Tag, 11)
	for i := range eleven {
		eleven[i] = types.Tag{Key: aws.String(fmt.Sprint("k", i)), Value: aws.String("v")}
	}
	_, err = e.c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: b, Key: aws.String("k"), Tagging: &types.Tagging{TagSet: eleven}})
	apiErr(t, err, "InvalidTag", 400)
	_, err = e.c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: b, Key: aws.String("k"),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String(strings.Repeat("k", 129)), Value: aws.String("v")}}}})
	apiErr(t, err, "InvalidTag", 400)
	_, err = e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("long"), Body: strings.NewReader("x"),
		Tagging: aws.String("k=" + strings.Repeat("v", 257))})
	apiErr(t, err, "InvalidTag", 400)
	e.absent(t, "tags", "long")
	_, err = e.c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: b, Key: aws.String("missing"),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}}})
	apiErr(t, err, "NoSuchKey", 404)
	if got := tagsOf("k"); len(got) != 1 {
		t.Fatalf("refused tags changed the object's: %v", got)
	}
	if _, err := e.c.DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{Bucket: b, Key: aws.String("k")}); err != nil {
		t.Fatal(err)
	}
	if got := tagsOf("k"); len(got) != 0 {
		t.Fatalf("deleted tags: %v", got)
	}

	// Bucket tags.
	_, err = e.c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: b})
	apiErr(t, err, "NoSuchTagSet", 404)
	if _, err := e.c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: b,
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("team"), Value: aws.String("storage")}, {Key: aws.String("cost"), Value: aws.String("low")}}}}); err != nil {
		t.Fatal(err)
	}
	bt, err := e.c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: b})
	if err != nil || len(bt.TagSet) != 2 || aws.ToString(bt.TagSet[0].Key) != "cost" || aws.ToString(bt.TagSet[1].Value) != "storage" {
		t.Fatalf("bucket tags: %+v, %v", bt, err)
	}
	if _, err := e.c.DeleteBucketTagging(ctx, &s3.DeleteBucketTaggingInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	_, err = e.c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: b})
	apiErr(t, err, "NoSuchTagSet", 404)
}

// TestS3ConditionalDeletePermissions: a delete conditional on an ETag
// needs s3:GetObject besides s3:DeleteObject, as on S3 (its answer tells
// whether the object has that ETag); "*" and an unconditional delete need
// s3:DeleteObject alone.
func TestS3ConditionalDeletePermissions(t *testing.T) {
	e := newS3Env(t)
	ctx := ctxT(t)
	e.bucket(t, "guarded")
	b := aws.String("guarded")
	var etags []string
	for _, k := range []string{"a", "b", "c", "d"} {
		out, err := e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String(k), Body: strings.NewReader("content of " + k)})
		if err != nil {
			t.Fatal(err)
		}
		etags = append(etags, aws.ToString(out.ETag))
	}
	root := clientsFor(e.srv, e.srv.Config().Credentials)
	u := userWithPolicy(ctx, t, e.srv, root, "deleter",
		`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::guarded/*"}}`)
	waitFor(t, "an unconditional delete by the deleter", func() error {
		_, err := u.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("a")})
		return err
	})
	_, err := u.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("b"), IfMatch: aws.String(etags[1])})
	apiErr(t, err, "AccessDenied", 403)
	e.get(t, "guarded", "b") // still there
	if _, err := u.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("b"), IfMatch: aws.String("*")}); err != nil {
		t.Fatalf("If-Match: * without s3:GetObject: %v", err)
	}
	e.absent(t, "guarded", "b")
	batch, err := u.s3.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: b, Delete: &types.Delete{Objects: []types.ObjectIdentifier{
		{Key: aws.String("c"), ETag: aws.String(etags[2])}, {Key: aws.String("d")}}}})
	if err != nil || len(batch.Errors) != 1 || aws.ToString(batch.Errors[0].Key) != "c" || aws.ToString(batch.Errors[0].Code) != "AccessDenied" ||
		len(batch.Deleted) != 1 || aws.ToString(batch.Deleted[0].Key) != "d" {
		t.Fatalf("batch with an ETag without s3:GetObject: %+v, %v", batch, err)
	}
	e.get(t, "guarded", "c")
	e.absent(t, "guarded", "d")
}
