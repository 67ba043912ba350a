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

// deniedSyscalls fail with EPERM in the sandbox. Everything else is
// allowed: the filter removes kernel surface a function has no business
// with (mounts, namespaces, tracing, modules, keyrings, BPF, clocks,
// swap, accounting, io_uring, whose operations bypass seccomp) rather
// than describing what runtimes need. Names the architecture lacks are
// skipped.
var deniedSyscalls = []string{
	// File systems and mounts.
	"mount", "umount2", "pivot_root", "chroot",
	"fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "open_tree_attr", "mount_setattr",
	"open_by_handle_at", "name_to_handle_at", "quotactl", "quotactl_fd", "swapon", "swapoff",
	"lookup_dcookie", "nfsservctl", "uselib", "vhangup", "acct", "fanotify_init",
	// Namespaces (clone with namespace flags is handled below).
	"unshare", "setns",
	// Other processes' memory and state.
	"ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
	// The kernel itself.
	"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
	"bpf", "perf_event_open", "userfaultfd", "reboot", "syslog", "iopl", "ioperm",
	// Keyrings.
	"keyctl", "add_key", "request_key",
	// Clocks.
	"settimeofday", "clock_settime",
	// io_uring runs its operations outside this filter.
	"io_uring_setup", "io_uring_enter", "io_uring_register",
}

// namespaceFlags are the clone flags that create namespaces.
const namespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWUSER |
	unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWCGROUP

// deviceBit is set in the file type of character and block devices (S_IFCHR
// and S_IFBLK) and in no other: mknod may still make FIFOs, sockets and
// regular files.
const deviceBit = unix.S_IFCHR

// seccompPolicy returns the filter for the running architecture.
func seccompPolicy() (seccomp.Policy, error) {
	info, err := arch.GetInfo("")
	if err != nil {
		return seccomp.Policy{}, fmt.Errorf("seccomp: %w", err)
	}
	var names []string
	for _, n := range deniedSyscalls {
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
	// clone(flags, ...) on x86_64 and arm64: refuse new namespaces. The
	// filter cannot read clone3's flags (they live in memory), so clone3
	// reports ENOSYS and libc falls back to clone.
	add("clone", seccomp.Condition{Argument: 0, Operation: seccomp.BitsSet, Value: namespaceFlags})
	add("mknod", seccomp.Condition{Argument: 1, Operation: seccomp.BitsSet, Value: deviceBit})
	add("mknodat", seccomp.Condition{Argument: 2, Operation: seccomp.BitsSet, Value: deviceBit})
	groups := []seccomp.SyscallGroup{
		{Action: seccomp.ActionErrno, Names: names, NamesWithCondtions: conditional},
	}
	if _, ok := info.SyscallNames["clone3"]; ok {
		groups = append(groups, seccomp.SyscallGroup{
			Action: seccomp.ActionErrno | seccomp.Action(unix.ENOSYS),
			Names:  []string{"clone3"},
		})
	}
	return seccomp.Policy{DefaultAction: seccomp.ActionAllow, Syscalls: groups}, nil
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

// seccompFilter assembles the filter. It starts with a check of the
// architecture: system calls made through another architecture's entry
// point (int 0x80 on x86_64) get ENOSYS, as the policy's own check would
// let them through.
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
	prog := append([]bpf.Instruction{
		bpf.LoadAbsolute{Off: 4, Size: 4}, // seccomp_data.arch
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(info.ID), SkipTrue: 1},
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
