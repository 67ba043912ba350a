package linux

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The file system of an instance is described on the server side as a list
// of steps (a plan) and built by init inside the new mount namespace. The
// plan is mostly fixed per driver; only the code mounts change per start.

// Kinds of mountOp.
const (
	opBind    = "bind"    // bind-mount host path Src at Dst, then set Attr
	opSymlink = "symlink" // create a symbolic link at Dst reading Src
	opTmpfs   = "tmpfs"   // mount a tmpfs at Dst with flags Attr and options Data
	opProc    = "proc"    // mount a proc file system at Dst
	opFile    = "file"    // write a file at Dst holding Data
	opUsers   = "users"   // write /etc/passwd (Dst) or /etc/group naming the instance's identity
)

// mountOp is one step of building an instance's root.
type mountOp struct {
	Kind string `json:"k"`
	Src  string `json:"s,omitempty"`
	Dst  string `json:"d"`
	File bool   `json:"f,omitempty"` // opBind: the source is not a directory
	Attr uint64 `json:"a,omitempty"` // opBind: MOUNT_ATTR_* bits; opTmpfs: MS_* flags
	Data string `json:"o,omitempty"`
}

// remountOp makes a file system read-only once the root is complete.
type remountOp struct {
	Dst   string  `json:"d"`
	Flags uintptr `json:"f"`
}

// Mount attributes of the bind mounts.
const (
	attrReadOnly = unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV
	attrDevice   = unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NOEXEC
)

// devices are the host device nodes bound into /dev.
var devices = []string{"null", "zero", "full", "random", "urandom", "tty"}

// shmMB is the size of /dev/shm.
const shmMB = 64

// hostname is the name an instance sees.
const hostname = "localhost"

// basePlan returns the steps every instance shares: the read-only host
// paths (with the hidden ones under them covered by an empty tmpfs), the
// runtime dir, generated /etc files, /proc, /dev and /tmp.
func basePlan(readOnly, hidden []string, runtimeDir string, tmpMB int) ([]mountOp, error) {
	var ops []mountOp
	// Host paths that appear unchanged in the sandbox: real directories
	// (not links) listed in readOnly, by their canonical path.
	var plain []string
	type entry struct {
		path, real string
		link       bool
		fi         os.FileInfo
	}
	var entries []entry
	for _, p := range readOnly {
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("read-only path %q is not absolute", p)
		}
		p = filepath.Clean(p)
		if p == "/" {
			return nil, errors.New(`read-only path "/" would expose the whole host`)
		}
		lfi, err := os.Lstat(p)
		if err != nil {
			continue // absent on this host
		}
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			continue // a dangling link
		}
		fi, err := os.Stat(real)
		if err != nil {
			continue
		}
		e := entry{path: p, real: real, link: lfi.Mode()&os.ModeSymlink != 0, fi: fi}
		entries = append(entries, e)
		if !e.link && real == p {
			plain = append(plain, p)
		}
	}
	for _, e := range entries {
		if e.link && underAny(e.real, plain) {
			// /bin -> usr/bin: the target is visible, so keep the link.
			target, err := os.Readlink(e.path)
			if err != nil {
				return nil, fmt.Errorf("read-only path %s: %w", e.path, err)
			}
			ops = append(ops, mountOp{Kind: opSymlink, Src: target, Dst: e.path})
			continue
		}
		ops = append(ops, mountOp{Kind: opBind, Src: e.real, Dst: e.path, File: !e.fi.IsDir(), Attr: attrReadOnly})
		// A hidden directory the bind brings along is covered where it
		// appears: empty, read-only to everyone but init, which may still
		// make mount points in it (the runtime dir, the code).
		for _, h := range hidden {
			real, err := filepath.EvalSymlinks(h)
			if err != nil || !e.fi.IsDir() || !underAny(real, []string{e.real}) {
				continue
			}
			ops = append(ops, mountOp{Kind: opTmpfs, Dst: filepath.Join(e.path, strings.TrimPrefix(real, e.real)),
				Attr: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, Data: "mode=555,size=4k,nr_inodes=64"})
		}
	}
	if runtimeDir != "" {
		op, err := bindReadOnly(runtimeDir, runtimeDir)
		if err != nil {
			return nil, fmt.Errorf("runtime dir: %w", err)
		}
		ops = append(ops, op)
	}

	for name, content := range etcFiles() {
		if p := "/etc/" + name; !underAny(p, readOnly) {
			ops = append(ops, mountOp{Kind: opFile, Dst: p, Data: content})
		}
	}
	for _, p := range []string{"/etc/passwd", "/etc/group"} {
		if !underAny(p, readOnly) {
			ops = append(ops, mountOp{Kind: opUsers, Dst: p})
		}
	}

	ops = append(ops,
		mountOp{Kind: opProc, Dst: "/proc"},
		mountOp{Kind: opTmpfs, Dst: "/dev", Attr: unix.MS_NOSUID | unix.MS_NOEXEC, Data: "mode=755,size=64k,nr_inodes=64"},
		mountOp{Kind: opTmpfs, Dst: "/dev/shm", Attr: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC,
			Data: "mode=1777,size=" + strconv.Itoa(shmMB) + "m"},
		mountOp{Kind: opSymlink, Src: "/proc/self/fd", Dst: "/dev/fd"},
		mountOp{Kind: opSymlink, Src: "/proc/self/fd/0", Dst: "/dev/stdin"},
		mountOp{Kind: opSymlink, Src: "/proc/self/fd/1", Dst: "/dev/stdout"},
		mountOp{Kind: opSymlink, Src: "/proc/self/fd/2", Dst: "/dev/stderr"},
		mountOp{Kind: opTmpfs, Dst: "/tmp", Attr: unix.MS_NOSUID | unix.MS_NODEV,
			Data: "mode=1777,size=" + strconv.Itoa(tmpMB) + "m"},
	)
	for _, dev := range devices {
		p := "/dev/" + dev
		if _, err := os.Stat(p); err != nil {
			continue
		}
		ops = append(ops, mountOp{Kind: opBind, Src: p, Dst: p, File: true, Attr: attrDevice})
	}
	return ops, nil
}

// remounts are the file systems made read-only once the shared part of
// the root is built; the root itself follows at the launch.
var remounts = []remountOp{
	{Dst: "/dev", Flags: unix.MS_REMOUNT | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NOEXEC},
}

// openCodeTree returns a detached, read-only copy of the mount tree at dir,
// for init to attach in the sandbox.
func openCodeTree(dir string) (int, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, dir, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
	if err != nil {
		return -1, fmt.Errorf("open_tree %s: %w", dir, err)
	}
	err = unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &unix.MountAttr{Attr_set: attrReadOnly})
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("make %s read-only: %w", dir, err)
	}
	return fd, nil
}

// checkMountAPI tells whether the kernel has the mount calls Start uses
// (open_tree, mount_setattr).
func checkMountAPI() error {
	fd, err := unix.OpenTree(unix.AT_FDCWD, "/", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
	if err != nil {
		return fmt.Errorf("open_tree: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}); err != nil {
		return fmt.Errorf("mount_setattr: %w", err)
	}
	return nil
}

// bindReadOnly returns the step that mounts host path src read-only at dst.
func bindReadOnly(src, dst string) (mountOp, error) {
	if !filepath.IsAbs(src) || !filepath.IsAbs(dst) {
		return mountOp{}, fmt.Errorf("path %q is not absolute", src)
	}
	real, err := filepath.EvalSymlinks(src)
	if err != nil {
		return mountOp{}, err
	}
	fi, err := os.Stat(real)
	if err != nil {
		return mountOp{}, err
	}
	return mountOp{Kind: opBind, Src: real, Dst: filepath.Clean(dst), File: !fi.IsDir(), Attr: attrReadOnly}, nil
}

// etcFiles returns the /etc files generated alike for every instance, by
// name.
func etcFiles() map[string]string {
	return map[string]string{
		"hostname": hostname + "\n",
		"hosts":    "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
	}
}

// usersFile returns the content of /etc/passwd or /etc/group (by path)
// for an instance whose function runs as uid and gid: root, and the
// function's user, named nobody for 65534 and sbx_user<uid> otherwise.
func usersFile(path string, uid, gid int) string {
	user, group := "sbx_user"+strconv.Itoa(uid), "sbx_user"+strconv.Itoa(gid)
	if uid == 65534 {
		user = "nobody"
	}
	if gid == 65534 {
		group = "nogroup"
	}
	if path == "/etc/group" {
		return "root:x:0:\n" + fmt.Sprintf("%s:x:%d:\n", group, gid)
	}
	return "root:x:0:0:root:/root:/usr/sbin/nologin\n" + fmt.Sprintf("%s:x:%d:%d::/tmp:/usr/sbin/nologin\n", user, uid, gid)
}

// sortPlan orders steps so that every mount point's parents come first.
func sortPlan(ops []mountOp) {
	sort.SliceStable(ops, func(i, j int) bool {
		return depth(ops[i].Dst) < depth(ops[j].Dst)
	})
}

func depth(p string) int {
	if p == "/" {
		return 0
	}
	return strings.Count(p, "/")
}

// oldRootName is where init keeps the host's root while it builds the new
// one: after pivot_root, absolute links in the new root resolve inside it,
// so no step can reach the host's tree by accident.
const oldRootName = "/.oldroot"

// buildRoot runs in init, in its own mount namespace: it mounts a tmpfs at
// dir, makes it the root with the host's root kept at oldRootName,
// performs the steps with sources taken from the old root (with uid and
// gid, the function's identity, in /etc/passwd and /etc/group), detaches the
// old root and makes the file systems in ro read-only. The root itself
// stays writable for the code's mount points until the launch.
func buildRoot(dir string, ops []mountOp, ro []remountOp, uid, gid int) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=755,size=1m,nr_inodes=4096"); err != nil {
		return fmt.Errorf("mount root tmpfs at %s: %w", dir, err)
	}
	if err := os.Mkdir(dir+oldRootName, 0o700); err != nil {
		return err
	}
	if err := unix.PivotRoot(dir, dir+oldRootName); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return err
	}
	for _, op := range ops {
		if op.Kind == opUsers {
			op.Kind, op.Data = opFile, usersFile(op.Dst, uid, gid)
		}
		if err := applyOp(op, oldRootName); err != nil {
			return fmt.Errorf("%s %s: %w", op.Kind, op.Dst, err)
		}
	}
	if err := unix.Unmount(oldRootName, unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	if err := unix.Rmdir(oldRootName); err != nil {
		return fmt.Errorf("remove old root: %w", err)
	}
	for _, r := range ro {
		if err := unix.Mount("", r.Dst, "", r.Flags, ""); err != nil {
			return fmt.Errorf("remount %s read-only: %w", r.Dst, err)
		}
	}
	return nil
}

func applyOp(op mountOp, old string) error {
	switch op.Kind {
	case opBind:
		if op.File {
			if err := mountFile(op.Dst); err != nil {
				return err
			}
		} else if err := os.MkdirAll(op.Dst, 0o755); err != nil {
			return err
		}
		if err := unix.Mount(old+op.Src, op.Dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind %s: %w", op.Src, err)
		}
		return setMountAttr(op.Dst, op.Attr)
	case opSymlink:
		if err := os.MkdirAll(filepath.Dir(op.Dst), 0o755); err != nil {
			return err
		}
		return os.Symlink(op.Src, op.Dst)
	case opTmpfs:
		if err := os.MkdirAll(op.Dst, 0o755); err != nil {
			return err
		}
		return unix.Mount("tmpfs", op.Dst, "tmpfs", uintptr(op.Attr), op.Data)
	case opProc:
		if err := os.MkdirAll(op.Dst, 0o555); err != nil {
			return err
		}
		return unix.Mount("proc", op.Dst, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
	case opFile:
		if err := os.MkdirAll(filepath.Dir(op.Dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(op.Dst, []byte(op.Data), 0o644)
	}
	return fmt.Errorf("unknown step %q", op.Kind)
}

// mountFile makes sure a file exists at p to mount a file over.
func mountFile(p string) error {
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// setMountAttr applies attr to the mount at p and every mount below it,
// falling back to a remount of p alone on kernels before 5.12.
func setMountAttr(p string, attr uint64) error {
	if attr == 0 {
		return nil
	}
	err := unix.MountSetattr(unix.AT_FDCWD, p, unix.AT_RECURSIVE, &unix.MountAttr{Attr_set: attr})
	if err != unix.ENOSYS {
		return err
	}
	flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT)
	for a, f := range map[uint64]uintptr{
		unix.MOUNT_ATTR_RDONLY: unix.MS_RDONLY,
		unix.MOUNT_ATTR_NOSUID: unix.MS_NOSUID,
		unix.MOUNT_ATTR_NODEV:  unix.MS_NODEV,
		unix.MOUNT_ATTR_NOEXEC: unix.MS_NOEXEC,
	} {
		if attr&a != 0 {
			flags |= f
		}
	}
	return unix.Mount("", p, "", flags, "")
}
