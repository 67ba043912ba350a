package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ClusterOptions makes the embedded server one node of a cluster: the
// nodes connect to each other directly (NATS routes) and form one
// JetStream cluster, so every node serves the same buckets and streams.
type ClusterOptions struct {
	// Name is the cluster's name, the same on every node ("" = "aloft").
	Name string
	// Node is this node's name, unique in the cluster ("" = the host
	// name).
	Node string
	// Listen is the HOST:PORT other nodes connect to.
	Listen string
	// Peers are the HOST:PORT addresses of the other nodes (their
	// Listen). This node's own address may be among them.
	Peers []string
	// SecretFile holds the secret every node of the cluster shares;
	// routes without it are refused. Empty means SecretFileName in the
	// data dir, which a node started without peers creates.
	SecretFile string
}

// SecretFileName is the file in the data dir that holds the cluster's
// secret when no other file is named.
const SecretFileName = "cluster.secret"

// DefaultClusterName is the cluster's name when none is given.
const DefaultClusterName = "aloft"

// routeUser is the user name routes present with the cluster's secret.
const routeUser = "aloft"

// minSecretLen is the shortest secret accepted: 32 characters of the
// URL-safe alphabet carry at least 190 bits.
const minSecretLen = 32

// namePattern is what cluster and node names may be made of: NATS
// refuses spaces, and names show up in subjects and URLs.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidName reports whether s may name a cluster or a node.
func ValidName(s string) bool { return namePattern.MatchString(s) }

// secretChars are the characters a secret may be made of: those a URL
// carries unescaped, so that a secret is written the same in every
// route's address.
func secretChar(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~'
}

// checkSecret refuses a secret too short or with characters outside the
// URL-safe alphabet. Its message never repeats the secret.
func checkSecret(secret, path string) error {
	if len(secret) < minSecretLen {
		return fmt.Errorf("store: cluster secret in %s is %d characters long: it needs at least %d", path, len(secret), minSecretLen)
	}
	for i := 0; i < len(secret); i++ {
		if !secretChar(secret[i]) {
			return fmt.Errorf("store: cluster secret in %s has a character other than A-Z, a-z, 0-9, '-', '_', '.' and '~' at offset %d", path, i)
		}
	}
	return nil
}

// readSecret reads and checks the secret in path; surrounding white
// space (a final newline) is not part of it.
func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("store: cluster secret: %w", err)
	}
	secret := strings.TrimSpace(string(b))
	if err := checkSecret(secret, path); err != nil {
		return "", err
	}
	return secret, nil
}

// clusterSecret returns the cluster's secret for a node whose data dir is
// dir: from c.SecretFile when named, else from the data dir's
// SecretFileName. A node without peers that has neither creates the data
// dir's file with a new secret (created is then its path); a node with
// peers that has neither is refused, since it could not join.
func clusterSecret(dir string, c *ClusterOptions) (secret, created string, err error) {
	if c.SecretFile != "" {
		secret, err = readSecret(c.SecretFile)
		return secret, "", err
	}
	path := filepath.Join(dir, SecretFileName)
	secret, err = readSecret(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return secret, "", err
	}
	if len(c.Peers) > 0 {
		return "", "", fmt.Errorf("store: --peers needs the cluster's secret: copy the file %s from the cluster's first node (it is in that node's data dir) to this machine and name it with --cluster-secret-file", SecretFileName)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", "", fmt.Errorf("store: cluster secret: %w", err)
	}
	secret = base64.RawURLEncoding.EncodeToString(raw[:])
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("store: cluster secret: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", "", fmt.Errorf("store: cluster secret: %w", err)
	}
	_, err = f.WriteString(secret + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return "", "", fmt.Errorf("store: cluster secret: %w", err)
	}
	return secret, path, nil
}

// splitHostPort parses HOST:PORT with a port from 1 to 65535.
func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("port %q is not a number from 1 to 65535", p)
	}
	return host, port, nil
}

// CheckAddr reports whether addr is a HOST:PORT a node may listen on or
// be reached at.
func CheckAddr(addr string) error {
	_, _, err := splitHostPort(addr)
	return err
}

// nodeName is the node's name: the one given, or the host name.
func nodeName(c *ClusterOptions) (string, error) {
	if c.Node != "" {
		if !ValidName(c.Node) {
			return "", fmt.Errorf("store: node name %q: use letters, digits, '.', '_' and '-' (up to 64)", c.Node)
		}
		return c.Node, nil
	}
	h, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("store: node name: %w", err)
	}
	if !ValidName(h) {
		return "", fmt.Errorf("store: the host name %q cannot name a node: give one with --node", h)
	}
	return h, nil
}

// routes are the URLs this node connects to: every peer, and its own
// address, all with the secret. JetStream counts the routes to learn how
// many nodes the cluster starts with, so that no smaller group elects a
// leader first; a route to itself is recognised and dropped.
func routes(listen string, peers []string, secret string) ([]*url.URL, error) {
	host, port, err := splitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("store: --cluster-listen %q: %w", listen, err)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	self := net.JoinHostPort(host, strconv.Itoa(port))
	seen := map[string]bool{listen: true, self: true}
	out := []*url.URL{{Scheme: "nats-route", User: url.UserPassword(routeUser, secret), Host: self}}
	for _, p := range peers {
		if _, _, err := splitHostPort(p); err != nil {
			return nil, fmt.Errorf("store: peer %q: %w", p, err)
		}
		if seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, &url.URL{Scheme: "nats-route", User: url.UserPassword(routeUser, secret), Host: p})
	}
	return out, nil
}

// A route unanswered for routeMaxPingsOut pings routePingInterval apart
// is closed.
const (
	routePingInterval = 2 * time.Second
	routeMaxPingsOut  = 2
)

// serverOptions builds the embedded server's options from o: a lone
// server, or, with o.Cluster, one node of a cluster whose routes carry
// the secret. The node itself uses an in-process connection; a lone
// server listens for no clients at all (DontListen).
func serverOptions(o Options, secret string) (*server.Options, error) {
	opts := &server.Options{
		ServerName:         "aloft",
		DontListen:         true,
		NoSigs:             true,
		NoLog:              true,
		JetStream:          true,
		StoreDir:           filepath.Join(o.Dir, "jetstream"),
		JetStreamMaxStore:  o.MaxStore,
		JetStreamMaxMemory: o.MaxMem,
		SyncAlways:         o.SyncInterval <= 0,
		SyncInterval:       max(o.SyncInterval, 0),
		// A queue message is up to 1 MiB of body besides its
		// headers; the default limit is exactly 1 MiB.
		MaxPayload: 8 << 20,
	}
	c := o.Cluster
	if c == nil {
		return opts, nil
	}
	name := c.Name
	if name == "" {
		name = DefaultClusterName
	}
	if !ValidName(name) {
		return nil, fmt.Errorf("store: cluster name %q: use letters, digits, '.', '_' and '-' (up to 64)", name)
	}
	node, err := nodeName(c)
	if err != nil {
		return nil, err
	}
	host, port, err := splitHostPort(c.Listen)
	if err != nil {
		return nil, fmt.Errorf("store: --cluster-listen %q: %w", c.Listen, err)
	}
	if err := checkSecret(secret, "the secret file"); err != nil {
		return nil, err
	}
	rs, err := routes(c.Listen, c.Peers, secret)
	if err != nil {
		return nil, err
	}
	// The server starts its routes only once its client listener is up,
	// and never when it has none (DontListen): a node listens for
	// clients on a loopback port of the system's choosing, which takes
	// only a token that is never written anywhere: the node's own
	// in-process connection presents it.
	var token [32]byte
	if _, err := rand.Read(token[:]); err != nil {
		return nil, fmt.Errorf("store: client token: %w", err)
	}
	opts.DontListen = false
	opts.Host = "127.0.0.1"
	opts.Port = server.RANDOM_PORT
	opts.Authorization = base64.RawURLEncoding.EncodeToString(token[:])
	opts.ServerName = node
	opts.Cluster = server.ClusterOpts{
		Name: name,
		Host: host,
		Port: port,
		// Routes present this user and the secret, and a node refuses
		// routes that do not (compared in constant time).
		Username: routeUser,
		Password: secret,
		// A route to a node cut off without a word (a partition) is
		// closed after a few unanswered pings, in seconds rather than
		// the minutes of the default: until then, its node's share of
		// queue groups (replicas answering direct reads among them)
		// still gets requests, which go unanswered.
		PingInterval: routePingInterval,
		MaxPingsOut:  routeMaxPingsOut,
	}
	opts.Routes = rs
	return opts, nil
}

// natsLog hands the embedded server's log to slog: errors and warnings
// as warnings, notices at debug level. A warning of the same form (the
// same but for its digits) is logged at most once a minute, so that a
// peer retrying a refused route every second does not flood the log.
// Route addresses are logged by the server without their credentials.
type natsLog struct {
	log  *slog.Logger
	mu   sync.Mutex
	last map[string]time.Time // by message without its digits
}

func newNATSLog(log *slog.Logger) *natsLog {
	return &natsLog{log: log.With("component", "backbone"), last: map[string]time.Time{}}
}

func (l *natsLog) logf(level slog.Level, format string, v []any) {
	if !l.log.Enabled(context.Background(), level) {
		return
	}
	msg := strings.TrimSpace(fmt.Sprintf(format, v...))
	if level >= slog.LevelWarn {
		// Messages about connections name their address and number:
		// without the digits, the messages of one kind are one.
		key := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return -1
			}
			return r
		}, msg)
		now := time.Now()
		l.mu.Lock()
		t, seen := l.last[key]
		if seen && now.Sub(t) < time.Minute {
			l.mu.Unlock()
			return
		}
		if len(l.last) > 1024 {
			clear(l.last)
		}
		l.last[key] = now
		l.mu.Unlock()
	}
	l.log.Log(context.Background(), level, msg)
}

// Noticef logs the server's notices at debug level.
func (l *natsLog) Noticef(format string, v ...any) { l.logf(slog.LevelDebug, format, v) }

// Warnf logs the server's warnings.
func (l *natsLog) Warnf(format string, v ...any) { l.logf(slog.LevelWarn, format, v) }

// Fatalf logs the server's fatal errors as errors.
func (l *natsLog) Fatalf(format string, v ...any) { l.logf(slog.LevelError, format, v) }

// Errorf logs the server's errors as warnings: a refused or lost
// connection is the server's error, not Aloft's.
func (l *natsLog) Errorf(format string, v ...any) { l.logf(slog.LevelWarn, format, v) }

// Debugf drops the server's debug messages.
func (l *natsLog) Debugf(format string, v ...any) {}

// Tracef drops the server's traces.
func (l *natsLog) Tracef(format string, v ...any) {}
