package app

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/aloft-dev/aloft/internal/observe"
)

// Config is everything `aloft server` needs. The zero value is not useful:
// start from DefaultConfig.
type Config struct {
	DataDir       string        // where durable state, code and bootstraps live
	Listen        string        // AWS-compatible APIs (host:port)
	GatewayListen string        // HTTP triggers (host:port)
	Sandbox       string        // "auto" (linux when it can run, else process), "linux" or "process"
	KeepAlive     time.Duration // how long an idle instance is kept warm
	RetryBase     time.Duration // delay before an async event's first retry (Lambda: 1 min)
	AsyncWorkers  int           // asynchronous events delivered at once
	// ConcurrencyLimit is the account's concurrent executions: invocations
	// beyond it are throttled (429), as on Lambda.
	ConcurrencyLimit int
	// IdleMemoryMB bounds the memory of idle warm instances (by their
	// MemorySize); 0 takes half of this machine's memory.
	IdleMemoryMB int
	// AllowNet lists IPv4 prefixes that sandboxed functions may reach
	// although they lie in ranges otherwise refused (private networks,
	// link-local); the host itself stays out of reach.
	AllowNet []netip.Prefix
	NATSURL  string // external NATS cluster; empty embeds one
	// SyncInterval is how often the embedded backbone flushes to disk:
	// zero (the default) before every acknowledgement, so that accepted
	// events, queue messages and registry changes survive power loss.
	SyncInterval time.Duration
	Python       []string // Python interpreters (paths, or VERSION=path; none = find them)
	Node         []string // Node.js binaries, likewise
	SDKDir       string   // where scripts/install-sdks.sh put the AWS SDK functions import unbundled ("" = its default)
	// AlarmInterval is how often CloudWatch alarms are evaluated (0: ten
	// seconds, as CloudWatch).
	AlarmInterval time.Duration
	// AbandonedUploadAge, when positive, is how long an S3 multipart
	// upload may stay in progress before it is aborted; 0 keeps them.
	AbandonedUploadAge time.Duration
	// LifecycleInterval is how often the S3 buckets' lifecycle rules are
	// applied (expirations, aborts of incomplete uploads); 0 never.
	LifecycleInterval time.Duration
	// OTLPEndpoint, when set, is an OpenTelemetry collector's OTLP/HTTP
	// address (http://host:4318) that sampled traces are exported to as
	// spans; empty exports none.
	OTLPEndpoint string
	// Telemetry observes every invocation for metrics and traces; off,
	// the invoker observes nothing (for benchmarks), and /metrics keeps
	// only what it reads at scrape time.
	Telemetry bool
	// MetricsAccess is who may read GET /metrics: open, token (a bearer
	// token, from MetricsTokenFile), off, or "" for the default: open
	// when Listen is a loopback address, token otherwise.
	MetricsAccess string
	// MetricsTokenFile holds /metrics' bearer token ("" = metrics-token
	// in the data dir); a missing file is created with a new token.
	MetricsTokenFile string
	// ClusterListen, when set, makes this server one node of a cluster:
	// other nodes connect to it at this HOST:PORT, and it to them at
	// Peers (see store.ClusterOptions and cluster.go).
	ClusterListen string
	ClusterName   string   // the cluster's name, the same on every node ("" = aloft)
	NodeName      string   // this node's unique name ("" = the host name)
	Peers         []string // the other nodes' --cluster-listen addresses
	// ClusterSecretFile holds the secret the cluster's nodes share ("" =
	// cluster.secret in the data dir, created by a node without peers).
	ClusterSecretFile string
	// ObjectsEndpoint, when set, is the URL of an external S3-compatible
	// store that holds the buckets and objects instead of the data dir
	// (see package s3store): what lets every node of a cluster serve
	// every object. ObjectsRegion signs its requests ("" = us-east-1),
	// with the store's ObjectsAccessKeyID and ObjectsSecretAccessKey.
	ObjectsEndpoint                            string
	ObjectsRegion                              string
	ObjectsAccessKeyID, ObjectsSecretAccessKey string
}

// DefaultConfig returns the defaults of the external contract.
func DefaultConfig() Config {
	return Config{
		DataDir:           ".aloft",
		Listen:            "127.0.0.1:9000",
		GatewayListen:     "127.0.0.1:8080",
		KeepAlive:         10 * time.Minute,
		RetryBase:         time.Minute,
		AsyncWorkers:      64,
		ConcurrencyLimit:  1000,
		Telemetry:         true,
		LifecycleInterval: 10 * time.Minute,
	}
}

// Validate refuses settings that contradict each other, rather than
// ignore one of them.
func (c Config) Validate() error {
	if c.AlarmInterval < 0 {
		return fmt.Errorf("app: --alarm-interval %v is negative", c.AlarmInterval)
	}
	if c.AbandonedUploadAge < 0 {
		return fmt.Errorf("app: --abandoned-upload-age %v is negative", c.AbandonedUploadAge)
	}
	if c.LifecycleInterval < 0 {
		return fmt.Errorf("app: --lifecycle-interval %v is negative", c.LifecycleInterval)
	}
	if c.SyncInterval < 0 {
		return fmt.Errorf("app: --sync-interval %v is negative", c.SyncInterval)
	}
	if c.SyncInterval != 0 && c.NATSURL != "" {
		return errors.New("app: --sync-interval applies to the embedded backbone; an external cluster (--nats-url) keeps its own setting")
	}
	if len(c.AllowNet) > 0 && c.Sandbox == "process" {
		return errors.New("app: --sandbox-allow-net needs the linux sandbox: under --sandbox process functions share the host's network")
	}
	if err := c.validateCluster(); err != nil {
		return err
	}
	if _, err := observe.ParseAccess(c.MetricsAccess); err != nil {
		return err
	}
	for _, p := range c.AllowNet {
		if !p.Addr().Is4() {
			return fmt.Errorf("app: --sandbox-allow-net %s is not an IPv4 prefix", p)
		}
	}
	return nil
}
