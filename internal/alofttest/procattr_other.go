//go:build !linux

package alofttest

import "syscall"

// serverProcAttr returns the attributes of a server's process: it runs
// as user when user is set. Only Linux has a parent-death signal: here,
// a server outlives a test process killed outright.
func serverProcAttr(user *syscall.Credential) *syscall.SysProcAttr {
	if user == nil {
		return nil
	}
	return &syscall.SysProcAttr{Credential: user}
}

// logSettled reports whether every line read from the server's stderr
// is in its log (what is still in the pipe is not known here).
func (s *Server) logSettled() bool { return s.logRead.Load() == s.logKept.Load() }
