package e2e

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// TestS3LifecycleConfiguration puts, reads back and deletes a bucket's
// lifecycle configuration, and sees S3's refusals of bad ones.
func TestS3LifecycleConfiguration(t *testing.T) {
	e := newS3Env(t)
	ctx := ctxT(t)
	e.bucket(t, "rules")
	_, err := e.c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String("rules")})
	apiErr(t, err, "NoSuchLifecycleConfiguration", 404)

	date := time.Date(2031, 3, 1, 0, 0, 0, 0, time.UTC)
	rules := []types.LifecycleRule{
		{ID: aws.String("logs"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("logs/")},
			Expiration: &types.LifecycleExpiration{Days: aws.Int32(30)}},
		{ID: aws.String("scratch"), Status: types.ExpirationStatusEnabled,
			Filter: &types.LifecycleRuleFilter{And: &types.LifecycleRuleAndOperator{Prefix: aws.String("tmp/"),
				Tags: []types.Tag{{Key: aws.String("kind"), Value: aws.String("scratch")}}}},
			Expiration: &types.LifecycleExpiration{Date: &date}},
		{ID: aws.String("big"), Status: types.ExpirationStatusDisabled,
			Filter:     &types.LifecycleRuleFilter{ObjectSizeGreaterThan: aws.Int64(1 << 20)},
			Expiration: &types.LifecycleExpiration{Days: aws.Int32(7)}},
		{ID: aws.String("uploads"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("")},
			AbortIncompleteMultipartUpload: &types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(3)},
			NoncurrentVersionExpiration:    &types.NoncurrentVersionExpiration{NoncurrentDays: aws.Int32(10)}},
	}
	put, err := e.c.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: aws.String("rules"),
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: rules}})
	if err != nil {
		t.Fatal(err)
	}
	if put.TransitionDefaultMinimumObjectSize != types.TransitionDefaultMinimumObjectSizeAllStorageClasses128k {
		t.Errorf("put answered minimum size %q", put.TransitionDefaultMinimumObjectSize)
	}
	got, err := e.c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String("rules")})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Rules) != 4 {
		t.Fatalf("read back %d rules", len(got.Rules))
	}
	r0, r1, r2, r3 := got.Rules[0], got.Rules[1], got.Rules[2], got.Rules[3]
	if aws.ToString(r0.ID) != "logs" || aws.ToString(r0.Filter.Prefix) != "logs/" || aws.ToInt32(r0.Expiration.Days) != 30 || r0.Status != types.ExpirationStatusEnabled {
		t.Errorf("rule logs: %+v", r0)
	}
	if r1.Filter.And == nil || aws.ToString(r1.Filter.And.Prefix) != "tmp/" || len(r1.Filter.And.Tags) != 1 ||
		aws.ToString(r1.Filter.And.Tags[0].Value) != "scratch" || r1.Expiration.Date == nil || !r1.Expiration.Date.Equal(date) {
		t.Errorf("rule scratch: %+v", r1)
	}
	if r2.Status != types.ExpirationStatusDisabled || aws.ToInt64(r2.Filter.ObjectSizeGreaterThan) != 1<<20 {
		t.Errorf("rule big: %+v", r2)
	}
	if r3.AbortIncompleteMultipartUpload == nil || aws.ToInt32(r3.AbortIncompleteMultipartUpload.DaysAfterInitiation) != 3 ||
		r3.NoncurrentVersionExpiration == nil || aws.ToInt32(r3.NoncurrentVersionExpiration.NoncurrentDays) != 10 {
		t.Errorf("rule uploads: %+v", r3)
	}
	if got.TransitionDefaultMinimumObjectSize != types.TransitionDefaultMinimumObjectSizeAllStorageClasses128k {
		t.Errorf("get answered minimum size %q", got.TransitionDefaultMinimumObjectSize)
	}

	// Refusals, through the SDK where it can say it.
	refuse := func(name string, rules []types.LifecycleRule, code string, status int, msg string) {
		t.Helper()
		_, err := e.c.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: aws.String("rules"),
			LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: rules}})
		if m := apiErr(t, err, code, status); !strings.Contains(m, msg) {
			t.Errorf("%s: message %q, want it to contain %q", name, m, msg)
		}
	}
	expire := func(id string, x *types.LifecycleExpiration) types.LifecycleRule {
		return types.LifecycleRule{ID: aws.String(id), Status: types.ExpirationStatusEnabled,
			Filter: &types.LifecycleRuleFilter{Prefix: aws.String("")}, Expiration: x}
	}
	refuse("days 0", []types.LifecycleRule{expire("a", &types.LifecycleExpiration{Days: aws.Int32(0)})},
		"InvalidArgument", 400, "'Days' for Expiration action must be a positive integer")
	noon := time.Date(2031, 3, 1, 12, 0, 0, 0, time.UTC)
	refuse("date at noon", []types.LifecycleRule{expire("a", &types.LifecycleExpiration{Date: &noon})},
		"InvalidArgument", 400, "'Date' must be at midnight GMT")
	refuse("duplicate IDs", []types.LifecycleRule{expire("a", &types.LifecycleExpiration{Days: aws.Int32(1)}),
		expire("a", &types.LifecycleExpiration{Days: aws.Int32(2)})}, "InvalidArgument", 400, "Rule ID must be unique")
	tooMany := make([]types.LifecycleRule, 1001)
	for i := range tooMany {
		tooMany[i] = expire(fmt.Sprint("r", i), &types.LifecycleExpiration{Days: aws.Int32(1)})
	}
	refuse("1001 rules", tooMany, "InvalidArgument", 400, "1000")
	transition := expire("t", nil)
	transition.Transitions = []types.Transition{{Days: aws.Int32(30), StorageClass: types.TransitionStorageClassGlacier}}
	refuse("transition", []types.LifecycleRule{transition}, "NotImplemented", 501, "")
	// Overlapping filters are S3's to take: the earliest expiration wins.
	if _, err := e.c.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: aws.String("rules"),
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{
			expire("all", &types.LifecycleExpiration{Days: aws.Int32(365)}),
			{ID: aws.String("logs"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("logs/")},
				Expiration: &types.LifecycleExpiration{Days: aws.Int32(30)}}}}}); err != nil {
		t.Fatalf("overlapping filters: %v", err)
	}

	// Raw requests: malformed XML, and a body without its integrity
	// declared.
	bad := []byte(`<LifecycleConfiguration><Rule><ID>x</ID>`)
	sum := md5.Sum(bad)
	status, hdr, body := e.raw(t, "PUT", "/rules?lifecycle", bad, map[string]string{"Content-Md5": base64.StdEncoding.EncodeToString(sum[:])})
	wantXMLError(t, status, hdr, body, 400, "MalformedXML")
	good := []byte(`<LifecycleConfiguration><Rule><ID>x</ID><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>`)
	status, hdr, body = e.raw(t, "PUT", "/rules?lifecycle", good, nil)
	if e := wantXMLError(t, status, hdr, body, 400, "InvalidRequest"); !strings.Contains(e.Message, "Content-MD5") {
		t.Errorf("without Content-MD5: %s", e.Message)
	}
	sum = md5.Sum(good)
	status, hdr, body = e.raw(t, "PUT", "/rules?lifecycle", good, map[string]string{"Content-Md5": base64.StdEncoding.EncodeToString(sum[:]),
		"X-Amz-Transition-Default-Minimum-Object-Size": "varies_by_storage_class"})
	if status != 200 || hdr.Get("X-Amz-Transition-Default-Minimum-Object-Size") != "varies_by_storage_class" {
		t.Fatalf("put with Content-MD5: %d %v %s", status, hdr, body)
	}
	status, hdr, body = e.raw(t, "PUT", "/rules?lifecycle", good, map[string]string{"Content-Md5": base64.StdEncoding.EncodeToString(sum[:]),
		"X-Amz-Transition-Default-Minimum-Object-Size": "tiny"})
	wantXMLError(t, status, hdr, body, 400, "InvalidArgument")

	if _, err := e.c.DeleteBucketLifecycle(ctx, &s3.DeleteBucketLifecycleInput{Bucket: aws.String("rules")}); err != nil {
		t.Fatal(err)
	}
	_, err = e.c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String("rules")})
	apiErr(t, err, "NoSuchLifecycleConfiguration", 404)
	_, err = e.c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String("nobucket")})
	apiErr(t, err, "NoSuchBucket", 404)
}

// TestS3LifecycleExpires runs the lifecycle job of a server that applies
// the rules every second: a rule whose Date has passed expires exactly
// the objects it selects, each with an s3:LifecycleExpiration:Delete
// notification to the bucket's queue, and keeps the rest.
func TestS3LifecycleExpires(t *testing.T) {
	srv := alofttest.Start(t, "--lifecycle-interval", "1s")
	e := &s3Env{srv: srv, c: srv.S3()}
	ctx := ctxT(t)
	qc := srv.SQS()
	q, err := qc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("expired")})
	if err != nil {
		t.Fatal(err)
	}
	qa, err := qc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{"QueueArn"}})
	if err != nil {
		t.Fatal(err)
	}
	e.bucket(t, "aging")
	if _, err := e.c.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: aws.String("aging"),
		NotificationConfiguration: &types.NotificationConfiguration{QueueConfigurations: []types.QueueConfiguration{{
			Id: aws.String("expiry"), QueueArn: aws.String(qa.Attributes["QueueArn"]), Events: []types.Event{"s3:LifecycleExpiration:*"}}}}}); err != nil {
		t.Fatal(err)
	}
	putTagged := func(key, tagging string) {
		t.Helper()
		in := &s3.PutObjectInput{Bucket: aws.String("aging"), Key: aws.String(key), Body: strings.NewReader("content of " + key)}
		if tagging != "" {
			in.Tagging = aws.String(tagging)
		}
		if _, err := e.c.PutObject(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"logs/a", "logs/b", "keep/a", "logsx"} {
		putTagged(k, "")
	}
	putTagged("tmp/x", "kind=scratch")
	putTagged("tmp/y", "kind=other")
	putTagged("keep/scratch", "kind=scratch")
	up, err := e.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("aging"), Key: aws.String("logs/upload")})
	if err != nil {
		t.Fatal(err)
	}
	past := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := e.c.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: aws.String("aging"),
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{
			{ID: aws.String("logs"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("logs/")},
				Expiration: &types.LifecycleExpiration{Date: &past}},
			{ID: aws.String("scratch"), Status: types.ExpirationStatusEnabled,
				Filter: &types.LifecycleRuleFilter{And: &types.LifecycleRuleAndOperator{Prefix: aws.String("tmp/"),
					Tags: []types.Tag{{Key: aws.String("kind"), Value: aws.String("scratch")}}}},
				Expiration: &types.LifecycleExpiration{Date: &past}},
			{ID: aws.String("off"), Status: types.ExpirationStatusDisabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("keep/")},
				Expiration: &types.LifecycleExpiration{Date: &past}},
			// Due a day after initiation at the earliest: the new upload stays.
			{ID: aws.String("uploads"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("logs/")},
				AbortIncompleteMultipartUpload: &types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(1)}},
		}}}); err != nil {
		t.Fatal(err)
	}
	gone := []string{"logs/a", "logs/b", "tmp/x"}
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := e.c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("aging")})
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
		if want := []string{"keep/a", "keep/scratch", "logsx", "tmp/y"}; slices.Equal(keys, want) {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("objects left: %v, want %v", keys, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
	ups, err := e.c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("aging")})
	if err != nil || len(ups.Uploads) != 1 || aws.ToString(ups.Uploads[0].UploadId) != aws.ToString(up.UploadId) {
		t.Fatalf("uploads after the job: %+v %v", ups, err)
	}

	var notified []string
	deadline = time.Now().Add(20 * time.Second)
	for len(notified) < len(gone) && time.Now().Before(deadline) {
		r, err := qc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range r.Messages {
			var ev struct {
				Records []struct {
					EventName    string `json:"eventName"`
					UserIdentity struct {
						PrincipalID string `json:"principalId"`
					} `json:"userIdentity"`
					S3 struct {
						ConfigurationID string `json:"configurationId"`
						Object          struct {
							Key       string `json:"key"`
							Size      *int64 `json:"size"`
							Sequencer string `json:"sequencer"`
						} `json:"object"`
					} `json:"s3"`
				}
			}
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &ev); err != nil {
				t.Fatalf("message %s: %v", aws.ToString(m.Body), err)
			}
			for _, rec := range ev.Records { // the test event has none
				if rec.EventName != "LifecycleExpiration:Delete" || rec.UserIdentity.PrincipalID != "s3.amazonaws.com" ||
					rec.S3.ConfigurationID != "expiry" || rec.S3.Object.Size != nil || rec.S3.Object.Sequencer == "" {
					t.Errorf("record %s", aws.ToString(m.Body))
				}
				notified = append(notified, rec.S3.Object.Key)
			}
		}
	}
	slices.Sort(notified)
	if !slices.Equal(notified, gone) {
		t.Fatalf("notified of %v, want %v", notified, gone)
	}
}
