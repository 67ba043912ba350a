package linux

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// selfExe is the path that re-executes the running program.
const selfExe = "/proc/self/exe"

// initProgram is the program each init runs as: the embedded init in a
// sealed memory file, or the running program itself.
type initProgram struct {
	path string   // what the driver executes
	mem  *os.File // the memory file, nil when path is selfExe
}

// loadInit makes the embedded init executable from a sealed memory file
// and checks that it runs. When it cannot (no embedded init, a kernel that
// forbids executing memory files), the running program is executed
// instead, which must then call Init first thing in main; the reason is
// returned with it.
func loadInit(self bool) (initProgram, error) {
	if self {
		return initProgram{path: selfExe}, nil
	}
	p, err := memInit()
	if err != nil {
		return initProgram{path: selfExe}, err
	}
	return p, nil
}

func memInit() (initProgram, error) {
	if len(initGz) == 0 {
		return initProgram{}, errors.New("no init program embedded")
	}
	zr, err := gzip.NewReader(bytes.NewReader(initGz))
	if err != nil {
		return initProgram{}, fmt.Errorf("embedded init: %w", err)
	}
	fd, err := unix.MemfdCreate("aloft-sandbox-init", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return initProgram{}, fmt.Errorf("memory file for the init: %w", err)
	}
	f := os.NewFile(uintptr(fd), "aloft-sandbox-init")
	fail := func(err error) (initProgram, error) {
		f.Close()
		return initProgram{}, err
	}
	if _, err := io.Copy(f, zr); err != nil {
		return fail(fmt.Errorf("embedded init: %w", err))
	}
	if err := zr.Close(); err != nil {
		return fail(fmt.Errorf("embedded init: %w", err))
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		return fail(fmt.Errorf("seal the init: %w", err))
	}
	// The init is executed by a child in new namespaces whose own fds
	// are being rearranged: name the file through this process.
	p := initProgram{path: "/proc/" + strconv.Itoa(os.Getpid()) + "/fd/" + strconv.Itoa(fd), mem: f}
	// Run it once as an ordinary process: it says it is no server's
	// init and exits 2.
	out, err := exec.Command(p.path).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "linux sandbox driver only") {
		return fail(fmt.Errorf("the embedded init does not run here: %v %s", err, bytes.TrimSpace(out)))
	}
	return p, nil
}

// close releases the memory file.
func (p initProgram) close() error {
	if p.mem == nil {
		return nil
	}
	return p.mem.Close()
}
