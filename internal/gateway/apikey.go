package gateway

import (
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/aloft-dev/aloft/internal/gateway/catalog"
	"github.com/aloft-dev/aloft/internal/gateway/throttle"
)

// meter is one API key's throttle and quota under one usage plan. It
// outlives catalog snapshots, so a change to the catalog keeps the counts;
// the limits follow the plan it last saw.
type meter struct {
	planID, keyID string
	plan          atomic.Pointer[catalog.UsagePlan] // the plan the limits below come from
	mu            sync.Mutex                        // serialises changes of limits
	bucket        *throttle.Bucket                  // nil without a throttle
	quota         *throttle.Quota                   // nil without a quota
	hasB          atomic.Bool
	hasQ          atomic.Bool
	saved         [2]throttle.DayCount // guarded by Handler.saveMu: the days last saved
}

// apply sets the meter's limits to p's; restore is given the quota
// whenever the plan has one, to bring its count of others up to date.
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
		} else {
			m.quota.SetLimit(q.Limit, period)
		}
		restore(m.quota)
	}
	m.hasB.Store(p.Throttle != nil)
	m.hasQ.Store(p.Quota != nil)
	m.plan.Store(p)
}

// meter returns the counters of a key under a plan.
func (h *Handler) meter(kp *catalog.KeyPlan) *meter {
	v, ok := h.meters.Load(kp.Meter)
	if !ok {
		v, _ = h.meters.LoadOrStore(kp.Meter, &meter{planID: kp.Plan.ID, keyID: kp.KeyID})
	}
	m := v.(*meter)
	if m.plan.Load() != kp.Plan {
		m.apply(kp.Plan, kp.Period, func(q *throttle.Quota) { h.addOthers(kp.Meter, q) })
	}
	return m
}

// checkKey admits a request to a route that requires an API key: its
// x-api-key must be an enabled key in a usage plan of the API's stage
// (403 otherwise), within the plan's throttle and quota (429 otherwise).
// An admitted request's key is noted for the response cache.
func (h *Handler) checkKey(x *exchange, apiID, stage string) bool {
	var key *catalog.Key
	var value string
	if v := x.r.Header["X-Api-Key"]; len(v) > 0 && v[0] != "" {
		value = v[0]
		key = x.snap.Key(value)
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
	x.apiKey = value
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
