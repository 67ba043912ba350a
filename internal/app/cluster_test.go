package app

import (
	"strings"
	"testing"
)

func TestValidateCluster(t *testing.T) {
	ok := DefaultConfig()
	ok.ClusterListen, ok.Peers, ok.NodeName, ok.ClusterName = "0.0.0.0:6222", []string{"10.0.0.2:6222"}, "n1", "prod"
	if err := ok.Validate(); err != nil {
		t.Fatalf("a valid cluster: %v", err)
	}
	if o := ok.clusterOptions(); o == nil || o.Listen != "0.0.0.0:6222" || o.Node != "n1" || o.Name != "prod" || len(o.Peers) != 1 {
		t.Fatalf("cluster options %+v", o)
	}
	if DefaultConfig().clusterOptions() != nil {
		t.Fatal("a server without --cluster-listen is clustered")
	}
	for _, c := range []struct {
		mutate func(*Config)
		want   string
	}{
		{func(c *Config) { c.ClusterListen = ""; c.Peers = nil; c.NodeName = ""; c.ClusterName = "" }, ""},
		{func(c *Config) { c.ClusterListen = "" }, "needs --cluster-listen"},
		{func(c *Config) { c.ClusterListen, c.Peers, c.ClusterName = "", nil, "" }, "--node-name needs --cluster-listen"},
		{func(c *Config) {
			c.ClusterListen, c.Peers, c.NodeName, c.ClusterName, c.ClusterSecretFile = "", nil, "", "", "/s"
		}, "--cluster-secret-file needs"},
		{func(c *Config) { c.NATSURL = "nats://example:4222" }, "--nats-url and --cluster-listen"},
		{func(c *Config) { c.ClusterListen = "6222" }, "--cluster-listen"},
		{func(c *Config) { c.Peers = []string{"10.0.0.2"} }, "--peers"},
		{func(c *Config) { c.NodeName = "my node" }, "--node-name"},
		{func(c *Config) { c.ClusterName = "a/b" }, "--cluster-name"},
	} {
		cfg := ok
		c.mutate(&cfg)
		err := cfg.Validate()
		if c.want == "" {
			if err != nil {
				t.Errorf("%+v: %v", cfg, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want an error with %q", err, c.want)
		}
	}
}
