package gateway

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aloft-dev/aloft/internal/gateway/catalog"
	"github.com/aloft-dev/aloft/internal/gateway/throttle"
)

// meter is one API key's throttle and quota under one usage plan. It
// outlives catalog snapshots, so a change to the catalog keeps the counts;
// the limits follow the plan it last saw.
type meter struct {
	plan   atomic.Pointer[catalog.UsagePlan] // the plan the limits below come from
	mu     sync.Mutex                        // serialises changes of limits
	bucket *throttle.Bucket                  // nil without a throttle
	quota  *throttle.Quota                   // nil without a quota
	hasB   atomic.Bool
	hasQ   atomic.Bool
	saved  catalog.Count // guarded by Handler.saveMu: the count last saved
}

// apply sets the meter's limits to p's; restore is given the quota when
// one is made.
func (m *meter) apply(p *catalog.UsagePlan, period throttle.Period, restore func(*throttle.Quota)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.plan.Load() == p {
		return
	}
	if t := p.Throttle; t != nil {
		if m.bucket == nil {
			m.bucket = throttle.NewBucket(t.RateLimit, t.BurstLimit)
		} else {
			m.bucket.SetLimits(t.RateLimit, t.BurstLimit)
		}
	}
	if q := p.Quota; q != nil {
		if m.quota == nil {
			m.quota = throttle.NewQuota(q.Limit, period)
			restore(m.quota)
		} else {
			m.quota.SetLimit(q.Limit, period)
		}
	}
	m.hasB.Store(p.Throttle != nil)
	m.hasQ.Store(p.Quota != nil)
	m.plan.Store(p)
}

// meter returns the counters of a key under a plan.
func (h *Handler) meter(kp *catalog.KeyPlan) *meter {
	v, ok := h.meters.Load(kp.Meter)
	if !ok {
		v, _ = h.meters.LoadOrStore(kp.Meter, &meter{})
	}
	m := v.(*meter)
	if m.plan.Load() != kp.Plan {
		m.apply(kp.Plan, kp.Period, func(q *throttle.Quota) { h.restore(kp.Meter, q) })
	}
	return m
}

// countsEvery is how often changed quota counts are saved.
const countsEvery = 5 * time.Second

// restore sets a new quota to the count saved for the meter, if any: a
// restart does not give keys their quota afresh.
func (h *Handler) restore(meter string, q *throttle.Quota) {
	if h.d.Counts == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, ok, err := h.d.Counts.Load(ctx, meter)
	if err != nil {
		h.d.Logger.Warn("could not load a usage plan quota count", "meter", meter, "err", err)
		return
	}
	if ok {
		q.Restore(n.Used, n.Start)
	}
}

// saveCounts saves the quota counts that changed since they were last
// saved.
func (h *Handler) saveCounts(ctx context.Context) {
	h.saveMu.Lock()
	defer h.saveMu.Unlock()
	now := h.d.Now()
	h.meters.Range(func(k, v any) bool {
		m := v.(*meter)
		if !m.hasQ.Load() {
			return true
		}
		used, start := m.quota.Used(now)
		if used == m.saved.Used && start.Equal(m.saved.Start) {
			return true
		}
		n := catalog.Count{Used: used, Start: start}
		if err := h.d.Counts.Save(ctx, k.(string), n); err != nil {
			h.d.Logger.Warn("could not save a usage plan quota count", "meter", k, "err", err)
			return ctx.Err() == nil
		}
		m.saved = n
		return true
	})
}

// keepCounts saves changed quota counts every countsEvery until
// stopCounts; it does nothing without Deps.Counts.
func (h *Handler) keepCounts() {
	if h.d.Counts == nil || h.stopSave != nil {
		return
	}
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
	h.saveCounts(ctx)
}

// checkKey admits a request to a route that requires an API key: its
// x-api-key must be an enabled key in a usage plan of the API's stage
// (403 otherwise), within the plan's throttle and quota (429 otherwise).
func (h *Handler) checkKey(x *exchange, apiID, stage string) bool {
	var key *catalog.Key
	if v := x.r.Header["X-Api-Key"]; len(v) > 0 && v[0] != "" {
		key = x.snap.Key(v[0])
	}
	var kp *catalog.KeyPlan
	if key != nil && key.Enabled {
		for _, p := range key.Plans {
			if p.Covers(apiID, stage) {
				kp = p
				break
			}
		}
	}
	if kp == nil {
		h.fail(x, http.StatusForbidden, deniedBody)
		return false
	}
	m := h.meter(kp)
	if m.hasB.Load() {
		if ok, wait := m.bucket.Take(x.started); !ok {
			h.throttled(x, wait, throttledBody)
			return false
		}
	}
	if m.hasQ.Load() {
		if ok, wait := m.quota.Take(x.started); !ok {
			h.throttled(x, wait, quotaBody)
			return false
		}
	}
	return true
}
