package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/objstore"
)

// uploadLeaseBucket holds, per object store directory, the lease of the
// node that aborts its abandoned multipart uploads.
const uploadLeaseBucket = "aloft_upload_sweep_lease"

// startUploadSweeper starts aborting multipart uploads left in progress
// longer than --abandoned-upload-age (none when it is 0). Nodes sharing
// one object store (a directory, or an external store) take turns by a
// lease on the backbone, so one of them sweeps it at a time; a node with a directory of its own
// holds its own lease.
func (s *Server) startUploadSweeper(ctx context.Context, js jetstream.JetStream, log *slog.Logger) error {
	age := s.cfg.AbandonedUploadAge
	if age <= 0 || s.objects == nil {
		return nil
	}
	interval := min(max(age/24, time.Second), time.Hour)
	lease, err := s.storeLease(ctx, js, uploadLeaseBucket, 3*interval)
	if err != nil {
		return fmt.Errorf("app: upload sweeper: %w", err)
	}
	s.sweeper = objstore.StartUploadSweeper(s.objects, time.Now, objstore.SweepOptions{
		MaxAge:   age,
		Interval: interval,
		Hold:     lease.hold,
		Release:  lease.release,
		Logger:   log.With("component", "s3"),
	})
	return nil
}

// stopUploadSweeper stops the sweeper, giving its lease up.
func (s *Server) stopUploadSweeper() {
	if s.sweeper != nil {
		s.sweeper.Stop()
		s.sweeper = nil
	}
}

// lease is this node's turn at a background job over the object store
// directory it may share with other nodes: a key, named for the store,
// in a backbone KV bucket whose TTL ends the turn of a node that stopped
// renewing it. hold and release are called by the job's one goroutine.
type lease struct {
	kv   jetstream.KeyValue
	key  string
	node []byte
	rev  uint64 // of this node's lease; 0 while it holds none
}

// storeLease opens the lease of the object store's jobs kept in the KV
// bucket named bucket, each turn lasting ttl unless renewed.
func (s *Server) storeLease(ctx context.Context, js jetstream.JetStream, bucket string, ttl time.Duration) (*lease, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket, History: 1,
		TTL: ttl, Storage: jetstream.MemoryStorage})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", bucket, err)
	}
	id, err := s.objectStoreID()
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	return &lease{kv: kv, key: "store-" + id, node: []byte(fmt.Sprintf("%s/%d", host, os.Getpid()))}, nil
}

// hold renews this node's turn, or takes it when no node holds it, and
// reports whether this node holds it now.
func (l *lease) hold(ctx context.Context) bool {
	if l.rev != 0 {
		if r, err := l.kv.Update(ctx, l.key, l.node, l.rev); err == nil {
			l.rev = r
			return true
		}
	}
	r, err := l.kv.Create(ctx, l.key, l.node)
	if err != nil {
		l.rev = 0
		return false
	}
	l.rev = r
	return true
}

// release gives this node's turn up, if it holds it.
func (l *lease) release(ctx context.Context) {
	if l.rev != 0 {
		l.kv.Delete(ctx, l.key, jetstream.LastRevision(l.rev))
		l.rev = 0
	}
}

// objectStoreID names the object store for its jobs' leases: the disk
// store's own id (shared by the nodes sharing its directory), or for an
// external store a digest of its endpoint (shared by the nodes using it).
func (s *Server) objectStoreID() (string, error) {
	if s.disk != nil {
		return s.disk.StoreID()
	}
	sum := sha256.Sum256([]byte(s.cfg.ObjectsEndpoint))
	return "external-" + hex.EncodeToString(sum[:8]), nil
}
