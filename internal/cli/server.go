package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/aloft-dev/aloft/internal/app"
	"github.com/aloft-dev/aloft/internal/client"
)

func init() { extraCommands = append(extraCommands, (*env).serverCmd) }

// The environment variables of the external object store's credentials.
const (
	envObjectsKeyID  = "ALOFT_OBJECTS_ACCESS_KEY_ID"
	envObjectsSecret = "ALOFT_OBJECTS_SECRET_ACCESS_KEY"
)

// runServer starts the server, and runRootless runs it again in a user
// namespace where that gives it a sandbox without root; tests replace
// them.
var (
	runServer   = app.Run
	runRootless = app.RunRootless
)

func (e *env) serverCmd() *cobra.Command {
	cfg := app.DefaultConfig()
	if dir := os.Getenv(client.EnvDataDir); dir != "" {
		cfg.DataDir = dir
	}
	level := "info"
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the Aloft server",
		Long: `Run the Aloft server: the AWS Lambda and CloudWatch Logs APIs on --listen,
HTTP triggers on --gateway-listen. It stops cleanly on SIGINT or SIGTERM.

Requests are signed with the keys in ALOFT_ACCESS_KEY_ID and
ALOFT_SECRET_ACCESS_KEY; when those are not set, keys are generated on first
start and kept in the data directory (file "credentials"), where the other
aloft commands find them. The data directory defaults to $ALOFT_DATA_DIR, or
./` + client.DefaultDataDir + `. Logs are JSON lines on standard error.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(level)); err != nil {
				return usageErrorf(cmd, "--log-level %q: use debug, info, warn or error", level)
			}
			if cfg.ObjectsEndpoint != "" {
				cfg.ObjectsAccessKeyID = os.Getenv(envObjectsKeyID)
				cfg.ObjectsSecretAccessKey = os.Getenv(envObjectsSecret)
				if cfg.ObjectsAccessKeyID == "" || cfg.ObjectsSecretAccessKey == "" {
					return usageErrorf(cmd, "--objects-endpoint needs the store's credentials in %s and %s", envObjectsKeyID, envObjectsSecret)
				}
			}
			logger := slog.New(slog.NewJSONHandler(e.stderr, &slog.HandlerOptions{Level: lvl}))
			if code, ran := runRootless(cmd.Context(), cfg, logger); ran {
				if code != 0 {
					return exitCode(code) // the server said why
				}
				return nil
			}
			err := runServer(cmd.Context(), cfg, logger)
			if err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "`DIR` for state, code and credentials")
	f.StringVar(&cfg.Listen, "listen", cfg.Listen, "`HOST:PORT` for the Lambda and CloudWatch Logs APIs")
	f.StringVar(&cfg.GatewayListen, "gateway-listen", cfg.GatewayListen, "`HOST:PORT` for HTTP triggers")
	f.StringVar(&cfg.Sandbox, "sandbox", cfg.Sandbox, "sandbox `DRIVER` for function instances: auto (linux: as root with cgroups and a routed private network, without root in a user namespace; process where neither can run), linux or process")
	f.DurationVar(&cfg.KeepAlive, "keep-alive", cfg.KeepAlive, "how long an idle function instance stays warm")
	f.DurationVar(&cfg.RetryBase, "async-retry-base", cfg.RetryBase, "delay before the first retry of a failed asynchronous invocation; the second waits twice as long")
	f.IntVar(&cfg.AsyncWorkers, "async-workers", cfg.AsyncWorkers, "asynchronous invocations delivered at once")
	f.DurationVar(&cfg.AlarmInterval, "alarm-interval", cfg.AlarmInterval, "how often CloudWatch alarms are evaluated (default 10s)")
	f.DurationVar(&cfg.AbandonedUploadAge, "abandoned-upload-age", cfg.AbandonedUploadAge, "abort S3 multipart uploads left in progress longer than this (default 0: keep them)")
	f.DurationVar(&cfg.LifecycleInterval, "lifecycle-interval", cfg.LifecycleInterval, "how often S3 lifecycle rules are applied: objects expired, incomplete uploads aborted (0: never)")
	f.IntVar(&cfg.ConcurrencyLimit, "concurrency-limit", cfg.ConcurrencyLimit, "account concurrent executions; invocations beyond it are throttled")
	f.IntVar(&cfg.IdleMemoryMB, "idle-memory", cfg.IdleMemoryMB, "memory in `MB` that idle warm instances may hold (by their memory size); beyond it the least valuable stop (default: half of this machine's memory)")
	f.Var(prefixList{&cfg.AllowNet}, "sandbox-allow-net", "IPv4 `CIDR`s (comma-separated) that sandboxed functions may reach although private or link-local; the host itself stays out of reach")
	f.DurationVar(&cfg.SyncInterval, "sync-interval", cfg.SyncInterval, "how often the embedded backbone flushes to disk: 0 before every acknowledgement (accepted events survive power loss), or an interval whose writes a power loss may lose, for speed")
	f.StringVar(&cfg.NATSURL, "nats-url", cfg.NATSURL, "`URL` of an external NATS cluster (default: run one embedded)")
	f.StringVar(&cfg.ClusterListen, "cluster-listen", cfg.ClusterListen, "`HOST:PORT` other nodes of a cluster connect to: makes this server one node of a cluster (see README, Running a cluster)")
	f.StringVar(&cfg.ClusterName, "cluster-name", cfg.ClusterName, "the cluster's `NAME`, the same on every node (default: aloft)")
	f.StringVar(&cfg.NodeName, "node-name", cfg.NodeName, "this node's `NAME`, unique in the cluster (default: the host name)")
	f.StringSliceVar(&cfg.Peers, "peers", cfg.Peers, "the other nodes' --cluster-listen addresses, `HOST:PORT`,... (comma-separated)")
	f.StringVar(&cfg.ClusterSecretFile, "cluster-secret-file", cfg.ClusterSecretFile, "`FILE` with the secret the cluster's nodes share (default: cluster.secret in the data directory, created by a node started without --peers)")
	f.StringArrayVar(&cfg.Python, "python", cfg.Python, "Python `INTERPRETER` for the python runtime of its version: a path, or VERSION=PATH; repeat for several (default: python3, python3.N on $PATH and pyenv's versions)")
	f.StringVar(&cfg.SDKDir, "sdk-dir", cfg.SDKDir, "`DIR` where scripts/install-sdks.sh put the AWS SDK that functions import unbundled (default: $ALOFT_SDK_DIR, or $XDG_DATA_HOME/aloft/sdk)")
	f.StringArrayVar(&cfg.Node, "node", cfg.Node, "Node.js `BINARY` for the nodejs runtime of its major version: a path, or VERSION=PATH; repeat for several (default: node on $PATH and nvm's versions)")
	f.BoolVar(&cfg.Telemetry, "telemetry", cfg.Telemetry, "observe every invocation for metrics and traces (false: for benchmarks; /metrics keeps what it reads when scraped)")
	f.StringVar(&cfg.MetricsAccess, "metrics-access", cfg.MetricsAccess, "who may read GET /metrics: open, token (Authorization: Bearer with the token in --metrics-token-file) or off (default: open when --listen is a loopback address, token otherwise)")
	f.StringVar(&cfg.MetricsTokenFile, "metrics-token-file", cfg.MetricsTokenFile, "`FILE` with /metrics' bearer token, created with a new token (mode 0600) when missing (default: metrics-token in the data directory)")
	f.StringVar(&cfg.OTLPEndpoint, "otlp-endpoint", cfg.OTLPEndpoint, "OpenTelemetry collector `URL` (OTLP/HTTP, e.g. http://localhost:4318) that sampled traces are exported to as spans, JSON-encoded (default: none)")
	f.StringVar(&cfg.ObjectsEndpoint, "objects-endpoint", cfg.ObjectsEndpoint, "`URL` of an external S3-compatible store that keeps the buckets and objects, signed with the keys in "+envObjectsKeyID+" and "+envObjectsSecret+" (default: the data directory; see README, Running a cluster)")
	f.StringVar(&cfg.ObjectsRegion, "objects-region", cfg.ObjectsRegion, "`REGION` that requests to --objects-endpoint are signed for (default: us-east-1)")
	f.StringVar(&level, "log-level", level, "least severe `LEVEL` logged: debug, info, warn or error")
	_ = cmd.RegisterFlagCompletionFunc("log-level", cobra.FixedCompletions([]string{"debug", "info", "warn", "error"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// prefixList is a flag of comma-separated IPv4 prefixes.
type prefixList struct{ p *[]netip.Prefix }

func (l prefixList) String() string {
	if l.p == nil {
		return ""
	}
	var s []string
	for _, p := range *l.p {
		s = append(s, p.String())
	}
	return strings.Join(s, ",")
}

func (l prefixList) Set(v string) error {
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			if a, aerr := netip.ParseAddr(f); aerr == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			} else {
				return err
			}
		}
		if !p.Addr().Is4() {
			return fmt.Errorf("%s is not IPv4", f)
		}
		*l.p = append(*l.p, p.Masked())
	}
	return nil
}

func (prefixList) Type() string { return "cidrs" }
