// Package notify turns changes to objects into S3 event notifications for
// functions, topics and queues. For each change the S3 API reports, it
// reads the bucket's notification configuration, selects the
// configurations whose events and key filters match, builds the event
// record exactly as Amazon S3 sends it (one record per configuration),
// and enqueues one asynchronous invocation per function record on the
// durable queue, publishes the event to each topic and stores it on each
// queue.
//
// The S3 API calls OnChange after the change is durable and before it
// answers the client, and Enqueue returns only once the queue's stream has
// stored the event. So a write the client saw acknowledged always has its
// notifications stored; if storing one fails, the request fails and the
// client retries it. Delivery then follows the queue's rules (retries,
// destinations, dead letters): at least once.
package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/ids"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/aloft-dev/aloft/internal/async"
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/objstore"
	"github.com/aloft-dev/aloft/internal/s3api"
)

// Enqueuer stores an asynchronous invocation durably; *async.Queue is one.
type Enqueuer interface {
	Enqueue(ctx context.Context, ev *async.Event) error
}

// Deps are the notifier's collaborators.
type Deps struct {
	// Config returns a bucket's notification configuration.
	Config func(ctx context.Context, bucket string) (objstore.NotificationConfig, error)
	// Queue receives one event per record.
	Queue Enqueuer
	// Publish publishes message with subject to the topic with ARN arn,
	// and Send stores body on the queue with ARN arn, each returning once
	// it is stored; nil refuses those destinations.
	Publish func(ctx context.Context, arn, subject, message string) error
	Send    func(ctx context.Context, arn, body string) error
	// OwnerID is the bucket owner's principal id in records (bucket
	// ownerIdentity); "" means the account id.
	OwnerID string
	Logger  *slog.Logger
}

// Notifier sends the notifications of object changes to functions.
type Notifier struct {
	d Deps
}

// New returns a Notifier. Config and Queue are required.
func New(d Deps) (*Notifier, error) {
	if d.Config == nil || d.Queue == nil {
		return nil, fmt.Errorf("notify: Config and Queue are required")
	}
	if d.OwnerID == "" {
		d.OwnerID = function.AccountID
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return &Notifier{d: d}, nil
}

// OnChange enqueues the notifications of c, one asynchronous invocation
// per matching configuration, and returns once all are stored. It has the
// signature of s3api.Deps.OnChange. An error means some may not be stored:
// the request fails, and the client's retry sends them (again).
func (n *Notifier) OnChange(ctx context.Context, c s3api.Change) error {
	cfg, err := n.d.Config(ctx, c.Bucket)
	if err != nil {
		return fmt.Errorf("notify: configuration of bucket %s: %w", c.Bucket, err)
	}
	for _, tc := range selectFrom(cfg.Topics, c.EventName, c.Key) {
		payload, err := Event(c, tc.ID, n.d.OwnerID)
		if err != nil {
			return err
		}
		if n.d.Publish == nil {
			return fmt.Errorf("notify: topics take no notifications on this server")
		}
		if err := n.d.Publish(ctx, tc.TopicARN, "Amazon S3 Notification", string(payload)); err != nil {
			return fmt.Errorf("notify: %s of %s/%s for %s: %w", c.EventName, c.Bucket, c.Key, tc.TopicARN, err)
		}
	}
	for _, qc := range selectFrom(cfg.Queues, c.EventName, c.Key) {
		payload, err := Event(c, qc.ID, n.d.OwnerID)
		if err != nil {
			return err
		}
		if n.d.Send == nil {
			return fmt.Errorf("notify: queues take no notifications on this server")
		}
		if err := n.d.Send(ctx, qc.QueueARN, string(payload)); err != nil {
			return fmt.Errorf("notify: %s of %s/%s for %s: %w", c.EventName, c.Bucket, c.Key, qc.QueueARN, err)
		}
	}
	for _, fc := range Select(cfg, c.EventName, c.Key) {
		name := FunctionName(fc.FunctionARN)
		_, qualifier, _ := awsproto.LambdaFunction(fc.FunctionARN)
		payload, err := Event(c, fc.ID, n.d.OwnerID)
		if err != nil {
			return err
		}
		ev := &async.Event{ID: ids.New(), Function: name, Qualifier: qualifier, Payload: payload}
		if err := n.d.Queue.Enqueue(ctx, ev); err != nil {
			return fmt.Errorf("notify: %s of %s/%s for %s: %w", c.EventName, c.Bucket, c.Key, name, err)
		}
		n.d.Logger.Debug("notification queued", "function", name, "bucket", c.Bucket, "key", c.Key,
			"event", c.EventName, "invocation_id", ev.ID)
	}
	return nil
}

// TestEvent sends the test event Amazon S3 sends to the topics and
// queues of a bucket's new notification configuration, so that their
// readers see it is connected. It has the signature of
// s3api.Deps.OnConfigured.
func (n *Notifier) TestEvent(ctx context.Context, bucket string, cfg objstore.NotificationConfig, requestID string) error {
	b, _ := json.Marshal(map[string]string{"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": time.Now().UTC().Format(timeLayout),
		"Bucket": bucket, "RequestId": requestID, "HostId": ids.Hex()})
	for _, tc := range cfg.Topics {
		if n.d.Publish != nil {
			if err := n.d.Publish(ctx, tc.TopicARN, "Amazon S3 Notification", string(b)); err != nil {
				return fmt.Errorf("notify: test event for %s: %w", tc.TopicARN, err)
			}
		}
	}
	for _, qc := range cfg.Queues {
		if n.d.Send != nil {
			if err := n.d.Send(ctx, qc.QueueARN, string(b)); err != nil {
				return fmt.Errorf("notify: test event for %s: %w", qc.QueueARN, err)
			}
		}
	}
	return nil
}

// Select returns the function configurations of cfg that take an event
// named eventName (without "s3:", such as "ObjectCreated:Put") on key.
func Select(cfg objstore.NotificationConfig, eventName, key string) []objstore.Notification {
	return selectFrom(cfg.Functions, eventName, key)
}

func selectFrom(list []objstore.Notification, eventName, key string) []objstore.Notification {
	var out []objstore.Notification
	for _, fc := range list {
		if Match(fc, eventName, key) {
			out = append(out, fc)
		}
	}
	return out
}

// Match reports whether configuration fc takes an event named eventName
// (without "s3:") on key. Its events may name the event exactly
// ("s3:ObjectCreated:Put") or a whole kind ("s3:ObjectCreated:*"). Its
// prefix and suffix rules apply to the key as stored; a rule written
// URL-encoded, as Amazon S3 asks for keys with spaces or special
// characters ("my+photos/"), matches the key's encoded form as well.
func Match(fc objstore.Notification, eventName, key string) bool {
	full := "s3:" + eventName
	matched := false
	for _, e := range fc.Events {
		if e == full {
			matched = true
			break
		}
		if kind, ok := strings.CutSuffix(e, "*"); ok && strings.HasPrefix(full, kind) && strings.HasSuffix(kind, ":") {
			matched = true
			break
		}
	}
	if !matched {
		return false
	}
	if filtered(key, fc.Prefix, fc.Suffix) {
		return true
	}
	return filtered(EncodeKey(key), fc.Prefix, fc.Suffix)
}

func filtered(key, prefix, suffix string) bool {
	return strings.HasPrefix(key, prefix) && strings.HasSuffix(key, suffix)
}

// FunctionName returns the function name in a Lambda function ARN
// (arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]); anything
// else is taken to be a name already. The queue invokes a function's
// current configuration, so a qualifier is not kept.
func FunctionName(arn string) string {
	if name, _, ok := awsproto.LambdaFunction(arn); ok {
		return name
	}
	return arn
}

// EncodeKey writes a key as S3 event records carry it: form-URL-encoded
// (a space is "+", other bytes outside letters, digits and "-_.~" are
// percent-encoded), except that "/" is kept. url.QueryUnescape, which
// aws-lambda-go applies for URLDecodedKey, gives back the key.
func EncodeKey(key string) string {
	return strings.ReplaceAll(url.QueryEscape(key), "%2F", "/")
}

// timeLayout is how records write eventTime: UTC with milliseconds.
const timeLayout = "2006-01-02T15:04:05.000Z"

// Event returns the JSON payload a function receives for change c under
// the configuration with id configID: {"Records":[record]}. ownerID is
// the bucket owner's principal id.
func Event(c s3api.Change, configID, ownerID string) ([]byte, error) {
	b, err := json.Marshal(event{Records: []record{newRecord(c, configID, ownerID)}})
	if err != nil {
		return nil, fmt.Errorf("notify: encode record: %w", err)
	}
	return b, nil
}

// The record's types keep Amazon S3's member order.
type event struct {
	Records []record `json:"Records"`
}

type record struct {
	EventVersion      string    `json:"eventVersion"`
	EventSource       string    `json:"eventSource"`
	AWSRegion         string    `json:"awsRegion"`
	EventTime         string    `json:"eventTime"`
	EventName         string    `json:"eventName"`
	UserIdentity      principal `json:"userIdentity"`
	RequestParameters struct {
		SourceIPAddress string `json:"sourceIPAddress"`
	} `json:"requestParameters"`
	ResponseElements struct {
		RequestID string `json:"x-amz-request-id"`
		HostID    string `json:"x-amz-id-2"`
	} `json:"responseElements"`
	S3 entity `json:"s3"`
}

type principal struct {
	PrincipalID string `json:"principalId"`
}

type entity struct {
	SchemaVersion   string `json:"s3SchemaVersion"`
	ConfigurationID string `json:"configurationId"`
	Bucket          struct {
		Name          string    `json:"name"`
		OwnerIdentity principal `json:"ownerIdentity"`
		ARN           string    `json:"arn"`
	} `json:"bucket"`
	Object object `json:"object"`
}

// object leaves out size and eTag for removals, and versionId for
// unversioned buckets, as Amazon S3 does.
type object struct {
	Key       string `json:"key"`
	Size      *int64 `json:"size,omitempty"`
	ETag      string `json:"eTag,omitempty"`
	VersionID string `json:"versionId,omitempty"`
	Sequencer string `json:"sequencer"`
}

func newRecord(c s3api.Change, configID, ownerID string) record {
	r := record{
		EventVersion: "2.1",
		EventSource:  "aws:s3",
		AWSRegion:    c.Region,
		EventTime:    c.Time.UTC().Truncate(time.Millisecond).Format(timeLayout),
		EventName:    c.EventName,
		UserIdentity: principal{c.PrincipalID},
	}
	if r.AWSRegion == "" {
		r.AWSRegion = objstore.DefaultRegion
	}
	r.RequestParameters.SourceIPAddress = c.SourceIP
	r.ResponseElements.RequestID = c.RequestID
	r.ResponseElements.HostID = c.HostID
	r.S3.SchemaVersion = "1.0"
	r.S3.ConfigurationID = configID
	r.S3.Bucket.Name = c.Bucket
	r.S3.Bucket.OwnerIdentity = principal{ownerID}
	r.S3.Bucket.ARN = "arn:aws:s3:::" + c.Bucket
	r.S3.Object = object{Key: EncodeKey(c.Key), VersionID: c.VersionID, Sequencer: c.Sequencer}
	if !strings.HasPrefix(c.EventName, "ObjectRemoved:") && !strings.HasPrefix(c.EventName, "LifecycleExpiration:") {
		size := c.Size
		r.S3.Object.Size = &size
		r.S3.Object.ETag = c.ETag
	}
	return r
}
