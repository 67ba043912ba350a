package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/client"
	"github.com/aloft-dev/aloft/internal/edge"
	"github.com/aloft-dev/aloft/internal/store"
)

// validateCluster refuses cluster flags that cannot work together.
func (c Config) validateCluster() error {
	if c.ClusterListen == "" {
		switch {
		case c.ClusterName != "":
			return errors.New("app: --cluster-name needs --cluster-listen, the address other nodes reach this one at")
		case c.NodeName != "":
			return errors.New("app: --node-name needs --cluster-listen, the address other nodes reach this one at")
		case len(c.Peers) > 0:
			return errors.New("app: --peers needs --cluster-listen, the address other nodes reach this one at")
		case c.ClusterSecretFile != "":
			return errors.New("app: --cluster-secret-file needs --cluster-listen, the address other nodes reach this one at")
		}
		return nil
	}
	if c.NATSURL != "" {
		return errors.New("app: --nats-url and --cluster-listen exclude each other: an external NATS cluster is clustered by its own configuration, and the nodes that use it need no cluster flags")
	}
	if err := store.CheckAddr(c.ClusterListen); err != nil {
		return fmt.Errorf("app: --cluster-listen %q: %w", c.ClusterListen, err)
	}
	for _, p := range c.Peers {
		if err := store.CheckAddr(p); err != nil {
			return fmt.Errorf("app: --peers %q: %w", p, err)
		}
	}
	if c.ClusterName != "" && !store.ValidName(c.ClusterName) {
		return fmt.Errorf("app: --cluster-name %q: use letters, digits, '.', '_' and '-' (up to 64)", c.ClusterName)
	}
	if c.NodeName != "" && !store.ValidName(c.NodeName) {
		return fmt.Errorf("app: --node-name %q: use letters, digits, '.', '_' and '-' (up to 64)", c.NodeName)
	}
	return nil
}

// clusterOptions are the store's cluster options, nil when this server
// is no node of a cluster.
func (c Config) clusterOptions() *store.ClusterOptions {
	if c.ClusterListen == "" {
		return nil
	}
	return &store.ClusterOptions{Name: c.ClusterName, Node: c.NodeName, Listen: c.ClusterListen, Peers: c.Peers, SecretFile: c.ClusterSecretFile}
}

// clusterHealth answers GET /health on a node of a cluster with the
// cluster's state beside the usual fields: node names and states only,
// since /health is not signed. Other requests, and every request of a
// server that is no node of a cluster, go to next.
func (s *Server) clusterHealth(next http.Handler, fields map[string]string) http.Handler {
	if !s.st.Clustered() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" || r.Method != http.MethodGet && r.Method != http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		st, _ := s.st.ClusterStatus()
		doc := make(map[string]any, len(fields)+2)
		for k, v := range fields {
			doc[k] = v
		}
		doc["status"] = "ok"
		doc["cluster"] = st
		b, err := json.Marshal(doc)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	})
}

// clusterRoutes adds GET /aloft/v1/cluster, the cluster's state with
// every stream's replicas, to the Lambda service of the front door's
// table: signed, and allowed by the IAM action aloft:GetClusterStatus.
func (s *Server) clusterRoutes(services []*edge.Service) {
	svc := serviceNamed(services, "lambda")
	handler, operation := svc.Handler, svc.Operation
	isStatus := func(r *http.Request) bool {
		return r.URL.Path == client.ClusterPath && r.Method == http.MethodGet
	}
	svc.Operation = func(r *http.Request, body []byte) (edge.Operation, *awsproto.Error) {
		if isStatus(r) {
			return edge.Operation{Action: "aloft:GetClusterStatus", Resource: "*"}, nil
		}
		return operation(r, body)
	}
	svc.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isStatus(r) {
			handler.ServeHTTP(w, r)
			return
		}
		out := client.ClusterReport{}
		if st, ok := s.st.ClusterStatus(); ok {
			out.Cluster = &st
			// Listing waits on every stream's leader, and a stream whose
			// replicas are being raised has none for a moment.
			ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
			streams, err := s.st.StreamStatuses(ctx)
			cancel()
			if err != nil {
				s.log.Error("cluster status failed", "err", err)
				awsproto.WriteError(w, r, awsproto.Lambda, awsproto.Errorf(http.StatusServiceUnavailable, "ServiceException", "The cluster's streams cannot be listed now: %v", err), w.Header().Get("X-Amzn-Requestid"))
				return
			}
			out.Streams = streams
		}
		b, err := json.Marshal(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	})
}
