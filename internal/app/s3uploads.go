package app

import (
	"context"
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
// one object store directory take turns by a lease on the backbone, so
// one of them sweeps it at a time; a node with a directory of its own
// holds its own lease.
func (s *Server) startUploadSweeper(ctx context.Context, js jetstream.JetStream, log *slog.Logger) error {
	age := s.cfg.AbandonedUploadAge
	if age <= 0 || s.objects == nil {
		return nil
	}
	interval := min(max(age/24, time.Second), time.Hour)
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: uploadLeaseBucket, History: 1,
		TTL: 3 * interval, Storage: jetstream.MemoryStorage})
	if err != nil {
		return fmt.Errorf("app: open %s: %w", uploadLeaseBucket, err)
	}
	id, err := s.objects.StoreID()
	if err != nil {
		return fmt.Errorf("app: upload sweeper: %w", err)
	}
	host, _ := os.Hostname()
	key, node := "store-"+id, []byte(fmt.Sprintf("%s/%d", host, os.Getpid()))
	var rev uint64 // of this node's lease; 0 while it holds none
	s.sweeper = s.objects.StartSweeper(objstore.SweepOptions{
		MaxAge:   age,
		Interval: interval,
		Hold: func(ctx context.Context) bool {
			if rev != 0 {
				if r, err := kv.Update(ctx, key, node, rev); err == nil {
					rev = r
					return true
				}
			}
			r, err := kv.Create(ctx, key, node)
			if err != nil {
				rev = 0
				return false
			}
			rev = r
			return true
		},
		Release: func(ctx context.Context) {
			if rev != 0 {
				kv.Delete(ctx, key, jetstream.LastRevision(rev))
			}
		},
		Logger: log.With("component", "s3"),
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
