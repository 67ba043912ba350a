package alofttest

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// serverProcAttr returns the attributes of a server's process: it runs
// as user when user is set, and Linux kills it (SIGKILL) when the thread
// that started it ends, which Server.start holds for the server's life,
// so that a test process killed outright leaves no server behind. Go's
// child sets the signal after it has taken user's credentials, which
// would clear it.
func serverProcAttr(user *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: user, Pdeathsig: syscall.SIGKILL}
}

// logSettled reports whether everything the server has written to its
// stderr so far is in its log: nothing left in the pipe, and every line
// read kept. A server that has exited has had its pipe read to the end.
func (s *Server) logSettled() bool {
	select {
	case <-s.exited:
		return true
	default:
	}
	if s.logPipe == nil {
		return true
	}
	raw, err := s.logPipe.SyscallConn()
	if err != nil {
		return true
	}
	pending := 0 // bytes waiting in the pipe (FIONREAD, which Linux calls TIOCINQ)
	if cerr := raw.Control(func(fd uintptr) { pending, err = unix.IoctlGetInt(int(fd), unix.TIOCINQ) }); cerr != nil || err != nil {
		return true // closed: the server has exited
	}
	return pending == 0 && s.logRead.Load() == s.logKept.Load()
}
