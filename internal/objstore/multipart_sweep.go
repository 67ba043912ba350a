package objstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// SweepOptions configure StartSweeper.
type SweepOptions struct {
	// MaxAge is how long an upload may stay in progress: older ones are
	// aborted. It must be positive.
	MaxAge time.Duration
	// Interval is how often the uploads are looked at; 0 takes MaxAge/24,
	// kept between a minute and an hour.
	Interval time.Duration
	// Hold, if set, is asked before each round whether this node sweeps
	// it: a lease among the nodes that share the store's directory (see
	// StoreID), so that one of them sweeps at a time. Nil sweeps every
	// round.
	Hold func(ctx context.Context) bool
	// Release, if set, is called once when the sweeper stops, to give
	// the lease up.
	Release func(ctx context.Context)
	Logger  *slog.Logger
}

// Sweeper is a background job of the store (StartSweeper,
// StartLifecycle); Stop ends it.
type Sweeper struct {
	stop, done chan struct{}
}

// StartSweeper starts aborting, every Interval, the uploads initiated
// more than MaxAge ago.
func (d *Disk) StartSweeper(o SweepOptions) *Sweeper {
	return StartUploadSweeper(d, d.now, o)
}

// StartUploadSweeper is StartSweeper for any store: it aborts store's
// uploads started more than o.MaxAge before now, every o.Interval.
func StartUploadSweeper(store MultipartStore, now func() time.Time, o SweepOptions) *Sweeper {
	if o.Interval <= 0 {
		o.Interval = min(max(o.MaxAge/24, time.Minute), time.Hour)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return every(o.Interval, max(o.Interval, 30*time.Second), o.Hold, o.Release, func(ctx context.Context) {
		n, err := store.AbortUploadsBefore(ctx, now().Add(-o.MaxAge))
		if err != nil {
			o.Logger.Error("aborting abandoned uploads", "err", err)
		} else if n > 0 {
			o.Logger.Info("aborted abandoned uploads", "uploads", n, "older_than", o.MaxAge)
		}
	})
}

// every runs round every interval, each round within timeout, in the
// turns hold grants (every round when hold is nil), until the returned
// Sweeper is stopped, which gives the turn up with release.
func every(interval, timeout time.Duration, hold func(context.Context) bool, release func(context.Context), round func(context.Context)) *Sweeper {
	s := &Sweeper{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				if release != nil {
					ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
					release(ctx)
					cancel()
				}
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			if hold == nil || hold(ctx) {
				round(ctx)
			}
			cancel()
		}
	}()
	return s
}

// Stop stops the sweeper and waits for a round under way to end.
func (s *Sweeper) Stop() {
	close(s.stop)
	<-s.done
}

// StoreID returns the store's identity: a random name kept in its
// directory, made on first use. Nodes that share one directory share it;
// stores on different disks have different ones.
func (d *Disk) StoreID() (string, error) {
	path := filepath.Join(d.root, "store-id")
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("objstore: read store id: %w", err)
	}
	t, err := newTemp(d.tmp, "id-*")
	if err != nil {
		return "", err
	}
	defer t.discard()
	if _, err := t.f.WriteString(randomHex(16) + "\n"); err != nil {
		return "", fmt.Errorf("objstore: write store id: %w", err)
	}
	if err := t.f.Sync(); err != nil {
		return "", fmt.Errorf("objstore: write store id: %w", err)
	}
	// A link never replaces a file: of nodes racing, the first one's ID
	// stands and the others read it.
	if err := os.Link(t.path, path); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("objstore: write store id: %w", err)
	}
	syncDir(d.root)
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("objstore: read store id: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}
