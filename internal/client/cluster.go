package client

import (
	"context"

	"github.com/aloft-dev/aloft/internal/store"
)

// ClusterPath is the path of Aloft's cluster status.
const ClusterPath = "/aloft/v1/cluster"

// ClusterReport is the answer of ClusterPath: the cluster as the node
// asked sees it, and every stream's replicas; Cluster is nil when the
// server is no node of a cluster.
type ClusterReport struct {
	Cluster *store.ClusterStatus `json:"cluster,omitempty"`
	Streams []store.StreamStatus `json:"streams,omitempty"`
}

// ClusterStatus fetches the cluster's status from the server.
func (c *Client) ClusterStatus(ctx context.Context) (*ClusterReport, error) {
	var out ClusterReport
	if err := c.getJSON(ctx, ClusterPath, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
