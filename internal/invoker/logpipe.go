package invoker

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/ids"
)

// logPipe carries an instance's stdout and stderr to the log sink, cut into
// one batch per invocation.
//
// The invoker keeps the pipe's write end. When an invocation ends it queues
// an ending and writes a marker line into the pipe; everything the function
// wrote before answering is ahead of the marker, so the reader knows exactly
// which lines belong to the invocation without waiting or guessing.
type logPipe struct {
	in     *instance
	rate   logRate // used by the reader only
	r, w   *os.File
	marker []byte        // "\x00" + random hex: cannot be forged by accident
	ends   chan *ending  // queued before the matching marker is written
	done   chan struct{} // closed when read returns
	close1 sync.Once
}

// ending is what the reader needs to close an invocation's batch.
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
	return &logPipe{
		in:     in,
		r:      r,
		w:      w,
		marker: []byte("\x00aloft-end-" + ids.Hex()),
		ends:   make(chan *ending, 4),
		done:   make(chan struct{}),
	}, nil
}

// end closes the current invocation's batch.
func (lp *logPipe) end(e *ending) {
	lp.ends <- e
	line := append(append([]byte(nil), lp.marker...), '\n')
	if _, err := lp.w.Write(line); err != nil {
		// The pipe is closed: finish the batch without the reader.
		select {
		case e := <-lp.ends:
			lp.emit(nil, e)
		default:
		}
	}
}

// close closes the write end; the reader drains what is left and returns.
// A process the function detached from its group may still hold the pipe
// open, so the wait is bounded: then the read end is closed under it.
func (lp *logPipe) close() {
	lp.close1.Do(func() {
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

// read runs until the pipe is closed.
func (lp *logPipe) read() {
	defer close(lp.done)
	br := bufio.NewReaderSize(lp.r, 64*1024)
	b := &batchLines{lp: lp}
	defer b.release()
	var partial []byte
	sink := func() {
		lp.in.iv.d.Logs(function.LogGroup(lp.in.cfg.FunctionName), lp.in.stream, b.take())
		b.release()
	}
	for {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			partial = append(partial, chunk...)
			if len(partial) >= maxLine {
				b.add(partial)
				partial = partial[:0]
			}
			continue
		}
		if len(chunk) > 0 {
			if len(partial) > 0 {
				chunk = append(partial, chunk...)
				partial = partial[:0]
			}
			chunk = bytes.TrimSuffix(chunk, []byte{'\n'})
			if i := bytes.Index(chunk, lp.marker); i >= 0 {
				if i > 0 {
					b.add(chunk[:i])
				}
				lp.emit(b.take(), <-lp.ends)
				b.release()
			} else {
				b.add(chunk)
				if len(b.lines) >= 10000 { // a chatty function between invocations
					sink()
				}
			}
		}
		if err != nil {
			if len(b.lines) > 0 || b.dropped > 0 {
				sink()
			}
			if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrClosed) {
				lp.in.iv.log.Warn("log pipe", "instance_id", lp.in.id, "err", err)
			}
			return
		}
	}
}

// emit frames lines with START, END and REPORT and hands them to the sink.
func (lp *logPipe) emit(lines []Line, e *ending) {
	in := lp.in
	startMs := e.start.UnixMilli()
	endMs := e.start.Add(e.dur).UnixMilli()
	out := make([]Line, 0, len(lines)+len(e.extra)+3)
	// Lines written before the invocation began (initialisation output)
	// stand before START, as in Lambda.
	i := 0
	for i < len(lines) && lines[i].Time < startMs {
		out = append(out, lines[i])
		i++
	}
	out = append(out, Line{Time: startMs, Text: "START RequestId: " + e.reqID + " Version: " + in.cfg.Version})
	out = append(out, lines[i:]...)
	for _, x := range e.extra {
		out = append(out, Line{Time: endMs, Text: x})
	}
	out = append(out, Line{Time: endMs, Text: "END RequestId: " + e.reqID})
	out = append(out, Line{Time: endMs, Text: lp.report(e)})
	in.iv.d.Logs(function.LogGroup(in.cfg.FunctionName), in.stream, out)
	if e.tail != nil {
		e.tail <- tail(out)
	}
}

// report renders Lambda's REPORT line.
func (lp *logPipe) report(e *ending) string {
	b := make([]byte, 0, 200)
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
	return string(b)
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
