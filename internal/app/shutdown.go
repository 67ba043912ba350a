package app

import (
	"context"
	"errors"
	"time"
)

// finalWait bounds the shutdown's work after the requests are drained:
// the queues' deliveries under way, instances, and the final saves of
// metrics, counters, usage and logs.
const finalWait = 15 * time.Second

// lostWait bounds that work instead on a node that has lost its
// cluster's majority: nothing it would save can be, so it does not wait
// for what cannot happen.
const lostWait = 3 * time.Second

// finalContext returns the context that bounds the shutdown's final work,
// and whether the backbone has been lost: a node of a cluster whose
// majority is gone (the last of its nodes to stop) cannot write, and gets
// lostWait rather than finalWait.
func (s *Server) finalContext() (context.Context, context.CancelFunc, bool) {
	lost := false
	if s.st != nil && s.st.Clustered() {
		lost = !s.st.Writable(context.Background(), time.Second)
	}
	wait := finalWait
	if lost {
		wait = lostWait
		s.log.Warn("stopping without a majority of the cluster's nodes: what this node has not saved yet (metrics, counters, usage, logs) cannot be saved",
			"waits", lostWait.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	return ctx, cancel, lost
}

// shutdownErr is the shutdown's outcome. A node that lost its cluster's
// majority could not save its last writes: it says which in its log and
// stops cleanly, since that is the cluster's state, not a failure to stop.
func (s *Server) shutdownErr(lost bool, errs []error) error {
	err := errors.Join(errs...)
	if err == nil || !lost {
		return err
	}
	s.log.Warn("not saved at shutdown: no majority of the cluster's nodes was running", "err", err)
	return nil
}
