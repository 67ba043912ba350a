package store

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// On a cluster, a write can go unanswered for reasons that pass at once:
// a stream whose replicas the reconciler raises moves to a new group, and
// a write in flight at that moment is dropped without an answer (the
// writer would wait out its whole timeout, five seconds by default, and
// fail), while the next write succeeds; when the node that leads a
// stream's group dies, the others elect a new leader within 4 to 9
// seconds; and after a node restarts, a stream's group answers nothing
// until it has elected a leader. So the
// handle a clustered store gives out (and the buckets it opens) tries an
// unanswered write again: writes (publishes and bucket changes) each
// within writeAttempt, for writeTries attempts' time; changes to streams
// and buckets (which starting packages make) each within adminAttempt,
// for adminTries attempts' time; all within what the caller's context
// allows. A
// write refused (a wrong revision, a full stream) is not tried again, nor
// is one whose caller gave up.
//
// A write tried again may have been stored the first time without an
// answer: a publish with a message id is then dropped as a duplicate; a
// bucket's Put stores the same value twice; a Create or an Update with a
// revision is refused, as it would have failed without the retry.

// writeAttempt bounds one attempt of a write: answered writes take
// milliseconds.
const writeAttempt = 2 * time.Second

// writeTries is how many attempts' time a write is tried for: together
// (10 s), longer than a stream's group takes to elect a new leader when
// its leader's node dies (4 to 9 seconds).
const writeTries = 5

// adminAttempt bounds one attempt to create or update a stream or a
// bucket: short, since a request sent while there is no leader is never
// answered, and the next is once a leader is elected; doing it again is
// harmless (a stream created already with the same settings is no
// error).
const adminAttempt = 2 * time.Second

// adminTries is how many attempts' time a change to a stream or bucket
// is tried for: together, long enough for the groups of a cluster restarted
// at once to elect their leaders.
const adminTries = 10

// Unanswered reports whether err means a request to the backbone was not
// answered, or answered that the cluster cannot handle it for the moment
// (it has no leader), as opposed to refused: the same request may
// succeed once the cluster has elected a leader.
func Unanswered(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) {
		return true
	}
	var api *jetstream.APIError
	return errors.As(err, &api) && (api.ErrorCode == clusterNotAvailable || api.ErrorCode == clusterNotLeader)
}

// The backbone's answers that its cluster cannot handle a request now:
// "JetStream system temporarily unavailable" and "JetStream cluster can
// not handle request".
const (
	clusterNotAvailable jetstream.ErrorCode = 10008
	clusterNotLeader    jetstream.ErrorCode = 10009
)

// retry runs f until it succeeds, for up to tries attempts' time (each
// attempt within attempt and ctx), while it fails unanswered, ctx is live
// and this node reaches a majority of its cluster: a node that does not
// (the survivor of two nodes lost, or the last to stop) fails at once
// what cannot succeed. An attempt can fail at once rather than time out
// (a stream whose leader died has no responders until another is
// elected), so the next one waits a little, doubling up to a second. A
// failure still unanswered when it gives up, with ctx live, is wrapped
// in ErrUnavailable; one whose caller gave up, or a refusal, is returned
// as it is.
func retry[T any](ctx context.Context, s *Store, attempt time.Duration, tries int, f func(context.Context) (T, error)) (T, error) {
	giveUp := time.Now().Add(time.Duration(tries) * attempt)
	pause := 50 * time.Millisecond
	for {
		actx, cancel := context.WithTimeout(ctx, attempt)
		v, err := f(actx)
		cancel()
		switch {
		case err == nil || ctx.Err() != nil || !Unanswered(err):
			return v, err
		case !time.Now().Before(giveUp) || !s.reachMajority():
			return v, Unavailable(err)
		}
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(min(pause, time.Until(giveUp))):
		}
		pause = min(2*pause, time.Second)
	}
}

// Publish publishes a message, trying again if it goes unanswered.
func (h handle) Publish(ctx context.Context, subj string, data []byte, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	return retry(ctx, h.s, writeAttempt, writeTries, func(ctx context.Context) (*jetstream.PubAck, error) {
		return h.JetStream.Publish(ctx, subj, data, opts...)
	})
}

// PublishMsg publishes a message, trying again if it goes unanswered.
func (h handle) PublishMsg(ctx context.Context, m *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	return retry(ctx, h.s, writeAttempt, writeTries, func(ctx context.Context) (*jetstream.PubAck, error) {
		return h.JetStream.PublishMsg(ctx, m, opts...)
	})
}

// CreateConsumer creates a consumer, trying again while its stream
// elects a leader (a stream made moments before may have none yet).
func (h handle) CreateConsumer(ctx context.Context, stream string, cfg jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	return retry(ctx, h.s, adminAttempt, adminTries, func(ctx context.Context) (jetstream.Consumer, error) {
		return h.JetStream.CreateConsumer(ctx, stream, cfg)
	})
}

// CreateOrUpdateConsumer creates or updates a consumer, trying again
// while its stream elects a leader.
func (h handle) CreateOrUpdateConsumer(ctx context.Context, stream string, cfg jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	return retry(ctx, h.s, adminAttempt, adminTries, func(ctx context.Context) (jetstream.Consumer, error) {
		return h.JetStream.CreateOrUpdateConsumer(ctx, stream, cfg)
	})
}

// UpdateConsumer updates a consumer, trying again while its stream
// elects a leader.
func (h handle) UpdateConsumer(ctx context.Context, stream string, cfg jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	return retry(ctx, h.s, adminAttempt, adminTries, func(ctx context.Context) (jetstream.Consumer, error) {
		return h.JetStream.UpdateConsumer(ctx, stream, cfg)
	})
}

// KeyValue opens a bucket whose writes are tried again if unanswered.
func (h handle) KeyValue(ctx context.Context, bucket string) (jetstream.KeyValue, error) {
	kv, err := h.JetStream.KeyValue(ctx, bucket)
	return h.wrapKV(kv, err)
}

func (h handle) wrapKV(kv jetstream.KeyValue, err error) (jetstream.KeyValue, error) {
	if err != nil {
		return nil, err
	}
	return retryKV{KeyValue: kv, s: h.s}, nil
}

// retryKV is a bucket whose writes are tried again if unanswered.
type retryKV struct {
	jetstream.KeyValue
	s *Store
}

func (kv retryKV) Put(ctx context.Context, key string, value []byte) (uint64, error) {
	return retry(ctx, kv.s, writeAttempt, writeTries, func(ctx context.Context) (uint64, error) {
		return kv.KeyValue.Put(ctx, key, value)
	})
}

func (kv retryKV) PutString(ctx context.Context, key string, value string) (uint64, error) {
	return kv.Put(ctx, key, []byte(value))
}

func (kv retryKV) Create(ctx context.Context, key string, value []byte, opts ...jetstream.KVCreateOpt) (uint64, error) {
	return retry(ctx, kv.s, writeAttempt, writeTries, func(ctx context.Context) (uint64, error) {
		return kv.KeyValue.Create(ctx, key, value, opts...)
	})
}

func (kv retryKV) Update(ctx context.Context, key string, value []byte, revision uint64) (uint64, error) {
	return retry(ctx, kv.s, writeAttempt, writeTries, func(ctx context.Context) (uint64, error) {
		return kv.KeyValue.Update(ctx, key, value, revision)
	})
}

func (kv retryKV) Delete(ctx context.Context, key string, opts ...jetstream.KVDeleteOpt) error {
	_, err := retry(ctx, kv.s, writeAttempt, writeTries, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, kv.KeyValue.Delete(ctx, key, opts...)
	})
	return err
}

func (kv retryKV) Purge(ctx context.Context, key string, opts ...jetstream.KVDeleteOpt) error {
	_, err := retry(ctx, kv.s, writeAttempt, writeTries, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, kv.KeyValue.Purge(ctx, key, opts...)
	})
	return err
}

var _ jetstream.KeyValue = retryKV{}
