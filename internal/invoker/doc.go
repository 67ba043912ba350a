// Package invoker runs invocations on function instances. It keeps one pool
// of instances per function; an instance serves one invocation at a time, a
// request that finds no idle instance starts a new one (a cold start) without
// holding any lock that other requests wait on, and waits for whichever
// comes first: that instance, or one another request gives back (the start
// then goes on and its instance stays idle for later). Starts take turns:
// at most two per CPU run at once, the rest wait, one function's after
// another's, and a start whose request was served meanwhile is dropped
// before it begins, so a burst brings up its first instances early and
// reuses them rather than starting everything at once. An idle instance is
// stopped once it has been idle for the keep-alive, or earlier when idle
// instances hold more memory than their budget.
//
// An instance moves through these states:
//
//	        start ok               acquire
//	starting ───────► idle ◄──────────────► busy ◄─┐ given straight to
//	   │               │      release         │ ───┘ a waiting request
//	   │               │                      │
//	   │ init error    │ keep-alive over,     │ timeout, crash,
//	   │               │ memory budget,       │ retired pool
//	   │               │ retired, shutdown    │
//	   ▼               ▼                      ▼
//	  gone ◄──────── stopping ◄───────────────┘
//
// Locks: Invoker.mu (pools, live instances, closed) is taken before a
// pool's mu, never after, and no instance is stopped while either is held.
// Invoker.admitMu (running counts for concurrency limits) is a leaf: nothing
// else is locked while it is held.
//
// Updating a function's code or configuration retires its pool: idle
// instances stop at once, busy ones when their invocation ends. Each
// invocation's output is framed by START, END and REPORT lines and handed to
// the log sink; usage is handed to the meter. A request with a Stream
// receives a streamed response as the runtime sends it (stream.go).
package invoker
