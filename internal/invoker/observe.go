package invoker

import "time"

// Outcome is how an invocation ended, as metrics count it.
type Outcome uint8

// Invocation outcomes.
const (
	Succeeded     Outcome = iota + 1 // the function answered
	FunctionError                    // the function answered with an error
	Failed                           // it failed outside its code (Failure)
	Throttled                        // refused for want of concurrency
)

// Observation is what one invocation did, handed to Deps.Observe when it
// ends, for metrics and traces. Times are zero for phases that did not
// happen (a warm invocation has no start phases). It is only valid during
// the call: observers copy what they keep.
type Observation struct {
	Function  string // the function's name
	Version   string // the version that ran ($LATEST)
	RequestID string
	TraceID   string // the request's X-Amzn-Trace-Id root, if it had one
	Outcome   Outcome
	ErrorType string // the error type of a FunctionError or Failed outcome

	Arrived time.Time // the invoker took the request
	// Acquired is when an instance was ready for it (after Arrived, by
	// the wait for a free or new instance).
	Acquired time.Time
	Cold     bool // a new instance was started for it
	// SandboxStart, SandboxReady, RuntimeReady and InitDone are the cold
	// start's phases: the sandbox launched, its process running, the
	// runtime asked for its first event (function init done).
	SandboxStart, SandboxReady, InitDone time.Time
	InitDuration                         time.Duration // as the REPORT line says; 0 when warm
	Duration                             time.Duration // the function's time on this event
	Ended                                time.Time
	MemorySizeMB                         int
	MaxMemoryUsedMB                      int
}
