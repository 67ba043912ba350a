// Package linux is the sandbox driver that isolates each function instance
// with Linux namespaces, cgroups, seccomp and an unprivileged identity. It
// needs root, Linux 5.12 or later and cgroups (v1, hybrid or v2); without
// root it runs in a user namespace, with less (see Without root).
//
// What an instance gets:
//
//   - its own mount, PID, IPC, UTS and network namespaces (hostname
//     "localhost"): init is cloned into all five. When an init is
//     prepared, the driver brings the namespace's loopback up, opens the
//     listeners of Options.Listen there (the Runtime API's, so that a
//     start never enters the namespace), and has Options.Egress connect
//     it to the host (package egress: a veth pair and NAT to the internet,
//     nothing of the host). Start hands the namespace to Spec.Listen
//     before the function runs; Spec.Offline then takes the link and the
//     listeners nobody took away again, leaving the loopback;
//   - a new root: a small tmpfs, read-only once built, holding read-only
//     bind mounts of the paths in Options.ReadOnly (same path as on the
//     host), the code read-only at /var/task and at its host path,
//     Options.RuntimeDir read-only at its host path, a private tmpfs of
//     Spec.TmpMB at /tmp (its pages count against the memory limit), a
//     fresh /proc, a minimal /dev (null, zero, full, random, urandom, tty,
//     and a tmpfs /dev/shm) and generated /etc/passwd, /etc/group,
//     /etc/hosts and /etc/hostname.
//     Nothing else of the host is visible: no data dir (Options.Hidden
//     covers it with an empty tmpfs even where a read-only path includes
//     it), no /home, no /root beyond a mounted interpreter prefix, no
//     host /proc, no /sys;
//   - a cgroup per instance under Options.CgroupParent: a memory limit of
//     Spec.MemoryMB with no swap, a CPU weight and quota proportional to
//     memory (1769 MB buys one CPU, never less than a fifth of one), a
//     limit of 1024 tasks, and the freezer. The quota applies from
//     EndBoost on, which the invoker calls when the runtime is ready: as on
//     Lambda, initialisation runs at full speed, held back only by the
//     CPU weight. From EndBoost on, too, the instance's threads run on as
//     many CPUs as its memory buys (rounded up), the least used first,
//     when the host has more (cpuPlacer);
//   - a process that runs as a user and group of the instance's own (from
//     Options.FirstUID on; Options.UID/GID name one for all), with no
//     supplementary groups,
//     no capabilities (the bounding set is emptied), no_new_privs, and a
//     seccomp filter that allows the system calls ordinary programs and
//     language runtimes make and refuses every other one with EPERM
//     (mounts, namespaces, tracing, kernel modules, keyrings, BPF,
//     io_uring and the like), and numbers newer than it knows with ENOSYS.
//
// Environment variables naming Spec.TmpDir (TMPDIR and HOME as the invoker
// sets them) are rewritten to /tmp.
//
// # How instances start
//
// Each instance's init is a small program of its own (initbin: this
// package's Init and nothing else), which the driver embeds gzipped,
// writes once into a sealed memory file and executes from there with the
// argument vector {"aloft-sandbox-init"} in new namespaces: a start then
// costs that program's start-up, a fraction of the whole server's. Where
// the embedded program cannot run (another architecture, a kernel that
// forbids executing memory files) or Options.SelfInit asks for it, the
// driver re-executes the running program (/proc/self/exe) instead, and
// Init recognises the argument vector there and runs the init instead of
// the server. Package main must therefore call Init first thing in main;
// in every other process it returns at once. The embedded program must be
// rebuilt when this package's code changes (TestEmbeddedInit says so):
//
//	go test ./internal/sandbox/linux -run TestEmbeddedInit -args -update
//
// Orders travel over a socket on fd 3, never through the function's
// environment, and init prepares everything that does not depend on the
// function before it is needed: the driver keeps Options.Prestart inits
// prepared, and refills that pool whenever starts leave the machine alone
// for a moment. Start then only sets limits, hands over the code and the
// output, and waits for the exec:
//
//	driver (ahead of need)                   init (pid 1 in the new namespaces)
//	----------------------                   ----------------------------------
//	mkdir cgroup (lowest CPU weight)
//	clone(NEWNS|NEWPID|NEWIPC|NEWUTS|NEWNET) -> Go runtime starts; Init reads fd 3
//	  v2: clone3 straight into the cgroup
//	  v1: write the pid to cgroup.procs
//	send the plan --------------------------> mounts private; tmpfs root; pivot_root;
//	                                          bind mounts, /proc, /dev, /tmp;
//	                                          detach the old root; sethostname;
//	                                          forker thread: empty bounding set,
//	                                          seccomp filter assembled
//	<--------------------------------------- "idle"
//	lo up, listeners opened, egress attached
//	pool
//
//	Start
//	-----
//	rename the cgroup (v1), set the limits
//	Spec.Listen(namespace); Offline: unlink
//	open_tree(code) (detached, read-only)
//	send argv/env/dir + code + output fds --> move_mount code to /var/task, bind it
//	                                          at its host path; root read-only;
//	                                          chdir; wake the forker, which
//	                                          forks: setgroups/setgid/setuid, execve
//	Start returns <------------------------- "ready" (or the error)
//	                                          reap orphans, forward signals
//	Done closes, cgroup removed <----------- function exits: its status; init exits
//
// When the pool is empty, Start runs both parts itself.
//
// # Template processes
//
// A Spec may name a sandbox.Template: an interpreter with Aloft's runtime
// bootstrap, which can load itself before it knows its function. For each
// template that Start has been asked for, the driver keeps a few inits
// prepared with the template already running inside (Options.Templates at
// first; a Start that finds none ready raises the number, up to 16, and it
// falls back by one a minute while nobody takes any; a template nobody
// asked for in ten minutes is dropped). The prepare message then carries the
// template and the write end of an output pipe the driver made; init has
// the forker start the template at once, as the function's user and under
// the same seccomp filter and empty bounding set, and reports idle only
// once the template has written its ready line on descriptor 3. A launch
// mounts the code and sizes /tmp as usual, and then, instead of forking,
// writes the order (the instance's environment and directory) to the
// template, which takes it on and runs the function's init. The code
// mount made after the template started is visible to it: it lives in the
// same mount namespace.
//
// Each template process lives in its own sandbox and serves one instance;
// nothing is shared between instances, unlike a zygote that forks
// instances from one process (whose memory, and address layout, every
// instance would inherit). What this costs is memory while the processes
// wait, 10-15 MB each, and CPU to prepare them, which the driver spends
// only when starts leave the machine alone. An instance of a template
// writes to the template's pipe, handed to the caller through
// sandbox.OutputPipe. A template that has exited by the time it is needed
// costs nothing but a fallback to an ordinary start. The template runs in
// the instance's network namespace from the start, like everything else
// of its init.
//
// Pid 1 of the namespace is this small reaper rather than the function
// itself. The kernel drops signals that have no handler when they are sent
// to a namespace's init, so a function running as pid 1 could not be
// stopped with SIGTERM, and a shell could not even kill itself; orphans
// would also stay zombies. The reaper forwards SIGTERM to every process of
// the namespace and other signals to the function, reports the function's
// exact wait status to the server, and exits with it, which tears the whole
// namespace down. It stays root but out of the function's reach: the
// function runs as another user, so it can neither signal nor trace it,
// and nothing the function writes is ever read by it.
//
// Inits die with the server through their parent-death signal, which
// fires when the thread that started them exits: every init is started
// from one thread kept for that (see spawner), as threads the driver
// locks to enter a namespace may end. The exception is frozen inits,
// which cannot die until they are thawed. For those the
// driver starts a guard when it is created (the init program again, with
// another argument vector): it waits for the end of file on a pipe only
// the server holds, then kills, thaws and removes every instance cgroup
// the server named; Close stands it down with a byte on that pipe. New
// does the same sweep for every instance cgroup under the parent that a
// previous run left.
//
// # Without root
//
// A server without root can still isolate functions: it runs itself
// again as root of a user namespace that maps only its own user
// (RunInUserNamespace; package app decides when), and New, finding itself
// in such a namespace, works as above with what that namespace allows.
// The instances' mount, PID, IPC, UTS and network namespaces belong to
// it; the root, the seccomp filter, the emptied capability sets and
// no_new_privs are the same. What it lacks: identities (only root exists,
// the server's user on the host, so every function runs as that user
// with no capabilities, kept apart by namespaces); egress (the host's
// network is out of reach, so instances have their loopback and the
// listeners opened there); and cgroups, unless the host delegates some to
// the user.
//
// A cgroup counts as delegated on a cgroup v2 host when the server's user
// may create cgroups in the server's own cgroup, move processes through
// its cgroup.procs and enable controllers in its cgroup.subtree_control,
// and the cgroup has the memory, cpu and pids controllers: what systemd
// gives a unit with Delegate=yes (systemd-run --user -p Delegate=yes),
// or an administrator who chowns a cgroup and those files to the user.
// Cgroup v2 lets a cgroup other than the root give controllers to its
// children only while it holds no process itself, so the server's
// processes move into a leaf below it, aloft-server: RunInUserNamespace
// moves its own process there before it starts the server, which is then
// born there. A move needs write access to the cgroup.procs of the
// cgroup that holds both ends, here the delegated one, and so does
// cloning straight into a cgroup, which the instances' inits then are.
// New enables memory, cpu and pids from the delegated cgroup down to
// Options.CgroupParent below it, never above, and from there on all is
// as with root: the limits, statistics, freezing, cgroup.kill, the guard
// and the start-up sweep. Once the server has exited, RunInUserNamespace
// disables the controllers it enabled, moves back and removes the leaf,
// leaving the delegated cgroup as it was; after a crash, what is left
// below (the guard ending the instances) stops it, and the next run uses
// the leaf again.
//
// Where nothing is delegated (a cgroup v1 or hybrid host, a cgroup the
// user may not write, or one holding processes other than the server's),
// New logs why and runs without cgroups: no memory, CPU or task limits,
// no statistics and no freezing (instances do not offer sandbox.Freezer).
// HasCgroups tells which.
//
// Stop sends SIGTERM to the reaper, waits out the grace period, then lifts
// the CPU quota and kills every process of the instance (init's death alone
// would do, more slowly); the instance's cgroup is removed before Done
// closes.
package linux
