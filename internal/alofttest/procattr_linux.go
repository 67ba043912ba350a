package alofttest

import "syscall"

// serverProcAttr returns the attributes of a server's process: it runs
// as user when user is set, and Linux kills it (SIGKILL) when the thread
// that started it ends, which Server.start holds for the server's life,
// so that a test process killed outright leaves no server behind. Go's
// child sets the signal after it has taken user's credentials, which
// would clear it.
func serverProcAttr(user *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: user, Pdeathsig: syscall.SIGKILL}
}
