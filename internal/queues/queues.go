// Package queues keeps SQS-compatible message queues on the backbone, so
// that they survive a crash and every node serves them.
//
// Each queue is a JetStream stream with work-queue retention, SQS_<id>,
// and one durable pull consumer, "q":
//
//   - a message is a stream message on sqs.<id>.m, its body the data and
//     its id, send time, sender and attributes in headers;
//   - a delayed message waits as a message schedule on sqs.<id>.d.<nuid>
//     that the backbone fires onto sqs.<id>.m when its delay ends;
//   - receiving is a pull request that returns as soon as anything is
//     there (or the long poll ends); the consumer's ack wait is the
//     queue's visibility timeout, a negative acknowledgement with a delay
//     sets another one, and the delivery count is the receive count;
//   - a receipt handle is the delivery's acknowledgement subject, sealed
//     with an HMAC, so any node can delete or hide the message again;
//   - deleting is an acknowledgement, which removes the message.
//
// The queues' records (name, id, attributes, tags) are in the key-value
// bucket aloft_queues, followed on every node.
package queues

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/follow"
	"github.com/aloft-dev/aloft/internal/ids"
	"github.com/aloft-dev/aloft/internal/lazy"
	"github.com/aloft-dev/aloft/internal/store"
)

const (
	bucket      = "aloft_queues"
	queuePrefix = "q."
	secretKey   = "receipt-secret"
	consumer    = "q"
	// maxInFlight is how many messages of a queue may be received and
	// not yet deleted, as SQS's limit for standard queues.
	maxInFlight = 120000
	// maxWaiting is how many long polls may wait on one queue at once.
	maxWaiting = 1024
	// purgeEvery is how often a queue may be purged.
	purgeEvery = 60 * time.Second
)

// Account is the account id in queue URLs and ARNs.
var Account = "000000000000"

// Service is the queue service. Create it with Open.
type Service struct {
	js     jetstream.JetStream
	nc     *nats.Conn
	kv     jetstream.KeyValue
	secret []byte
	log    *slog.Logger
	follow *follow.Follower

	fifoKV     lazy.Value[jetstream.KeyValue] // the FIFO groups' bucket
	attemptsMu sync.Mutex
	attempts   map[string]*attempt // FIFO receives by queue id and ReceiveRequestAttemptId

	revs   follow.Revisions // what the views have applied
	mu     sync.RWMutex
	queues map[string]*record   // by name
	tasks  map[string]*MoveTask // message move tasks, by id

	runner           string        // this Service's name as a move task's runner
	closing, adopted chan struct{} // Close's signal to adopt, and adopt's end
	closeOnce        sync.Once
}

// record is a queue's stored document.
type record struct {
	Name     string            `json:"name"`
	ID       string            `json:"id"`
	Region   string            `json:"region"`
	Created  int64             `json:"created"`  // Unix seconds
	Modified int64             `json:"modified"` // Unix seconds
	Attrs    map[string]string `json:"attrs"`
	Tags     map[string]string `json:"tags,omitempty"`
	Purged   int64             `json:"purged,omitempty"` // Unix milliseconds of the last purge
	rev      uint64
}

func (r *record) stream() string  { return "SQS_" + r.ID }
func (r *record) subject() string { return "sqs." + r.ID + ".m" }

// ARN returns the queue's ARN.
func (r *record) ARN() string {
	return "arn:aws:sqs:" + r.Region + ":" + Account + ":" + r.Name
}

// Queue describes a queue to callers.
type Queue struct {
	Name, ARN, Region string
	Tags              map[string]string
}

func (r *record) public() *Queue {
	return &Queue{Name: r.Name, ARN: r.ARN(), Region: r.Region, Tags: maps.Clone(r.Tags)}
}

// Open opens the queue service on the backbone.
func Open(ctx context.Context, js jetstream.JetStream, nc *nats.Conn, log *slog.Logger) (*Service, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket, History: 1, Storage: jetstream.FileStorage})
	if err != nil {
		return nil, fmt.Errorf("queues: bucket: %w", err)
	}
	s := &Service{js: js, nc: nc, kv: kv, log: log, queues: map[string]*record{}, tasks: map[string]*MoveTask{},
		runner: ids.New(), closing: make(chan struct{}), adopted: make(chan struct{})}
	if s.secret, err = follow.Secret(ctx, kv, secretKey); err != nil {
		return nil, err
	}
	s.follow, err = follow.KV(ctx, kv, s.apply, nil)
	if err != nil {
		return nil, fmt.Errorf("queues: %w", err)
	}
	go s.adopt()
	return s, nil
}

// Close stops following the records and running and taking over move
// tasks; it may be called more than once.
func (s *Service) Close() {
	s.closeOnce.Do(func() {
		close(s.closing)
		<-s.adopted
		s.follow.Stop()
	})
}

// apply folds one change of the bucket into the view.
func (s *Service) apply(e jetstream.KeyValueEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.revs.Applied(e.Revision())
	if id, ok := strings.CutPrefix(e.Key(), taskPrefix); ok {
		if follow.Deleted(e) {
			delete(s.tasks, id)
			return
		}
		var t MoveTask
		if err := json.Unmarshal(e.Value(), &t); err == nil {
			t.rev = e.Revision()
			s.tasks[id] = &t
		}
		return
	}
	name, ok := strings.CutPrefix(e.Key(), queuePrefix)
	if !ok {
		return
	}
	if follow.Deleted(e) {
		delete(s.queues, name)
		return
	}
	var r record
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		s.log.Error("queues: a damaged queue record is skipped", "key", e.Key(), "err", err)
		return
	}
	r.rev = e.Revision()
	s.queues[name] = &r
}

// waitFor returns once the view has applied revision rev, so that a
// caller reads its own writes.
func (s *Service) waitFor(rev uint64) { s.revs.Wait(rev) }

// get returns the record of queue name.
func (s *Service) get(name string) (*record, *Error) {
	s.mu.RLock()
	r := s.queues[name]
	s.mu.RUnlock()
	if r == nil {
		return nil, noQueue()
	}
	return r, nil
}

var validName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

// Create makes queue name in region with attrs and tags, as CreateQueue:
// asking again with the same attributes returns the queue, with others
// fails with QueueNameExists.
func (s *Service) Create(ctx context.Context, name, region string, attrs, tags map[string]string) (*Queue, error) {
	fifo := attrs[AttrFifo] == "true"
	base, isFifoName := strings.CutSuffix(name, ".fifo")
	if fifo != isFifoName || !validName.MatchString(base) || len(name) > 80 {
		if fifo || isFifoName {
			return nil, invalid(InvalidParameterValue, "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.")
		}
		return nil, invalid(InvalidParameterValue, "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length")
	}
	if err := checkAttributes(attrs, true, fifo); err != nil {
		return nil, err
	}
	if err := checkTags(tags); err != nil {
		return nil, err
	}
	want := defaults()
	if fifo {
		want[AttrFifo] = "true"
		want[AttrContentDedup] = "false"
		want[AttrDedupScope] = "queue"
		want[AttrThroughput] = "perQueue"
	}
	for k, v := range attrs {
		if k != AttrFifo || fifo {
			want[k] = v
		}
	}
	if want[AttrThroughput] == "perMessageGroupId" && want[AttrDedupScope] != "messageGroup" {
		return nil, invalid(InvalidAttributeValue, "Invalid value for the parameter FifoThroughputLimit. Reason: perMessageGroupId requires DeduplicationScope messageGroup.")
	}
	if err := s.checkRedrive(name, want[AttrRedrive], fifo); err != nil {
		return nil, err
	}
	if r, _ := s.get(name); r != nil {
		return r.public(), sameAttributes(r, want)
	}
	now := time.Now().Unix()
	r := &record{Name: name, ID: strings.ReplaceAll(ids.New(), "-", "")[:20], Region: region, Created: now, Modified: now, Attrs: want, Tags: tags}
	if err := s.createStream(ctx, r); err != nil {
		return nil, err
	}
	doc, _ := json.Marshal(r)
	rev, err := s.kv.Create(ctx, queuePrefix+name, doc)
	if errors.Is(err, jetstream.ErrKeyExists) {
		// Another node made it first: ours goes.
		s.js.DeleteStream(ctx, r.stream())
		e, gerr := s.kv.Get(ctx, queuePrefix+name)
		if gerr != nil {
			return nil, fmt.Errorf("queues: read %s: %w", name, gerr)
		}
		s.waitFor(e.Revision())
		theirs, qerr := s.get(name)
		if qerr != nil {
			return nil, qerr
		}
		return theirs.public(), sameAttributes(theirs, want)
	}
	if err != nil {
		s.js.DeleteStream(ctx, r.stream())
		return nil, fmt.Errorf("queues: record %s: %w", name, err)
	}
	s.waitFor(rev)
	return r.public(), nil
}

// sameAttributes fails with QueueNameExists unless queue r has the
// attributes want.
func sameAttributes(r *record, want map[string]string) error {
	for k, v := range want {
		if r.Attrs[k] != v {
			return invalid(QueueNameExists, "A queue already exists with the same name and a different value for attribute %s", k)
		}
	}
	return nil
}

// createStream makes queue r's stream and consumer.
func (s *Service) createStream(ctx context.Context, r *record) error {
	if _, err := s.js.CreateOrUpdateStream(ctx, streamConfig(r)); err != nil {
		return fmt.Errorf("queues: stream for %s: %w", r.Name, err)
	}
	if r.fifo() {
		return nil // read without a consumer (fifo.go)
	}
	if _, err := s.js.CreateOrUpdateConsumer(ctx, r.stream(), consumerConfig(r)); err != nil {
		s.js.DeleteStream(ctx, r.stream())
		return fmt.Errorf("queues: consumer for %s: %w", r.Name, err)
	}
	return nil
}

func streamConfig(r *record) jetstream.StreamConfig {
	retention := r.duration(AttrRetention)
	if r.fifo() {
		// Messages leave by deletion; their order and dedup are the
		// stream's.
		return jetstream.StreamConfig{
			Name:              r.stream(),
			Subjects:          []string{"sqs." + r.ID + ".>"},
			Retention:         jetstream.LimitsPolicy,
			Storage:           jetstream.FileStorage,
			MaxAge:            retention,
			Duplicates:        min(5*time.Minute, retention),
			AllowMsgSchedules: true,
			AllowDirect:       true,
		}
	}
	return jetstream.StreamConfig{
		Name:              r.stream(),
		Subjects:          []string{"sqs." + r.ID + ".>"},
		Retention:         jetstream.WorkQueuePolicy,
		Storage:           jetstream.FileStorage,
		MaxAge:            retention,
		Duplicates:        min(5*time.Minute, retention),
		AllowMsgSchedules: true,
	}
}

func consumerConfig(r *record) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       consumer,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait(r.seconds(AttrVisibility)),
		MaxDeliver:    -1,
		MaxAckPending: maxInFlight,
		MaxWaiting:    maxWaiting,
		FilterSubject: r.subject(),
	}
}

// ackWait is the consumer's ack wait for a visibility timeout of secs:
// JetStream's must be positive, so a timeout of 0 is kept by hiding each
// received message again at once (see Receive).
func ackWait(secs int) time.Duration {
	return time.Duration(max(secs, 1)) * time.Second
}

// checkRedrive checks that a RedrivePolicy names an existing queue other
// than the one it is set on, that allows it.
func (s *Service) checkRedrive(name, v string, fifo bool) *Error {
	if v == "" {
		return nil
	}
	p, err := parseRedrive(v)
	if err != nil {
		return err
	}
	target := arnName(p.DeadLetterTargetArn)
	dlq, _ := s.get(target)
	if dlq == nil || target == name {
		return invalid(InvalidParameterValue, "Value %s for parameter RedrivePolicy is invalid. Reason: Dead letter target does not exist.", v)
	}
	if dlq.fifo() != fifo {
		return invalid(InvalidParameterValue, "Value %s for parameter RedrivePolicy is invalid. Reason: Dead-letter queue must be of the same type as the source queue (FIFO or standard).", v)
	}
	if a := dlq.Attrs[AttrRedriveAllow]; a != "" {
		allow, _ := parseRedriveAllow(a)
		src := "arn:aws:sqs:" + dlq.Region + ":" + Account + ":" + name
		if allow != nil && (allow.Permission == "denyAll" || allow.Permission == "byQueue" && !slices.Contains(allow.SourceQueues, src)) {
			return invalid(InvalidParameterValue, "Value %s for parameter RedrivePolicy is invalid. Reason: Queue %s does not allow this queue to use it as a dead-letter queue.", v, dlq.ARN())
		}
	}
	return nil
}

// arnName returns the queue name of a queue ARN (its last part).
func arnName(arn string) string {
	return arn[strings.LastIndexByte(arn, ':')+1:]
}

// Get returns queue name.
func (s *Service) Get(name string) (*Queue, error) {
	r, err := s.get(name)
	if err != nil {
		return nil, err
	}
	return r.public(), nil
}

// Policy returns the Policy attribute of the queue with ARN arn ("" for
// none, or no such queue).
func (s *Service) Policy(arn string) string {
	r, err := s.get(arnName(arn))
	if err != nil || r.ARN() != arn {
		return ""
	}
	return r.Attrs[AttrPolicy]
}

// List returns the queues whose names start with prefix, by name.
func (s *Service) List(prefix string) []*Queue {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*Queue
	for name, r := range s.queues {
		if strings.HasPrefix(name, prefix) {
			out = append(out, r.public())
		}
	}
	slices.SortFunc(out, func(a, b *Queue) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// DeadLetterSources returns the queues whose RedrivePolicy names queue
// name, by name.
func (s *Service) DeadLetterSources(name string) ([]*Queue, error) {
	dlq, err := s.get(name)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*Queue
	for _, r := range s.queues {
		if p, _ := parseRedrive(r.Attrs[AttrRedrive]); p != nil && p.DeadLetterTargetArn == dlq.ARN() {
			out = append(out, r.public())
		}
	}
	slices.SortFunc(out, func(a, b *Queue) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// Delete removes queue name and its messages.
func (s *Service) Delete(ctx context.Context, name string) error {
	r, qerr := s.get(name)
	if qerr != nil {
		return qerr
	}
	if err := s.kv.Delete(ctx, queuePrefix+name, jetstream.LastRevision(r.rev)); err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return noQueue()
		}
		return fmt.Errorf("queues: delete %s: %w", name, err)
	}
	if err := s.js.DeleteStream(ctx, r.stream()); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("queues: delete the messages of %s: %w", name, err)
	}
	if r.fifo() {
		s.purgeFifo(ctx, r)
	}
	// The watch drops the record within milliseconds; wait for it, so
	// that the caller reads its own write.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if q, _ := s.get(name); q == nil || q.ID != r.ID {
			break
		}
	}
	return nil
}

// update changes queue name's record with fn and stores it, retrying
// when another writer got there first.
func (s *Service) update(ctx context.Context, name string, fn func(*record) *Error) (*record, error) {
	// Each round that loses to another change sees that change: one of
	// any number of concurrent changes wins each round, so they all end,
	// however many there are (a client's retries after an election pile
	// up a few dozen).
	for ctx.Err() == nil {
		r, qerr := s.get(name)
		if qerr != nil {
			return nil, qerr
		}
		c := *r
		c.Attrs, c.Tags = maps.Clone(r.Attrs), maps.Clone(r.Tags)
		if err := fn(&c); err != nil {
			return nil, err
		}
		doc, _ := json.Marshal(&c)
		rev, err := s.kv.Update(ctx, queuePrefix+name, doc, r.rev)
		if err == nil {
			s.waitFor(rev)
			return &c, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, fmt.Errorf("queues: update %s: %w", name, err)
		}
		e, gerr := s.kv.Get(ctx, queuePrefix+name)
		if gerr != nil {
			return nil, noQueue()
		}
		s.waitFor(e.Revision())
	}
	return nil, fmt.Errorf("queues: update %s: %w", name, ctx.Err())
}

// SetAttributes changes queue name's attributes.
func (s *Service) SetAttributes(ctx context.Context, name string, attrs map[string]string) error {
	cur, qerr := s.get(name)
	if qerr != nil {
		return qerr
	}
	if err := checkAttributes(attrs, false, cur.fifo()); err != nil {
		return err
	}
	if err := s.checkRedrive(name, attrs[AttrRedrive], cur.fifo()); err != nil {
		return err
	}
	r, err := s.update(ctx, name, func(r *record) *Error {
		for k, v := range attrs {
			if v == "" && (k == AttrPolicy || k == AttrRedrive || k == AttrRedriveAllow) {
				delete(r.Attrs, k)
				continue
			}
			r.Attrs[k] = v
		}
		r.Modified = time.Now().Unix()
		return nil
	})
	if err != nil {
		return err
	}
	if _, ok := attrs[AttrRetention]; ok {
		if _, err := s.js.UpdateStream(ctx, streamConfig(r)); err != nil {
			return fmt.Errorf("queues: retention of %s: %w", name, err)
		}
	}
	if _, ok := attrs[AttrVisibility]; ok && !r.fifo() {
		if _, err := s.js.UpdateConsumer(ctx, r.stream(), consumerConfig(r)); err != nil {
			return fmt.Errorf("queues: visibility timeout of %s: %w", name, err)
		}
	}
	return nil
}

// Attributes returns queue name's attributes named in names ("All" for
// every one).
func (s *Service) Attributes(ctx context.Context, name string, names []string) (map[string]string, error) {
	r, qerr := s.get(name)
	if qerr != nil {
		return nil, qerr
	}
	all := slices.Contains(names, "All")
	want := func(a string) bool { return all || slices.Contains(names, a) }
	for _, n := range names {
		if n != "All" && !slices.Contains(settable, n) && !slices.Contains(readOnly, n) && !slices.Contains(fifoSettable, n) {
			return nil, invalid(InvalidAttributeName, "Unknown Attribute %s.", n)
		}
	}
	out := map[string]string{}
	for _, a := range append(settable, fifoSettable...) {
		if v, ok := r.Attrs[a]; ok && want(a) {
			out[a] = v
		}
	}
	if want(AttrArn) {
		out[AttrArn] = r.ARN()
	}
	if want(AttrCreated) {
		out[AttrCreated] = strconv.FormatInt(r.Created, 10)
	}
	if want(AttrModified) {
		out[AttrModified] = strconv.FormatInt(r.Modified, 10)
	}
	if want(AttrVisible) || want(AttrNotVisible) || want(AttrDelayed) {
		c, err := s.Counts(ctx, name)
		if err != nil {
			return nil, err
		}
		for k, v := range map[string]int64{AttrVisible: c.Visible, AttrNotVisible: c.InFlight, AttrDelayed: c.Delayed} {
			if want(k) {
				out[k] = strconv.FormatInt(v, 10)
			}
		}
	}
	return out, nil
}

// Counts are a queue's approximate message counts.
type Counts struct {
	Visible  int64 // waiting to be received
	InFlight int64 // received and neither deleted nor visible again
	Delayed  int64 // not yet visible: their delay has not ended
}

// Counts returns queue name's approximate counts.
func (s *Service) Counts(ctx context.Context, name string) (Counts, error) {
	r, qerr := s.get(name)
	if qerr != nil {
		return Counts{}, qerr
	}
	if r.fifo() {
		return s.countsFifo(ctx, r)
	}
	st, err := s.js.Stream(ctx, r.stream())
	if err != nil {
		return Counts{}, fmt.Errorf("queues: counts of %s: %w", name, store.Unavailable(err))
	}
	si, err := st.Info(ctx)
	if err != nil {
		return Counts{}, fmt.Errorf("queues: counts of %s: %w", name, store.Unavailable(err))
	}
	c, err := st.Consumer(ctx, consumer)
	if err != nil {
		return Counts{}, fmt.Errorf("queues: counts of %s: %w", name, store.Unavailable(err))
	}
	ci, err := c.Info(ctx)
	if err != nil {
		return Counts{}, fmt.Errorf("queues: counts of %s: %w", name, store.Unavailable(err))
	}
	out := Counts{Visible: int64(ci.NumPending), InFlight: int64(ci.NumAckPending)}
	// The stream holds what waits, what is in flight, and the schedules
	// of delayed messages.
	out.Delayed = max(int64(si.State.Msgs)-out.Visible-out.InFlight, 0)
	return out, nil
}

// Tag adds or replaces tags on queue name.
func (s *Service) Tag(ctx context.Context, name string, tags map[string]string) error {
	if err := checkTags(tags); err != nil {
		return err
	}
	_, err := s.update(ctx, name, func(r *record) *Error {
		if r.Tags == nil {
			r.Tags = map[string]string{}
		}
		maps.Copy(r.Tags, tags)
		if len(r.Tags) > 50 {
			return invalid(InvalidParameterValue, "Too many tags: a queue has at most 50.")
		}
		return nil
	})
	return err
}

// Untag removes tags from queue name.
func (s *Service) Untag(ctx context.Context, name string, keys []string) error {
	_, err := s.update(ctx, name, func(r *record) *Error {
		for _, k := range keys {
			delete(r.Tags, k)
		}
		return nil
	})
	return err
}

func checkTags(tags map[string]string) *Error {
	if len(tags) > 50 {
		return invalid(InvalidParameterValue, "Too many tags: a queue has at most 50.")
	}
	for k, v := range tags {
		if k == "" || len(k) > 128 || len(v) > 256 {
			return invalid(InvalidParameterValue, "Tag keys are 1 to 128 characters and values at most 256.")
		}
	}
	return nil
}

// Purge deletes every message of queue name, at most once a minute.
func (s *Service) Purge(ctx context.Context, name string) error {
	r, err := s.update(ctx, name, func(r *record) *Error {
		now := time.Now().UnixMilli()
		if r.Purged > 0 && now-r.Purged < purgeEvery.Milliseconds() {
			return &Error{Kind: fault.Denied, Code: PurgeQueueInProgress,
				Message: "Only one PurgeQueue operation on " + r.Name + " is allowed every 60 seconds."}
		}
		r.Purged = now
		return nil
	})
	if err != nil {
		return err
	}
	st, err := s.js.Stream(ctx, r.stream())
	if err == nil {
		err = st.Purge(ctx)
	}
	if err != nil {
		return fmt.Errorf("queues: purge %s: %w", name, store.Unavailable(err))
	}
	if r.fifo() {
		s.purgeFifo(ctx, r)
	}
	return nil
}
