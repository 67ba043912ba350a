// Package store runs Aloft's backbone: an embedded NATS server with JetStream
// whose files live under the data dir, or a connection to an external NATS
// cluster. It hands out the JetStream handle that every durable component
// (registry, code blobs, logs, usage) builds its buckets and streams on.
package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
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
}

// Store is an open backbone.
type Store struct {
	srv *server.Server // nil when connected to an external cluster
	nc  *nats.Conn
	js  jetstream.JetStream
}

// Open starts the embedded server (or dials the external one) and returns a
// ready Store. On failure nothing is left running.
func Open(ctx context.Context, o Options) (*Store, error) {
	s := &Store{}
	var connOpts []nats.Option
	url := o.URL
	if url == "" {
		if o.MaxStore == 0 {
			o.MaxStore = 64 << 30
		}
		if o.MaxMem == 0 {
			o.MaxMem = 256 << 20
		}
		srv, err := server.NewServer(&server.Options{
			ServerName:         "aloft",
			DontListen:         true,
			NoSigs:             true,
			NoLog:              true,
			JetStream:          true,
			StoreDir:           filepath.Join(o.Dir, "jetstream"),
			JetStreamMaxStore:  o.MaxStore,
			JetStreamMaxMemory: o.MaxMem,
			SyncAlways:         o.SyncInterval <= 0,
			SyncInterval:       max(o.SyncInterval, 0),
			// A queue message is up to 1 MiB of body besides its
			// headers; the default limit is exactly 1 MiB.
			MaxPayload: 8 << 20,
		})
		if err != nil {
			return nil, fmt.Errorf("store: configure embedded nats: %w", err)
		}
		srv.Start()
		if !srv.ReadyForConnections(30 * time.Second) {
			srv.Shutdown()
			return nil, errors.New("store: embedded nats did not become ready")
		}
		s.srv = srv
		connOpts = append(connOpts, nats.InProcessServer(srv))
	}
	connOpts = append(connOpts, nats.Name("aloft"), nats.MaxReconnects(-1))
	nc, err := nats.Connect(url, connOpts...)
	if err != nil {
		s.shutdownServer()
		return nil, fmt.Errorf("store: connect: %w", err)
	}
	s.nc = nc
	js, err := jetstream.New(nc)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("store: jetstream: %w", err)
	}
	if _, err := js.AccountInfo(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: jetstream unavailable: %w", err)
	}
	s.js = js
	return s, nil
}

// JetStream returns the JetStream handle.
func (s *Store) JetStream() jetstream.JetStream { return s.js }

// Conn returns the underlying NATS connection.
func (s *Store) Conn() *nats.Conn { return s.nc }

// Close drains the connection and stops the embedded server. It is safe to
// call more than once.
func (s *Store) Close() error {
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

func (s *Store) shutdownServer() {
	if s.srv != nil {
		s.srv.Shutdown()
		s.srv.WaitForShutdown()
		s.srv = nil
	}
}
