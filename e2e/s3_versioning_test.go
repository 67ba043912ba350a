package e2e

import (
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// TestS3Versioning drives a versioned bucket through aws-sdk-go-v2: the
// configuration, version ids on writes, reads and copies by version,
// delete markers, removal by version, listings with paging, suspension's
// null versions, batch deletes by version, tags by version, and the
// notifications' version ids.
func TestS3Versioning(t *testing.T) {
	e := newS3Env(t)
	ctx := ctxT(t)
	c := e.c
	e.bucket(t, "vers")
	e.bucket(t, "other")

	// Notifications of every change go to a queue.
	qc := e.srv.SQS()
	q, err := qc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("versions")})
	if err != nil {
		t.Fatal(err)
	}
	qa, err := qc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{"QueueArn"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: aws.String("vers"),
		NotificationConfiguration: &types.NotificationConfiguration{QueueConfigurations: []types.QueueConfiguration{{
			QueueArn: aws.String(qa.Attributes["QueueArn"]), Events: []types.Event{"s3:ObjectCreated:*", "s3:ObjectRemoved:*"}}}}}); err != nil {
		t.Fatal(err)
	}

	// Never set: an empty configuration, and no version ids.
	gv, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String("vers")})
	if err != nil || gv.Status != "" {
		t.Fatalf("initial versioning %q %v", gv.Status, err)
	}
	if out := e.put(t, "vers", "k", []byte("zero")); out.VersionId != nil {
		t.Fatalf("unversioned put has version %q", aws.ToString(out.VersionId))
	}
	// Refusals of the configuration.
	for _, body := range []string{
		`<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>On</Status></VersioningConfiguration>`,
		`<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></VersioningConfiguration>`,
	} {
		if st, _, b := e.raw(t, "PUT", "/vers?versioning", []byte(body), nil); st != 400 || !strings.Contains(b, "IllegalVersioningConfigurationException") {
			t.Fatalf("bad status: %d %s", st, b)
		}
	}
	if st, _, b := e.raw(t, "PUT", "/vers?versioning", []byte(`<VersioningConfiguration`), nil); st != 400 || !strings.Contains(b, "MalformedXML") {
		t.Fatalf("malformed: %d %s", st, b)
	}
	_, err = c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("vers"), VersioningConfiguration: &types.VersioningConfiguration{
		Status: types.BucketVersioningStatusEnabled, MFADelete: types.MFADeleteEnabled}, MFA: aws.String("arn 123456")})
	if err == nil {
		t.Fatal("MFA delete was accepted")
	}
	if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("vers"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	if gv, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String("vers")}); err != nil || gv.Status != types.BucketVersioningStatusEnabled {
		t.Fatalf("versioning %q %v", gv.Status, err)
	}

	// Two versions over the null one.
	v1 := aws.ToString(e.put(t, "vers", "k", []byte("one")).VersionId)
	v2 := aws.ToString(e.put(t, "vers", "k", []byte("two")).VersionId)
	if v1 == "" || v2 == "" || v1 == v2 {
		t.Fatalf("version ids %q %q", v1, v2)
	}
	for id, want := range map[string]string{v1: "one", v2: "two", "null": "zero"} {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("vers"), Key: aws.String("k"), VersionId: aws.String(id)})
		if err != nil {
			t.Fatalf("get version %s: %v", id, err)
		}
		b, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if string(b) != want || aws.ToString(out.VersionId) != id {
			t.Fatalf("version %s: %q (version %q), want %q", id, b, aws.ToString(out.VersionId), want)
		}
	}
	if b, out := e.get(t, "vers", "k"); string(b) != "two" || aws.ToString(out.VersionId) != v2 {
		t.Fatalf("current: %q %q", b, aws.ToString(out.VersionId))
	}
	// Bad and foreign version ids.
	e.put(t, "vers", "elsewhere", []byte("x"))
	lv, _ := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("vers"), Prefix: aws.String("elsewhere")})
	foreign := aws.ToString(lv.Versions[0].VersionId)
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("vers"), Key: aws.String("k"), VersionId: aws.String(foreign)})
	apiErr(t, err, "NoSuchVersion", 404)
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("vers"), Key: aws.String("k"), VersionId: aws.String("not/a-version")})
	apiErr(t, err, "InvalidArgument", 400)

	// A delete makes a marker: the key is gone, its versions stay.
	del, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("vers"), Key: aws.String("k")})
	if err != nil || !aws.ToBool(del.DeleteMarker) || aws.ToString(del.VersionId) == "" {
		t.Fatalf("delete: %+v %v", del, err)
	}
	marker := aws.ToString(del.VersionId)
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("vers"), Key: aws.String("k")})
	apiErr(t, err, "NoSuchKey", 404)
	st, hdr, _ := e.raw(t, "GET", "/vers/k", nil, nil)
	if st != 404 || hdr.Get("X-Amz-Delete-Marker") != "true" || hdr.Get("X-Amz-Version-Id") != marker {
		t.Fatalf("GET of a deleted key: %d %v", st, hdr)
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("vers"), Key: aws.String("k"), VersionId: aws.String(marker)})
	apiErr(t, err, "MethodNotAllowed", 405)
	l2, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("vers")})
	if err != nil || len(l2.Contents) != 1 || aws.ToString(l2.Contents[0].Key) != "elsewhere" {
		t.Fatalf("listing after delete: %+v %v", l2.Contents, err)
	}

	// The listing: every version and the marker, newest first, in pages.
	type seen struct {
		key, id string
		marker  bool
		latest  bool
	}
	var all []seen
	in := &s3.ListObjectVersionsInput{Bucket: aws.String("vers"), MaxKeys: aws.Int32(2)}
	for range 10 {
		page, err := c.ListObjectVersions(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(page.Versions) + len(page.DeleteMarkers); n > 2 {
			t.Fatalf("page of %d", n)
		}
		var pageSeen []seen
		for _, m := range page.DeleteMarkers {
			pageSeen = append(pageSeen, seen{aws.ToString(m.Key), aws.ToString(m.VersionId), true, aws.ToBool(m.IsLatest)})
		}
		for _, v := range page.Versions {
			pageSeen = append(pageSeen, seen{aws.ToString(v.Key), aws.ToString(v.VersionId), false, aws.ToBool(v.IsLatest)})
		}
		// Within a page, the SDK separates the two lists; the markers
		// here are newest of their key.
		slices.SortStableFunc(pageSeen, func(a, b seen) int { return strings.Compare(a.key, b.key) })
		all = append(all, pageSeen...)
		if !aws.ToBool(page.IsTruncated) {
			break
		}
		in.KeyMarker, in.VersionIdMarker = page.NextKeyMarker, page.NextVersionIdMarker
	}
	want := []seen{{"elsewhere", foreign, false, true}, {"k", marker, true, true}, {"k", v2, false, false}, {"k", v1, false, false}, {"k", "null", false, false}}
	if !slices.Equal(all, want) {
		t.Fatalf("versions %+v\nwant %+v", all, want)
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("vers")}); err == nil {
		t.Fatal("a bucket with versions was deleted")
	}

	// Removing the marker brings v2 back; removing v2 by id, v1.
	dm, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("vers"), Key: aws.String("k"), VersionId: aws.String(marker)})
	if err != nil || !aws.ToBool(dm.DeleteMarker) || aws.ToString(dm.VersionId) != marker {
		t.Fatalf("delete marker by id: %+v %v", dm, err)
	}
	if b, _ := e.get(t, "vers", "k"); string(b) != "two" {
		t.Fatalf("after removing the marker: %q", b)
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("vers"), Key: aws.String("k"), VersionId: aws.String(v2)}); err != nil {
		t.Fatal(err)
	}
	if b, out := e.get(t, "vers", "k"); string(b) != "one" || aws.ToString(out.VersionId) != v1 {
		t.Fatalf("after removing v2: %q", b)
	}

	// A copy of an old version, to another bucket and onto the key itself.
	cp, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("other"), Key: aws.String("copy"), CopySource: aws.String("vers/k?versionId=null")})
	if err != nil || aws.ToString(cp.CopySourceVersionId) != "null" {
		t.Fatalf("copy: %+v %v", cp, err)
	}
	if b, _ := e.get(t, "other", "copy"); string(b) != "zero" {
		t.Fatalf("copy of the null version: %q", b)
	}
	restore, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("vers"), Key: aws.String("k"), CopySource: aws.String("vers/k?versionId=null")})
	if err != nil || aws.ToString(restore.VersionId) == "" {
		t.Fatalf("restore by copy: %+v %v", restore, err)
	}
	if b, _ := e.get(t, "vers", "k"); string(b) != "zero" {
		t.Fatalf("after restoring: %q", b)
	}

	// Tags of one version.
	if _, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("vers"), Key: aws.String("k"), VersionId: aws.String(v1),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("stage"), Value: aws.String("old")}}}}); err != nil {
		t.Fatal(err)
	}
	tg, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("vers"), Key: aws.String("k"), VersionId: aws.String(v1)})
	if err != nil || len(tg.TagSet) != 1 || aws.ToString(tg.VersionId) != v1 {
		t.Fatalf("tags of v1: %+v %v", tg, err)
	}
	if tg, _ := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("vers"), Key: aws.String("k")}); len(tg.TagSet) != 0 {
		t.Fatalf("current version has tags %+v", tg.TagSet)
	}

	// Batch deletes: by version and with markers.
	bd, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("vers"), Delete: &types.Delete{Objects: []types.ObjectIdentifier{
		{Key: aws.String("k"), VersionId: aws.String(v1)}, {Key: aws.String("elsewhere")}, {Key: aws.String("k"), VersionId: aws.String("bad!")}}}})
	if err != nil || len(bd.Deleted) != 2 || len(bd.Errors) != 1 || aws.ToString(bd.Errors[0].Code) != "InvalidArgument" {
		t.Fatalf("batch delete: %+v %v", bd, err)
	}
	for _, d := range bd.Deleted {
		switch aws.ToString(d.Key) {
		case "k":
			if aws.ToString(d.VersionId) != v1 || aws.ToBool(d.DeleteMarker) {
				t.Fatalf("batch deleted %+v", d)
			}
		case "elsewhere":
			if !aws.ToBool(d.DeleteMarker) || aws.ToString(d.DeleteMarkerVersionId) == "" {
				t.Fatalf("batch deleted %+v", d)
			}
		}
	}

	// Suspended: writes make the null version, replacing the one there.
	if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("vers"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended}}); err != nil {
		t.Fatal(err)
	}
	if out := e.put(t, "vers", "k", []byte("suspended")); aws.ToString(out.VersionId) != "null" {
		t.Fatalf("suspended put has version %q", aws.ToString(out.VersionId))
	}
	lv, err = c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("vers"), Prefix: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, v := range lv.Versions {
		ids = append(ids, aws.ToString(v.VersionId))
	}
	if want := []string{"null", aws.ToString(restore.VersionId)}; !slices.Equal(ids, want) {
		t.Fatalf("versions after suspension %v, want %v", ids, want)
	}

	// The queue saw every change with its version.
	var events []string
	deadline := time.Now().Add(15 * time.Second)
	for len(events) < 11 && time.Now().Before(deadline) {
		r, err := qc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range r.Messages {
			var ev struct {
				Records []struct {
					EventName string `json:"eventName"`
					S3        struct {
						Object struct {
							Key       string `json:"key"`
							VersionID string `json:"versionId"`
						} `json:"object"`
					} `json:"s3"`
				}
			}
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &ev); err != nil {
				t.Fatal(err)
			}
			for _, rec := range ev.Records {
				events = append(events, rec.EventName+" "+rec.S3.Object.Key+" "+rec.S3.Object.VersionID)
			}
		}
	}
	for _, w := range []string{"ObjectCreated:Put k " + v1, "ObjectCreated:Put k " + v2, "ObjectRemoved:DeleteMarkerCreated k " + marker,
		"ObjectRemoved:Delete k " + marker, "ObjectRemoved:Delete k " + v2, "ObjectCreated:Copy k " + aws.ToString(restore.VersionId)} {
		if !slices.Contains(events, w) {
			t.Errorf("no event %q among %q", w, events)
		}
	}
}

// TestS3ObjectLock: a bucket made with Object Lock, its default
// retention, COMPLIANCE and GOVERNANCE versions, legal holds, and the
// removals each one refuses or (with the governance bypass) allows.
func TestS3ObjectLock(t *testing.T) {
	e := newS3Env(t)
	ctx := ctxT(t)
	c := e.c
	b := aws.String("locked")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b, ObjectLockEnabledForBucket: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if gv, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: b}); err != nil || gv.Status != types.BucketVersioningStatusEnabled {
		t.Fatalf("versioning of a locked bucket: %q %v", gv.Status, err)
	}
	_, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: b,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended}})
	apiErr(t, err, "InvalidBucketState", 409)
	if _, err := c.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: b, ObjectLockConfiguration: &types.ObjectLockConfiguration{
		ObjectLockEnabled: types.ObjectLockEnabledEnabled, Rule: &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{
			Mode: types.ObjectLockRetentionModeGovernance, Days: aws.Int32(1)}}}}); err != nil {
		t.Fatal(err)
	}
	lc, err := c.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: b})
	if err != nil || lc.ObjectLockConfiguration.ObjectLockEnabled != types.ObjectLockEnabledEnabled ||
		lc.ObjectLockConfiguration.Rule.DefaultRetention.Mode != types.ObjectLockRetentionModeGovernance {
		t.Fatalf("lock configuration %+v %v", lc, err)
	}

	// The default retention, and an explicit COMPLIANCE one.
	gov := aws.ToString(e.put(t, "locked", "k", []byte("governed")).VersionId)
	h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String("k"), VersionId: aws.String(gov)})
	if err != nil || h.ObjectLockMode != types.ObjectLockModeGovernance || time.Until(aws.ToTime(h.ObjectLockRetainUntilDate)) < 23*time.Hour {
		t.Fatalf("default retention: %+v %v", h, err)
	}
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	comp, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("k"), Body: strings.NewReader("complied"),
		ObjectLockMode: types.ObjectLockModeCompliance, ObjectLockRetainUntilDate: aws.Time(until)})
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.GetObjectRetention(ctx, &s3.GetObjectRetentionInput{Bucket: b, Key: aws.String("k"), VersionId: comp.VersionId})
	if err != nil || r.Retention.Mode != types.ObjectLockRetentionModeCompliance || !aws.ToTime(r.Retention.RetainUntilDate).Equal(until) {
		t.Fatalf("retention %+v %v", r, err)
	}

	// A delete makes a marker; removing a protected version is refused.
	if d, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("k")}); err != nil || !aws.ToBool(d.DeleteMarker) {
		t.Fatalf("delete: %+v %v", d, err)
	}
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("k"), VersionId: comp.VersionId, BypassGovernanceRetention: aws.Bool(true)})
	apiErr(t, err, "AccessDenied", 403)
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("k"), VersionId: aws.String(gov)})
	apiErr(t, err, "AccessDenied", 403)
	_, err = c.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{Bucket: b, Key: aws.String("k"), VersionId: comp.VersionId,
		Retention: &types.ObjectLockRetention{Mode: types.ObjectLockRetentionModeCompliance, RetainUntilDate: aws.Time(until.Add(-time.Minute))}, BypassGovernanceRetention: aws.Bool(true)})
	apiErr(t, err, "AccessDenied", 403)

	// A legal hold keeps a version the bypass would let go.
	if _, err := c.PutObjectLegalHold(ctx, &s3.PutObjectLegalHoldInput{Bucket: b, Key: aws.String("k"), VersionId: aws.String(gov),
		LegalHold: &types.ObjectLockLegalHold{Status: types.ObjectLockLegalHoldStatusOn}}); err != nil {
		t.Fatal(err)
	}
	if lh, err := c.GetObjectLegalHold(ctx, &s3.GetObjectLegalHoldInput{Bucket: b, Key: aws.String("k"), VersionId: aws.String(gov)}); err != nil || lh.LegalHold.Status != types.ObjectLockLegalHoldStatusOn {
		t.Fatalf("legal hold %+v %v", lh, err)
	}
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("k"), VersionId: aws.String(gov), BypassGovernanceRetention: aws.Bool(true)})
	apiErr(t, err, "AccessDenied", 403)
	if _, err := c.PutObjectLegalHold(ctx, &s3.PutObjectLegalHoldInput{Bucket: b, Key: aws.String("k"), VersionId: aws.String(gov),
		LegalHold: &types.ObjectLockLegalHold{Status: types.ObjectLockLegalHoldStatusOff}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("k"), VersionId: aws.String(gov), BypassGovernanceRetention: aws.Bool(true)}); err != nil {
		t.Fatalf("governance bypass: %v", err)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String("k"), VersionId: comp.VersionId}); err != nil {
		t.Fatalf("the compliance version: %v", err)
	}

	// A bucket without Object Lock refuses its settings.
	e.bucket(t, "plain")
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("plain"), Key: aws.String("k"), Body: strings.NewReader("x"),
		ObjectLockLegalHoldStatus: types.ObjectLockLegalHoldStatusOn})
	apiErr(t, err, "InvalidRequest", 400)
	e.absent(t, "plain", "k")
	_, err = c.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: aws.String("plain"),
		ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled}})
	apiErr(t, err, "InvalidBucketState", 409)
	_, err = c.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: aws.String("plain")})
	apiErr(t, err, "ObjectLockConfigurationNotFoundError", 404)
}

// TestS3PolicyDenyingTheOwner: a bucket policy that denies everyone,
// the account's own root included, is enforced on the objects, but the
// root can still read, replace and delete the policy, as on AWS, so the
// owner cannot lock itself out.
func TestS3PolicyDenyingTheOwner(t *testing.T) {
	e := newS3Env(t)
	ctx := ctxT(t)
	c := e.c
	e.bucket(t, "walled")
	e.put(t, "walled", "k", []byte("x"))
	deny := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::walled","arn:aws:s3:::walled/*"]}]}`
	if _, err := c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("walled"), Policy: aws.String(deny)}); err != nil {
		t.Fatal(err)
	}
	_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("walled"), Key: aws.String("k")})
	apiErr(t, err, "AccessDenied", 403)
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("walled"), Key: aws.String("k2"), Body: strings.NewReader("y")})
	apiErr(t, err, "AccessDenied", 403)
	if got, err := c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("walled")}); err != nil || aws.ToString(got.Policy) != deny {
		t.Fatalf("the owner reads the policy: %v", err)
	}
	if _, err := c.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String("walled")}); err != nil {
		t.Fatalf("the owner removes the policy: %v", err)
	}
	if b, _ := e.get(t, "walled", "k"); string(b) != "x" {
		t.Fatalf("after the policy went: %q", b)
	}
}
