// Package topics keeps SNS-compatible topics and their subscriptions on
// the backbone, and delivers what is published to them: to queues, to
// functions (asynchronously, with the SNS event) and to HTTP and HTTPS
// endpoints (after they confirm), applying each subscription's filter
// policy.
//
// Topics and subscriptions are documents in the key-value bucket
// aloft_topics, followed on every node. Publishing stores one delivery
// per matching subscription on the work-queue stream SNS_DELIVERY before
// it answers, so an accepted message survives a crash; workers on every
// node deliver them, retrying failures with backoff, and hand what keeps
// failing to the subscription's dead-letter queue.
package topics

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/follow"
	"github.com/aloft-dev/aloft/internal/ids"
	"github.com/aloft-dev/aloft/internal/lazy"
	"github.com/aloft-dev/aloft/internal/policy"
	"github.com/aloft-dev/aloft/internal/queues"
	"github.com/aloft-dev/aloft/internal/store"
)

const (
	bucket      = "aloft_topics"
	topicPrefix = "t."
	subPrefix   = "s."
	signingKey  = "signing-key"
)

// Account is the account id in topic ARNs.
var Account = "000000000000"

// Error is a refusal of the topic service: a Kind and the code SNS gives
// it (NotFound, InvalidParameter, ...).
type Error struct {
	Kind    fault.Kind
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// FaultKind returns e's kind.
func (e *Error) FaultKind() fault.Kind { return e.Kind }

func invalid(format string, args ...any) *Error {
	return &Error{Kind: fault.Invalid, Code: "InvalidParameter", Message: "Invalid parameter: " + fmt.Sprintf(format, args...)}
}

func notFound(what string) *Error {
	return &Error{Kind: fault.NotFound, Code: "NotFound", Message: what + " does not exist"}
}

// Deps are what deliveries need of the rest of the server.
type Deps struct {
	// Queues receive deliveries to sqs subscriptions.
	Queues *queues.Service
	// Invoke hands payload to the function with ARN arn, to be invoked
	// asynchronously.
	Invoke func(ctx context.Context, arn string, payload []byte) error
	// HTTP posts to http and https subscribers.
	HTTP *http.Client
	// BaseURL is where subscribers reach this server, for the
	// SubscribeURL, UnsubscribeURL and SigningCertURL of messages.
	BaseURL string
	Log     *slog.Logger
	// Workers is how many deliveries this node makes at once (16 when
	// zero).
	Workers int
}

// Service is the topic service. Create it with Open.
type Service struct {
	d      Deps
	js     jetstream.JetStream
	kv     jetstream.KeyValue
	log    *slog.Logger
	follow *follow.Follower
	signer *signer

	revs   follow.Revisions // what the views have applied
	mu     sync.RWMutex
	topics map[string]*topic        // by name
	subs   map[string]*subscription // by id

	fifoSeq lazy.Value[jetstream.Stream] // FIFO topics' sequences

	cons jetstream.Consumer
	stop context.CancelFunc
	wg   sync.WaitGroup
	// progress reports the deliveries under way as in progress, so that
	// a slow endpoint's is not handed to another node; set by Start.
	progress *store.Progress
}

type topic struct {
	Name    string            `json:"name"`
	Region  string            `json:"region"`
	Attrs   map[string]string `json:"attrs,omitempty"`
	Tags    map[string]string `json:"tags,omitempty"`
	Created int64             `json:"created"`
	rev     uint64
}

// ARN returns the topic's ARN.
func (t *topic) ARN() string { return "arn:aws:sns:" + t.Region + ":" + Account + ":" + t.Name }

func (t *topic) fifo() bool { return t.Attrs["FifoTopic"] == "true" }

type subscription struct {
	ID       string            `json:"id"`
	Topic    string            `json:"topic"`
	Region   string            `json:"region"`
	Protocol string            `json:"protocol"`
	Endpoint string            `json:"endpoint"`
	Owner    string            `json:"owner"`
	Attrs    map[string]string `json:"attrs,omitempty"`
	Pending  bool              `json:"pending,omitempty"`
	Token    string            `json:"token,omitempty"`
	rev      uint64
}

// ARN returns the subscription's ARN.
func (s *subscription) ARN() string {
	return "arn:aws:sns:" + s.Region + ":" + Account + ":" + s.Topic + ":" + s.ID
}

func (s *subscription) topicARN() string {
	return "arn:aws:sns:" + s.Region + ":" + Account + ":" + s.Topic
}

// Open opens the topic service on the backbone; Start starts delivering.
func Open(ctx context.Context, js jetstream.JetStream, d Deps) (*Service, error) {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.HTTP == nil {
		d.HTTP = &http.Client{Timeout: 15 * time.Second}
	}
	if d.Workers <= 0 {
		d.Workers = 16
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket, History: 1, Storage: jetstream.FileStorage})
	if err != nil {
		return nil, fmt.Errorf("topics: bucket: %w", err)
	}
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: deliveryStream, Subjects: []string{deliverySubject + ">"}, Retention: jetstream.WorkQueuePolicy,
		Storage: jetstream.FileStorage, Duplicates: 5 * time.Minute,
	}); err != nil {
		return nil, fmt.Errorf("topics: delivery stream: %w", err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, deliveryStream, jetstream.ConsumerConfig{
		// A delivery held by a node that died is made by another within
		// seconds; one under way is reported in progress (Start).
		Durable: "deliver", AckPolicy: jetstream.AckExplicitPolicy, AckWait: store.AckWait, MaxDeliver: -1, MaxAckPending: 10000,
	})
	if err != nil {
		return nil, fmt.Errorf("topics: delivery consumer: %w", err)
	}
	s := &Service{d: d, js: js, kv: kv, log: d.Log, topics: map[string]*topic{}, subs: map[string]*subscription{}, cons: cons}
	if s.signer, err = loadSigner(ctx, kv); err != nil {
		return nil, err
	}
	if s.follow, err = follow.KV(ctx, kv, s.apply, nil); err != nil {
		return nil, fmt.Errorf("topics: %w", err)
	}
	return s, nil
}

// Close stops delivering and following.
func (s *Service) Close() {
	if s.stop != nil {
		s.stop()
		s.wg.Wait()
		s.progress.Close()
	}
	s.follow.Stop()
}

func (s *Service) apply(e jetstream.KeyValueEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.revs.Applied(e.Revision())
	k := e.Key()
	del := follow.Deleted(e)
	switch {
	case strings.HasPrefix(k, topicPrefix):
		name := strings.TrimPrefix(k, topicPrefix)
		if del {
			delete(s.topics, name)
			return
		}
		var t topic
		if err := json.Unmarshal(e.Value(), &t); err != nil {
			s.log.Error("topics: a damaged topic record is skipped", "key", k, "err", err)
			return
		}
		t.rev = e.Revision()
		s.topics[name] = &t
	case strings.HasPrefix(k, subPrefix):
		id := strings.TrimPrefix(k, subPrefix)
		if del {
			delete(s.subs, id)
			return
		}
		var sub subscription
		if err := json.Unmarshal(e.Value(), &sub); err != nil {
			s.log.Error("topics: a damaged subscription record is skipped", "key", k, "err", err)
			return
		}
		sub.rev = e.Revision()
		s.subs[id] = &sub
	}
}

// waitFor returns once the view has applied revision rev.
func (s *Service) waitFor(rev uint64) { s.revs.Wait(rev) }

// waitGone returns once key's record has left the view.
func (s *Service) waitGone(gone func() bool) {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && !gone(); time.Sleep(2 * time.Millisecond) {
	}
}

var validTopic = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)

// Topic describes a topic.
type Topic struct {
	Name, ARN string
	Tags      map[string]string
}

// TopicName returns the name of a topic ARN of this account, or an error
// SNS gives for one that is not.
func TopicName(arn string) (string, error) {
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "sns" || parts[5] == "" {
		return "", invalid("TopicArn")
	}
	if parts[4] != Account {
		return "", notFound("Topic")
	}
	return parts[5], nil
}

// CreateTopic makes topic name, or returns it when it exists with the
// same attributes.
func (s *Service) CreateTopic(ctx context.Context, name, region string, attrs, tags map[string]string) (*Topic, error) {
	fifo := attrs["FifoTopic"] == "true"
	base, fifoName := strings.CutSuffix(name, ".fifo")
	if fifo != fifoName {
		return nil, invalid("Topic Name: a FIFO topic's name ends in .fifo, and FifoTopic must be true for it")
	}
	if !validTopic.MatchString(base) {
		return nil, invalid("Topic Name")
	}
	if attrs["ContentBasedDeduplication"] != "" && !fifo {
		return nil, invalid("Attributes: ContentBasedDeduplication is for FIFO topics")
	}
	for k, v := range attrs {
		if err := checkTopicAttribute(k, v, true); err != nil {
			return nil, err
		}
	}
	if !fifo {
		delete(attrs, "FifoTopic")
	}
	if len(tags) > 50 {
		return nil, &Error{Kind: fault.Invalid, Code: "TagLimitExceeded", Message: "Could not complete request: tag quota of per resource exceeded"}
	}
	s.mu.RLock()
	old := s.topics[name]
	s.mu.RUnlock()
	if old != nil {
		for k, v := range attrs {
			if old.Attrs[k] != v {
				return nil, invalid("Attributes Reason: Topic already exists with different attributes")
			}
		}
		return &Topic{Name: name, ARN: old.ARN(), Tags: maps.Clone(old.Tags)}, nil
	}
	t := &topic{Name: name, Region: region, Attrs: attrs, Tags: tags, Created: time.Now().Unix()}
	doc, _ := json.Marshal(t)
	rev, err := s.kv.Create(ctx, topicPrefix+name, doc)
	if errors.Is(err, jetstream.ErrKeyExists) {
		e, gerr := s.kv.Get(ctx, topicPrefix+name)
		if gerr != nil {
			return nil, fmt.Errorf("topics: read %s: %w", name, gerr)
		}
		s.waitFor(e.Revision())
		return s.CreateTopic(ctx, name, region, attrs, tags)
	}
	if err != nil {
		return nil, fmt.Errorf("topics: create %s: %w", name, err)
	}
	s.waitFor(rev)
	return &Topic{Name: name, ARN: t.ARN(), Tags: maps.Clone(tags)}, nil
}

func checkTopicAttribute(k, v string, create bool) *Error {
	switch k {
	case "DisplayName":
		if len(v) > 100 {
			return invalid("DisplayName: at most 100 characters")
		}
	case "Policy":
		if v != "" {
			if _, err := policy.ParseResource([]byte(v)); err != nil {
				return invalid("Policy: %v", err)
			}
		}
	case "DeliveryPolicy":
		if v != "" {
			if _, err := parseDeliveryPolicy(v); err != nil {
				return err
			}
		}
	case "SignatureVersion":
		if v != "1" && v != "2" {
			return invalid("SignatureVersion: must be 1 or 2")
		}
	case "TracingConfig":
		if v != "PassThrough" {
			return invalid("TracingConfig: only PassThrough is available here (topics record no traces)")
		}
	case "FifoTopic":
		if !create {
			return invalid("AttributeName: FifoTopic can be set only when the topic is created")
		}
		if v != "false" && v != "true" {
			return invalid("FifoTopic: must be true or false")
		}
	case "ContentBasedDeduplication":
		if v != "false" && v != "true" {
			return invalid("ContentBasedDeduplication: must be true or false")
		}
	case "KmsMasterKeyId":
		return invalid("KmsMasterKeyId: there is no key management service here, so topics cannot be encrypted")
	default:
		return invalid("AttributeName: %s is not an attribute of topics here", k)
	}
	return nil
}

// GetTopic returns topic name.
func (s *Service) getTopic(name string) (*topic, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t := s.topics[name]
	if t == nil {
		return nil, notFound("Topic")
	}
	return t, nil
}

// Policy returns the access policy topic arn was given ("" for the
// default, or no such topic).
func (s *Service) Policy(arn string) string {
	name, err := TopicName(arn)
	if err != nil {
		return ""
	}
	t, err := s.getTopic(name)
	if err != nil || t.ARN() != arn {
		return ""
	}
	return t.Attrs["Policy"]
}

// ListTopics returns every topic's ARN, sorted.
func (s *Service) ListTopics() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []string
	for _, t := range s.topics {
		out = append(out, t.ARN())
	}
	slices.Sort(out)
	return out
}

// DeleteTopic removes topic name and its subscriptions. Deleting a topic
// that does not exist succeeds, as on SNS.
func (s *Service) DeleteTopic(ctx context.Context, name string) error {
	s.mu.RLock()
	var subs []string
	for id, sub := range s.subs {
		if sub.Topic == name {
			subs = append(subs, id)
		}
	}
	_, exists := s.topics[name]
	s.mu.RUnlock()
	if !exists {
		return nil
	}
	for _, id := range subs {
		if err := s.kv.Delete(ctx, subPrefix+id); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("topics: delete a subscription of %s: %w", name, err)
		}
	}
	if err := s.kv.Delete(ctx, topicPrefix+name); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("topics: delete %s: %w", name, err)
	}
	s.waitGone(func() bool {
		s.mu.RLock()
		defer s.mu.RUnlock()
		_, ok := s.topics[name]
		return !ok
	})
	return nil
}

// TopicAttributes returns topic name's attributes.
func (s *Service) TopicAttributes(name string) (map[string]string, error) {
	t, err := s.getTopic(name)
	if err != nil {
		return nil, err
	}
	out := map[string]string{
		"TopicArn": t.ARN(), "Owner": Account, "DisplayName": "", "SignatureVersion": "1",
		"Policy": defaultPolicy(t.ARN()), "SubscriptionsDeleted": "0",
		"EffectiveDeliveryPolicy": effectiveDeliveryPolicy(t.Attrs["DeliveryPolicy"]),
	}
	maps.Copy(out, t.Attrs)
	var confirmed, pending int
	s.mu.RLock()
	for _, sub := range s.subs {
		if sub.Topic == name {
			if sub.Pending {
				pending++
			} else {
				confirmed++
			}
		}
	}
	s.mu.RUnlock()
	out["SubscriptionsConfirmed"] = fmt.Sprint(confirmed)
	out["SubscriptionsPending"] = fmt.Sprint(pending)
	return out, nil
}

func defaultPolicy(arn string) string {
	return `{"Version":"2008-10-17","Id":"__default_policy_ID","Statement":[{"Sid":"__default_statement_ID","Effect":"Allow","Principal":{"AWS":"*"},"Action":["SNS:GetTopicAttributes","SNS:SetTopicAttributes","SNS:AddPermission","SNS:RemovePermission","SNS:DeleteTopic","SNS:Subscribe","SNS:ListSubscriptionsByTopic","SNS:Publish"],"Resource":"` + arn + `","Condition":{"StringEquals":{"AWS:SourceOwner":"` + Account + `"}}}]}`
}

// SetTopicAttribute sets one attribute of topic name.
func (s *Service) SetTopicAttribute(ctx context.Context, name, key, value string) error {
	if err := checkTopicAttribute(key, value, false); err != nil {
		return err
	}
	return s.updateTopic(ctx, name, func(t *topic) {
		if t.Attrs == nil {
			t.Attrs = map[string]string{}
		}
		if value == "" {
			delete(t.Attrs, key)
			return
		}
		t.Attrs[key] = value
	})
}

func (s *Service) updateTopic(ctx context.Context, name string, fn func(*topic)) error {
	// One of any number of concurrent changes wins each round, so they
	// all end; the caller's context bounds the wait.
	for ctx.Err() == nil {
		t, err := s.getTopic(name)
		if err != nil {
			return err
		}
		c := *t
		c.Attrs, c.Tags = maps.Clone(t.Attrs), maps.Clone(t.Tags)
		fn(&c)
		doc, _ := json.Marshal(&c)
		rev, err := s.kv.Update(ctx, topicPrefix+name, doc, t.rev)
		if err == nil {
			s.waitFor(rev)
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("topics: update %s: %w", name, err)
		}
		if e, err := s.kv.Get(ctx, topicPrefix+name); err == nil {
			s.waitFor(e.Revision())
		}
	}
	return fmt.Errorf("topics: update %s: %w", name, ctx.Err())
}

// Tags returns topic name's tags.
func (s *Service) Tags(name string) (map[string]string, error) {
	t, err := s.getTopic(name)
	if err != nil {
		return nil, err
	}
	return maps.Clone(t.Tags), nil
}

// Tag adds or replaces tags of topic name; Untag removes keys.
func (s *Service) Tag(ctx context.Context, name string, tags map[string]string, untag []string) error {
	t, err := s.getTopic(name)
	if err != nil {
		return err
	}
	n := len(t.Tags)
	for k := range tags {
		if _, ok := t.Tags[k]; !ok {
			n++
		}
	}
	if n > 50 {
		return &Error{Kind: fault.Invalid, Code: "TagLimitExceeded", Message: "Could not complete request: tag quota of per resource exceeded"}
	}
	return s.updateTopic(ctx, name, func(t *topic) {
		if t.Tags == nil {
			t.Tags = map[string]string{}
		}
		maps.Copy(t.Tags, tags)
		for _, k := range untag {
			delete(t.Tags, k)
		}
	})
}

// Subscription describes a subscription.
type Subscription struct {
	ARN, TopicARN, Protocol, Endpoint, Owner string
	Pending                                  bool
}

func (sub *subscription) public() Subscription {
	arn := sub.ARN()
	if sub.Pending {
		arn = "PendingConfirmation"
	}
	return Subscription{ARN: arn, TopicARN: sub.topicARN(), Protocol: sub.Protocol, Endpoint: sub.Endpoint, Owner: sub.Owner}
}

// Subscriptions returns the subscriptions of topic name ("" for all),
// ordered by ARN.
func (s *Service) Subscriptions(name string) ([]Subscription, error) {
	if name != "" {
		if _, err := s.getTopic(name); err != nil {
			return nil, err
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []Subscription
	for _, sub := range s.subs {
		if name == "" || sub.Topic == name {
			out = append(out, sub.public())
		}
	}
	slices.SortFunc(out, func(a, b Subscription) int { return cmp.Compare(a.TopicARN+a.Endpoint, b.TopicARN+b.Endpoint) })
	return out, nil
}

// SubscriptionID returns the id of a subscription ARN of this account.
func SubscriptionID(arn string) (string, error) {
	parts := strings.Split(arn, ":")
	if len(parts) != 7 || parts[0] != "arn" || parts[2] != "sns" || parts[6] == "" {
		return "", invalid("SubscriptionArn")
	}
	return parts[6], nil
}

func (s *Service) getSub(id string) (*subscription, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sub := s.subs[id]
	if sub == nil {
		return nil, notFound("Subscription")
	}
	return sub, nil
}

// Subscribe subscribes endpoint by protocol to topic name. An sqs or
// lambda subscription is confirmed at once; an http or https one waits
// until its endpoint confirms the message sent to it. Subscribing the
// same endpoint again returns the existing subscription.
func (s *Service) Subscribe(ctx context.Context, name, protocol, endpoint, owner string, attrs map[string]string) (Subscription, error) {
	t, err := s.getTopic(name)
	if err != nil {
		return Subscription{}, err
	}
	if t.fifo() && protocol != "sqs" {
		return Subscription{}, invalid("Invalid protocol type: %s: FIFO topics deliver to SQS queues only", protocol)
	}
	switch protocol {
	case "sqs":
		if !strings.HasPrefix(endpoint, "arn:aws:sqs:") || strings.Count(endpoint, ":") != 5 {
			return Subscription{}, invalid("SQS endpoint ARN")
		}
		if strings.HasSuffix(endpoint, ".fifo") && !t.fifo() {
			return Subscription{}, invalid("Endpoint Reason: FIFO SQS Queues can not be subscribed to standard SNS topics")
		}
	case "lambda":
		if !strings.HasPrefix(endpoint, "arn:aws:lambda:") {
			return Subscription{}, invalid("Lambda endpoint ARN")
		}
	case "http", "https":
		if !strings.HasPrefix(endpoint, protocol+"://") || len(endpoint) <= len(protocol)+3 {
			return Subscription{}, invalid("Endpoint must match the specified protocol")
		}
	case "":
		return Subscription{}, invalid("Protocol")
	default:
		return Subscription{}, invalid("Protocol %s is not available here: subscribe a queue, a function or an HTTP(S) endpoint", protocol)
	}
	for k, v := range attrs {
		if err := checkSubAttribute(protocol, k, v); err != nil {
			return Subscription{}, err
		}
	}
	s.mu.RLock()
	for _, old := range s.subs {
		if old.Topic == name && old.Protocol == protocol && old.Endpoint == endpoint {
			s.mu.RUnlock()
			for k, v := range attrs {
				if old.Attrs[k] != v {
					return Subscription{}, invalid("Attributes Reason: Subscription already exists with different attributes")
				}
			}
			return old.public(), nil
		}
	}
	s.mu.RUnlock()
	sub := &subscription{ID: ids.New(), Topic: name, Region: t.Region, Protocol: protocol, Endpoint: endpoint, Owner: owner, Attrs: attrs}
	if protocol == "http" || protocol == "https" {
		sub.Pending = true
		sub.Token = ids.Hex() + ids.Hex()
	}
	doc, _ := json.Marshal(sub)
	rev, err := s.kv.Create(ctx, subPrefix+sub.ID, doc)
	if err != nil {
		return Subscription{}, fmt.Errorf("topics: subscribe: %w", err)
	}
	s.waitFor(rev)
	if sub.Pending {
		if err := s.enqueue(ctx, []job{{Sub: sub.ID, Type: "SubscriptionConfirmation", MessageID: ids.New(), Timestamp: now()}}); err != nil {
			return Subscription{}, err
		}
	}
	return sub.public(), nil
}

// SubscriptionARN returns the ARN of a subscription even while it waits
// for confirmation (Subscribe's ReturnSubscriptionArn).
func (s *Service) SubscriptionARN(topicName, protocol, endpoint string) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, sub := range s.subs {
		if sub.Topic == topicName && sub.Protocol == protocol && sub.Endpoint == endpoint {
			return sub.ARN()
		}
	}
	return ""
}

// Confirm confirms the pending subscription of topic name with token.
func (s *Service) Confirm(ctx context.Context, name, token string) (string, error) {
	if _, err := s.getTopic(name); err != nil {
		return "", err
	}
	s.mu.RLock()
	var sub *subscription
	for _, c := range s.subs {
		if c.Topic == name && c.Token != "" && c.Token == token {
			sub = c
		}
	}
	s.mu.RUnlock()
	if sub == nil {
		return "", invalid("Token")
	}
	if !sub.Pending {
		return sub.ARN(), nil
	}
	err := s.updateSub(ctx, sub.ID, func(c *subscription) *Error {
		c.Pending = false
		return nil
	})
	return sub.ARN(), err
}

// Unsubscribe deletes a subscription; deleting one already gone succeeds.
func (s *Service) Unsubscribe(ctx context.Context, id string) error {
	if _, err := s.getSub(id); err != nil {
		return err
	}
	if err := s.kv.Delete(ctx, subPrefix+id); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("topics: unsubscribe: %w", err)
	}
	s.waitGone(func() bool { _, err := s.getSub(id); return err != nil })
	return nil
}

// SubscriptionAttributes returns a subscription's attributes.
func (s *Service) SubscriptionAttributes(id string) (map[string]string, error) {
	sub, err := s.getSub(id)
	if err != nil {
		return nil, err
	}
	out := map[string]string{
		"SubscriptionArn": sub.ARN(), "TopicArn": sub.topicARN(), "Owner": sub.Owner, "Protocol": sub.Protocol,
		"Endpoint": sub.Endpoint, "PendingConfirmation": fmt.Sprint(sub.Pending), "ConfirmationWasAuthenticated": fmt.Sprint(!sub.Pending),
		"RawMessageDelivery": "false",
	}
	if sub.Protocol == "http" || sub.Protocol == "https" {
		out["EffectiveDeliveryPolicy"] = effectiveDeliveryPolicy(sub.Attrs["DeliveryPolicy"])
	}
	maps.Copy(out, sub.Attrs)
	if out["FilterPolicy"] != "" && out["FilterPolicyScope"] == "" {
		out["FilterPolicyScope"] = "MessageAttributes"
	}
	return out, nil
}

// SetSubscriptionAttribute sets one attribute of a subscription.
func (s *Service) SetSubscriptionAttribute(ctx context.Context, id, key, value string) error {
	sub, err := s.getSub(id)
	if err != nil {
		return err
	}
	if err := checkSubAttribute(sub.Protocol, key, value); err != nil {
		return err
	}
	return s.updateSub(ctx, id, func(c *subscription) *Error {
		if c.Attrs == nil {
			c.Attrs = map[string]string{}
		}
		if value == "" {
			delete(c.Attrs, key)
		} else {
			c.Attrs[key] = value
		}
		if key == "FilterPolicyScope" || key == "FilterPolicy" {
			if _, err := compileFilter(c.Attrs["FilterPolicy"], c.Attrs["FilterPolicyScope"]); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Service) updateSub(ctx context.Context, id string, fn func(*subscription) *Error) error {
	for range 10 {
		sub, err := s.getSub(id)
		if err != nil {
			return err
		}
		c := *sub
		c.Attrs = maps.Clone(sub.Attrs)
		if err := fn(&c); err != nil {
			return err
		}
		doc, _ := json.Marshal(&c)
		rev, err := s.kv.Update(ctx, subPrefix+id, doc, sub.rev)
		if err == nil {
			s.waitFor(rev)
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("topics: update a subscription: %w", err)
		}
		if e, err := s.kv.Get(ctx, subPrefix+id); err == nil {
			s.waitFor(e.Revision())
		}
	}
	return fmt.Errorf("topics: update a subscription: too many concurrent changes")
}

func checkSubAttribute(protocol, k, v string) *Error {
	switch k {
	case "FilterPolicy":
		if v == "" {
			return nil
		}
		if len(v) > 256*1024 {
			return &Error{Kind: fault.Invalid, Code: "FilterPolicyLimitExceeded", Message: "Filter policy is too large"}
		}
		if _, err := compileFilter(v, ""); err != nil {
			return err
		}
	case "FilterPolicyScope":
		if v != "MessageAttributes" && v != "MessageBody" {
			return invalid("FilterPolicyScope: must be MessageAttributes or MessageBody")
		}
	case "RawMessageDelivery":
		if v != "true" && v != "false" {
			return invalid("RawMessageDelivery: must be true or false")
		}
		if protocol == "lambda" {
			return invalid("Attribute Name: RawMessageDelivery is not valid for the lambda protocol")
		}
	case "RedrivePolicy":
		if v == "" {
			return nil
		}
		var p struct {
			Arn string `json:"deadLetterTargetArn"`
		}
		if err := json.Unmarshal([]byte(v), &p); err != nil || !strings.HasPrefix(p.Arn, "arn:aws:sqs:") {
			return invalid("RedrivePolicy: Redrive policy is not a valid JSON map with a deadLetterTargetArn of an SQS queue")
		}
	case "DeliveryPolicy":
		if protocol != "http" && protocol != "https" {
			return invalid("DeliveryPolicy: delivery policies apply to http and https subscriptions only")
		}
		if _, err := parseDeliveryPolicy(v); err != nil {
			return err
		}
	default:
		return invalid("AttributeName: %s is not an attribute of subscriptions here", k)
	}
	return nil
}

func now() string { return time.Now().UTC().Format("2006-01-02T15:04:05.000Z") }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
