package invoker

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/function"
)

// Outcome is how an invocation ended, as metrics count it.
type Outcome uint8

// Invocation outcomes.
const (
	Succeeded     Outcome = iota + 1 // the function answered
	FunctionError                    // the function answered with an error
	Failed                           // it failed outside its code (Failure), or the platform could not run it
	Throttled                        // refused for want of concurrency
)

// String names o as metrics label it.
func (o Outcome) String() string {
	switch o {
	case Succeeded:
		return "success"
	case FunctionError:
		return "function_error"
	case Failed:
		return "failure"
	case Throttled:
		return "throttled"
	}
	return "unknown"
}

// Observation is what one invocation did, handed to Deps.Observe when it
// ends, for metrics and traces. Times are zero for phases that did not
// happen (a warm invocation has no start phases). It is only valid during
// the call: observers copy what they keep.
type Observation struct {
	Function string // the function's name
	// Qualifier is the version or alias the caller named in the invoked
	// ARN, "" for an unqualified invocation.
	Qualifier string
	Version   string // the version that ran ($LATEST)
	RequestID string
	TraceID   string // the request's X-Amzn-Trace-Id root, if it had one
	Outcome   Outcome
	// ErrorType is the error type of a FunctionError outcome (the
	// function's errorType, or "Unhandled"), of a Failed one
	// (Runtime.ExitError, Sandbox.Timedout, ..., or the platform's error
	// type), and the throttle reason of a Throttled one.
	ErrorType string

	Arrived time.Time // the invoker took the request
	// Acquired is when an instance was ready for it (after Arrived, by
	// the wait for a free or new instance).
	Acquired time.Time
	Cold     bool // the instance had not served before: its start is this invocation's
	// Provisioned says the instance was one kept initialised by
	// provisioned concurrency; Spillover that the function has
	// provisioned concurrency but ran on an on-demand instance.
	Provisioned, Spillover bool
	// SetupStart, SandboxStart, SandboxReady and InitDone are the cold
	// start's phases: the start began (code, Runtime API, log pipe), the
	// sandbox was launched, its process was running, the runtime asked
	// for its first event (function init done).
	SetupStart, SandboxStart, SandboxReady, InitDone time.Time
	InitDuration                                     time.Duration // as the REPORT line says; 0 when warm
	Duration                                         time.Duration // the function's time on this event
	Ended                                            time.Time
	MemorySizeMB                                     int
	// Concurrency is how many invocations of the function ran as this
	// one was admitted (itself included), AccountConcurrency how many of
	// all functions, and UnreservedConcurrency how many of functions
	// without reserved concurrency (0 when this function has some). All
	// are 0 for a throttled invocation.
	Concurrency, AccountConcurrency, UnreservedConcurrency int
	// MaxMemoryUsedMB is the instance's peak memory as its last REPORT
	// line said (that of the previous invocation on a warm instance: the
	// current one's peak is read after the invocation, off its path).
	MaxMemoryUsedMB int
}

// observations recycles Observations, so that observing costs a warm
// invocation no allocation.
var observations = sync.Pool{New: func() any { return new(Observation) }}

// qualifier returns the qualifier of an invoked function ARN
// (arn:aws:lambda:region:account:function:name[:qualifier]), or "".
func qualifier(arn string) string {
	n := 0
	for i := 0; i < len(arn); i++ {
		if arn[i] == ':' {
			if n++; n == 7 {
				return arn[i+1:]
			}
		}
	}
	return ""
}

// observe fills o's outcome from what Invoke returns and hands it to
// Deps.Observe.
func (iv *Invoker) observe(o *Observation, resp *Response, err error) {
	if o.Ended.IsZero() { // not run: throttled, or it failed to start
		o.Ended = iv.d.Now()
	}
	switch {
	case err != nil:
		if fault.KindOf(err) == fault.Throttled {
			o.Outcome, o.ErrorType = Throttled, function.AsError(err).Reason
		} else {
			o.Outcome, o.ErrorType = Failed, function.AsError(err).Type
		}
	case resp.Failure != nil:
		o.Outcome, o.ErrorType = Failed, resp.Failure.Kind.ErrorType()
		o.Version, o.RequestID = resp.Version, resp.RequestID
	case resp.FunctionError != "":
		o.Outcome, o.ErrorType = FunctionError, errorType(resp.Payload)
		o.Version, o.RequestID = resp.Version, resp.RequestID
	default:
		o.Outcome = Succeeded
		o.Version, o.RequestID = resp.Version, resp.RequestID
	}
	iv.d.Observe(o)
}

// errorType returns the errorType of a function's error document, or
// "Unhandled" when it names none.
func errorType(payload []byte) string {
	var e struct {
		Type string `json:"errorType"`
	}
	if json.Unmarshal(payload, &e) == nil && e.Type != "" && len(e.Type) <= 128 {
		return e.Type
	}
	return "Unhandled"
}
