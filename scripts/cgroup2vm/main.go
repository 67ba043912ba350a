//go:build linux

// Command cgroup2vm is the init of the small virtual machine in which
// scripts/test-cgroup2.sh runs the linux sandbox's tests on a cgroup v2
// host, and scripts/test-powerloss.sh the store's power-loss test. It loads
// the 9p modules from its initramfs, then any named by the kernel argument
// aloft.modules=NAME,NAME... in that order, brings up loopback,
// mounts the host's root
// read-only over 9p with fresh /proc, /sys, /dev, /tmp, /run and a cgroup2
// hierarchy on top, makes it the root, runs the command in the file named by the
// kernel argument aloft.cmd=PATH with /bin/sh, and powers the machine off.
// Its last line is "cgroup2vm: exit N" with the command's exit code.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"golang.org/x/sys/unix"
)

// modules are the kernel modules 9p over virtio needs, in load order.
var modules = []string{
	"virtio_ring", "virtio", "virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio_pci",
	"netfs", "fscache", "9pnet", "9pnet_virtio", "9p",
}

func main() {
	code := run()
	fmt.Printf("cgroup2vm: exit %d\n", code)
	unix.Sync()
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
}

func run() int {
	for _, m := range []struct{ src, dst, typ string }{
		{"proc", "/proc", "proc"}, {"sysfs", "/sys", "sysfs"}, {"devtmpfs", "/dev", "devtmpfs"},
	} {
		if err := mount(m.src, m.dst, m.typ, 0, ""); err != nil {
			return fail(err)
		}
	}
	cmdline, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		return fail(err)
	}
	var script string
	var extra []string
	for _, f := range strings.Fields(string(cmdline)) {
		if v, ok := strings.CutPrefix(f, "aloft.cmd="); ok {
			script = v
		}
		if v, ok := strings.CutPrefix(f, "aloft.modules="); ok {
			extra = strings.Split(v, ",")
		}
	}
	for _, m := range append(modules, extra...) {
		if err := load("/modules/" + m + ".ko"); err != nil {
			fmt.Printf("cgroup2vm: module %s: %v\n", m, err) // some are built in
		}
	}
	if err := loopbackUp(); err != nil {
		return fail(err)
	}
	if err := mount("host", "/host", "9p", unix.MS_RDONLY, "trans=virtio,version=9p2000.L,cache=loose,msize=262144"); err != nil {
		return fail(err)
	}
	for _, m := range []struct{ src, dst, typ string }{
		{"tmpfs", "/host/tmp", "tmpfs"}, {"tmpfs", "/host/run", "tmpfs"}, {"tmpfs", "/host/root", "tmpfs"},
		{"proc", "/host/proc", "proc"}, {"sysfs", "/host/sys", "sysfs"}, {"devtmpfs", "/host/dev", "devtmpfs"},
		{"cgroup2", "/host/sys/fs/cgroup", "cgroup2"},
	} {
		if err := mount(m.src, m.dst, m.typ, 0, ""); err != nil {
			return fail(err)
		}
	}
	if script == "" {
		return fail(errors.New("no aloft.cmd= on the kernel command line"))
	}
	if err := switchRoot("/host"); err != nil {
		return fail(err)
	}
	cmd := exec.Command("/bin/sh", script)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stdout
	cmd.Env = []string{"PATH=/usr/local/go/bin:/usr/local/bin:/usr/bin:/bin", "HOME=/root", "TMPDIR=/tmp"}
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		return fail(err)
	}
	return 0
}

// switchRoot makes dir, with the mounts below it, the root: it moves the
// mount on dir over the initramfs's and enters it. Unlike a chroot into
// dir, this leaves the process at the root of its mount namespace, which
// unprivileged users need to create user namespaces.
func switchRoot(dir string) error {
	if err := os.Chdir(dir); err != nil {
		return err
	}
	if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move %s to /: %w", dir, err)
	}
	if err := unix.Chroot("."); err != nil {
		return err
	}
	return os.Chdir("/")
}

func mount(src, dst, typ string, flags uintptr, data string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil && !os.IsExist(err) && !errors.Is(err, unix.EROFS) {
		return err
	}
	if err := unix.Mount(src, dst, typ, flags, data); err != nil {
		return fmt.Errorf("mount %s on %s: %w", typ, dst, err)
	}
	return nil
}

// loopbackUp brings up lo, the machine's only network interface.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("lo flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	return nil
}

func load(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.FinitModule(int(f.Fd()), "", 0)
}

func fail(err error) int {
	fmt.Printf("cgroup2vm: %v\n", err)
	return 125
}
