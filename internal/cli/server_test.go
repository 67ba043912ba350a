package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/aloft-dev/aloft/internal/app"
	"github.com/aloft-dev/aloft/internal/client"
)

// fakeServer replaces app.Run for the duration of a test.
func fakeServer(t *testing.T, fn func(context.Context, app.Config, *slog.Logger) error) {
	t.Helper()
	prev := runServer
	runServer = fn
	t.Cleanup(func() { runServer = prev })
}

func TestServerFlags(t *testing.T) {
	t.Setenv(client.EnvDataDir, "")
	var got app.Config
	fakeServer(t, func(ctx context.Context, cfg app.Config, logger *slog.Logger) error {
		got = cfg
		logger.Debug("hidden")
		logger.Warn("shown", "k", "v")
		return nil
	})
	r := run(t, context.Background(), "http://unused", "", "server", "--data-dir", "/var/lib/aloft",
		"--listen", "0.0.0.0:9100", "--gateway-listen", ":8181", "--keep-alive", "90s",
		"--nats-url", "nats://n1:4222", "--python", "/usr/bin/python3.13", "--node", "/opt/node", "--log-level", "warn",
		"--async-retry-base", "2s", "--async-workers", "8", "--concurrency-limit", "50", "--idle-memory", "2048",
		"--sandbox-allow-net", "10.1.0.0/16, 192.168.7.9", "--sandbox-allow-net", "172.16.1.0/24", "--sync-interval", "1s",
		"--telemetry=false", "--metrics-access", "token", "--metrics-token-file", "/etc/aloft/metrics-token",
		"--lifecycle-interval", "5m")
	if r.code != 0 || r.stdout != "" {
		t.Fatalf("exit %d, stdout %q", r.code, r.stdout)
	}
	want := app.Config{
		DataDir: "/var/lib/aloft", Listen: "0.0.0.0:9100", GatewayListen: ":8181", KeepAlive: 90 * time.Second,
		NATSURL: "nats://n1:4222", Python: []string{"/usr/bin/python3.13"}, Node: []string{"/opt/node"},
		RetryBase: 2 * time.Second, AsyncWorkers: 8, ConcurrencyLimit: 50, IdleMemoryMB: 2048,
		AllowNet: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("192.168.7.9/32"),
			netip.MustParsePrefix("172.16.1.0/24")},
		SyncInterval:  time.Second,
		MetricsAccess: "token", MetricsTokenFile: "/etc/aloft/metrics-token",
		LifecycleInterval: 5 * time.Minute,
	}
	if d := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); d != "" {
		t.Errorf("config (-want +got):\n%s", d)
	}
	var line map[string]any
	if err := json.Unmarshal(bytes.TrimSpace([]byte(r.stderr)), &line); err != nil {
		t.Fatalf("stderr is not one JSON log line: %v\n%s", err, r.stderr)
	}
	if line["level"] != "WARN" || line["msg"] != "shown" || line["k"] != "v" {
		t.Errorf("log line %v", line)
	}
}

func TestServerDefaults(t *testing.T) {
	t.Setenv(client.EnvDataDir, "")
	var got app.Config
	fakeServer(t, func(ctx context.Context, cfg app.Config, logger *slog.Logger) error {
		got = cfg
		return nil
	})
	run(t, context.Background(), "http://unused", "", "server").ok(t)
	if d := cmp.Diff(app.DefaultConfig(), got); d != "" {
		t.Errorf("config (-want +got):\n%s", d)
	}

	t.Setenv(client.EnvDataDir, "/srv/aloft")
	run(t, context.Background(), "http://unused", "", "server").ok(t)
	if got.DataDir != "/srv/aloft" {
		t.Errorf("DataDir %q, want $ALOFT_DATA_DIR", got.DataDir)
	}
}

func TestServerShutdownAndFailure(t *testing.T) {
	fakeServer(t, func(ctx context.Context, cfg app.Config, logger *slog.Logger) error {
		<-ctx.Done()
		return ctx.Err()
	})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(10*time.Millisecond, cancel)
	if r := run(t, ctx, "http://unused", "", "server"); r.code != 0 {
		t.Errorf("clean shutdown: exit %d, stderr %q", r.code, r.stderr)
	}

	fakeServer(t, func(ctx context.Context, cfg app.Config, logger *slog.Logger) error {
		return errors.New("listen tcp 127.0.0.1:9000: bind: address already in use")
	})
	r := run(t, context.Background(), "http://unused", "", "server")
	if want := "aloft: listen tcp 127.0.0.1:9000: bind: address already in use\n"; r.code != 1 || r.stderr != want {
		t.Errorf("exit %d, stderr %q; want %q", r.code, r.stderr, want)
	}

	r = run(t, context.Background(), "http://unused", "", "server", "--log-level", "loud")
	if want := `aloft: --log-level "loud": use debug, info, warn or error (see "aloft server --help")` + "\n"; r.code != 1 || r.stderr != want {
		t.Errorf("exit %d, stderr %q; want %q", r.code, r.stderr, want)
	}
}

// TestServerAllowNetRefused checks that prefixes the sandbox cannot apply
// are refused before the server starts.
func TestServerAllowNetRefused(t *testing.T) {
	t.Setenv(client.EnvDataDir, "")
	fakeServer(t, func(context.Context, app.Config, *slog.Logger) error {
		t.Error("the server started")
		return nil
	})
	for _, v := range []string{"fd00::/8", "10.0.0.0/33", "nonsense"} {
		r := run(t, context.Background(), "http://unused", "", "server", "--sandbox-allow-net", v)
		if r.code == 0 || !strings.Contains(r.stderr, "sandbox-allow-net") {
			t.Errorf("--sandbox-allow-net %s: exit %d, stderr %q", v, r.code, r.stderr)
		}
	}
}
