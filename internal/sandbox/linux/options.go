package linux

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
)

// Options configures a Driver. The zero value is usable.
type Options struct {
	// ReadOnly lists the host paths the function may read, besides its code
	// and RuntimeDir; each is bind-mounted read-only at the same path. Nil
	// means DefaultReadOnly(); a caller that needs more (an interpreter
	// installed under /root or /opt, say) appends to DefaultReadOnly().
	// Paths that do not exist are skipped.
	ReadOnly []string
	// Hidden lists host directories no instance may see even where a
	// read-only path includes them (the server's data dir under /usr,
	// say): an empty tmpfs covers each there.
	Hidden []string
	// RuntimeDir is the directory holding Aloft's runtime bootstraps (the
	// data dir's runtimes/), mounted read-only at its path. Empty mounts
	// nothing.
	RuntimeDir string
	// UID and GID, when set (both or neither), are the one identity every
	// function runs as. Unset, every instance runs as an identity of its
	// own, user and group alike, from the range of UIDCount ids starting
	// at FirstUID (zero means DefaultFirstUID and DefaultUIDCount), which
	// no host account should use. A function never runs as root.
	UID, GID           int
	FirstUID, UIDCount int
	// RootDir is an empty directory, created if missing, on which every
	// init builds its instance's root in its own mount namespace; empty
	// means /run/aloft-sandbox. A driver in a user namespace needs one
	// its user may create.
	RootDir string
	// CgroupParent is the cgroup, relative to the root of each cgroup
	// hierarchy (in a user namespace, to the cgroup delegated to the
	// server's user), that holds the instances' cgroups; empty means
	// "aloft".
	// New removes what a previous run left there, so two servers must not
	// share one.
	CgroupParent string
	// OwnParent says CgroupParent is this driver's alone (a server names
	// it after its data dir): Close removes it even when it existed at New,
	// as it does when a previous run was killed before it could. Without
	// it, a parent that existed at New is an operator's and stays.
	OwnParent bool
	// Prestart is how many instances the driver keeps prepared (init
	// started, root built) ahead of need, so that Start only has to hand
	// over the code and exec the function; each holds 1-2 MB while it
	// waits. Zero means DefaultPrestart; a negative value keeps none, and
	// every Start re-executes the server first.
	Prestart int
	// Templates is how many processes the driver keeps ready at first
	// for each sandbox.Template that Start has been asked for within the
	// last ten minutes, each in a prepared instance; starts that find none
	// ready raise the number, up to 16, and it falls back by one a minute
	// while nobody takes any. A Python or Node.js template holds 10-15 MB
	// (PSS) while it waits. Zero means DefaultTemplates; a negative value
	// keeps none.
	Templates int
	// SelfInit starts every init by executing the running program again
	// (which must call Init first thing in main) instead of the small init
	// program the driver embeds. The embedded one starts in a fraction of
	// the time; the running program is the fallback where it cannot run.
	SelfInit bool
	// Listen lists TCP addresses to listen on in every instance's network
	// namespace ahead of need (the Runtime API's), so that a start need
	// not enter the namespace: sandbox.Network.Listen hands these out.
	Listen []string
	// Egress, when set, connects an instance's network namespace (the
	// descriptor) to the outside world, and the closer disconnects it
	// (package egress). Without it instances have their loopback only.
	Egress func(nsfd int) (io.Closer, error)
	// Logger receives the driver's diagnostics; nil discards them.
	Logger *slog.Logger
}

// Defaults for zero Options fields.
const (
	DefaultFirstUID     = 1_500_000_000
	DefaultUIDCount     = 65536
	DefaultCgroupParent = "aloft"
	DefaultPrestart     = 16
	DefaultTemplates    = 4
)

// DefaultReadOnly returns the host paths a function sees by default: the
// system's programs and libraries (enough for /bin/sh, the host's
// /usr/bin/python3 and /usr/bin/node), TLS roots, name-service and time
// zone configuration. It returns a new slice on every call.
func DefaultReadOnly() []string {
	return []string{
		"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
		"/etc/alternatives", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
		"/etc/ssl", "/etc/ca-certificates", "/etc/pki", "/etc/crypto-policies",
		"/etc/resolv.conf", "/etc/nsswitch.conf", "/etc/host.conf", "/etc/gai.conf",
		"/etc/protocols", "/etc/services", "/etc/localtime", "/etc/mime.types",
	}
}

// InterpreterPrefixes returns the directories to add to Options.ReadOnly so
// that the interpreter at exe (say /root/.pyenv/versions/3.11.7/bin/python3
// or a virtualenv's bin/python) can run in the sandbox: the installation
// prefix above its bin directory, and the prefix of the file a symbolic link
// leads to. Prefixes already under DefaultReadOnly are left out.
func InterpreterPrefixes(exe string) []string {
	var out []string
	add := func(p string) {
		if filepath.Base(filepath.Dir(p)) != "bin" {
			return
		}
		prefix := filepath.Dir(filepath.Dir(p))
		if prefix == "/" || underAny(prefix, DefaultReadOnly()) {
			return
		}
		for _, o := range out {
			if o == prefix {
				return
			}
		}
		out = append(out, prefix)
	}
	exe = filepath.Clean(exe)
	add(exe)
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		add(real)
	}
	return out
}

// underAny reports whether p is one of roots or lies below one of them.
func underAny(p string, roots []string) bool {
	for _, r := range roots {
		if within(p, r) {
			return true
		}
	}
	return false
}

// within reports whether p is root or lies below it; both are clean
// absolute paths.
func within(p, root string) bool {
	if root == "/" || p == root {
		return true
	}
	return len(p) > len(root) && p[:len(root)] == root && p[len(root)] == os.PathSeparator
}
