package app

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig()
	ok.AllowNet = []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}
	ok.SyncInterval = time.Second
	if err := ok.Validate(); err != nil {
		t.Errorf("a valid configuration was refused: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"negative sync interval", func(c *Config) { c.SyncInterval = -time.Second }, "negative"},
		{"sync interval with an external cluster", func(c *Config) { c.SyncInterval, c.NATSURL = time.Second, "nats://n1:4222" }, "--nats-url"},
		{"allow-list without isolation", func(c *Config) {
			c.Sandbox, c.AllowNet = "process", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
		}, "linux sandbox"},
		{"IPv6 allow-list", func(c *Config) { c.AllowNet = []netip.Prefix{netip.MustParsePrefix("fd00::/8")} }, "IPv4"},
		{"unknown metrics access", func(c *Config) { c.MetricsAccess = "signed" }, "--metrics-access"},
	} {
		c := DefaultConfig()
		tc.edit(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error about %q", tc.name, err, tc.want)
		}
	}
}
