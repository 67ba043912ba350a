package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ClusterStatus is what a node knows of its cluster: names and states
// only, nothing secret.
type ClusterStatus struct {
	Name string `json:"name"` // the cluster's
	Node string `json:"node"` // this node's
	// MetaLeader is the node that leads the JetStream meta group, which
	// creates, updates and deletes streams; empty when there is none.
	MetaLeader string `json:"meta_leader"`
	// CanWrite says the meta group has a leader, so streams and buckets
	// can be created and changed.
	CanWrite bool `json:"can_write"`
	// Replicas is how many replicas streams get at this size.
	Replicas int          `json:"replicas"`
	Peers    []PeerStatus `json:"peers"` // every node, this one included, by name
}

// PeerStatus is one node of a cluster or replica of a stream, as this
// node sees it.
type PeerStatus struct {
	Name string `json:"name"`
	// Current says it is caught up (for the meta group as seen from its
	// leader; another follower reports only the leader current).
	Current bool `json:"current"`
	// Offline says the node has not been heard from lately.
	Offline bool `json:"offline,omitempty"`
	// ActiveMS is how long ago it was last heard from, in milliseconds.
	ActiveMS int64 `json:"active_ms"`
	// Lag is how many operations it is behind the leader.
	Lag uint64 `json:"lag"`
	// Self marks this node.
	Self bool `json:"self,omitempty"`
}

// StreamStatus is one stream's replication.
type StreamStatus struct {
	Name     string       `json:"name"`
	Replicas int          `json:"replicas"`
	Leader   string       `json:"leader"`
	Peers    []PeerStatus `json:"peers"` // the replicas other than the leader
}

// Clustered reports whether the store is one node of a cluster.
func (s *Store) Clustered() bool { return s.cluster != nil }

// statusCache keeps ClusterStatus's answer for a second: the server's
// report walks every stream, and /health may be asked often.
type statusCache struct {
	mu sync.Mutex
	at time.Time
	st ClusterStatus
}

// ClusterStatus reports the cluster as this node sees it; ok is false
// when the store is no node of a cluster.
func (s *Store) ClusterStatus() (st ClusterStatus, ok bool) {
	if s.cluster == nil || s.srv == nil {
		return ClusterStatus{}, false
	}
	c := &s.status
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := time.Now(); now.Sub(c.at) >= time.Second {
		c.st, c.at = s.clusterStatus(), now
	}
	st = c.st
	st.Peers = slices.Clone(st.Peers)
	return st, true
}

func (s *Store) clusterStatus() ClusterStatus {
	st := ClusterStatus{Name: s.cluster.name, Node: s.cluster.node, Replicas: max(int(s.target.Load()), 1)}
	self := PeerStatus{Name: st.Node, Self: true}
	jsi, err := s.srv.Jsz(nil)
	if err != nil || jsi.Meta == nil {
		st.Peers = []PeerStatus{self}
		return st
	}
	st.MetaLeader = jsi.Meta.Leader
	st.CanWrite = st.MetaLeader != ""
	self.Current = st.CanWrite
	st.Peers = append(st.Peers, self)
	for _, p := range jsi.Meta.Replicas {
		// With no leader (a node cut off from the majority), the meta
		// group's replicas include this node, already listed.
		if p != nil && p.Name != st.Node {
			st.Peers = append(st.Peers, peerStatus(p.Name, p.Current, p.Offline, p.Active, p.Lag))
		}
	}
	slices.SortFunc(st.Peers, func(a, b PeerStatus) int { return strings.Compare(a.Name, b.Name) })
	return st
}

func peerStatus(name string, current, offline bool, active time.Duration, lag uint64) PeerStatus {
	return PeerStatus{Name: name, Current: current, Offline: offline, ActiveMS: active.Milliseconds(), Lag: lag}
}

// StreamStatuses reports every stream's replicas and leader, by name.
func (s *Store) StreamStatuses(ctx context.Context) ([]StreamStatus, error) {
	var out []StreamStatus
	list := s.js.ListStreams(ctx)
	for info := range list.Info() {
		ss := StreamStatus{Name: info.Config.Name, Replicas: max(info.Config.Replicas, 1)}
		if ci := info.Cluster; ci != nil {
			ss.Leader = ci.Leader
			for _, p := range ci.Replicas {
				if p != nil {
					ss.Peers = append(ss.Peers, peerStatus(p.Name, p.Current, p.Offline, p.Active, p.Lag))
				}
			}
		}
		out = append(out, ss)
	}
	if err := list.Err(); err != nil && err != jetstream.ErrEndOfData {
		return nil, fmt.Errorf("store: list streams: %w", err)
	}
	slices.SortFunc(out, func(a, b StreamStatus) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// clusterState is what a clustered store knows of itself.
type clusterState struct {
	name, node string
}

// Writable reports whether the backbone can take writes now, asking it
// for at most timeout: on a node of a cluster, that the cluster's meta
// group has a leader, that a majority of its nodes are reachable (see
// reachMajority), and that its JetStream answers. A node left without a
// majority cannot save anything, and need not wait to try (see the
// shutdown in package app).
func (s *Store) Writable(ctx context.Context, timeout time.Duration) bool {
	if s.js == nil {
		return false
	}
	if s.cluster != nil && s.srv != nil {
		jsi, err := s.srv.Jsz(nil)
		if err != nil || jsi.Meta == nil || jsi.Meta.Leader == "" || !s.reachMajority() {
			return false
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err := s.js.AccountInfo(ctx)
	return err == nil
}

// reachMajority reports whether this node, with the nodes it is routed
// to and that are not marked offline, is a majority of its cluster's
// meta group. A node stopped is marked offline at once; one killed only
// after a while, but its routes are gone at once. A store that is no node
// of a cluster always is.
func (s *Store) reachMajority() bool {
	srv := s.srv
	if s.cluster == nil || srv == nil {
		return true
	}
	jsi, err := srv.Jsz(nil)
	if err != nil || jsi.Meta == nil {
		return false
	}
	routed := s.connectedNodes()
	online, all := 1, 1
	for _, p := range jsi.Meta.Replicas {
		if p != nil {
			all++
			if !p.Offline && slices.Contains(routed, p.Name) {
				online++
			}
		}
	}
	return online*2 > all
}
