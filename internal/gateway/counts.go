package gateway

import (
	"context"
	"sync"
	"time"

	"github.com/aloft-dev/aloft/internal/gateway/catalog"
	"github.com/aloft-dev/aloft/internal/gateway/throttle"
)

// Quota counts are shared through Deps.Counts: every countsEvery the
// handler saves what it admitted since (by key, plan and day, under its
// own run name) and sets each quota to what the other servers and earlier
// runs saved in its period. A quota shared by several servers can
// therefore be overrun by what the others admit in the few seconds before
// their counts arrive.
const countsEvery = 5 * time.Second

// countsWait bounds how long a handler waits at start for the counts
// already saved.
const countsWait = 10 * time.Second

// tally sums the counts saved by other servers and runs, by meter and
// day. It is safe for concurrent use.
type tally struct {
	mu   sync.Mutex
	each map[runDay]int64               // each run's latest count of a day
	sums map[string]map[time.Time]int64 // meter → day → sum over runs
}

// runDay names one run's count of one day under one meter.
type runDay struct {
	meter, run string
	day        int64 // Unix seconds of midnight UTC
}

// add records a saved count, which replaces the same run's earlier count
// of that day.
func (t *tally) add(n catalog.DailyCount) {
	meter := n.Plan + "/" + n.Key
	k := runDay{meter: meter, run: n.Run, day: n.Day.Unix()}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.each == nil {
		t.each, t.sums = map[runDay]int64{}, map[string]map[time.Time]int64{}
	}
	days := t.sums[meter]
	if days == nil {
		days = map[time.Time]int64{}
		t.sums[meter] = days
	}
	days[n.Day.UTC()] += n.Used - t.each[k]
	t.each[k] = n.Used
}

// between returns the sum of meter's counts on the days from first up to
// (not including) end.
func (t *tally) between(meter string, first, end time.Time) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var sum int64
	for day, n := range t.sums[meter] {
		if !day.Before(first) && day.Before(end) {
			sum += n
		}
	}
	return sum
}

// addOthers tells a quota what other servers and runs counted in its
// current period.
func (h *Handler) addOthers(meter string, q *throttle.Quota) {
	now := h.d.Now()
	_, period := q.Limit()
	start := period.Start(now)
	q.SetOthers(h.others.between(meter, start, period.Next(now)), start)
}

// saveCounts saves the days whose counts changed since they were last
// saved.
func (h *Handler) saveCounts(ctx context.Context) {
	h.saveMu.Lock()
	defer h.saveMu.Unlock()
	h.meters.Range(func(k, v any) bool {
		m := v.(*meter)
		m.mu.Lock()
		q := m.quota
		m.mu.Unlock()
		if q == nil {
			return true
		}
		days := q.Days()
		for _, d := range days {
			if d.Used == 0 || d == m.saved[0] || d == m.saved[1] {
				continue
			}
			n := catalog.DailyCount{Plan: m.planID, Key: m.keyID, Day: d.Day, Run: h.run, Used: d.Used}
			if err := h.d.Counts.Save(ctx, n); err != nil {
				h.d.Logger.Warn("could not save a usage plan count", "meter", k, "err", err)
				return ctx.Err() == nil
			}
		}
		m.saved = days
		return true
	})
}

// refreshOthers brings every quota up to date with the others' counts.
func (h *Handler) refreshOthers() {
	h.meters.Range(func(k, v any) bool {
		m := v.(*meter)
		if m.hasQ.Load() {
			h.addOthers(k.(string), m.quota)
		}
		return true
	})
}

// keepCounts reads the counts saved so far, then follows the others'
// counts and saves this handler's every countsEvery until stopCounts; it
// does nothing without Deps.Counts.
func (h *Handler) keepCounts() {
	if h.d.Counts == nil || h.stopSave != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), countsWait)
	unwatch, err := h.d.Counts.Watch(ctx, func(n catalog.DailyCount) {
		if n.Run != h.run {
			h.others.add(n)
		}
	})
	cancel()
	if err != nil {
		h.d.Logger.Warn("usage plan quotas start without the counts saved before", "err", err)
	}
	h.unwatch = unwatch
	h.stopSave, h.saving = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(h.saving)
		t := time.NewTicker(countsEvery)
		defer t.Stop()
		for {
			select {
			case <-h.stopSave:
				return
			case <-t.C:
				ctx, cancel := context.WithTimeout(context.Background(), countsEvery)
				h.saveCounts(ctx)
				cancel()
				h.refreshOthers()
			}
		}
	}()
}

// stopCounts stops keepCounts and saves the counts a last time.
func (h *Handler) stopCounts(ctx context.Context) {
	if h.stopSave == nil {
		return
	}
	close(h.stopSave)
	<-h.saving
	h.stopSave = nil
	if h.unwatch != nil {
		h.unwatch()
		h.unwatch = nil
	}
	h.saveCounts(ctx)
}
