package notify

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/aloft-dev/aloft/internal/async"
	"github.com/aloft-dev/aloft/internal/objstore"
	"github.com/aloft-dev/aloft/internal/s3api"
)

func TestMatch(t *testing.T) {
	created := []string{"s3:ObjectCreated:*"}
	for _, tc := range []struct {
		name   string
		events []string
		prefix string
		suffix string
		event  string
		key    string
		want   bool
	}{
		{"exact", []string{"s3:ObjectCreated:Put"}, "", "", "ObjectCreated:Put", "a", true},
		{"other exact", []string{"s3:ObjectCreated:Put"}, "", "", "ObjectCreated:Copy", "a", false},
		{"created wildcard put", created, "", "", "ObjectCreated:Put", "a", true},
		{"created wildcard copy", created, "", "", "ObjectCreated:Copy", "a", true},
		{"created wildcard multipart", created, "", "", "ObjectCreated:CompleteMultipartUpload", "a", true},
		{"created wildcard delete", created, "", "", "ObjectRemoved:Delete", "a", false},
		{"removed wildcard", []string{"s3:ObjectRemoved:*"}, "", "", "ObjectRemoved:Delete", "a", true},
		{"removed wildcard put", []string{"s3:ObjectRemoved:*"}, "", "", "ObjectCreated:Put", "a", false},
		{"several", []string{"s3:ObjectRemoved:Delete", "s3:ObjectCreated:Copy"}, "", "", "ObjectCreated:Copy", "a", true},
		{"no events", nil, "", "", "ObjectCreated:Put", "a", false},
		{"partial name is no wildcard", []string{"s3:Object*"}, "", "", "ObjectCreated:Put", "a", false},
		{"prefix", created, "images/", "", "ObjectCreated:Put", "images/a.jpg", true},
		{"prefix miss", created, "images/", "", "ObjectCreated:Put", "docs/a.jpg", false},
		{"suffix", created, "", ".jpg", "ObjectCreated:Put", "images/a.jpg", true},
		{"suffix miss", created, "", ".jpg", "ObjectCreated:Put", "images/a.png", false},
		{"both", created, "in/", ".png", "ObjectCreated:Put", "in/x.png", true},
		{"both, prefix misses", created, "in/", ".png", "ObjectCreated:Put", "out/x.png", false},
		{"both, suffix misses", created, "in/", ".png", "ObjectCreated:Put", "in/x.jpg", false},
		{"prefix is case sensitive", created, "Images/", "", "ObjectCreated:Put", "images/a", false},
		{"raw space", created, "my photos/", "", "ObjectCreated:Put", "my photos/a", true},
		{"encoded space", created, "my+photos/", "", "ObjectCreated:Put", "my photos/a", true},
		{"unicode raw", created, "", "é.txt", "ObjectCreated:Put", "café.txt", true},
		{"unicode encoded", created, "", "%C3%A9.txt", "ObjectCreated:Put", "café.txt", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fc := objstore.Notification{ID: "c", FunctionARN: "f", Events: tc.events, Prefix: tc.prefix, Suffix: tc.suffix}
			if got := Match(fc, tc.event, tc.key); got != tc.want {
				t.Errorf("Match(%v, %q, %q) = %v, want %v", fc, tc.event, tc.key, got, tc.want)
			}
		})
	}
}

func TestEncodeKey(t *testing.T) {
	for _, tc := range []struct{ key, want string }{
		{"red flower.jpg", "red+flower.jpg"},
		{"a/b/c.txt", "a/b/c.txt"},
		{"café ü/€.png", "caf%C3%A9+%C3%BC/%E2%82%AC.png"},
		{"a+b=c&d?e#f%g", "a%2Bb%3Dc%26d%3Fe%23f%25g"},
		{"x~y-z_w.v", "x~y-z_w.v"},
		{"a//b", "a//b"},
	} {
		got := EncodeKey(tc.key)
		if got != tc.want {
			t.Errorf("EncodeKey(%q) = %q, want %q", tc.key, got, tc.want)
		}
		if back, err := url.QueryUnescape(got); err != nil || back != tc.key {
			t.Errorf("QueryUnescape(%q) = %q, %v; want %q", got, back, err, tc.key)
		}
	}
}

func TestFunctionName(t *testing.T) {
	for arn, want := range map[string]string{
		"arn:aws:lambda:us-east-1:000000000000:function:thumb":         "thumb",
		"arn:aws:lambda:eu-west-1:000000000000:function:thumb:$LATEST": "thumb",
		"arn:aws:lambda:us-east-1:000000000000:function:thumb:live":    "thumb",
		"thumb": "thumb",
	} {
		if got := FunctionName(arn); got != want {
			t.Errorf("FunctionName(%q) = %q, want %q", arn, got, want)
		}
	}
}

// change returns a Put of "red flower.jpg" at a fixed time.
func change() s3api.Change {
	return s3api.Change{
		Bucket: "photos", Key: "in/red flower.jpg", EventName: "ObjectCreated:Put", Size: 1305107,
		ETag: "b21b84d653bb07b05b1e6b33684dc11b", Sequencer: "0055AED6DCD90281", SourceIP: "127.0.0.1",
		RequestID: "C3D13FE58DE4C810", HostID: "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD",
		PrincipalID: "AKIAALOFTTEST0000001", Time: time.Date(2019, 9, 3, 19, 37, 27, 192_345_678, time.UTC),
		Region: "eu-west-1",
	}
}

// TestEventDecodesAsAWSLambdaGo decodes the payload with aws-lambda-go's
// events.S3Event and compares every field.
func TestEventDecodesAsAWSLambdaGo(t *testing.T) {
	c := change()
	b, err := Event(c, "thumbs", "000000000000")
	if err != nil {
		t.Fatal(err)
	}
	var got events.S3Event
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
	want := events.S3Event{Records: []events.S3EventRecord{{
		EventVersion:      "2.1",
		EventSource:       "aws:s3",
		AWSRegion:         "eu-west-1",
		EventTime:         time.Date(2019, 9, 3, 19, 37, 27, 192_000_000, time.UTC),
		EventName:         "ObjectCreated:Put",
		PrincipalID:       events.S3UserIdentity{PrincipalID: "AKIAALOFTTEST0000001"},
		RequestParameters: events.S3RequestParameters{SourceIPAddress: "127.0.0.1"},
		ResponseElements: map[string]string{
			"x-amz-request-id": "C3D13FE58DE4C810",
			"x-amz-id-2":       "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD",
		},
		S3: events.S3Entity{
			SchemaVersion:   "1.0",
			ConfigurationID: "thumbs",
			Bucket: events.S3Bucket{
				Name: "photos", OwnerIdentity: events.S3UserIdentity{PrincipalID: "000000000000"}, Arn: "arn:aws:s3:::photos",
			},
			Object: events.S3Object{
				Key: "in/red+flower.jpg", URLDecodedKey: "in/red flower.jpg", Size: 1305107,
				ETag: "b21b84d653bb07b05b1e6b33684dc11b", Sequencer: "0055AED6DCD90281",
			},
		},
	}}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("decoded event (-want +got):\n%s", d)
	}
	if !strings.Contains(string(b), `"eventTime":"2019-09-03T19:37:27.192Z"`) {
		t.Errorf("eventTime not written with milliseconds in UTC: %s", b)
	}
}

// TestEventShape checks the JSON itself: member order, and what Amazon S3
// leaves out (versionId on unversioned buckets; size and eTag of removals).
func TestEventShape(t *testing.T) {
	c := change()
	c.Time = time.Date(2019, 9, 3, 21, 37, 27, 0, time.FixedZone("CEST", 2*3600))
	b, err := Event(c, "thumbs", "OWNER")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"eu-west-1",` +
		`"eventTime":"2019-09-03T19:37:27.000Z","eventName":"ObjectCreated:Put",` +
		`"userIdentity":{"principalId":"AKIAALOFTTEST0000001"},"requestParameters":{"sourceIPAddress":"127.0.0.1"},` +
		`"responseElements":{"x-amz-request-id":"C3D13FE58DE4C810","x-amz-id-2":"FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"},` +
		`"s3":{"s3SchemaVersion":"1.0","configurationId":"thumbs","bucket":{"name":"photos","ownerIdentity":{"principalId":"OWNER"},` +
		`"arn":"arn:aws:s3:::photos"},"object":{"key":"in/red+flower.jpg","size":1305107,"eTag":"b21b84d653bb07b05b1e6b33684dc11b",` +
		`"sequencer":"0055AED6DCD90281"}}}]}`
	if string(b) != want {
		t.Errorf("got\n%s\nwant\n%s", b, want)
	}

	c = change()
	c.EventName, c.Size, c.ETag = "ObjectRemoved:Delete", 0, ""
	b, err = Event(c, "gone", "OWNER")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"object":{"key":"in/red+flower.jpg","sequencer":"0055AED6DCD90281"}`) {
		t.Errorf("delete record: %s", b)
	}

	c = change()
	c.Size, c.ETag, c.VersionID, c.Region = 0, "d41d8cd98f00b204e9800998ecf8427e", "v1", ""
	b, _ = Event(c, "empty", "OWNER")
	if !strings.Contains(string(b), `"size":0,"eTag":"d41d8cd98f00b204e9800998ecf8427e","versionId":"v1"`) ||
		!strings.Contains(string(b), `"awsRegion":"us-east-1"`) {
		t.Errorf("empty object record: %s", b)
	}
}

// fakeQueue records events, or fails from the failAt-th on (1-based).
type fakeQueue struct {
	events []*async.Event
	failAt int
}

func (q *fakeQueue) Enqueue(_ context.Context, ev *async.Event) error {
	if q.failAt > 0 && len(q.events)+1 >= q.failAt {
		return errors.New("stream unavailable")
	}
	q.events = append(q.events, ev)
	return nil
}

func notifier(t *testing.T, q *fakeQueue, cfg objstore.NotificationConfig, cfgErr error) *Notifier {
	t.Helper()
	n, err := New(Deps{
		Config: func(_ context.Context, bucket string) (objstore.NotificationConfig, error) {
			if bucket != "photos" {
				t.Errorf("configuration asked for bucket %q", bucket)
			}
			return cfg, cfgErr
		},
		Queue: q,
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestOnChange(t *testing.T) {
	cfg := objstore.NotificationConfig{Functions: []objstore.Notification{
		{ID: "thumbs", FunctionARN: "arn:aws:lambda:us-east-1:000000000000:function:thumb", Events: []string{"s3:ObjectCreated:*"}, Prefix: "in/", Suffix: ".jpg"},
		{ID: "audit", FunctionARN: "arn:aws:lambda:us-east-1:000000000000:function:audit:live", Events: []string{"s3:ObjectCreated:Put", "s3:ObjectRemoved:*"}},
		{ID: "pngs", FunctionARN: "arn:aws:lambda:us-east-1:000000000000:function:png", Events: []string{"s3:ObjectCreated:*"}, Suffix: ".png"},
	}}
	q := &fakeQueue{}
	n := notifier(t, q, cfg, nil)
	if err := n.OnChange(context.Background(), change()); err != nil {
		t.Fatal(err)
	}
	if len(q.events) != 2 {
		t.Fatalf("got %d events, want 2 (thumb and audit)", len(q.events))
	}
	ids := map[string]bool{}
	for i, want := range []struct{ fn, config string }{{"thumb", "thumbs"}, {"audit", "audit"}} {
		ev := q.events[i]
		if ev.Function != want.fn || ev.ID == "" || ids[ev.ID] {
			t.Errorf("event %d: function %q id %q, want function %q and a fresh id", i, ev.Function, ev.ID, want.fn)
		}
		ids[ev.ID] = true
		var e events.S3Event
		if err := json.Unmarshal(ev.Payload, &e); err != nil || len(e.Records) != 1 {
			t.Fatalf("event %d payload %s: %v", i, ev.Payload, err)
		}
		if got := e.Records[0].S3.ConfigurationID; got != want.config {
			t.Errorf("event %d: configurationId %q, want %q", i, got, want.config)
		}
	}

	// A delete reaches only the configuration that takes removals.
	q.events = nil
	c := change()
	c.EventName, c.Size, c.ETag = "ObjectRemoved:Delete", 0, ""
	if err := n.OnChange(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if len(q.events) != 1 || q.events[0].Function != "audit" {
		t.Fatalf("delete: got %+v, want one event for audit", q.events)
	}

	// No configuration: nothing is sent.
	q.events = nil
	if err := notifier(t, q, objstore.NotificationConfig{}, nil).OnChange(context.Background(), change()); err != nil || len(q.events) != 0 {
		t.Fatalf("no configuration: %v, %d events", err, len(q.events))
	}
}

// TestOnChangeErrors: failures to read the configuration or to store an
// event are returned, so the S3 request fails and the client retries.
func TestOnChangeErrors(t *testing.T) {
	cfg := objstore.NotificationConfig{Functions: []objstore.Notification{
		{ID: "a", FunctionARN: "a", Events: []string{"s3:ObjectCreated:*"}},
		{ID: "b", FunctionARN: "b", Events: []string{"s3:ObjectCreated:*"}},
	}}
	q := &fakeQueue{failAt: 2}
	err := notifier(t, q, cfg, nil).OnChange(context.Background(), change())
	if err == nil || !strings.Contains(err.Error(), "stream unavailable") || !strings.Contains(err.Error(), "photos/in/red flower.jpg") {
		t.Errorf("enqueue failure: got %v", err)
	}
	cfgErr := errors.New("disk gone")
	err = notifier(t, &fakeQueue{}, cfg, cfgErr).OnChange(context.Background(), change())
	if !errors.Is(err, cfgErr) {
		t.Errorf("configuration failure: got %v, want it wrapped", err)
	}
	if _, err := New(Deps{}); err == nil {
		t.Error("New without Config and Queue succeeded")
	}
}
