package catalog

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// countsBucket holds usage plan request counts, apart from the catalog:
// they change with traffic, not with configuration, and no snapshot needs
// them.
const countsBucket = "aloft_gateway_counts"

// countsKept is how long a day's counts are kept after they were last
// saved: long enough for a month's quota and three months of GetUsage.
const countsKept = 100 * 24 * time.Hour

// dayLayout names a day in a count's key.
const dayLayout = "20060102"

// DailyCount is how many requests one run of a server admitted for an API
// key under a usage plan on one UTC day. Every run saves its own counts
// under its own name, so servers that share a store (a cluster, or a
// server and its earlier runs) never overwrite each other's; a key's use
// is the sum over runs.
type DailyCount struct {
	Plan string    // usage plan id
	Key  string    // API key id
	Day  time.Time // midnight UTC
	Run  string    // the server run that counted them
	Used int64
}

// id is the count's key in the bucket: <plan>.<key>.<yyyymmdd>.<run>. Ids
// of plans, keys and runs are lower-case letters and digits.
func (n DailyCount) id() string {
	return n.Plan + "." + n.Key + "." + n.Day.UTC().Format(dayLayout) + "." + n.Run
}

// parseCount reads a stored count; ok is false for anything else.
func parseCount(key string, value []byte) (n DailyCount, ok bool) {
	f := strings.Split(key, ".")
	if len(f) != 4 {
		return n, false
	}
	day, err := time.Parse(dayLayout, f[2])
	if err != nil {
		return n, false
	}
	used, err := strconv.ParseInt(string(value), 10, 64)
	if err != nil {
		return n, false
	}
	return DailyCount{Plan: f[0], Key: f[1], Day: day, Run: f[3], Used: used}, true
}

// Counts keeps usage plan request counts, by plan, key, day and server
// run, so that quotas survive restarts and hold across servers, and
// GetUsage can report them. Its methods are safe for concurrent use.
type Counts struct {
	kv jetstream.KeyValue
}

// OpenCounts creates or opens the bucket of counts.
func OpenCounts(ctx context.Context, js jetstream.JetStream) (*Counts, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: countsBucket, History: 1, Storage: jetstream.FileStorage, TTL: countsKept,
	})
	if err != nil {
		return nil, fmt.Errorf("catalog: open counts: %w", err)
	}
	return &Counts{kv: kv}, nil
}

// Save stores a run's count of a day.
func (c *Counts) Save(ctx context.Context, n DailyCount) error {
	if _, err := c.kv.Put(ctx, n.id(), strconv.AppendInt(nil, n.Used, 10)); err != nil {
		return fmt.Errorf("catalog: save count %s: %w", n.id(), err)
	}
	return nil
}

// Watch passes every stored count to fn, then each count as it is saved,
// until stop is called. It returns once the counts stored before the call
// have been passed on, or ctx ends first; fn is called from one goroutine
// at a time.
func (c *Counts) Watch(ctx context.Context, fn func(DailyCount)) (stop func(), err error) {
	// The watch lives until stop, past ctx: its subscription ends with the
	// context it was made with.
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w, err := c.kv.WatchAll(wctx, jetstream.IgnoreDeletes())
	if err != nil {
		cancel()
		return nil, fmt.Errorf("catalog: watch counts: %w", err)
	}
	if err := readStored(ctx, w, fn); err != nil {
		w.Stop()
		cancel()
		return nil, fmt.Errorf("catalog: watch counts: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e := range w.Updates() {
			if e == nil {
				continue
			}
			if n, ok := parseCount(e.Key(), e.Value()); ok {
				fn(n)
			}
		}
	}()
	return func() { w.Stop(); cancel(); <-done }, nil
}

// Daily returns the counts of a usage plan's keys (of keyID alone, unless
// it is empty) on the days from first to last, both included, summed over
// server runs: key id → day → requests.
func (c *Counts) Daily(ctx context.Context, planID, keyID string, first, last time.Time) (map[string]map[time.Time]int64, error) {
	filter := planID + ".*.>"
	if keyID != "" {
		filter = planID + "." + keyID + ".>"
	}
	w, err := c.kv.Watch(ctx, filter, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("catalog: read counts: %w", err)
	}
	defer w.Stop()
	out := map[string]map[time.Time]int64{}
	err = readStored(ctx, w, func(n DailyCount) {
		if n.Day.Before(first) || n.Day.After(last) {
			return
		}
		if out[n.Key] == nil {
			out[n.Key] = map[time.Time]int64{}
		}
		out[n.Key][n.Day] += n.Used
	})
	if err != nil {
		return nil, fmt.Errorf("catalog: read counts: %w", err)
	}
	return out, nil
}

// readStored passes fn the counts w holds from before it began, and
// returns at the end of them.
func readStored(ctx context.Context, w jetstream.KeyWatcher, fn func(DailyCount)) error {
	for {
		select {
		case e, open := <-w.Updates():
			if !open {
				return errors.New("the watch ended")
			}
			if e == nil {
				return nil
			}
			if n, ok := parseCount(e.Key(), e.Value()); ok {
				fn(n)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
