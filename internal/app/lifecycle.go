package app

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/notify"
	"github.com/aloft-dev/aloft/internal/objstore"
	"github.com/aloft-dev/aloft/internal/s3api"
)

// lifecycleLeaseBucket holds, per object store directory, the lease of
// the node that applies its buckets' lifecycle rules.
const lifecycleLeaseBucket = "aloft_lifecycle_lease"

// lifecycleService is who Amazon S3 names as the principal and source of
// the changes its lifecycle makes.
const lifecycleService = "s3.amazonaws.com"

// startLifecycle starts applying the buckets' lifecycle rules every
// --lifecycle-interval (never when it is 0): expiring objects, with an
// s3:LifecycleExpiration:Delete notification for each, and aborting
// incomplete uploads. Nodes sharing one object store (a directory, or
// an external store) take turns by a lease on the backbone, as the
// upload sweeper does.
func (s *Server) startLifecycle(ctx context.Context, js jetstream.JetStream, log *slog.Logger) error {
	interval := s.cfg.LifecycleInterval
	if interval <= 0 {
		return nil
	}
	lease, err := s.storeLease(ctx, js, lifecycleLeaseBucket, 3*interval)
	if err != nil {
		return fmt.Errorf("app: lifecycle: %w", err)
	}
	log = log.With("component", "s3")
	notifier, err := notify.New(notify.Deps{Config: s.objects.Notification, Queue: s.queue, Publish: s.publishToTopic,
		Send: s.sendToQueue, Logger: log.With("component", "notify")})
	if err != nil {
		return fmt.Errorf("app: lifecycle notifications: %w", err)
	}
	s.lifecycle = objstore.StartLifecycle(s.objects, time.Now, objstore.LifecycleOptions{
		Interval: interval,
		Hold:     lease.hold,
		Release:  lease.release,
		Expired: func(ctx context.Context, b objstore.BucketInfo, info objstore.ObjectInfo, del objstore.Deleted) {
			c := lifecycleChange(b, info, del)
			if err := notifier.OnChange(ctx, c); err != nil {
				log.Error("lifecycle expiration notification", "bucket", b.Name, "key", info.Key, "err", err)
			}
		},
		Logger: log,
	})
	return nil
}

// lifecycleChange is the change a lifecycle expiration makes, as S3
// reports it: made by the S3 service itself, not by a request.
func lifecycleChange(b objstore.BucketInfo, info objstore.ObjectInfo, del objstore.Deleted) s3api.Change {
	var raw [40]byte
	rand.Read(raw[:])
	event := "LifecycleExpiration:Delete"
	if del.DeleteMarker && !info.DeleteMarker {
		event = "LifecycleExpiration:DeleteMarkerCreated" // expiring a current version, with versioning
	}
	return s3api.Change{
		Bucket: b.Name, Key: info.Key, EventName: event, VersionID: del.VersionID,
		Sequencer: del.Sequencer, SourceIP: lifecycleService, PrincipalID: lifecycleService,
		RequestID: strings.ToUpper(hex.EncodeToString(raw[:8])), HostID: base64.StdEncoding.EncodeToString(raw[8:]),
		Time: del.Time, Region: b.Region,
	}
}

// stopLifecycle stops applying lifecycle rules, giving the lease up.
func (s *Server) stopLifecycle() {
	if s.lifecycle != nil {
		s.lifecycle.Stop()
		s.lifecycle = nil
	}
}
