// Package store runs Aloft's backbone: an embedded NATS server with JetStream
// whose files live under the data dir, or a connection to an external NATS
// cluster. It hands out the JetStream handle that every durable component
// (registry, code blobs, logs, usage) builds its buckets and streams on.
//
// The embedded server may also be one node of a cluster of Aloft nodes
// (Options.Cluster, cluster.go): the nodes connect to each other with a
// shared secret and form one JetStream cluster, whose streams the store
// raises to three replicas once three nodes are in it (replicas.go), and
// whose state it reports (status.go).
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Options configures Open. The zero value with Dir set runs an embedded server.
type Options struct {
	Dir      string // data directory; JetStream files go to Dir/jetstream
	URL      string // external NATS URL; when set no server is embedded
	MaxStore int64  // JetStream file storage limit in bytes (0: 64 GiB)
	MaxMem   int64  // JetStream memory storage limit in bytes (0: 256 MiB)
	// SyncInterval is how often the embedded JetStream flushes its files
	// to disk (fsync). Zero flushes every write before it is
	// acknowledged, so an acknowledged write survives power loss; a
	// positive interval may lose up to that much of acknowledged writes
	// to a power loss or kernel crash (a killed process loses nothing:
	// writes reach the kernel before they are acknowledged). An external
	// cluster (URL) keeps its own setting.
	SyncInterval time.Duration
	// Cluster, when set, makes the embedded server one node of a cluster
	// (see ClusterOptions); it cannot go with URL.
	Cluster *ClusterOptions
	// Logger receives what a clustered store has to say: where a new
	// secret was written, waiting for the other nodes, streams
	// replicated, and the backbone's warnings. Nil logs nothing.
	Logger *slog.Logger
}

// Store is an open backbone.
type Store struct {
	srv *server.Server // nil when connected to an external cluster
	nc  *nats.Conn
	js  jetstream.JetStream
	log *slog.Logger
	// Of a clustered store (cluster != nil): the replicas streams get,
	// the reconciler's stop and end, its logged failures, and the
	// cached status.
	cluster *clusterState
	target  atomic.Int32
	// size is seenPeers and peersSince, for newReplicas.
	size       atomic.Pointer[clusterSize]
	stop       chan struct{}
	reconciled chan struct{}
	warned     map[string]bool
	seenPeers  int       // the cluster's size when the reconciler last looked
	peersSince time.Time // since when it has been that size
	status     statusCache
}

// asyncPublishTimeout bounds the wait for the answer to an asynchronous
// publish (the queues' sends, the topics' deliveries, logs and traces).
// The backbone never answers a publish to a stream with no leader: that
// of a node cut off from the majority of its cluster, or of a group
// electing a leader. Without a bound, the caller (an SQS SendMessage,
// say) would wait for as long as its own client did; with it, the
// publish fails after as long as a write the handle tries again
// (writeAttempt × writeTries), and the caller answers with an error.
const asyncPublishTimeout = writeAttempt * writeTries

// Open starts the embedded server (or dials the external one) and returns a
// ready Store. A node of a cluster is ready once the cluster's JetStream
// has a leader, which takes a majority of the nodes it started with: Open
// waits for them, as long as ctx allows. On failure nothing is left
// running.
func Open(ctx context.Context, o Options) (*Store, error) {
	s := &Store{log: o.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	var connOpts []nats.Option
	url := o.URL
	if url != "" && o.Cluster != nil {
		return nil, errors.New("store: an external NATS cluster (--nats-url) forms its own cluster: it cannot go with the cluster options")
	}
	if url == "" {
		if o.MaxStore == 0 {
			o.MaxStore = 64 << 30
		}
		if o.MaxMem == 0 {
			o.MaxMem = 256 << 20
		}
		var secret string
		if o.Cluster != nil {
			quickenElections()
			var created string
			var err error
			if secret, created, err = clusterSecret(o.Dir, o.Cluster); err != nil {
				return nil, err
			}
			if created != "" {
				s.log.Warn("created the cluster's secret: every other node needs a copy of this file, named with --cluster-secret-file", "file", created)
			}
		}
		opts, err := serverOptions(o, secret)
		if err != nil {
			return nil, err
		}
		if o.Cluster != nil {
			// The server would only say it is not ready.
			ln, err := net.Listen("tcp", o.Cluster.Listen)
			if err != nil {
				return nil, fmt.Errorf("store: --cluster-listen: %w", err)
			}
			ln.Close()
		}
		srv, err := server.NewServer(opts)
		if err != nil {
			return nil, fmt.Errorf("store: configure embedded nats: %w", err)
		}
		if o.Cluster != nil {
			srv.SetLogger(newNATSLog(s.log), false, false)
			s.cluster = &clusterState{name: opts.Cluster.Name, node: opts.ServerName}
		}
		srv.Start()
		if !srv.ReadyForConnections(30 * time.Second) {
			srv.Shutdown()
			return nil, errors.New("store: embedded nats did not become ready")
		}
		s.srv = srv
		connOpts = append(connOpts, nats.InProcessServer(srv))
		if opts.Authorization != "" {
			connOpts = append(connOpts, nats.Token(opts.Authorization))
		}
	}
	connOpts = append(connOpts, nats.Name("aloft"), nats.MaxReconnects(-1))
	nc, err := nats.Connect(url, connOpts...)
	if err != nil {
		s.shutdownServer()
		return nil, fmt.Errorf("store: connect: %w", err)
	}
	s.nc = nc
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(asyncPublishTimeout))
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("store: jetstream: %w", err)
	}
	if s.cluster != nil {
		err = s.waitForCluster(ctx, js, o.Cluster)
	} else {
		_, err = js.AccountInfo(ctx)
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("store: jetstream unavailable: %w", err)
	}
	s.js = js
	if s.cluster != nil {
		s.js = handle{JetStream: js, s: s}
		peers, _ := s.onlinePeers()
		s.target.Store(int32(TargetReplicas(peers)))
		s.stop, s.reconciled, s.warned = make(chan struct{}), make(chan struct{}), map[string]bool{}
		go s.runReconciler()
	}
	return s, nil
}

// waitForCluster waits until the cluster's JetStream answers, which it
// does once its meta group has a leader, saying every ten seconds what it
// waits for.
func (s *Store) waitForCluster(ctx context.Context, js jetstream.JetStream, c *ClusterOptions) error {
	start := time.Now()
	said := start
	for {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := js.AccountInfo(actx)
		cancel()
		if err == nil {
			s.log.Info("joined the cluster", "cluster", s.cluster.name, "node", s.cluster.node, "connected_nodes", s.connectedNodes(), "after", time.Since(start).Round(time.Millisecond).String())
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("waiting for the cluster's other nodes (%d connected): %w", len(s.connectedNodes()), ctx.Err())
		}
		if time.Since(said) >= 10*time.Second {
			said = time.Now()
			s.log.Warn("waiting for the cluster: its JetStream has no leader until a majority of its nodes are connected; check that they run, that --peers reach them and that they share the secret",
				"cluster", s.cluster.name, "node", s.cluster.node, "peers", c.Peers, "connected_nodes", s.connectedNodes(), "waited", time.Since(start).Round(time.Second).String())
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// connectedNodes names the nodes this one has routes to (several
// connections each).
func (s *Store) connectedNodes() []string {
	srv := s.srv
	if srv == nil {
		return nil
	}
	rz, err := srv.Routez(nil)
	if err != nil {
		return nil
	}
	var names []string
	for _, r := range rz.Routes {
		if r != nil && !slices.Contains(names, r.RemoteName) {
			names = append(names, r.RemoteName)
		}
	}
	slices.Sort(names)
	return names
}

// JetStream returns the JetStream handle. On a clustered store, what it
// updates keeps the replicas the reconciler gave it (see
// ReplicaUpdates).
func (s *Store) JetStream() jetstream.JetStream { return s.js }

// Conn returns the underlying NATS connection.
func (s *Store) Conn() *nats.Conn { return s.nc }

// Close drains the connection and stops the embedded server. It is safe to
// call more than once.
func (s *Store) Close() error {
	if s.stop != nil {
		select {
		case <-s.stop:
		default:
			close(s.stop)
			<-s.reconciled
		}
	}
	if s.nc != nil && !s.nc.IsClosed() {
		_ = s.nc.Drain()
		for i := 0; i < 200 && !s.nc.IsClosed(); i++ {
			time.Sleep(10 * time.Millisecond)
		}
		s.nc.Close()
	}
	s.shutdownServer()
	return nil
}

// serverStopWait bounds the wait for the embedded server to stop.
const serverStopWait = 10 * time.Second

// shutdownServer stops the embedded server, waiting at most
// serverStopWait. A clustered server's shutdown has been seen to wait
// forever on a stream's raft group; nothing is lost by not waiting, since
// every write it acknowledged is on disk already (see SyncInterval).
func (s *Store) shutdownServer() {
	if s.srv == nil {
		return
	}
	srv := s.srv
	s.srv = nil
	done := make(chan struct{})
	go func() {
		srv.Shutdown()
		srv.WaitForShutdown()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(serverStopWait):
		s.log.Warn("the backbone did not stop in time; leaving it to end with the process (what it acknowledged is on disk)", "waited", serverStopWait.String())
	}
}
