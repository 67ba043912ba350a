package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/nats-io/nats.go/jetstream"

	dutylease "github.com/aloft-dev/aloft/internal/lease"
)

// The duties that must happen once per cluster run on the node holding
// their lease (package lease), one set of leases per node: firing the
// schedules (scheduler.LeaseName), evaluating the alarms
// (metrics.EvalLease), sweeping expired table items and compacting the
// tables' streams (tables.SweepLease), and reading each table stream
// mapping (mappings.LeaseName). What each node does for itself stays on
// every node: queue mappings' pollers (the queue hands each message to
// one), the async queue's workers, keep-alive, metrics and meter
// flushes, and the object store's sweeps, which are per object store
// directory (s3uploads.go, lifecycle.go).

// nodeName is this server's name among the nodes of its cluster (the
// cluster's node name, or --node-name); "" for a server without one.
func (s *Server) nodeName() string {
	if st, ok := s.st.ClusterStatus(); ok && st.Node != "" {
		return st.Node
	}
	return s.cfg.NodeName
}

// openLeases opens this node's leases, named for the node.
func (s *Server) openLeases(ctx context.Context, js jetstream.JetStream, log *slog.Logger) error {
	node := s.nodeName()
	if node == "" {
		host, _ := os.Hostname()
		node = fmt.Sprintf("%s/%d", host, os.Getpid())
	}
	l, err := dutylease.Open(ctx, js, dutylease.Options{Node: node, Logger: log.With("component", "lease")})
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	s.leases = l
	return nil
}

// closeLeases gives up the leases still held; call it once the duties
// have stopped.
func (s *Server) closeLeases() {
	if s.leases != nil {
		s.leases.Close()
		s.leases = nil
	}
}
