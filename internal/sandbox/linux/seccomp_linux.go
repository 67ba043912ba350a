package linux

import (
	"fmt"
	"runtime"
	"unsafe"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// allowedSyscalls are the system calls a function may make; every other
// one fails with EPERM. The list describes what ordinary programs and
// language runtimes use (files, memory, processes and threads, signals,
// time, events, sockets, System V and POSIX IPC) and leaves out the
// kernel surface a function has no business with: mounts and namespaces,
// tracing and other processes' memory, kernel modules, keyrings, BPF,
// perf, userfaultfd, clocks, swap, accounting, NUMA placement and
// io_uring, whose operations bypass this filter. Names the architecture
// lacks are skipped. A few calls are allowed only with some arguments
// (see seccompPolicy).
var allowedSyscalls = []string{
	// Reading and writing.
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2", "pwritev2",
	"open", "openat", "openat2", "creat", "close", "close_range", "lseek", "dup", "dup2", "dup3",
	"pipe", "pipe2", "sendfile", "splice", "tee", "vmsplice", "copy_file_range",
	"fsync", "fdatasync", "sync", "syncfs", "sync_file_range", "fallocate", "ftruncate", "truncate",
	"fadvise64", "readahead", "flock", "fcntl", "ioctl",
	// Names, directories and attributes.
	"stat", "fstat", "lstat", "newfstatat", "statx", "statfs", "fstatfs", "access", "faccessat", "faccessat2",
	"readlink", "readlinkat", "getdents", "getdents64", "chdir", "fchdir", "getcwd",
	"mkdir", "mkdirat", "rmdir", "rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat",
	"unlink", "unlinkat", "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat",
	"umask", "utime", "utimes", "utimensat", "futimesat",
	"getxattr", "lgetxattr", "fgetxattr", "listxattr", "llistxattr", "flistxattr",
	"setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr",
	"getxattrat", "setxattrat", "listxattrat", "removexattrat",
	"inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch", "memfd_create",
	// Memory.
	"brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "mincore", "msync", "remap_file_pages",
	"mlock", "mlock2", "munlock", "mlockall", "munlockall", "membarrier",
	"pkey_alloc", "pkey_free", "pkey_mprotect", "map_shadow_stack", "mseal",
	// Processes and threads.
	"execve", "execveat", "exit", "exit_group", "fork", "vfork", "wait4", "waitid",
	"set_tid_address", "set_robust_list", "get_robust_list", "futex", "futex_waitv", "futex_wake",
	"futex_wait", "futex_requeue", "rseq", "restart_syscall", "arch_prctl", "prctl",
	"set_thread_area", "get_thread_area", "uretprobe",
	"getpid", "getppid", "gettid", "getpgid", "setpgid", "getpgrp", "getsid", "setsid",
	"getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups",
	"setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups", "setfsuid", "setfsgid",
	"capget", "capset", "getpriority", "setpriority", "ioprio_get", "ioprio_set",
	"sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getparam", "sched_setparam",
	"sched_getscheduler", "sched_setscheduler", "sched_get_priority_max", "sched_get_priority_min",
	"sched_rr_get_interval", "sched_getattr", "sched_setattr",
	"getrlimit", "setrlimit", "prlimit64", "getrusage", "times", "uname", "sysinfo", "getcpu", "getrandom",
	"pidfd_open", "pidfd_send_signal", "seccomp", "landlock_create_ruleset", "landlock_add_rule",
	"landlock_restrict_self", "cachestat",
	// Signals.
	"kill", "tkill", "tgkill", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending",
	"rt_sigtimedwait", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "rt_sigsuspend", "sigaltstack",
	"signalfd", "signalfd4", "pause",
	// Time.
	"clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday", "time",
	"timer_create", "timer_settime", "timer_gettime", "timer_getoverrun", "timer_delete",
	"timerfd_create", "timerfd_settime", "timerfd_gettime", "alarm", "getitimer", "setitimer",
	// Waiting for events, and asynchronous I/O.
	"epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2",
	"poll", "ppoll", "select", "pselect6", "eventfd", "eventfd2",
	"io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents", "io_pgetevents",
	// Sockets.
	"socket", "socketpair", "bind", "listen", "accept", "accept4", "connect", "getsockname", "getpeername",
	"sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "shutdown", "setsockopt", "getsockopt",
	// System V and POSIX IPC, private to the instance's IPC namespace.
	"shmget", "shmat", "shmdt", "shmctl", "semget", "semop", "semtimedop", "semctl",
	"msgget", "msgsnd", "msgrcv", "msgctl",
	"mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr",
}

// namespaceFlags are the clone flags that create namespaces.
const namespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWUSER |
	unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWCGROUP

// deviceBit is set in the file type of character and block devices (S_IFCHR
// and S_IFBLK) and in no other: mknod may still make FIFOs, sockets and
// regular files.
const deviceBit = unix.S_IFCHR

// personalityQuery asks personality for the current persona without
// changing it.
const personalityQuery = 0xffffffff

// seccompPolicy returns the filter for the running architecture: the
// allowed calls, the conditional ones, and EPERM for everything else.
func seccompPolicy() (seccomp.Policy, error) {
	info, err := arch.GetInfo("")
	if err != nil {
		return seccomp.Policy{}, fmt.Errorf("seccomp: %w", err)
	}
	var names []string
	for _, n := range allowedSyscalls {
		if _, ok := info.SyscallNames[n]; ok {
			names = append(names, n)
		}
	}
	var conditional []seccomp.NameWithConditions
	add := func(name string, c ...seccomp.Condition) {
		if _, ok := info.SyscallNames[name]; ok {
			conditional = append(conditional, seccomp.NameWithConditions{Name: name, Conditions: c})
		}
	}
	// clone(flags, ...) on x86_64 and arm64, without new namespaces. The
	// filter cannot read clone3's flags (they live in memory), so clone3
	// reports ENOSYS and libc falls back to clone.
	add("clone", seccomp.Condition{Argument: 0, Operation: seccomp.BitsNotSet, Value: namespaceFlags})
	// mknod of FIFOs, sockets and regular files, never of devices.
	add("mknod", seccomp.Condition{Argument: 1, Operation: seccomp.BitsNotSet, Value: deviceBit})
	add("mknodat", seccomp.Condition{Argument: 2, Operation: seccomp.BitsNotSet, Value: deviceBit})
	// personality: the ordinary Linux persona and the query, nothing that
	// turns address randomisation off.
	add("personality", seccomp.Condition{Argument: 0, Operation: seccomp.Equal, Value: 0})
	add("personality", seccomp.Condition{Argument: 0, Operation: seccomp.Equal, Value: personalityQuery})
	groups := []seccomp.SyscallGroup{
		{Action: seccomp.ActionAllow, Names: names, NamesWithCondtions: conditional},
	}
	if _, ok := info.SyscallNames["clone3"]; ok {
		groups = append(groups, seccomp.SyscallGroup{
			Action: seccomp.ActionErrno | seccomp.Action(unix.ENOSYS),
			Names:  []string{"clone3"},
		})
	}
	return seccomp.Policy{DefaultAction: seccomp.ActionErrno, Syscalls: groups}, nil // EPERM
}

// checkSeccomp tells whether the kernel supports seccomp filters and the
// policy assembles, so that New fails rather than every Start.
func checkSeccomp() error {
	if !seccomp.Supported() {
		return fmt.Errorf("seccomp filters are not supported by this kernel")
	}
	p, err := seccompPolicy()
	if err != nil {
		return err
	}
	if _, err := p.Assemble(); err != nil {
		return fmt.Errorf("seccomp: %w", err)
	}
	return nil
}

// seccompFilter assembles the filter. It starts with two checks: system
// calls made through another architecture's entry point (int 0x80 on
// x86_64) get ENOSYS, as the policy's own check would let them through,
// and so do numbers newer than any the filter knows, so that a program
// probing for a call this kernel may lack falls back as it would on an
// older kernel instead of taking EPERM for a refusal.
func seccompFilter() ([]unix.SockFilter, error) {
	p, err := seccompPolicy()
	if err != nil {
		return nil, err
	}
	policy, err := p.Assemble()
	if err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	info, err := arch.GetInfo("")
	if err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	highest := 0
	for _, nr := range info.SyscallNames {
		highest = max(highest, nr)
	}
	prog := append([]bpf.Instruction{
		bpf.LoadAbsolute{Off: 4, Size: 4}, // seccomp_data.arch
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(info.ID), SkipTrue: 1},
		bpf.RetConstant{Val: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
		bpf.LoadAbsolute{Off: 0, Size: 4}, // seccomp_data.nr
		bpf.JumpIf{Cond: bpf.JumpGreaterThan, Val: uint32(highest), SkipFalse: 1},
		bpf.RetConstant{Val: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
	}, policy...)
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	filter := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		filter[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	return filter, nil
}

// loadSeccomp sets no_new_privs and loads filter on the calling thread,
// whose children and executed programs inherit both.
func loadSeccomp(filter []unix.SockFilter) error {
	fprog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set no_new_privs: %w", err)
	}
	_, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(filter)
	if errno != 0 {
		return fmt.Errorf("load seccomp filter: %w", errno)
	}
	return nil
}
