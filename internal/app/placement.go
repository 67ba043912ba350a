package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/invoke"
	"github.com/aloft-dev/aloft/internal/invoker"
	"github.com/aloft-dev/aloft/internal/lambdaapi"
	"github.com/aloft-dev/aloft/internal/placement"
)

// PlacementEnv names the environment variable that chooses where a
// node of a cluster runs invocations: "forward" (the default) runs each
// where the cluster has an idle instance of it and holds concurrency
// limits for the whole cluster (package placement); "local" runs every
// invocation on the node it arrived at, with each node's limits its own,
// as a node alone does. It is a knob for measurements, not a setting to
// rely on.
const PlacementEnv = "ALOFT_PLACEMENT"

// placed is the invoker the APIs, the gateway and the event sources use
// on a node of a cluster: invocations go through the Placer, the rest
// (provisioned instances, keep-alive state) to this node's invoker.
type placed struct {
	*invoker.Invoker
	p *placement.Placer
}

// Invoke runs req where the Placer says.
func (x *placed) Invoke(ctx context.Context, req *invoke.Invocation) (*invoke.Response, error) {
	return x.p.Invoke(ctx, req)
}

// startPlacement sets s.invoking, the invoker the APIs, the gateway and
// the event sources call: this node's own when it is alone (no cost on
// the invocation path), a Placer over it on a cluster.
func (s *Server) startPlacement() error {
	s.invoking = s.inv
	clustered := s.cfg.ClusterListen != "" || s.cfg.NATSURL != ""
	if !clustered {
		return nil
	}
	switch mode := os.Getenv(PlacementEnv); mode {
	case "", "forward":
	case "local":
		s.log.Info("placement: every invocation runs on the node it arrived at, with this node's own concurrency limits (" + PlacementEnv + "=local)")
		return nil
	default:
		return fmt.Errorf("app: %s=%q: want forward or local", PlacementEnv, mode)
	}
	node, err := s.placementNode()
	if err != nil {
		return err
	}
	inv := s.inv
	p, err := placement.New(placement.Deps{
		Conn:  s.st.Conn(),
		Node:  node,
		Local: inv,
		Resolve: func(name, version string) (*invoke.Invocation, error) {
			rec, ok := s.reg.Get(name)
			if !ok {
				return nil, function.NotFound(function.ARN(function.DefaultRegion, name, version))
			}
			t, err := rec.Describe(version)
			if err != nil {
				return nil, err
			}
			return invoke.For(t, s.reg.ReservedTotal(), nil), nil
		},
		ConcurrencyLimit: s.cfg.ConcurrencyLimit,
		Forward:          true,
		// Each node keeps its share of the provisioned instances.
		OnMembers: func([]string, int) {
			for _, rec := range s.reg.List() {
				s.provisionOn(inv, rec.Config.FunctionName)
			}
		},
		Logger: s.log.With("component", "placement"),
	})
	if err != nil {
		return err
	}
	if err := p.Start(); err != nil {
		return err
	}
	s.placer = p
	s.invoking = &placed{Invoker: inv, p: p}
	return nil
}

// placementNode names this node for placement: its name in the embedded
// cluster, or, on an external backbone, the host's name with a random
// suffix (a restarted node is a new one to the others).
func (s *Server) placementNode() (string, error) {
	if st, ok := s.st.ClusterStatus(); ok && st.Node != "" {
		return st.Node, nil
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "aloft"
	}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("app: placement node name: %w", err)
	}
	return host + "-" + hex.EncodeToString(b[:]), nil
}

// provisionShare is this node's part of n provisioned instances: all of
// them alone, its share on a cluster.
func (s *Server) provisionShare(n int) int {
	if s.placer == nil {
		return n
	}
	return s.placer.ShareOf(n)
}

// closePlacement stops serving other nodes' invocations and waits for
// those running here.
func (s *Server) closePlacement(ctx context.Context) error {
	if s.placer == nil {
		return nil
	}
	return s.placer.Close(ctx)
}

var _ lambdaapi.Invoker = (*placed)(nil)
