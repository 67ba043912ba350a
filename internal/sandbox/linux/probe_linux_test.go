package linux

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// runProbe runs inside a sandbox, as the function, and prints what it
// finds for the tests to check.
func runProbe(name string) int {
	switch {
	case name == "status":
		return probeStatus()
	case name == "syscalls":
		return probeSyscalls()
	case strings.HasPrefix(name, "echo:"):
		return probeEcho(strings.TrimPrefix(name, "echo:"))
	case strings.HasPrefix(name, "dial:"):
		return probeDial(strings.Split(strings.TrimPrefix(name, "dial:"), ","))
	case strings.HasPrefix(name, "alloc:"):
		mb, err := strconv.Atoi(strings.TrimPrefix(name, "alloc:"))
		if err != nil {
			fmt.Println(err)
			return 2
		}
		return probeAlloc(mb)
	}
	fmt.Println("unknown probe", name)
	return 2
}

// probeStatus prints the process's open descriptors, then its
// /proc/self/status (identity, capabilities, no_new_privs, seccomp).
func probeStatus() int {
	// Probe descriptors first, with fcntl, before anything else opens one.
	var fds []string
	for fd := 0; fd < 256; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
			fds = append(fds, strconv.Itoa(fd))
		}
	}
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		fmt.Println(err)
		return 1
	}
	fmt.Printf("fds: %s\n%s", strings.Join(fds, " "), b)
	return 0
}

// probeSyscalls tries system calls the filter refuses and prints
// name=ERRNO (or name=ok) for each. Most calls are chosen so that without
// the filter they would succeed or fail differently.
func probeSyscalls() int {
	res := func(name string, err error) {
		switch e := err.(type) {
		case nil:
			fmt.Printf("%s=ok\n", name)
		case syscall.Errno:
			fmt.Printf("%s=%s\n", name, unix.ErrnoName(e))
		default:
			fmt.Printf("%s=%v\n", name, err)
		}
	}
	errno := func(e syscall.Errno) error {
		if e == 0 {
			return nil
		}
		return e
	}
	res("mount", unix.Mount("tmpfs", "/tmp", "tmpfs", 0, ""))
	res("umount2", unix.Unmount("/tmp", unix.MNT_DETACH))
	res("pivot_root", unix.PivotRoot("/tmp", "/tmp"))
	res("chroot", unix.Chroot("/tmp"))
	res("unshare_user", unix.Unshare(unix.CLONE_NEWUSER))
	res("unshare_ns", unix.Unshare(unix.CLONE_NEWNS))
	res("setns", unix.Setns(-1, 0))
	if fd, err := unix.Open("/proc/self/ns/net", unix.O_RDONLY, 0); err == nil {
		res("setns_net", unix.Setns(fd, unix.CLONE_NEWNET)) // refused by the filter or, lacking capabilities, the kernel
		unix.Close(fd)
	}
	{
		pid, _, e := syscall.RawSyscall6(unix.SYS_CLONE, uintptr(unix.CLONE_NEWUSER|unix.SIGCHLD), 0, 0, 0, 0, 0)
		if e == 0 && pid == 0 {
			syscall.RawSyscall(unix.SYS_EXIT_GROUP, 0, 0, 0)
		}
		if e == 0 {
			var ws unix.WaitStatus
			unix.Wait4(int(pid), &ws, 0, nil)
		}
		res("clone_newuser", errno(e))
	}
	{
		_, _, e := syscall.RawSyscall(unix.SYS_CLONE3, 0, 0, 0)
		res("clone3", errno(e))
	}
	{
		_, _, e := syscall.RawSyscall(unix.SYS_PTRACE, unix.PTRACE_TRACEME, 0, 0)
		res("ptrace_traceme", errno(e))
	}
	{
		_, _, e := syscall.RawSyscall6(unix.SYS_PROCESS_VM_READV, uintptr(os.Getpid()), 0, 0, 0, 0, 0)
		res("process_vm_readv", errno(e))
	}
	{
		_, err := unix.KeyctlInt(unix.KEYCTL_GET_KEYRING_ID, unix.KEY_SPEC_SESSION_KEYRING, 0, 0, 0)
		res("keyctl", err)
	}
	{
		_, err := unix.AddKey("user", "aloft", []byte("x"), unix.KEY_SPEC_PROCESS_KEYRING)
		res("add_key", err)
	}
	{
		_, _, e := syscall.RawSyscall(unix.SYS_BPF, 0, 0, 0)
		res("bpf", errno(e))
	}
	{
		_, _, e := syscall.RawSyscall6(unix.SYS_PERF_EVENT_OPEN, 0, 0, ^uintptr(0), ^uintptr(0), 0, 0)
		res("perf_event_open", errno(e))
	}
	{
		_, _, e := syscall.RawSyscall(unix.SYS_USERFAULTFD, 0, 0, 0)
		res("userfaultfd", errno(e))
	}
	{
		_, _, e := syscall.RawSyscall(unix.SYS_IO_URING_SETUP, 1, 0, 0)
		res("io_uring_setup", errno(e))
	}
	{
		p, _ := unix.BytePtrFromString("/tmp")
		_, _, e := syscall.RawSyscall(unix.SYS_OPEN_TREE, uintptr(atFDCWD), uintptr(unsafe.Pointer(p)), 0)
		res("open_tree", errno(e))
	}
	res("mknod_char", unix.Mknod("/tmp/null", unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3))))
	res("mkfifo", unix.Mkfifo("/tmp/fifo", 0o600))
	res("fork", exec.Command("/bin/true").Run())
	res("settimeofday", unix.Settimeofday(&unix.Timeval{}))
	{
		_, err := unix.Klogctl(10, nil) // SYSLOG_ACTION_SIZE_BUFFER
		res("syslog", err)
	}
	res("acct", unix.Acct(""))
	{
		_, _, e := syscall.RawSyscall6(unix.SYS_REBOOT, unix.LINUX_REBOOT_MAGIC1, unix.LINUX_REBOOT_MAGIC2, unix.LINUX_REBOOT_CMD_CAD_OFF, 0, 0, 0)
		res("reboot", errno(e))
	}
	// Calls that would succeed without the filter but are not on its
	// allow-list, the persona query it allows, and a number it does not
	// know.
	{
		var mode int
		_, _, e := syscall.RawSyscall6(unix.SYS_GET_MEMPOLICY, uintptr(unsafe.Pointer(&mode)), 0, 0, 0, 0, 0)
		res("get_mempolicy", errno(e))
	}
	{
		_, _, e := syscall.RawSyscall(unix.SYS_PERSONALITY, 0x0040000, 0, 0) // ADDR_NO_RANDOMIZE
		res("personality_norandom", errno(e))
		_, _, e = syscall.RawSyscall(unix.SYS_PERSONALITY, 0xffffffff, 0, 0)
		res("personality_query", errno(e))
	}
	{
		_, _, e := syscall.RawSyscall(1000, 0, 0, 0)
		res("unknown_1000", errno(e))
	}
	return 0
}

// probeAlloc touches mb MiB of anonymous memory, outside the Go heap so
// that the race detector adds nothing, and exits.
func probeAlloc(mb int) int {
	mem, err := unix.Mmap(-1, 0, mb<<20, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	for i := 0; i < len(mem); i += 4096 {
		mem[i] = 1
	}
	fmt.Println("allocated", mb, "MiB")
	return 0
}

// atFDCWD is AT_FDCWD as a variable, so that it converts to uintptr.
var atFDCWD = unix.AT_FDCWD

// probeDial prints the network interfaces it sees, then, for each address,
// the first line read from a connection to it or the error.
func probeDial(addrs []string) int {
	ifs, err := net.Interfaces()
	if err != nil {
		fmt.Println("interfaces:", err)
		return 1
	}
	var names []string
	for _, i := range ifs {
		names = append(names, i.Name)
	}
	fmt.Printf("interfaces: %s\n", strings.Join(names, " "))
	for _, a := range addrs {
		c, err := net.DialTimeout("tcp", a, 2*time.Second)
		if err != nil {
			fmt.Printf("%s: %v\n", a, err)
			continue
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if err != nil {
			fmt.Printf("%s: read: %v\n", a, err)
			continue
		}
		fmt.Printf("%s: %s", a, line)
	}
	return 0
}

// probeEcho connects to addr and sends back every byte it reads.
func probeEcho(addr string) int {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	var b [1]byte
	for {
		if _, err := c.Read(b[:]); err != nil {
			return 0
		}
		if _, err := c.Write(b[:]); err != nil {
			return 0
		}
	}
}
