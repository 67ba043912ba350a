package e2e

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// seenEvent is one record a recorder function received.
type seenEvent struct {
	start  int64 // when the handler started, Unix ns
	record events.S3EventRecord
	raw    map[string]any // the record's JSON as sent
	file   string
}

// object returns the raw "s3"."object" member.
func (e seenEvent) object() map[string]any {
	s3m, _ := e.raw["s3"].(map[string]any)
	o, _ := s3m["object"].(map[string]any)
	return o
}

// createRecorder deploys e2e/functions/s3rec as name, recording into dir,
// and returns its ARN.
func createRecorder(t testing.TB, c *lambda.Client, name, dir string) string {
	t.Helper()
	goRC := runtimeCases()[0]
	out, err := c.CreateFunction(context.Background(), &lambda.CreateFunctionInput{
		FunctionName: aws.String(name), Runtime: ltypes.Runtime(goRC.runtime), Handler: aws.String(goRC.handler),
		Role:        aws.String("arn:aws:iam::000000000000:role/aloft"),
		Code:        &ltypes.FunctionCode{ZipFile: alofttest.GoFunction(t, "e2e/functions/s3rec", "v1")},
		Environment: &ltypes.Environment{Variables: map[string]string{"RECORD_DIR": dir}},
		Timeout:     aws.Int32(10),
	})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return aws.ToString(out.FunctionArn)
}

// notifyTo sets bucket's notification configuration to cfgs.
func notifyTo(t testing.TB, c *s3.Client, bucket string, cfgs ...types.LambdaFunctionConfiguration) {
	t.Helper()
	_, err := c.PutBucketNotificationConfiguration(context.Background(), &s3.PutBucketNotificationConfigurationInput{
		Bucket: aws.String(bucket), NotificationConfiguration: &types.NotificationConfiguration{LambdaFunctionConfigurations: cfgs},
	})
	if err != nil {
		t.Fatalf("notification configuration of %s: %v", bucket, err)
	}
}

// lambdaConfig is a function configuration with optional prefix and
// suffix rules.
func lambdaConfig(id, arn, prefix, suffix string, events ...string) types.LambdaFunctionConfiguration {
	cfg := types.LambdaFunctionConfiguration{Id: aws.String(id), LambdaFunctionArn: aws.String(arn)}
	for _, e := range events {
		cfg.Events = append(cfg.Events, types.Event(e))
	}
	var rules []types.FilterRule
	if prefix != "" {
		rules = append(rules, types.FilterRule{Name: types.FilterRuleNamePrefix, Value: aws.String(prefix)})
	}
	if suffix != "" {
		rules = append(rules, types.FilterRule{Name: types.FilterRuleNameSuffix, Value: aws.String(suffix)})
	}
	if rules != nil {
		cfg.Filter = &types.NotificationConfigurationFilter{Key: &types.S3KeyFilter{FilterRules: rules}}
	}
	return cfg
}

// readSeen reads every record the recorder has written to dir.
func readSeen(t testing.TB, dir string) []seenEvent {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	var out []seenEvent
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("read %s: %v", f, err)
		}
		var rec struct {
			Start int64           `json:"start"`
			Event json.RawMessage `json:"event"`
		}
		var ev events.S3Event
		var raw struct {
			Records []map[string]any `json:"Records"`
		}
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if err := json.Unmarshal(rec.Event, &ev); err != nil {
			t.Fatalf("%s: not an events.S3Event: %v\n%s", f, err, rec.Event)
		}
		if err := json.Unmarshal(rec.Event, &raw); err != nil || len(raw.Records) != len(ev.Records) {
			t.Fatalf("%s: %v", f, err)
		}
		if len(ev.Records) != 1 {
			t.Errorf("%s: %d records in one event, want 1", f, len(ev.Records))
		}
		for i, r := range ev.Records {
			out = append(out, seenEvent{start: rec.Start, record: r, raw: raw.Records[i], file: f})
		}
	}
	return out
}

// waitSeen waits until the recorder has written at least n records.
func waitSeen(t testing.TB, dir string, n int, within time.Duration) []seenEvent {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := readSeen(t, dir)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v the function received %d notifications, want %d", within, len(got), n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var sequencerRE = regexp.MustCompile(`^[0-9A-F]{16}$`)

// TestS3Notifications sends each kind of change through configurations
// with event wildcards and key filters to a function, and checks every
// field of every record it received.
func TestS3Notifications(t *testing.T) {
	srv := alofttest.Start(t, "--sandbox", "process") // the function writes to a host directory
	ctx := ctxT(t)
	c := srv.S3()
	dir := t.TempDir()
	arn := createRecorder(t, srv.Lambda(), "recorder", dir)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("uploads")}); err != nil {
		t.Fatal(err)
	}
	notifyTo(t, c, "uploads",
		lambdaConfig("created-in", arn, "in/", "", "s3:ObjectCreated:*"),
		lambdaConfig("removed-in", arn, "in/", "", "s3:ObjectRemoved:*"),
		lambdaConfig("png-puts", arn, "", ".png", "s3:ObjectCreated:Put"),
	)
	begin := time.Now().Add(-time.Second)

	// want is one expected record.
	type want struct {
		config, event, key string
		size               int64
		etag               string // "" for removals
		requestID          string
	}
	var wants []want
	put := func(key string, body []byte, configs ...string) string {
		t.Helper()
		out, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("uploads"), Key: aws.String(key), Body: bytes.NewReader(body)})
		if err != nil {
			t.Fatalf("put %q: %v", key, err)
		}
		rid, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
		etag := strings.Trim(aws.ToString(out.ETag), `"`)
		for _, cfg := range configs {
			wants = append(wants, want{cfg, "ObjectCreated:Put", key, int64(len(body)), etag, rid})
		}
		return etag
	}
	flower := bytes.Repeat([]byte("petal "), 1000)
	put("in/red flower.jpg", flower, "created-in")
	put("out/ignored.txt", []byte("no configuration matches"))
	put("photo.png", []byte("png bytes"), "png-puts")
	put("in/pic.png", []byte("both"), "created-in", "png-puts")
	put("in/empty", nil, "created-in")

	// A copy: ObjectCreated:Copy, to a key that needs encoding.
	copyKey := "in/café €/a+b=c&d.jpg"
	cp, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("uploads"), Key: aws.String(copyKey),
		CopySource: aws.String("uploads/" + url.PathEscape("in/red flower.jpg"))})
	if err != nil {
		t.Fatalf("copy: %v", err)
	}
	rid, _ := awsmiddleware.GetRequestIDMetadata(cp.ResultMetadata)
	wants = append(wants, want{"created-in", "ObjectCreated:Copy", copyKey, int64(len(flower)), strings.Trim(aws.ToString(cp.CopyObjectResult.ETag), `"`), rid})

	// A multipart upload: ObjectCreated:CompleteMultipartUpload, "-2" ETag.
	mpKey := "in/big upload.bin"
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("uploads"), Key: aws.String(mpKey)})
	if err != nil {
		t.Fatal(err)
	}
	parts := [][]byte{bytes.Repeat([]byte{'a'}, 5<<20), []byte("tail")}
	var done []types.CompletedPart
	for i, p := range parts {
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("uploads"), Key: aws.String(mpKey), UploadId: up.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)})
		if err != nil {
			t.Fatal(err)
		}
		done = append(done, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag})
	}
	fin, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("uploads"), Key: aws.String(mpKey),
		UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
	if err != nil {
		t.Fatal(err)
	}
	rid, _ = awsmiddleware.GetRequestIDMetadata(fin.ResultMetadata)
	mpETag := strings.Trim(aws.ToString(fin.ETag), `"`)
	if !strings.HasSuffix(mpETag, "-2") {
		t.Fatalf("multipart ETag %q", mpETag)
	}
	wants = append(wants, want{"created-in", "ObjectCreated:CompleteMultipartUpload", mpKey, int64(5<<20 + 4), mpETag, rid})

	// Deletes: one by one and in a batch; the key out of the prefix sends
	// nothing.
	del, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("uploads"), Key: aws.String("in/red flower.jpg")})
	if err != nil {
		t.Fatal(err)
	}
	rid, _ = awsmiddleware.GetRequestIDMetadata(del.ResultMetadata)
	wants = append(wants, want{"removed-in", "ObjectRemoved:Delete", "in/red flower.jpg", 0, "", rid})
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("uploads"), Key: aws.String("out/ignored.txt")}); err != nil {
		t.Fatal(err)
	}
	batch, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("uploads"), Delete: &types.Delete{
		Objects: []types.ObjectIdentifier{{Key: aws.String("in/pic.png")}, {Key: aws.String("photo.png")}}}})
	if err != nil || len(batch.Errors) > 0 {
		t.Fatalf("batch delete: %v %v", err, batch.Errors)
	}
	rid, _ = awsmiddleware.GetRequestIDMetadata(batch.ResultMetadata)
	wants = append(wants, want{"removed-in", "ObjectRemoved:Delete", "in/pic.png", 0, "", rid})
	end := time.Now().Add(time.Second)

	seen := waitSeen(t, dir, len(wants), time.Minute)
	time.Sleep(time.Second) // anything more would be a stray event
	seen = readSeen(t, dir)
	if len(seen) != len(wants) {
		for _, s := range seen {
			t.Logf("received %s %s %q", s.record.S3.ConfigurationID, s.record.EventName, s.record.S3.Object.URLDecodedKey)
		}
		t.Fatalf("received %d notifications, want %d", len(seen), len(wants))
	}
	byID := map[string]seenEvent{}
	for _, s := range seen {
		id := s.record.S3.ConfigurationID + " " + s.record.EventName + " " + s.record.S3.Object.URLDecodedKey
		if _, dup := byID[id]; dup {
			t.Errorf("received %s twice", id)
		}
		byID[id] = s
	}
	sequencers := map[string]string{} // key → "sequencer request-id" of its last change so far
	for _, w := range wants {
		id := w.config + " " + w.event + " " + w.key
		s, ok := byID[id]
		if !ok {
			t.Errorf("no notification %s", id)
			continue
		}
		r := s.record
		if r.EventVersion != "2.1" || r.EventSource != "aws:s3" || r.AWSRegion != "us-east-1" {
			t.Errorf("%s: eventVersion %q, eventSource %q, awsRegion %q", id, r.EventVersion, r.EventSource, r.AWSRegion)
		}
		if r.EventTime.Before(begin) || r.EventTime.After(end) || r.EventTime.Location() != time.UTC {
			t.Errorf("%s: eventTime %v outside the test's %v to %v", id, r.EventTime, begin, end)
		}
		if et, _ := s.raw["eventTime"].(string); !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`).MatchString(et) {
			t.Errorf("%s: eventTime %q, want milliseconds and Z", id, et)
		}
		if r.PrincipalID.PrincipalID != alofttest.AccessKeyID || r.RequestParameters.SourceIPAddress != "127.0.0.1" {
			t.Errorf("%s: principal %q, source %q", id, r.PrincipalID.PrincipalID, r.RequestParameters.SourceIPAddress)
		}
		if r.ResponseElements["x-amz-request-id"] != w.requestID || r.ResponseElements["x-amz-id-2"] == "" {
			t.Errorf("%s: responseElements %v, want x-amz-request-id %q", id, r.ResponseElements, w.requestID)
		}
		e := r.S3
		if e.SchemaVersion != "1.0" || e.Bucket.Name != "uploads" || e.Bucket.Arn != "arn:aws:s3:::uploads" || e.Bucket.OwnerIdentity.PrincipalID == "" {
			t.Errorf("%s: s3 %+v", id, e)
		}
		o := e.Object
		if wantKey := strings.ReplaceAll(url.QueryEscape(w.key), "%2F", "/"); o.Key != wantKey || o.URLDecodedKey != w.key {
			t.Errorf("%s: key %q (decoded %q), want %q", id, o.Key, o.URLDecodedKey, wantKey)
		}
		if strings.Contains(w.key, " ") && !strings.Contains(o.Key, "+") {
			t.Errorf("%s: key %q does not encode spaces as +", id, o.Key)
		}
		if !sequencerRE.MatchString(o.Sequencer) {
			t.Errorf("%s: sequencer %q", id, o.Sequencer)
		}
		// Records of one change share its sequencer; a later change to the
		// same key has a greater one.
		prev, ok := sequencers[w.key]
		if p, _, _ := strings.Cut(prev, " "); ok && prev != o.Sequencer+" "+w.requestID && o.Sequencer <= p {
			t.Errorf("%s: sequencer %s not after the key's earlier change %s", id, o.Sequencer, p)
		}
		sequencers[w.key] = o.Sequencer + " " + w.requestID
		raw := s.object()
		if _, ok := raw["versionId"]; ok {
			t.Errorf("%s: versionId sent for an unversioned bucket: %v", id, raw)
		}
		if w.etag == "" {
			if _, ok := raw["size"]; ok {
				t.Errorf("%s: a removal carries size: %v", id, raw)
			}
			if _, ok := raw["eTag"]; ok {
				t.Errorf("%s: a removal carries eTag: %v", id, raw)
			}
			continue
		}
		if o.Size != w.size || o.ETag != w.etag {
			t.Errorf("%s: size %d eTag %q, want %d %q", id, o.Size, o.ETag, w.size, w.etag)
		}
		if _, ok := raw["size"]; !ok {
			t.Errorf("%s: no size member: %v", id, raw)
		}
	}
}

// TestS3NotificationsSurviveKill uploads objects from 32 clients at once
// to a bucket that notifies a function, kills the server with SIGKILL
// midway, restarts it, and checks that every upload that was acknowledged
// is intact and reached the function (at least once).
func TestS3NotificationsSurviveKill(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	const total, workers = 1000, 32
	srv := alofttest.Start(t, "--sandbox", "process", "--async-workers", "8")
	dir := t.TempDir()
	arn := createRecorder(t, srv.Lambda(), "recorder", dir)
	c := srv.S3()
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("crash")}); err != nil {
		t.Fatal(err)
	}
	notifyTo(t, c, "crash", lambdaConfig("all", arn, "", "", "s3:ObjectCreated:*"))

	body := func(i int) []byte {
		return bytes.Repeat([]byte(fmt.Sprintf("object %04d;", i)), 50+i%200)
	}
	key := func(i int) string { return fmt.Sprintf("batch/object %04d.dat", i) }
	var (
		mu    sync.Mutex
		acked = map[int]string{} // object → ETag the server acknowledged
		nAck  atomic.Int64
		wg    sync.WaitGroup
	)
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				out, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("crash"), Key: aws.String(key(i)), Body: bytes.NewReader(body(i))})
				cancel()
				if err != nil {
					continue // after the kill: not acknowledged
				}
				mu.Lock()
				acked[i] = strings.Trim(aws.ToString(out.ETag), `"`)
				mu.Unlock()
				nAck.Add(1)
			}
		}()
	}
	killed := false
	for i := range total {
		if !killed && nAck.Load() >= total*2/5 {
			srv.Kill()
			killed = true
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if !killed {
		t.Fatalf("all %d uploads finished before the kill; the test proves nothing", total)
	}
	atKill := len(readSeen(t, dir))
	t.Logf("%d of %d uploads acknowledged before SIGKILL; %d notifications received by then", len(acked), total, atKill)

	srv.Restart()
	c = srv.S3()
	ctx := ctxT(t)
	for i, etag := range acked {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("crash"), Key: aws.String(key(i))})
		if err != nil {
			t.Errorf("acknowledged object %q: %v", key(i), err)
			continue
		}
		var buf bytes.Buffer
		_, err = buf.ReadFrom(out.Body)
		out.Body.Close()
		sum := md5.Sum(buf.Bytes())
		if err != nil || !bytes.Equal(buf.Bytes(), body(i)) || strings.Trim(aws.ToString(out.ETag), `"`) != etag || hex.EncodeToString(sum[:]) != etag {
			t.Errorf("acknowledged object %q: %d bytes, ETag %s (acknowledged %s), err %v", key(i), buf.Len(), aws.ToString(out.ETag), etag, err)
		}
	}

	// Every acknowledged upload must reach the function; de-duplicate by
	// key and sequencer (delivery is at least once).
	deadline := time.Now().Add(3 * time.Minute)
	for {
		seen := readSeen(t, dir)
		distinct := map[string]bool{}
		notified := map[string]string{} // decoded key → eTag
		for _, s := range seen {
			o := s.record.S3.Object
			distinct[o.URLDecodedKey+" "+o.Sequencer] = true
			notified[o.URLDecodedKey] = o.ETag
		}
		var missing []string
		for i, etag := range acked {
			if got, ok := notified[key(i)]; !ok || got != etag {
				missing = append(missing, key(i))
			}
		}
		if len(missing) == 0 {
			t.Logf("all %d acknowledged uploads notified: %d notifications, %d distinct (key, sequencer), %d unacknowledged uploads notified too",
				len(acked), len(seen), len(distinct), len(notified)-len(acked))
			if len(distinct) < len(acked) {
				t.Errorf("%d distinct notifications for %d acknowledged uploads", len(distinct), len(acked))
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d acknowledged uploads have no notification after the restart, e.g. %q", len(missing), missing[0])
		}
		time.Sleep(200 * time.Millisecond)
	}
}
