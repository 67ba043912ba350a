package store

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Replication follows the cluster's size. The platform's packages create
// their streams, key-value buckets (streams KV_*) and object stores
// (streams OBJ_*) with the default of one replica; on a cluster of three
// nodes or more, the store raises every stream to three replicas, so that
// losing one node loses nothing and leaves a quorum of two. A cluster of
// two keeps one replica: two replicas need both nodes for a quorum, so
// they would stop writes on the loss of either node rather than survive
// it.
//
// Two parts do this. The reconciler, on the node that leads the
// JetStream meta group, compares every stream's replicas with the
// cluster's size every ReconcileInterval and whenever a stream is
// created, and updates those below it. And the handle the store hands
// out (JetStream) updates streams, buckets and object stores with never
// fewer replicas than they have, so that a node starting up, whose
// packages create their buckets again with the default, does not scale
// them back down, and that creates a new stream with three replicas
// outright once the cluster has kept its size for Settle (newReplicas).

// ReconcileInterval is how often the reconciler checks the streams'
// replicas besides when a stream is created.
const ReconcileInterval = 10 * time.Second

// MaxReplicas is the most replicas the reconciler gives a stream.
const MaxReplicas = 3

// TargetReplicas is the replicas a stream should have on a cluster of
// peers nodes: MaxReplicas from three nodes on, else one.
func TargetReplicas(peers int) int {
	if peers < MaxReplicas {
		return 1
	}
	return min(MaxReplicas, peers)
}

// ReplicaUpdates returns, for a cluster of peers nodes, the streams of
// configs whose replicas are below TargetReplicas, with Replicas raised to
// it; the others are left out. Below three nodes it returns none.
func ReplicaUpdates(peers int, configs []jetstream.StreamConfig) []jetstream.StreamConfig {
	want := TargetReplicas(peers)
	if want <= 1 {
		return nil
	}
	var out []jetstream.StreamConfig
	for _, c := range configs {
		// A stream written in the asynchronous persist mode (the logs of
		// a node that ran alone before) cannot be replicated; it stays.
		if max(c.Replicas, 1) < want && c.PersistMode != jetstream.AsyncPersistMode {
			c.Replicas = want
			out = append(out, c)
		}
	}
	return out
}

// reconcile raises the replicas of the streams below the cluster's size.
// Only the meta leader changes streams, so that each change is made and
// logged once.
func (s *Store) reconcile(ctx context.Context) {
	peers, leader := s.onlinePeers()
	s.target.Store(int32(TargetReplicas(peers)))
	if peers != s.seenPeers {
		s.seenPeers, s.peersSince = peers, time.Now()
	}
	s.size.Store(&clusterSize{peers: peers, since: s.peersSince})
	// A node that has just joined is starting up: its packages are
	// about to create their buckets and streams.
	if !leader || TargetReplicas(peers) <= 1 || time.Since(s.peersSince) < Settle {
		return
	}
	var configs []jetstream.StreamConfig
	list := s.js.ListStreams(ctx)
	for info := range list.Info() {
		configs = append(configs, info.Config)
	}
	if err := list.Err(); err != nil {
		s.warnOnce("list", "could not list streams to check their replicas", "err", err)
		return
	}
	for _, c := range ReplicaUpdates(peers, configs) {
		from := max(c.Replicas, 1)
		for _, orig := range configs {
			if orig.Name == c.Name {
				from = max(orig.Replicas, 1)
			}
		}
		if _, err := s.js.UpdateStream(ctx, c); err != nil {
			s.warnOnce(c.Name, "could not raise a stream's replicas", "stream", c.Name, "replicas", c.Replicas, "err", err)
			continue
		}
		delete(s.warned, c.Name)
		s.log.Info("stream replicated", "stream", c.Name, "from", from, "replicas", c.Replicas, "nodes", peers)
	}
}

// warnOnce logs a failure of the reconciler once until key succeeds.
func (s *Store) warnOnce(key, msg string, args ...any) {
	if s.warned[key] {
		return
	}
	s.warned[key] = true
	s.log.Warn(msg, args...)
}

// onlinePeers counts the nodes of the meta group that are online (this
// one included), and tells whether this node leads it.
func (s *Store) onlinePeers() (peers int, leader bool) {
	jsi, err := s.srv.Jsz(nil)
	if err != nil || jsi.Meta == nil {
		return 1, false
	}
	peers = 1
	for _, p := range jsi.Meta.Replicas {
		if p != nil && !p.Offline {
			peers++
		}
	}
	return peers, s.srv.JetStreamIsLeader()
}

// Quiet is how long no stream may have been created or updated (by any
// node) before the reconciler raises replicas. Raising a stream's
// replicas moves it to a new group, which has no leader for a moment,
// and a request about a stream without a leader is not answered: a node
// starting up, whose packages create their buckets and streams one after
// another, would wait on them until its requests time out.
const Quiet = 5 * time.Second

// Settle is how long the cluster's size must have stayed the same
// before the reconciler raises replicas: the time a node that joined
// takes to start up (see Quiet).
const Settle = 20 * time.Second

// runReconciler reconciles every ReconcileInterval and when a stream is
// created, once the streams have been left alone for Quiet, until the
// store closes.
func (s *Store) runReconciler() {
	defer close(s.reconciled)
	kick := make(chan struct{}, 1)
	var busy atomic.Bool        // the reconciler's own updates are no one else's
	var lastChange atomic.Int64 // unix nanoseconds of the last create or update seen
	lastChange.Store(time.Now().UnixNano())
	watch := func(*nats.Msg) {
		if !busy.Load() {
			lastChange.Store(time.Now().UnixNano())
			select {
			case kick <- struct{}{}:
			default:
			}
		}
	}
	for _, subj := range []string{"$JS.API.STREAM.CREATE.*", "$JS.API.STREAM.UPDATE.*"} {
		sub, err := s.nc.Subscribe(subj, watch)
		if err != nil {
			s.log.Warn("could not watch for changes to streams; their replicas are checked every interval", "err", err)
			continue
		}
		defer sub.Unsubscribe()
	}
	// Close does not wait for a round to time out.
	base, stopRound := context.WithCancel(context.Background())
	defer stopRound()
	go func() {
		<-s.stop
		stopRound()
	}()
	t := time.NewTicker(ReconcileInterval)
	defer t.Stop()
	for {
		if wait := time.Until(time.Unix(0, lastChange.Load()).Add(Quiet)); wait > 0 {
			select {
			case <-s.stop:
				return
			case <-time.After(wait):
			}
			continue
		}
		busy.Store(true)
		ctx, cancel := context.WithTimeout(base, ReconcileInterval)
		s.reconcile(ctx)
		cancel()
		busy.Store(false)
		select {
		case <-s.stop:
			return
		case <-t.C:
		case <-kick:
		}
	}
}

// handle is the JetStream handle of a clustered store: what it creates or
// updates keeps the replicas it has when asked for fewer.
type handle struct {
	jetstream.JetStream
	s *Store
}

// replicas is the replicas to give stream when asked for asked: never
// fewer than it has, and for a new stream, those of newReplicas. A stream
// this node holds a replica of is looked up here, which needs no leader;
// another is asked for, briefly and a few times (a request about a
// stream that has no leader, as while it elects one, is not answered).
// One that does not answer gets what was asked, and the reconciler
// raises it again if that is too few. found tells whether the stream
// exists.
func (h handle) replicas(ctx context.Context, stream string, asked int) (r int, found bool) {
	if r, ok := h.s.localReplicas(stream); ok {
		return max(asked, r), true
	}
	for range lookupTries {
		lctx, cancel := context.WithTimeout(ctx, lookupTimeout)
		st, err := h.JetStream.Stream(lctx, stream)
		cancel()
		switch {
		case err == nil:
			return max(asked, st.CachedInfo().Config.Replicas), true
		case errors.Is(err, jetstream.ErrStreamNotFound):
			return max(asked, h.s.newReplicas()), false
		case ctx.Err() != nil:
			return asked, false
		}
	}
	return asked, false
}

// newReplicas is the replicas a new stream is created with. Once the
// cluster has kept its size of three nodes or more for Settle, as this
// node's reconciler saw it, and still has them online, a stream is
// created with the replicas the reconciler would raise it to: raising a
// stream later leaves a moment, while its new replicas catch up, when
// the death of its one node would stall it until that node came back.
// Before (a cluster starting up, or a node joining one), it is one: the
// nodes create the same buckets at once, and a stream of one replica
// leads at once where one of three needs its members up to elect a
// leader.
func (s *Store) newReplicas() int {
	seen := s.size.Load()
	if seen == nil || TargetReplicas(seen.peers) <= 1 || time.Since(seen.since) < Settle {
		return 1
	}
	if peers, _ := s.onlinePeers(); peers != seen.peers {
		return 1
	}
	return TargetReplicas(seen.peers)
}

// clusterSize is the cluster's size as the reconciler last saw it, and
// since when it has been that.
type clusterSize struct {
	peers int
	since time.Time
}

// create makes stream through do with the replicas handle gives it. A new
// stream the cluster cannot place on as many nodes as the settled
// cluster had (one died moments ago, and the reconciler has not seen it
// yet) is created with what was asked instead.
func create[T any](ctx context.Context, h handle, stream string, asked int, do func(ctx context.Context, replicas int) (T, error)) (T, error) {
	r, found := h.replicas(ctx, stream, asked)
	v, err := retry(ctx, h.s, adminAttempt, adminTries, func(ctx context.Context) (T, error) { return do(ctx, r) })
	if err != nil && !found && r > asked && unplaceable(err) {
		h.s.log.Info("stream created with fewer replicas than the cluster's: too few nodes to place them", "stream", stream, "replicas", asked, "err", err)
		return retry(ctx, h.s, adminAttempt, adminTries, func(ctx context.Context) (T, error) { return do(ctx, asked) })
	}
	return v, err
}

// unplaceable reports whether err is the cluster's refusal to place a
// stream's replicas: too few nodes online.
func unplaceable(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == errNoPeers || apiErr.ErrorCode == errInsufficientResources)
}

// The backbone's error codes for a stream it cannot place.
const (
	errNoPeers               jetstream.ErrorCode = 10005
	errInsufficientResources jetstream.ErrorCode = 10023
)

// localReplicas returns the replicas of stream when this node holds one
// of them.
func (s *Store) localReplicas(stream string) (int, bool) {
	jsi, err := s.srv.Jsz(&server.JSzOptions{Accounts: true, Streams: true, Config: true})
	if err != nil {
		return 0, false
	}
	for _, acc := range jsi.AccountDetails {
		for _, sd := range acc.Streams {
			if sd.Name == stream && sd.Config != nil {
				return sd.Config.Replicas, true
			}
		}
	}
	return 0, false
}

// lookupTries is how many times handle asks for a stream's replicas.
const lookupTries = 8

// lookupTimeout bounds handle's look-up of a stream's replicas.
const lookupTimeout = 250 * time.Millisecond

// CreateStream creates a stream, keeping the replicas of one that exists.
func (h handle) CreateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	return create(ctx, h, cfg.Name, cfg.Replicas, func(ctx context.Context, replicas int) (jetstream.Stream, error) {
		cfg.Replicas = replicas
		return h.JetStream.CreateStream(ctx, cfg)
	})
}

// UpdateStream updates a stream, keeping its replicas.
func (h handle) UpdateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	return create(ctx, h, cfg.Name, cfg.Replicas, func(ctx context.Context, replicas int) (jetstream.Stream, error) {
		cfg.Replicas = replicas
		return h.JetStream.UpdateStream(ctx, cfg)
	})
}

// CreateOrUpdateStream creates or updates a stream, keeping its
// replicas when it has more.
func (h handle) CreateOrUpdateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	return create(ctx, h, cfg.Name, cfg.Replicas, func(ctx context.Context, replicas int) (jetstream.Stream, error) {
		cfg.Replicas = replicas
		return h.JetStream.CreateOrUpdateStream(ctx, cfg)
	})
}

// CreateKeyValue creates a bucket, keeping the replicas of one that exists.
func (h handle) CreateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	return h.wrapKV(create(ctx, h, "KV_"+cfg.Bucket, cfg.Replicas, func(ctx context.Context, replicas int) (jetstream.KeyValue, error) {
		cfg.Replicas = replicas
		return h.JetStream.CreateKeyValue(ctx, cfg)
	}))
}

// UpdateKeyValue updates a bucket, keeping its replicas.
func (h handle) UpdateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	return h.wrapKV(create(ctx, h, "KV_"+cfg.Bucket, cfg.Replicas, func(ctx context.Context, replicas int) (jetstream.KeyValue, error) {
		cfg.Replicas = replicas
		return h.JetStream.UpdateKeyValue(ctx, cfg)
	}))
}

// CreateOrUpdateKeyValue creates or updates a bucket, keeping its
// replicas when it has more.
func (h handle) CreateOrUpdateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	return h.wrapKV(create(ctx, h, "KV_"+cfg.Bucket, cfg.Replicas, func(ctx context.Context, replicas int) (jetstream.KeyValue, error) {
		cfg.Replicas = replicas
		return h.JetStream.CreateOrUpdateKeyValue(ctx, cfg)
	}))
}

// CreateObjectStore creates an object store, keeping the replicas of one
// that exists.
func (h handle) CreateObjectStore(ctx context.Context, cfg jetstream.ObjectStoreConfig) (jetstream.ObjectStore, error) {
	return create(ctx, h, "OBJ_"+cfg.Bucket, cfg.Replicas, func(ctx context.Context, replicas int) (jetstream.ObjectStore, error) {
		cfg.Replicas = replicas
		return h.JetStream.CreateObjectStore(ctx, cfg)
	})
}

// UpdateObjectStore updates an object store, keeping its replicas.
func (h handle) UpdateObjectStore(ctx context.Context, cfg jetstream.ObjectStoreConfig) (jetstream.ObjectStore, error) {
	return create(ctx, h, "OBJ_"+cfg.Bucket, cfg.Replicas, func(ctx context.Context, replicas int) (jetstream.ObjectStore, error) {
		cfg.Replicas = replicas
		return h.JetStream.UpdateObjectStore(ctx, cfg)
	})
}

// CreateOrUpdateObjectStore creates or updates an object store, keeping
// its replicas when it has more.
func (h handle) CreateOrUpdateObjectStore(ctx context.Context, cfg jetstream.ObjectStoreConfig) (jetstream.ObjectStore, error) {
	return create(ctx, h, "OBJ_"+cfg.Bucket, cfg.Replicas, func(ctx context.Context, replicas int) (jetstream.ObjectStore, error) {
		cfg.Replicas = replicas
		return h.JetStream.CreateOrUpdateObjectStore(ctx, cfg)
	})
}

var _ jetstream.JetStream = handle{}
