package invoker

import "github.com/aloft-dev/aloft/internal/function"

// PoolIdle is how many idle instances one pool (a function's $LATEST or
// a version, see PoolKey) has, at the revision they run, and its
// provisioned instances.
type PoolIdle struct {
	Key        string // PoolKey
	RevisionID string // the configuration's RevisionID
	Idle       int    // frozen ones included
	// ProvisionedWanted is the provisioned concurrency asked of this
	// invoker, ProvisionedReady the provisioned instances initialised.
	ProvisionedWanted, ProvisionedReady int
}

// IdlePools appends to dst the pools that have idle or provisioned
// instances now, for a cluster's directory of warm instances. It takes
// each pool's lock briefly and is meant for a periodic summary, not for
// the invocation path.
func (iv *Invoker) IdlePools(dst []PoolIdle) []PoolIdle {
	iv.mu.RLock()
	pools := make([]*pool, 0, len(iv.pools))
	for _, p := range iv.pools {
		pools = append(pools, p)
	}
	iv.mu.RUnlock()
	for _, p := range pools {
		p.mu.Lock()
		x := PoolIdle{Key: PoolKey(p.cfg), RevisionID: p.cfg.RevisionID, Idle: len(p.idle), ProvisionedWanted: p.provisioned, ProvisionedReady: p.provReady}
		retired := p.retired
		p.mu.Unlock()
		if (x.Idle > 0 || x.ProvisionedWanted > 0) && !retired {
			dst = append(dst, x)
		}
	}
	return dst
}

// IdleFor reports how many idle instances the pool of cfg has at cfg's
// revision: those an invocation of cfg would be served by without a
// cold start.
func (iv *Invoker) IdleFor(cfg *function.Config) int {
	iv.mu.RLock()
	p := iv.pools[PoolKey(cfg)]
	iv.mu.RUnlock()
	if p == nil || p.cfg.RevisionID != cfg.RevisionID {
		return 0
	}
	p.mu.Lock()
	n := len(p.idle)
	p.mu.Unlock()
	return n
}
