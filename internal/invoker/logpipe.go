package invoker

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// logPipe carries an instance's stdout and stderr to the log sink, cut into
// one batch per invocation.
//
// A reader goroutine waits, in the runtime's poller, for the pipe to hold
// output and takes it into the current batch. When an invocation ends,
// the invoker itself drains the pipe without waiting and closes the batch:
// everything the function wrote before answering is in the pipe by then
// (writes to a pipe are done when they return), so the batch holds
// exactly the invocation's lines, and an invocation that printed nothing
// costs one read that finds the pipe empty. Both take the pipe's output
// under mu, so no chunk can be read by one and counted by the other too
// late.
type logPipe struct {
	in        *instance
	r, w      *os.File
	rc        syscall.RawConn  // of r, which must be pollable (os.Pipe's is)
	drainAll  func(fd uintptr) // drain's call for end, through rc
	done      chan struct{}    // closed when read returns
	closeOnce sync.Once

	mu      sync.Mutex
	rate    logRate    // guarded by mu
	batch   batchLines // guarded by mu
	partial []byte     // guarded by mu: a line not yet ended
	buf     []byte     // guarded by mu: what each read reads into
	marks   []byte     // guarded by mu: where emit renders START, END and REPORT
	eof     bool       // guarded by mu: the write ends are all closed
}

// ending is what closing an invocation's batch needs.
type ending struct {
	reqID    string
	start    time.Time
	dur      time.Duration
	billedMs int64
	initDur  time.Duration // 0 on a warm start
	extra    []string      // Aloft's own lines (timeouts, crashes) before END
	tail     chan []byte   // receives the batch's last 4 KB when not nil
}

const tailBytes = 4096

func newLogPipe(in *instance) (*logPipe, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	lp := &logPipe{in: in, done: make(chan struct{})}
	if err := lp.use(r, w); err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	return lp, nil
}

// use makes r and w the pipe, before read starts; on error the pipe is
// left as it was.
func (lp *logPipe) use(r, w *os.File) error {
	rc, err := r.SyscallConn()
	if err != nil {
		return fmt.Errorf("invoker: log pipe: %w", err)
	}
	lp.r, lp.w, lp.rc = r, w, rc
	lp.batch.lp = lp
	if lp.drainAll == nil { // made once, not per invocation
		lp.drainAll = func(fd uintptr) { lp.drain(int(fd), pipeDrainMax) }
	}
	return nil
}

// end closes the current invocation's batch: it takes what the pipe
// holds, then frames the batch and hands it to the sink.
func (lp *logPipe) end(e *ending) {
	lp.mu.Lock()
	defer lp.mu.Unlock()
	lp.rc.Control(lp.drainAll) // a closed pipe: the reader took it all
	if len(lp.partial) > 0 {   // output that did not end its line
		lp.batch.add(lp.partial)
		lp.partial = lp.partial[:0]
	}
	lp.emit(lp.batch.take(), e)
	lp.batch.release()
}

// pipeDrainMax bounds what end reads: the pipe holds at most its
// capacity (64 KiB by default) of output written before the answer;
// beyond this the function is still writing, and that goes to the next
// batch.
const pipeDrainMax = 1 << 20

// drain reads the pipe until it is empty, closed, or max bytes were read,
// keeping what it reads; lp.mu is held. It reports whether the pipe is
// empty (the reader may wait) rather than closed or left with output.
func (lp *logPipe) drain(fd, max int) bool {
	if lp.buf == nil {
		lp.buf = make([]byte, 64<<10)
	}
	for read := 0; read < max; {
		n, err := unix.Read(fd, lp.buf)
		if n > 0 {
			lp.feed(lp.buf[:n])
			read += n
			continue
		}
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return true
		case err == nil: // end of file
			lp.eof = true
			return false
		default:
			lp.in.iv.log.Warn("log pipe", "instance_id", lp.in.id, "err", err)
			lp.eof = true
			return false
		}
	}
	return false
}

// feed cuts output into lines; lp.mu is held.
func (lp *logPipe) feed(p []byte) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			lp.partial = append(lp.partial, p...)
			if len(lp.partial) >= maxLine {
				lp.batch.add(lp.partial[:maxLine])
				lp.partial = append(lp.partial[:0], lp.partial[maxLine:]...)
			}
			return
		}
		line := p[:i]
		if len(lp.partial) > 0 {
			line = append(lp.partial, line...)
			lp.partial = lp.partial[:0]
		}
		for len(line) > maxLine {
			lp.batch.add(line[:maxLine])
			line = line[maxLine:]
		}
		lp.batch.add(line)
		p = p[i+1:]
		if len(lp.batch.lines) >= 10000 { // a chatty function between invocations
			lp.sink()
		}
	}
}

// sink hands the lines gathered so far to the log store without an
// invocation's framing; lp.mu is held.
func (lp *logPipe) sink() {
	lp.in.iv.d.Logs(lp.in.group, lp.in.stream, lp.batch.take())
	lp.batch.release()
}

// close closes the write end; the reader drains what is left and returns.
// A process the function detached from its group may still hold the pipe
// open, so the wait is bounded: then the read end is closed under it.
func (lp *logPipe) close() {
	lp.closeOnce.Do(func() {
		lp.w.Close()
		select {
		case <-lp.done:
		case <-time.After(2 * time.Second):
		}
		lp.r.Close()
		<-lp.done
	})
}

// maxLine is the longest line kept whole; longer output is cut into lines
// of this size (the log store keeps at most 256 KB of an event anyway).
const maxLine = 256 << 10

// Bounds on function output held in memory: an invocation keeps at most
// maxBatch bytes of its lines (the rest is read and dropped, and a line
// says how much), and all instances together hold at most maxLogHeld
// bytes not yet handed to the log store, whose queue has a bound of its
// own. A function printing without end costs the server at most these,
// plus a 64 KB buffer and one partial line (maxLine) per instance.
const (
	maxBatch   = 8 << 20
	maxLogHeld = 256 << 20
)

// maxLogRate bounds how fast one instance's output goes to the log, in
// bytes per second on average, with bursts of up to maxBatch: beyond it
// output is read and dropped (and a line says how much), so that one
// function cannot take the log store's whole throughput.
const maxLogRate = 4 << 20

// logRate is a token bucket of output bytes.
type logRate struct {
	tokens float64
	last   time.Time
}

// take reports whether n bytes may go to the log at now, and takes them.
func (r *logRate) take(n int64, now time.Time) bool {
	if r.last.IsZero() {
		r.tokens = maxBatch
	} else {
		r.tokens = min(maxBatch, r.tokens+now.Sub(r.last).Seconds()*maxLogRate)
	}
	r.last = now
	if float64(n) > r.tokens {
		return false
	}
	r.tokens -= float64(n)
	return true
}

// batchLines collects one batch's lines within the bounds above.
type batchLines struct {
	lp      *logPipe
	lines   []Line
	held    int64 // bytes of lines, counted in the invoker's logHeld
	dropped int64 // bytes read and not kept
}

// add keeps text as a line, or counts it as dropped.
func (b *batchLines) add(text []byte) {
	n := int64(len(text))
	iv := b.lp.in.iv
	now := time.Now()
	if b.held+n > maxBatch || !b.lp.rate.take(n, now) {
		b.dropped += n
		return
	}
	if iv.logHeld.Add(n) > maxLogHeld {
		iv.logHeld.Add(-n)
		b.dropped += n
		return
	}
	b.held += n
	b.lines = append(b.lines, Line{Time: now.UnixMilli(), Text: string(text)})
}

// take returns the lines, with a last line saying how much was dropped,
// and starts a new batch.
func (b *batchLines) take() []Line {
	lines := b.lines
	if b.dropped > 0 {
		lines = append(lines, Line{Time: time.Now().UnixMilli(), Text: fmt.Sprintf(
			"[aloft] Log output truncated: %d bytes were dropped (an invocation keeps at most %d MiB, an instance logs at most %d MiB/s, and all instances together hold at most %d MiB on its way to the log).",
			b.dropped, maxBatch>>20, maxLogRate>>20, maxLogHeld>>20)})
	}
	b.lines, b.dropped = nil, 0
	return lines
}

// release gives the bytes of the lines taken back to the invoker, once
// they are in the log store's hands.
func (b *batchLines) release() {
	b.lp.in.iv.logHeld.Add(-b.held)
	b.held = 0
}

// read runs until the pipe is closed, taking output as it comes.
func (lp *logPipe) read() {
	defer close(lp.done)
	err := lp.rc.Read(func(fd uintptr) bool {
		for { // the lock is let go between rounds, for end
			lp.mu.Lock()
			empty := lp.drain(int(fd), pipeDrainMax)
			eof := lp.eof
			lp.mu.Unlock()
			if empty {
				return false // wait for more
			}
			if eof {
				return true
			}
		}
	})
	lp.mu.Lock()
	defer lp.mu.Unlock()
	if len(lp.partial) > 0 {
		lp.batch.add(lp.partial)
		lp.partial = nil
	}
	if len(lp.batch.lines) > 0 || lp.batch.dropped > 0 {
		lp.sink()
	}
	if err != nil && !errors.Is(err, os.ErrClosed) {
		lp.in.iv.log.Warn("log pipe", "instance_id", lp.in.id, "err", err)
	}
}

// emit frames lines with START, END and REPORT and hands them to the sink.
func (lp *logPipe) emit(lines []Line, e *ending) {
	in := lp.in
	startMs := e.start.UnixMilli()
	endMs := e.start.Add(e.dur).UnixMilli()
	// The three lines of Lambda's own are cut from one string.
	b := append(lp.marks[:0], "START RequestId: "...)
	b = append(b, e.reqID...)
	b = append(b, " Version: "...)
	b = append(b, in.cfg.Version...)
	endAt := len(b)
	b = append(b, "END RequestId: "...)
	b = append(b, e.reqID...)
	reportAt := len(b)
	b = lp.appendReport(b, e)
	lp.marks = b
	marks := string(b)
	out := make([]Line, 0, len(lines)+len(e.extra)+3)
	// Lines written before the invocation began (initialisation output)
	// stand before START, as in Lambda.
	i := 0
	for i < len(lines) && lines[i].Time < startMs {
		out = append(out, lines[i])
		i++
	}
	out = append(out, Line{Time: startMs, Text: marks[:endAt]})
	out = append(out, lines[i:]...)
	for _, x := range e.extra {
		out = append(out, Line{Time: endMs, Text: x})
	}
	out = append(out, Line{Time: endMs, Text: marks[endAt:reportAt]})
	out = append(out, Line{Time: endMs, Text: marks[reportAt:]})
	in.iv.d.Logs(in.group, in.stream, out)
	if e.tail != nil {
		e.tail <- tail(out)
	}
}

// appendReport appends Lambda's REPORT line to b.
func (lp *logPipe) appendReport(b []byte, e *ending) []byte {
	b = append(b, "REPORT RequestId: "...)
	b = append(b, e.reqID...)
	b = append(b, "\tDuration: "...)
	b = strconv.AppendFloat(b, float64(e.dur)/float64(time.Millisecond), 'f', 2, 64)
	b = append(b, " ms\tBilled Duration: "...)
	b = strconv.AppendInt(b, e.billedMs, 10)
	b = append(b, " ms\tMemory Size: "...)
	b = strconv.AppendInt(b, int64(lp.in.cfg.MemorySize), 10)
	b = append(b, " MB\tMax Memory Used: "...)
	var used int64
	if lp.in.sb != nil {
		used = (lp.in.sb.MaxMemory() + (1<<20 - 1)) >> 20
	}
	lp.in.maxMemMB.Store(used)
	b = strconv.AppendInt(b, used, 10)
	b = append(b, " MB\t"...)
	if e.initDur > 0 {
		b = append(b, "Init Duration: "...)
		b = strconv.AppendFloat(b, float64(e.initDur)/float64(time.Millisecond), 'f', 2, 64)
		b = append(b, " ms\t"...)
	}
	return b
}

// tail returns the last 4 KB of the lines, newline-separated.
func tail(lines []Line) []byte {
	var b []byte
	for _, l := range lines {
		b = append(b, l.Text...)
		b = append(b, '\n')
	}
	if len(b) > tailBytes {
		b = b[len(b)-tailBytes:]
	}
	return b
}
