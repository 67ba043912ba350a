package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
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

// Provision keeps this node's share of n instances of req's function
// initialised.
func (x *placed) Provision(req *invoke.Invocation, n int) error {
	return x.Invoker.Provision(req, x.p.ShareOf(n))
}

// Provisioned reports the provisioned instances of the named pool the
// whole cluster was asked for and has ready: this node's, and the
// others' by their last summaries.
func (x *placed) Provisioned(name string) (requested, ready int) {
	requested, ready = x.Invoker.Provisioned(name)
	r, ok := x.p.Provisioned(name)
	return requested + r, ready + ok
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
	provisioned := &provisionWatch{s: s, inv: inv, applied: map[string]map[string]int{}}
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
		// Each node keeps its share of the provisioned instances.
		OnMembers: func([]string, int) {
			for _, rec := range s.reg.List() {
				s.provisionOn(inv, rec.Config.FunctionName)
			}
		},
		Every:  provisioned.apply,
		Logger: s.log.With("component", "placement"),
	})
	if err != nil {
		return err
	}
	s.placer = p // before Start: its goroutine reads it (provisionShare)
	if err := p.Start(); err != nil {
		s.placer = nil
		return err
	}
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

// provisionWatch applies on this node the provisioned concurrency set
// through other nodes: the registry tells a node of changes to a
// function's code and configuration, but a change of provisioned
// concurrency alone reaches the invoker only on the node whose API took
// it.
type provisionWatch struct {
	s       *Server
	inv     *invoker.Invoker
	applied map[string]map[string]int // by function, by version: the instances last applied
}

// apply provisions the versions whose provisioned concurrency changed
// since the last call, and releases those that have none any more. It
// runs on the Placer's goroutine only.
func (w *provisionWatch) apply() {
	seen := make(map[string]bool, len(w.applied))
	for _, rec := range w.s.reg.List() {
		name := rec.Config.FunctionName
		cur, old := rec.ProvisionedByVersion(), w.applied[name]
		if len(cur) == 0 && len(old) == 0 {
			continue
		}
		seen[name] = true
		if maps.Equal(cur, old) {
			continue
		}
		for version := range old {
			if _, ok := cur[version]; ok {
				continue
			}
			if t, err := rec.Describe(version); err == nil {
				w.inv.Provision(invoke.For(t, 0, nil), 0)
			}
		}
		w.s.provisionOn(w.inv, name)
		w.applied[name] = cur
	}
	for name := range w.applied {
		if !seen[name] {
			delete(w.applied, name) // deleted: its instances were retired with it
		}
	}
}
