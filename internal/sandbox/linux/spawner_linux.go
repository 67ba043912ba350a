package linux

import (
	"os/exec"
	"runtime"
	"sync"
)

// spawner starts processes from one thread that lives as long as the
// program. An init's parent-death signal fires when the thread that
// cloned it exits, not the process: the runtime ends a thread whose
// goroutine exits while locked to it (as inThread's does when it cannot
// return to the host's network namespace), and any thread may have
// started a process before. Starting every init here keeps inits alive
// until the server itself dies.
type spawner struct {
	orders chan spawnOrder
}

type spawnOrder struct {
	cmd  *exec.Cmd
	done chan error
}

// theSpawner is the one spawner of the process, shared by its drivers.
var theSpawner = sync.OnceValue(newSpawner)

// newSpawner starts the thread. It is never stopped: instances a closed
// driver leaves running must keep their parent thread.
func newSpawner() *spawner {
	sp := &spawner{orders: make(chan spawnOrder)}
	go func() {
		runtime.LockOSThread() // never unlocked, never exits
		for o := range sp.orders {
			o.done <- o.cmd.Start()
		}
	}()
	return sp
}

// start starts cmd from the spawner's thread.
func (sp *spawner) start(cmd *exec.Cmd) error {
	done := make(chan error, 1)
	sp.orders <- spawnOrder{cmd, done}
	return <-done
}
