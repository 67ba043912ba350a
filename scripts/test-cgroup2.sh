#!/usr/bin/env bash
# Runs the linux sandbox's tests on a cgroup v2 host: a small virtual
# machine (QEMU, software emulation: no hardware virtualisation needed)
# boots Debian's kernel with the host's root shared read-only over 9p and
# a cgroup2 hierarchy mounted, and runs the package's test binary in it.
# For hosts that are themselves cgroup v1 or hybrid; on a v2 host,
# scripts/test.sh already covers it. Needs root, Debian's apt and network
# access to its mirror (qemu-system-x86 is installed, the kernel package
# only downloaded). Extra arguments go to the test binary, for example
#   bash scripts/test-cgroup2.sh -test.run 'TestConformance|TestOOMKilled'
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /var/tmp/aloft-cgroup2.XXXXXX)
trap 'rm -rf "$work"' EXIT

if ! command -v qemu-system-x86_64 >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends qemu-system-x86
fi
(
  cd "$work"
  image=$(apt-cache depends linux-image-amd64 | sed -n 's/.*Depends: \(linux-image-[0-9][^ ]*\).*/\1/p' | head -1)
  apt-get download "$image" 2>/dev/null
  dpkg-deb -x ./*.deb kernel
)
kernel=$(ls "$work"/kernel/boot/vmlinuz-*)
modules=$(ls -d "$work"/kernel/lib/modules/*)/kernel

# The initramfs: the VM's init and the 9p modules.
CGO_ENABLED=0 go build -o "$work/init" ./scripts/cgroup2vm
python3 - "$work/initrd" "$work/init" "$modules" <<'PY'
import os, sys
out, init, mods = open(sys.argv[1], 'wb'), sys.argv[2], sys.argv[3]
n = [1]
def entry(name, mode, data=b''):
    name = name.encode() + b'\0'
    fields = [n[0], mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name), 0]
    n[0] += 1
    out.write(b'070701' + b''.join(b'%08X' % f for f in fields) + name)
    out.write(b'\0' * (-(110 + len(name)) % 4) + data + b'\0' * (-len(data) % 4))
entry('init', 0o100755, open(init, 'rb').read())
entry('modules', 0o040755)
for rel in ['drivers/virtio/virtio', 'drivers/virtio/virtio_ring', 'drivers/virtio/virtio_pci_legacy_dev',
            'drivers/virtio/virtio_pci_modern_dev', 'drivers/virtio/virtio_pci', 'fs/netfs/netfs',
            'fs/fscache/fscache', 'net/9p/9pnet', 'net/9p/9pnet_virtio', 'fs/9p/9p']:
    path = os.path.join(mods, rel + '.ko')
    if os.path.exists(path):
        entry('modules/' + os.path.basename(path), 0o100644, open(path, 'rb').read())
entry('TRAILER!!!', 0)
out.write(b'\0' * (-out.tell() % 512))
PY

# The tests, and what the VM runs. TestEmbeddedInit needs a Go build
# cache, which the read-only root lacks; scripts/test.sh runs it.
go test -c -o "$work/linux.test" ./internal/sandbox/linux
args=$(printf '%q ' "$@")
cat > "$work/run.sh" <<SH
cd "$work" && ./linux.test -test.v -test.timeout 60m -test.skip TestEmbeddedInit $args
SH

timeout 4000 qemu-system-x86_64 -accel tcg,thread=multi -cpu max -m 6144 -smp 2 \
  -nographic -no-reboot -kernel "$kernel" -initrd "$work/initrd" \
  -append "console=ttyS0 quiet panic=-1 aloft.cmd=$work/run.sh" \
  -virtfs local,path=/,mount_tag=host,security_model=passthrough,readonly=on,multidevs=remap \
  | tee "$work/console.log" | grep -a -E '^(=== RUN|--- |    |ok|PASS|FAIL|cgroup2vm)' || true
code=$(sed -n 's/^cgroup2vm: exit \([0-9]*\).*/\1/p' "$work/console.log" | tail -1)
echo "tests in the cgroup v2 machine exited with ${code:-no code}"
[ "${code:-1}" = 0 ]
