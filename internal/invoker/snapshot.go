package invoker

import "sort"

// FunctionState is one function's instances and running invocations at a
// moment, for metrics read at scrape time.
type FunctionState struct {
	Function string
	Running  int // invocations admitted and not yet ended
	Idle     int // idle instances, frozen ones included
	Frozen   int // idle instances paused by the sandbox's freezer
	Busy     int
	Starting int // starts set off by requests and not yet done
	// ProvisionedWanted is the provisioned concurrency asked for,
	// ProvisionedReady the provisioned instances initialised, and
	// ProvisionedBusy those of them serving an invocation now.
	ProvisionedWanted, ProvisionedReady, ProvisionedBusy int
}

// Snapshot returns the state of every function the invoker knows, by
// name, and how many invocations of functions without reserved
// concurrency run now. It takes each lock briefly and is meant for a
// scrape or a sampler, not for the invocation path.
func (iv *Invoker) Snapshot() (fns []FunctionState, unreserved int) {
	iv.admitMu.Lock()
	byName := make(map[string]*FunctionState, len(iv.fns))
	for name, f := range iv.fns {
		byName[name] = &FunctionState{Function: name, Running: f.running}
	}
	unreserved = iv.unreserved
	iv.admitMu.Unlock()

	iv.mu.RLock()
	pools := make([]*pool, 0, len(iv.pools))
	for _, p := range iv.pools {
		pools = append(pools, p)
	}
	iv.mu.RUnlock()
	for _, p := range pools {
		name := p.cfg.FunctionName
		st := byName[name]
		if st == nil {
			st = &FunctionState{Function: name}
			byName[name] = st
		}
		p.mu.Lock()
		// A function's versions each have a pool: their counts add up.
		st.Idle, st.Busy, st.Starting = st.Idle+len(p.idle), st.Busy+p.busy, st.Starting+p.starting
		st.ProvisionedWanted, st.ProvisionedReady = st.ProvisionedWanted+p.provisioned, st.ProvisionedReady+p.provReady
		provIdle := 0
		for _, in := range p.idle {
			if in.frozen {
				st.Frozen++
			}
			if in.provisioned {
				provIdle++
			}
		}
		st.ProvisionedBusy += max(p.provReady-provIdle, 0)
		p.mu.Unlock()
	}
	fns = make([]FunctionState, 0, len(byName))
	for _, st := range byName {
		fns = append(fns, *st)
	}
	sort.Slice(fns, func(i, j int) bool { return fns[i].Function < fns[j].Function })
	return fns, unreserved
}
