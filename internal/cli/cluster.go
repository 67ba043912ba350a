package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/aloft-dev/aloft/internal/store"
)

func init() { extraCommands = append(extraCommands, (*env).clusterCmd) }

func (e *env) clusterCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Inspect the cluster of Aloft nodes the server belongs to",
		Long: `Nodes started with --cluster-listen form one cluster: they keep the same
functions, buckets, queues and tables, and any of them answers for all.
(See "aloft server --help" and the README's "Running a cluster".)`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf(cmd, "unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
	var out *outputFormat
	status := &cobra.Command{
		Use:   "status",
		Short: "Show the cluster's nodes, its leader, and every stream's replicas",
		Long: `Show the cluster as the node the CLI talks to sees it: every node with its
state (current: caught up; offline: not heard from lately), when it was last
heard from and how many operations it lags behind; which node leads the
cluster's metadata (without a leader nothing can be created or changed);
and, for every stream, bucket and object store of the backbone, its
replicas and the node that leads it.

A node's own view of the other followers is partial: ask the leader's node
for the lag of every node.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.connect()
			if err != nil {
				return err
			}
			rep, err := c.ClusterStatus(cmd.Context())
			if err != nil {
				return err
			}
			if *out == outputJSON {
				b, err := json.MarshalIndent(rep, "", "  ")
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(e.stdout, "%s\n", b)
				return err
			}
			if rep.Cluster == nil {
				_, err := fmt.Fprintln(e.stdout, "This server is no node of a cluster: it was started without --cluster-listen.")
				return err
			}
			e.printCluster(rep.Cluster, rep.Streams)
			return nil
		},
	}
	out = addOutputFlag(status)
	cmd.AddCommand(status)
	return cmd
}

// printCluster prints the cluster's table of nodes and its streams'.
func (e *env) printCluster(st *store.ClusterStatus, streams []store.StreamStatus) {
	leader := st.MetaLeader
	if leader == "" {
		leader = "none: nothing can be created or changed until a majority of the nodes are connected"
	}
	fmt.Fprintf(e.stdout, "Cluster:      %s\nThis node:    %s\nMeta leader:  %s\nReplicas:     %d\n\n", st.Name, st.Node, leader, st.Replicas)
	t := newTable(e.stdout, 5, 4, 5)
	t.AppendHeader(tableRow("NODE", "ROLE", "STATE", "LAST SEEN", "LAG"))
	for _, p := range st.Peers {
		name := p.Name
		if p.Self {
			name += " (this node)"
		}
		t.AppendRow(tableRow(name, role(p.Name, st.MetaLeader), peerState(p), lastSeen(p), groupDigits(int64(p.Lag))))
	}
	t.Render()
	if len(streams) == 0 {
		return
	}
	fmt.Fprintln(e.stdout)
	t = newTable(e.stdout, 4, 2)
	t.AppendHeader(tableRow("STREAM", "REPLICAS", "LEADER", "OTHER REPLICAS"))
	for _, s := range streams {
		var others []string
		for _, p := range s.Peers {
			others = append(others, p.Name+" "+peerState(p))
		}
		t.AppendRow(tableRow(s.Name, s.Replicas, s.Leader, strings.Join(others, ", ")))
	}
	t.Render()
}

func role(name, leader string) string {
	if name == leader {
		return "leader"
	}
	return "follower"
}

func peerState(p store.PeerStatus) string {
	switch {
	case p.Offline:
		return "offline"
	case p.Current:
		return "current"
	}
	return "not current"
}

func lastSeen(p store.PeerStatus) string {
	if p.Self {
		return "-"
	}
	return (time.Duration(p.ActiveMS) * time.Millisecond).Round(time.Millisecond).String() + " ago"
}
